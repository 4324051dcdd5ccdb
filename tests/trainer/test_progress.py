"""Progress callbacks (trainer.progress): signed POSTs to a receiver on localhost."""

from __future__ import annotations

import json

import pytest

from tests.receiver import events, receiver
from trainer.progress import SECRET_ENV, SIGNATURE_HEADER, ProgressReporter, signature


def test_a_signed_stage_complete_reaches_the_receiver():
    with receiver() as (url, received):
        reporter = ProgressReporter(url, secret=b"s3cret")
        assert reporter.stage_complete("Transform", 4, 5, 12.3456)
    ((path, headers, body),) = received
    assert path == "/api/training-runs/7/webhook/stage-complete/"
    # The receiver recomputes the HMAC of the raw body with the shared secret.
    assert headers[SIGNATURE_HEADER] == signature(b"s3cret", body)
    payload = json.loads(body)
    assert payload.pop("timestamp") > 0
    assert payload == {
        "event": "stage-complete", "stage": "Transform", "stage_index": 4, "stages_total": 5,
        "status": "completed", "duration_seconds": 12.346,
    }  # fmt: skip


def test_the_secret_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert ProgressReporter.from_config("http://127.0.0.1:1/x/").secret == b"from-env"
    assert ProgressReporter.from_config("http://127.0.0.1:1/x/").url == "http://127.0.0.1:1/x"
    assert ProgressReporter.from_config("") is None


def test_an_https_receiver_gets_an_identity_token_instead(monkeypatch):
    sent = []

    def urlopen(request, timeout):
        sent.append(request)
        raise OSError("offline")

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    reporter = ProgressReporter("https://app.example.run.app/api/training-runs/7/webhook",
                                token_fetch=lambda audience: f"token for {audience}")  # fmt: skip
    assert reporter.epoch_complete(1, 3, {"loss": 2.0}) is False  # offline: reported, not raised
    (request,) = sent
    assert request.get_header("Authorization") == "Bearer token for https://app.example.run.app"
    assert request.full_url.endswith("/webhook/epoch-complete/")


def test_a_failing_or_missing_receiver_never_raises():
    with receiver(status=500) as (url, received):
        assert ProgressReporter(url).post("completed", {"duration_seconds": 1.0}) is False
    assert len(received) == 1
    assert (
        ProgressReporter("http://127.0.0.1:9/none", timeout_seconds=0.5).post(
            "failed", {"stage": "Transform", "error": "boom"}
        )
        is False
    )
    with pytest.raises(ValueError, match="unknown progress event"):
        ProgressReporter("http://127.0.0.1:9").post("started", {})


def test_values_are_plain_json():
    import numpy as np

    with receiver() as (url, received):
        ProgressReporter(url).epoch_complete(2, 3, {"loss": np.float32(1.5), "val": float("nan")})
    ((_, payload),) = events(received)
    assert (payload["loss"], payload["val"], payload["epoch"]) == (1.5, None, 2)


def test_training_posts_one_epoch_complete_per_epoch(tiny_transformed, tmp_path):
    from specs import ModelConfig, TrainingParams
    from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
    from trainer.run import run_training

    with receiver() as (url, received):
        fn_args = fn_args_for(tiny_transformed, str(tmp_path), **E2E_CONFIG, callback_url=url)
        metrics = run_training(fn_args, features=tiny_transformed.features,
                               model=ModelConfig.preset("minimal"), training=TrainingParams())  # fmt: skip
    posted = events(received)
    assert [path.rsplit("/", 2)[-2] for path, _ in posted] == ["epoch-complete"] * 3
    assert [p["epoch"] for _, p in posted] == [1, 2, 3]
    assert [p["loss"] for _, p in posted] == pytest.approx(metrics["loss"]["loss"], rel=1e-6)

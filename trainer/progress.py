"""Progress callbacks for the app: signed POSTs as stages and epochs complete.

The app gives a run a callback URL, its webhook root for that run (the seeds':
`/api/training-runs/<run_id>/webhook`); the platform POSTs JSON to `<url>/stage-complete/`,
`<url>/epoch-complete/`, `<url>/failed/` and `<url>/completed/`.

Every body carries `event`, `timestamp` (unix seconds) and the event's fields:

* stage-complete: `stage` (component id), `stage_index` (from 1), `stages_total`, `status`
  (`completed`), `duration_seconds`;
* epoch-complete: `epoch` (from 1), `epochs`, and what Keras logged (`loss`, `val_loss`, ...);
* failed: `stage` and `error`; completed: `duration_seconds`.

Signing: with the secret in `B2B_RECS_CALLBACK_SECRET` (a local run), the header
`X-B2B-Signature: sha256=<hex HMAC-SHA256 of the body>`; else, for an https URL (the cloud), a
Google identity token for the app's service (`Authorization: Bearer ...`). A receiver that fails
or cannot be reached is logged and skipped: progress reporting never fails a run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainer.identity import identity_token_for

log = logging.getLogger(__name__)

SECRET_ENV = "B2B_RECS_CALLBACK_SECRET"
SIGNATURE_HEADER = "X-B2B-Signature"
EVENTS = ("stage-complete", "epoch-complete", "failed", "completed")


def signature(secret: bytes, body: bytes) -> str:
    """The value of `X-B2B-Signature` for a body (what a receiver recomputes and compares)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class ProgressReporter:
    url: str
    secret: bytes | None = None
    token_fetch: Callable[[str], str] | None = None
    timeout_seconds: float = 5.0

    @classmethod
    def from_config(cls, callback_url: str | None) -> ProgressReporter | None:
        """A reporter for `callback_url` ("" or None: no reporting), signed by the environment's
        secret when one is set."""
        if not callback_url:
            return None
        secret = os.environ.get(SECRET_ENV)
        return cls(callback_url.rstrip("/"), secret.encode() if secret else None)

    def post(self, event: str, fields: Mapping[str, Any]) -> bool:
        """POST one event; False (and a warning) when the receiver did not take it."""
        if event not in EVENTS:
            raise ValueError(f"unknown progress event {event!r}; one of {', '.join(EVENTS)}")
        payload = {"event": event, "timestamp": round(time.time(), 3), **_plain(fields)}
        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        try:
            if self.secret:
                headers[SIGNATURE_HEADER] = signature(self.secret, body)
            else:
                token = identity_token_for(self.url, self.token_fetch)
                if token:
                    headers["Authorization"] = f"Bearer {token}"
            request = urllib.request.Request(
                f"{self.url}/{event}/", data=body, headers=headers, method="POST"
            )
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
            return True
        except Exception as exc:  # noqa: BLE001 (a receiver never fails the run)
            log.warning("progress callback %s to %s not delivered: %s", event, self.url, exc)
            return False

    def stage_complete(self, stage: str, index: int, total: int, seconds: float) -> bool:
        return self.post("stage-complete", {
            "stage": stage, "stage_index": index, "stages_total": total, "status": "completed",
            "duration_seconds": round(seconds, 3),
        })  # fmt: skip

    def epoch_complete(self, epoch: int, epochs: int, logs: Mapping[str, Any]) -> bool:
        return self.post("epoch-complete", {"epoch": epoch, "epochs": epochs, **logs})


def _plain(fields: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready values: NumPy and TF scalars as floats, non-finite numbers as null."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out

"""The blessing decision (components.recs_evaluator.blessing): known answers per check kind."""

from __future__ import annotations

import pytest

from components.recs_evaluator.blessing import BlessingPolicy, decide, evaluation_record

MODEL = {"recall_at_10": 0.37, "recall_at_100": 0.52, "test_rmse": 0.9}
BASELINES = {
    "popularity": {"recall_at_10": 0.08, "recall_at_100": 0.21},
    "repeat_then_popularity": {"recall_at_10": 0.34, "recall_at_100": 0.45},
    "ease": {"recall_at_10": 0.26, "recall_at_100": 0.47},
}


def test_a_model_above_every_baseline_is_blessed_and_each_check_says_against_what():
    blessed, checks = decide(MODEL, BASELINES, BlessingPolicy(baseline_margin=0.05))
    assert blessed
    assert [(c.kind, c.metric, c.passed) for c in checks] == [
        ("baseline", "recall_at_10", True),
        ("baseline", "recall_at_100", True),
    ]
    # The best baseline of each metric, plus the margin: 0.34 * 1.05 and 0.47 * 1.05.
    assert [c.required for c in checks] == pytest.approx([0.357, 0.4935])
    assert "best baseline repeat_then_popularity 0.3400 + 5%" in checks[0].reason
    assert "best baseline ease 0.4700 + 5%" in checks[1].reason


def test_a_margin_the_model_does_not_clear_withholds_the_blessing():
    blessed, checks = decide(MODEL, BASELINES, BlessingPolicy(baseline_margin=0.10))
    assert not blessed
    failed = [c for c in checks if not c.passed]
    assert [(c.metric, c.required) for c in failed] == [("recall_at_10", pytest.approx(0.374))]


def test_thresholds_are_minima_for_recall_and_maxima_for_errors():
    policy = BlessingPolicy(
        thresholds={"recall_at_100": 0.6, "test_rmse": 1.0}, compared_metrics=("recall_at_10",)
    )
    blessed, checks = decide(MODEL, {}, policy)
    assert not blessed
    by_metric = {c.metric: c for c in checks}
    assert (
        not by_metric["recall_at_100"].passed
        and "needs >= 0.6000" in by_metric["recall_at_100"].reason
    )
    assert by_metric["test_rmse"].passed and "needs <= 1.0000" in by_metric["test_rmse"].reason
    # A threshold on a metric the model did not compute fails, it is not skipped.
    blessed, checks = decide({}, {}, BlessingPolicy(thresholds={"recall_at_10": 0.1}))
    assert not blessed and "recall_at_10 missing fails" in checks[0].reason


def test_the_champion_may_not_be_regressed_beyond_the_tolerance():
    champion = {"recall_at_10": 0.40, "recall_at_100": 0.52}
    policy = BlessingPolicy(champion_tolerance=0.05)
    blessed, checks = decide(MODEL, {}, policy, champion, champion_name="champion v3")
    # 0.37 >= 0.40 * 0.95 = 0.38 fails; 0.52 >= 0.494 passes.
    assert not blessed
    assert [(c.kind, c.metric, c.passed) for c in checks] == [
        ("champion", "recall_at_10", False),
        ("champion", "recall_at_100", True),
    ]
    assert "champion v3 0.4000 within 5%" in checks[0].reason
    assert decide(MODEL, {}, BlessingPolicy(champion_tolerance=0.10), champion)[0]


def test_the_record_says_why():
    policy = BlessingPolicy(baseline_margin=0.10)
    blessed, checks = decide(MODEL, BASELINES, policy)
    record = evaluation_record(blessed=blessed, checks=checks, metrics=MODEL, baselines=BASELINES,
                               policy=policy, champion=None)  # fmt: skip
    assert record["blessed"] is False
    assert record["summary"].startswith("not blessed: recall_at_10 0.3700 fails: needs >= 0.3740")
    assert len(record["checks"]) == 2 and record["policy"]["baseline_margin"] == 0.10


def test_policy_bounds_name_the_field():
    with pytest.raises(ValueError, match="champion_tolerance"):
        BlessingPolicy(champion_tolerance=1.5)
    with pytest.raises(ValueError, match="baseline_margin"):
        BlessingPolicy(baseline_margin=-0.1)
    with pytest.raises(ValueError, match="compared_metrics"):
        BlessingPolicy(compared_metrics=())

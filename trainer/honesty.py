"""What a metrics table must say besides the means: how sure they are, who was left out, and
whether the model trained at all.

* `bootstrap_intervals`: a 95% percentile-bootstrap interval of each mean metric, resampling
  test customers with replacement. With 87 test customers a recall@10 of 0.30 is roughly
  0.21-0.39; the interval says so.
* `coverage`: how many customers of the eval split were evaluated, and how many were dropped
  because the model cannot know them (not in the train vocabulary) or because none of their
  eval products is in the catalogue the model was trained on.
* `health`: a loss that went non-finite or ended well above where it started (diverged), and a
  model whose top 10 is, for nearly every customer, the popularity ranking (collapsed: a
  learning rate that diverged or a model that learned nothing lands there silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from trainer.metrics import EvalSplit, top_k

RESAMPLES = 1000
LEVEL = 0.95
DIVERGED_RATIO = 1.5
"""The loss diverged when its last epoch is above this multiple of its first."""
COLLAPSE_OVERLAP = 0.9
"""The model collapsed when its top 10 shares this fraction with popularity's, on average."""
OVERLAP_K = 10


def bootstrap_intervals(
    per_customer: Mapping[str, np.ndarray],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> dict[str, list[float]]:
    """`{metric: [low, high]}`: the percentile-bootstrap interval of each metric's mean over
    customers. Metrics over the same customers (one mode) share the resamples; the seed is
    fixed, so the interval of the same values is always the same."""
    out: dict[str, list[float]] = {}
    draws: dict[int, np.ndarray] = {}
    tail = (1.0 - level) / 2
    for name in sorted(per_customer):
        values = np.asarray(per_customer[name], dtype=np.float64)
        n = len(values)
        if n == 0:
            continue
        if n not in draws:
            rng = np.random.default_rng([seed, n])
            draws[n] = rng.integers(0, n, size=(resamples, n))
        means = values[draws[n]].mean(axis=1)
        low, high = np.quantile(means, [tail, 1.0 - tail])
        out[name] = [float(low), float(high)]
    return out


def coverage(
    eval_customers: Iterable[bytes | str], known_customers: Iterable[bytes | str], split: EvalSplit
) -> dict[str, int]:
    """Distinct eval-split customers, those evaluated, and those dropped (unknown to the
    model, or with no eval product in its catalogue)."""
    distinct = {c if isinstance(c, bytes) else str(c).encode() for c in eval_customers}
    known = {c if isinstance(c, bytes) else str(c).encode() for c in known_customers}
    unknown = len(distinct - known)
    evaluated = len(split.customers)
    return {
        "eval_customers": len(distinct),
        "evaluated": evaluated,
        "dropped_unknown_customer": unknown,
        "dropped_no_known_product": len(distinct) - unknown - evaluated,
    }


def popularity_overlap(ranked: Sequence[np.ndarray], split: EvalSplit, k: int = OVERLAP_K) -> float:
    """Mean share of each ranked list's top k that is in popularity's top k (distinct train
    buyers, as `trainer.baselines.popularity` ranks)."""
    if not len(ranked):
        return 0.0
    buyers = np.asarray((split.train > 0).sum(axis=0), dtype=np.float64).reshape(1, -1)
    popular = top_k(buyers, k)[0]
    depth = min(k, len(popular))
    if depth == 0:
        return 0.0
    shares = [np.isin(np.asarray(row)[:depth], popular).sum() / depth for row in ranked]
    return float(np.mean(shares))


def health(losses: Sequence[float], overlap: float | None, *, initial: float | None = None) -> dict:
    """`{"initial_loss", "diverged", "collapsed_to_popularity", "popularity_overlap_at_10",
    "warnings"}` from
    the per-epoch training loss, the loss of the untrained model (`initial`, the first batch's;
    else the first epoch's mean) and `popularity_overlap` of the model's lists."""
    warnings: list[str] = []
    losses = [float(v) for v in losses]
    bad = [i for i, v in enumerate(losses) if not np.isfinite(v)]
    reference, since = (initial, "the first batch") if initial else (
        losses[0] if losses else None, "the first epoch"
    )  # fmt: skip
    worst = max(range(len(losses)), key=lambda i: losses[i], default=None)
    diverged = bool(bad)
    if bad:
        warnings.append(f"the training loss diverged: {losses[bad[0]]} at epoch {bad[0] + 1}")
    elif (
        reference is not None and reference > 0 and np.isfinite(reference)
        and worst is not None and losses[worst] > DIVERGED_RATIO * reference
    ):  # fmt: skip
        diverged = True
        warnings.append(
            f"the training loss diverged: {losses[worst]:.4g} at epoch {worst + 1} against "
            f"{reference:.4g} at {since} (try a lower learning rate)"
        )
    collapsed = overlap is not None and overlap >= COLLAPSE_OVERLAP
    if collapsed:
        warnings.append(
            f"the model collapsed to the popularity ranking: on average {overlap:.0%} of a "
            f"customer's top {OVERLAP_K} is popularity's top {OVERLAP_K}"
        )
    return {
        "initial_loss": initial,
        "diverged": diverged,
        "collapsed_to_popularity": bool(collapsed),
        "popularity_overlap_at_10": None if overlap is None else round(overlap, 4),
        "warnings": warnings,
    }

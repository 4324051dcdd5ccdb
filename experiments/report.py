"""One self-contained static HTML page of an experiment's runs (`python -m experiments report`).

The leaderboard, a comparison of the best runs (or those asked for), loss and recall curves per
epoch, the feature-config x model-config heatmap, the trend of the best value and the
hyperparameter insights. Charts are drawn with matplotlib and embedded as inline SVG (text as
paths), tables are plain HTML with inline CSS: the page loads nothing at view time.
"""

from __future__ import annotations

import html
import io
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from experiments import queries

CURVE_RUNS = 8
LEADERBOARD_ROWS = 20
_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; background: #e6f4e6; }
.chart svg { max-width: 100%; height: auto; } .note { color: #666; font-size: 0.85em; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return _e(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """Rows of (cell html, css class) pairs."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{v}</td>' for v, c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _svg(fig) -> str:
    """A matplotlib figure as inline SVG markup (no XML prolog), and the figure closed."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    # The RDF metadata block names matplotlib's web site: nothing a page needs.
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "experiments-report",
                         "font.size": 9})  # fmt: skip
    return plt


def _label(run: Mapping[str, Any]) -> str:
    return f"{run['run_id'][:8]} {run.get('model_config') or ''}".strip()


def curves_chart(curves: Mapping[str, Mapping[str, list[float]]], runs: Sequence[dict]) -> str:
    """Training loss (solid) and eval/validation loss (dashed, dotted) per epoch per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    colors = plt.get_cmap("tab10")
    for i, run in enumerate(runs):
        for key, style in (("loss", "-"), ("eval_loss", "--"), ("val_loss", ":")):
            values = curves.get(key, {}).get(run["run_id"])
            if values:
                ax.plot(range(1, len(values) + 1), values, style, color=colors(i % 10),
                        marker="o", markersize=3,
                        label=f"{_label(run)} {key}")  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss per epoch (solid: train, dashed: eval sample, dotted: validation)")
    ax.legend(fontsize=6, ncol=2, loc="upper right")
    ax.grid(alpha=0.3)
    return _svg(fig)


def recall_chart(curves: Mapping[str, Mapping[str, list[float]]], runs: Sequence[dict]) -> str:
    """Recall@5/10/50/100 on the eval sample per epoch, one panel per K."""
    plt = _pyplot()
    ks = queries.contract.K
    fig, axes = plt.subplots(1, len(ks), figsize=(10, 2.8), sharex=True)
    colors = plt.get_cmap("tab10")
    for ax, k in zip(axes, ks, strict=True):
        for i, run in enumerate(runs):
            values = curves.get(f"recall_at_{k}", {}).get(run["run_id"])
            if values:
                ax.plot(range(1, len(values) + 1), values, color=colors(i % 10), marker="o",
                        markersize=3, label=_label(run))  # fmt: skip
        ax.set_title(f"recall@{k}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    return _svg(fig)


def heatmap_chart(pairs: Mapping[str, Any]) -> str:
    """The mean metric of each feature config (rows) x model config (columns)."""
    import numpy as np

    plt = _pyplot()
    rows, cols = pairs["feature_configs"], pairs["model_configs"]
    grid = np.full((len(rows), len(cols)), np.nan)
    counts = {}
    for cell in pairs["cells"]:
        r, c = rows.index(cell["feature_config"]), cols.index(cell["model_config"])
        grid[r, c] = cell["mean"]
        counts[r, c] = cell["runs"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(cols), 1.0 + 0.6 * len(rows)))
    # A mesh of vector cells (imshow would embed a raster image).
    image = ax.pcolormesh(np.arange(len(cols) + 1) - 0.5, np.arange(len(rows) + 1) - 0.5,
                          np.ma.masked_invalid(grid), cmap="viridis")  # fmt: skip
    ax.invert_yaxis()
    for (r, c), n in counts.items():
        ax.text(c, r, f"{grid[r, c]:.3f}\n({n} runs)", ha="center", va="center", fontsize=7,
                color="white" if grid[r, c] < np.nanmean(grid) else "black")  # fmt: skip
    ax.set_xticks(range(len(cols)), cols, rotation=20, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("model config")
    ax.set_ylabel("feature config")
    ax.set_title(f"mean {pairs['metric']}")
    fig.colorbar(image, ax=ax)
    return _svg(fig)


def trend_chart(trend: Mapping[str, Any]) -> str:
    """Each run's value over time, and the best so far as a step line."""
    from datetime import datetime, timezone

    plt = _pyplot()
    points = trend["points"]
    times = [datetime.fromtimestamp(p["start_time"] / 1000, tz=timezone.utc) for p in points]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.scatter(times, [p["value"] for p in points], s=14, color="#888", label="run")
    ax.step(times, [p["best_so_far"] for p in points], where="post", color="#d62728",
            label="best so far")  # fmt: skip
    ax.set_ylabel(trend["metric"])
    ax.set_title(f"{trend['metric']} over time")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _svg(fig)


def render(
    store,
    runs: Sequence[queries.Run],
    *,
    metric: str = queries.DEFAULT_METRIC,
    compare_ids: Sequence[str] = (),
    title: str = "Experiments",
) -> str:
    """The page's HTML for `runs` (`queries.load_runs`); `compare_ids`: the runs compared
    (default: the best runs by `metric`, up to four)."""
    board = queries.leaderboard(runs, metric)
    best = [row["run_id"] for row in board["runs"]]
    chosen = list(compare_ids) or best[:4]
    by_id = {r.run_id: r for r in runs}
    curve_runs = [by_id[i] for i in (list(compare_ids) or best)[:CURVE_RUNS] if i in by_id]
    curves = queries.curves(store, curve_runs)
    pairs = queries.pairs(runs, metric)
    trend = queries.trend(runs, metric)
    insights = queries.insights(runs, metric)

    parts = [f"<h1>{_e(title)}</h1>",
             f'<p class="note">{len(runs)} runs; ranked by <b>{_e(metric)}</b> '
             f"({_e(board['order'])}); written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
             "</p>"]  # fmt: skip
    parts.append("<h2>Leaderboard</h2>")
    parts.append(_table(
        ["#", "run", "name", "feature config", "model config", "type", "lr", "batch", "epochs",
         metric],
        [[(str(r["rank"]), "num"), (_e(r["run_id"][:12]), ""), (_e(r["run_name"]), ""),
          (_e(r["feature_config"]), ""), (_e(r["model_config"]), ""), (_e(r["model_type"]), ""),
          (_e(r["learning_rate"]), "num"), (_e(r["batch_size"]), "num"), (_e(r["epochs"]), "num"),
          (_num(r["value"]), "num")] for r in board["runs"][:LEADERBOARD_ROWS]],
    ))  # fmt: skip
    if board["without_metric"]:
        parts.append(f'<p class="note">{board["without_metric"]} runs without {_e(metric)}.</p>')
    if len(chosen) >= 2:
        parts.append("<h2>Comparison</h2>")
        parts.append(_comparison(queries.compare(runs, chosen)))
    if curves["curves"]:
        labels = [r.summary() for r in curve_runs]
        parts.append("<h2>Loss per epoch</h2>")
        parts.append(f'<div class="chart">{curves_chart(curves["curves"], labels)}</div>')
        if any(k.startswith("recall_at_") for k in curves["curves"]):
            parts.append("<h2>Recall per epoch (eval sample)</h2>")
            parts.append(f'<div class="chart">{recall_chart(curves["curves"], labels)}</div>')
    if pairs["cells"]:
        parts.append("<h2>Feature config x model config</h2>")
        parts.append(f'<div class="chart">{heatmap_chart(pairs)}</div>')
    if trend["points"]:
        parts.append("<h2>Trend</h2>")
        parts.append(f'<div class="chart">{trend_chart(trend)}</div>')
    if insights["top_runs"]:
        parts.append(f"<h2>What the top {round(100 * insights['top_share'])}% share</h2>")
        parts.append(_table(
            ["parameter", "value", "runs in the top", "runs", "rate"],
            [[(_e(p), ""), (_e(row["value"]), "num"), (str(row["top"]), "num"),
              (str(row["runs"]), "num"), (f"{row['top_rate']:.0%}", "num")]
             for p, rows in insights["params"].items() for row in rows],
        ))  # fmt: skip
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _comparison(table: Mapping[str, Any]) -> str:
    ids = [r["run_id"] for r in table["runs"]]
    rows = [[("run name", "")] + [(_e(r["run_name"]), "") for r in table["runs"]]]
    for name in ("feature_config", "model_config", "model_type"):
        rows.append([(name, "")] + [(_e(r[name]), "") for r in table["runs"]])
    for name, entry in table["params"].items():
        if entry["differs"] or name in queries.INSIGHT_PARAMS:
            rows.append([(_e(name), "")] + [(_e(entry["values"][i]), "num") for i in ids])
    for name, entry in table["metrics"].items():
        if name.startswith(("test_", "final_")):
            rows.append([(_e(name), "")] + [
                (_num(entry["values"][i]) + (" ★" if i in entry["best"] else ""),
                 "num best" if i in entry["best"] else "num") for i in ids
            ])  # fmt: skip
    return _table(["", *(i[:12] for i in ids)], rows) + (
        '<p class="note">★ the best value of each metric.</p>'
    )

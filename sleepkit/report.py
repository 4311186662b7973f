"""Plots (PNG, matplotlib without a display) and the self-contained HTML demo report (plotly).

The HTML report embeds plotly's JavaScript inline: users are often offline, so no CDN is referenced.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fsutil import atomic_path, write_text


def _figure(width: float = 8, height: float = 4):
    # The object-oriented API needs no GUI backend and leaves pyplot's global state alone.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def plot_history(history: list[dict[str, float]], path: Path) -> Path:
    fig = _figure(9, 3.5)
    ax_loss, ax_metric = fig.subplots(1, 2)
    epochs = np.arange(1, len(history) + 1)
    for key in ("loss", "val_loss"):
        ax_loss.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    for key in ("val_acc", "val_f1"):
        ax_metric.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    from matplotlib.ticker import MaxNLocator

    for ax, title in ((ax_loss, "loss"), (ax_metric, "validation metrics")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, class_names: list[str], path: Path) -> Path:
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = _figure(1.2 * len(class_names) + 2, 1.1 * len(class_names) + 1.5)
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, label="recall share")
    return _save(fig, path)


def plot_hypnogram(hours: np.ndarray, true: np.ndarray, pred: np.ndarray, class_names: list[str], path: Path, title: str = "") -> Path:
    """Step plot of true and predicted class per frame; excluded frames (-1) are gaps."""
    fig = _figure(11, 4)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, values, label in ((axes[0], true, "true"), (axes[1], pred, "predicted")):
        v = np.where(np.asarray(values) < 0, np.nan, values).astype(float)
        ax.step(hours, v, where="post", lw=1.2)
        ax.set_yticks(range(len(class_names)), class_names)
        ax.invert_yaxis()
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].set_xlabel("hours")
    if title:
        axes[0].set_title(title)
    return _save(fig, path)


@dataclass
class DemoResult:
    """What the demo measured; everything the HTML report shows."""

    subject: str
    backend: str
    class_names: list[str]
    frame_seconds: float
    true: np.ndarray  # [N] class id, -1 excluded
    pred: np.ndarray  # [N] class id from the backend
    window_times_s: np.ndarray  # [W] per-window inference or round-trip time
    frames_per_window: int
    keras_pred: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def _stage_minutes(classes: np.ndarray, n: int, frame_seconds: float) -> list[float]:
    valid = classes[classes >= 0]
    return [float(np.count_nonzero(valid == c) * frame_seconds / 60) for c in range(n)]


def _plotly_figures(res: DemoResult) -> list:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = res.class_names
    hours = np.arange(len(res.true)) * res.frame_seconds / 3600
    hyp = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("true", f"predicted ({res.backend})"))
    for row, values in ((1, res.true), (2, res.pred)):
        v = np.where(values < 0, np.nan, values).astype(float)
        hyp.add_trace(go.Scatter(x=hours, y=v, mode="lines", line_shape="hv", name="true" if row == 1 else "predicted"), row=row, col=1)
        hyp.update_yaxes(tickvals=list(range(len(names))), ticktext=names, autorange="reversed", row=row, col=1)
    hyp.update_xaxes(title_text="hours", row=2, col=1)
    hyp.update_layout(title="Hypnogram", height=450, showlegend=False)

    true_min = _stage_minutes(res.true, len(names), res.frame_seconds)
    pred_min = _stage_minutes(np.where(res.true >= 0, res.pred, -1), len(names), res.frame_seconds)
    bars = go.Figure([go.Bar(x=names, y=true_min, name="true"), go.Bar(x=names, y=pred_min, name="predicted")])
    bars.update_layout(title="Minutes per stage (scored frames)", barmode="group", yaxis_title="minutes", height=350)

    pie = go.Figure(go.Pie(labels=names, values=pred_min, sort=False))
    pie.update_layout(title="Predicted stage share", height=350)

    times_ms = np.asarray(res.window_times_s) * 1e3
    timing = go.Figure(go.Scatter(y=times_ms, mode="lines+markers", name="per window"))
    timing.update_layout(title=f"{res.backend}: time per model window ({res.frames_per_window} frames)",
                         xaxis_title="window", yaxis_title="ms", height=300)
    return [hyp, bars, pie, timing]


def _summary_rows(res: DemoResult) -> list[tuple[str, str]]:
    valid = res.true >= 0
    acc = float(np.mean(res.pred[valid] == res.true[valid])) if valid.any() else float("nan")
    t = np.asarray(res.window_times_s)
    rows = [
        ("subject", res.subject),
        ("backend", res.backend),
        ("frames", f"{len(res.true)} ({len(res.true) * res.frame_seconds / 3600:.2f} h, {int(valid.sum())} scored)"),
        ("accuracy on scored frames", f"{acc:.3f}"),
        ("time per window (median / max)", f"{np.median(t) * 1e3:.3f} ms / {np.max(t) * 1e3:.3f} ms"),
        ("time per feature frame (median)", f"{np.median(t) / res.frames_per_window * 1e6:.1f} µs"),
    ]
    if res.keras_pred is not None:
        rows.append(("agreement with Keras model", f"{float(np.mean(res.keras_pred == res.pred)):.4f}"))
    rows += [(str(k), str(v)) for k, v in res.extra.items()]
    return rows


def write_demo_report(res: DemoResult, path: Path) -> Path:
    """A single HTML file with plotly's JS inline (works offline)."""
    import plotly.offline

    figs = "\n".join(
        f'<div class="fig">{fig.to_html(full_html=False, include_plotlyjs=False)}</div>' for fig in _plotly_figures(res)
    )
    # "</" inside a script element would end it early.
    summary_json = json.dumps(dict(_summary_rows(res))).replace("</", "<\\/")
    rows = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _summary_rows(res))
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>sleepkit demo: {html.escape(res.subject)} ({html.escape(res.backend)})</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} th{{text-align:left;padding-right:2em}}
.fig{{margin:1em 0}}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head><body>
<h1>sleepkit demo report</h1>
<p>Backend <b>{html.escape(res.backend)}</b> ran the exported int8 model window by window over a held-out night.</p>
<table>{rows}</table>
{figs}
<script type="application/json" id="sleepkit-summary">{summary_json}</script>
</body></html>
"""
    return write_text(path, doc)

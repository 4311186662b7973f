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
from .metrics import cohen_kappa, confusion_matrix


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


# Depth rank of a stage name on a hypnogram, top (0) to bottom; names not listed keep class order
# between REM and the NREM stages.
_STAGE_DEPTH = {"w": 0, "wake": 0, "awake": 0, "r": 1, "rem": 1, "nrem": 2, "sleep": 2, "light": 3, "n1": 3, "s1": 3,
                "n2": 4, "s2": 4, "deep": 5, "sws": 5, "n3": 5, "s3": 5, "n4": 6, "s4": 6}


def hypnogram_order(class_names: list[str]) -> list[int]:
    """Class ids from the top row of a hypnogram down, in the clinical order whatever the class ids:
    wake, REM, then NREM deepening (W, REM, N1, N2, N3; wake, REM, light, deep), by name."""
    def rank(i: int) -> tuple[float, int]:
        name = class_names[i].strip().lower().replace(" ", "").replace("_", "")
        return (_STAGE_DEPTH.get(name, 2.5), i)

    return sorted(range(len(class_names)), key=rank)


def hypnogram_rows(values: np.ndarray, class_names: list[str]) -> np.ndarray:
    """Row (0 = top) of each frame's class per ``hypnogram_order``; excluded frames (-1) are NaN gaps."""
    row_of = np.empty(len(class_names), dtype=float)
    row_of[hypnogram_order(class_names)] = np.arange(len(class_names))
    values = np.asarray(values)
    return np.where(values < 0, np.nan, row_of[np.clip(values, 0, len(class_names) - 1)])


def plot_hypnogram(hours: np.ndarray, true: np.ndarray, pred: np.ndarray, class_names: list[str], path: Path, title: str = "") -> Path:
    """Step plot of true and predicted class per frame, rows in the clinical order
    (``hypnogram_order``); excluded frames (-1) are gaps."""
    fig = _figure(11, 4)
    axes = fig.subplots(2, 1, sharex=True)
    ticks = [class_names[c] for c in hypnogram_order(class_names)]
    for ax, values, label in ((axes[0], true, "true"), (axes[1], pred, "predicted")):
        ax.step(hours, hypnogram_rows(values, class_names), where="post", lw=1.2)
        ax.set_yticks(range(len(class_names)), ticks)
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
    # Task view: "stage" (hypnogram, minutes per stage, stage share), "apnea" or "arousal" (event
    # timeline and index bars); view_data holds what the event views draw (see sleepkit.tasks).
    view: str = "stage"
    view_data: dict = field(default_factory=dict)
    view_rows: list = field(default_factory=list)


def _stage_minutes(classes: np.ndarray, n: int, frame_seconds: float) -> list[float]:
    valid = classes[classes >= 0]
    return [float(np.count_nonzero(valid == c) * frame_seconds / 60) for c in range(n)]


def _plotly_figures(res: DemoResult) -> list:
    views = {"stage": _stage_figures, "apnea": _event_figures, "arousal": _event_figures}
    if res.view not in views:
        raise ValueError(f"unknown report view '{res.view}' (known: {', '.join(views)})")
    return [*views[res.view](res), _timing_figure(res)]


def _stage_figures(res: DemoResult) -> list:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = res.class_names
    hours = np.arange(len(res.true)) * res.frame_seconds / 3600
    hyp = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("true", f"predicted ({res.backend})"))
    ticks = [names[c] for c in hypnogram_order(names)]
    for row, values in ((1, res.true), (2, res.pred)):
        v = hypnogram_rows(values, names)
        hyp.add_trace(go.Scatter(x=hours, y=v, mode="lines", line_shape="hv", name="true" if row == 1 else "predicted"), row=row, col=1)
        hyp.update_yaxes(tickvals=list(range(len(names))), ticktext=ticks, autorange="reversed", row=row, col=1)
    hyp.update_xaxes(title_text="hours", row=2, col=1)
    hyp.update_layout(title="Hypnogram", height=450, showlegend=False)

    true_min = _stage_minutes(res.true, len(names), res.frame_seconds)
    pred_min = _stage_minutes(np.where(res.true >= 0, res.pred, -1), len(names), res.frame_seconds)
    bars = go.Figure([go.Bar(x=names, y=true_min, name="true"), go.Bar(x=names, y=pred_min, name="predicted")])
    bars.update_layout(title="Minutes per stage (scored frames)", barmode="group", yaxis_title="minutes", height=350)

    pie = go.Figure(go.Pie(labels=names, values=pred_min, sort=False))
    pie.update_layout(title="Predicted stage share", height=350)
    return [hyp, bars, pie, _confusion_figure(res)]


def _confusion_figure(res: DemoResult):
    """Counts of scored frames, rows true and columns predicted, each cell also as a share of its row."""
    import plotly.graph_objects as go

    names = res.class_names
    cm = scored_confusion(res)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    text = [[f"{cm[i, j]}<br>{100 * share[i, j]:.0f} %" for j in range(len(names))] for i in range(len(names))]
    fig = go.Figure(go.Heatmap(z=share, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                               zmin=0, zmax=1, colorbar={"title": "row share"}))
    fig.update_layout(title="Confusion on scored frames (rows: true, columns: predicted)", height=120 + 70 * len(names),
                      width=200 + 90 * len(names), yaxis={"autorange": "reversed", "title": "true"},
                      xaxis={"title": "predicted"})
    return fig


def _timing_figure(res: DemoResult):
    import plotly.graph_objects as go

    times_ms = np.asarray(res.window_times_s) * 1e3
    timing = go.Figure(go.Scatter(y=times_ms, mode="lines+markers", name="per window"))
    timing.update_layout(title=f"{res.backend}: time per model window ({res.frames_per_window} frames)",
                         xaxis_title="window", yaxis_title="ms", height=300)
    return timing


# Event colours per class id (class 0 = none is not drawn).
_EVENT_COLOURS = ("#888888", "#f0a030", "#d03030", "#7030a0", "#3060c0")


def _event_figures(res: DemoResult) -> list:
    """Event timeline (true vs predicted events as bars over the night, sleep shaded) and the
    events-per-hour bars (this night and every evaluated subject) with the task's thresholds."""
    import plotly.graph_objects as go

    d = res.view_data
    hop_h = res.frame_seconds / 3600
    names = res.class_names
    timeline = go.Figure()
    for row, key, label in ((1, "true_events", "true"), (0, "pred_events", f"predicted ({res.backend})")):
        for cls in range(1, len(names)):
            runs = [(a, b) for a, b, c in d.get(key, []) if c == cls]
            if not runs:
                continue
            timeline.add_trace(go.Bar(
                x=[(b - a) * hop_h for a, b in runs], base=[a * hop_h for a, _ in runs], y=[label] * len(runs),
                orientation="h", name=f"{names[cls]} ({label})", marker_color=_EVENT_COLOURS[cls % len(_EVENT_COLOURS)],
                hovertemplate="%{base:.3f} h, %{x:.4f} h<extra>" + names[cls] + "</extra>",
            ))
    base = np.asarray(d.get("time_base", np.zeros(0, bool)), dtype=bool)
    for a, b in _true_runs(base):
        timeline.add_vrect(x0=a * hop_h, x1=b * hop_h, fillcolor="#a0c0ff", opacity=0.15, line_width=0, layer="below")
    timeline.update_layout(
        title=f"{d.get('index_name', 'events')} events over the night (shaded: {d.get('time_base_kind', 'sleep')} time counted)",
        barmode="overlay", xaxis_title="hours", height=320, xaxis_range=[0, len(res.true) * hop_h],
    )

    index = d.get("index_name", "events per hour")
    subjects = [s for s in d.get("subjects", []) if s.get("true") is not None and s.get("pred") is not None]
    labels = [f"{res.subject} (demo night)"] + [s["subject"] for s in subjects]
    true_v = [d.get("index_true")] + [s["true"] for s in subjects]
    pred_v = [d.get("index_pred")] + [s["pred"] for s in subjects]
    bars = go.Figure([go.Bar(x=labels, y=true_v, name="true"), go.Bar(x=labels, y=pred_v, name="predicted")])
    thresholds = d.get("thresholds", [])
    bands = d.get("bands", [])
    for i, t in enumerate(thresholds):
        band = bands[i + 1] if i + 1 < len(bands) else ""
        bars.add_hline(y=t, line_dash="dash", line_color="#c04040", annotation_text=f"{band} ≥ {t:g}",
                       annotation_position="top left")
    bars.update_layout(title=f"{index} per subject: true vs predicted ({d.get('definition', '')})", barmode="group",
                       yaxis_title="events per hour", height=380)
    return [timeline, bars]


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def scored_confusion(res: DemoResult) -> np.ndarray:
    """[true, predicted] counts over the scored frames (true >= 0)."""
    valid = res.true >= 0
    return confusion_matrix(res.true[valid], res.pred[valid], len(res.class_names))


def scored_kappa(res: DemoResult) -> float:
    cm = scored_confusion(res)
    return cohen_kappa(cm) if cm.sum() else float("nan")


def _summary_rows(res: DemoResult) -> list[tuple[str, str]]:
    valid = res.true >= 0
    acc = float(np.mean(res.pred[valid] == res.true[valid])) if valid.any() else float("nan")
    t = np.asarray(res.window_times_s)
    rows = [
        ("subject", res.subject),
        ("backend", res.backend),
        ("frames", f"{len(res.true)} ({len(res.true) * res.frame_seconds / 3600:.2f} h, {int(valid.sum())} scored)"),
        ("accuracy on scored frames", f"{acc:.3f}"),
        ("Cohen's kappa on scored frames", f"{scored_kappa(res):.3f}"),
        ("time per window (median / max)", f"{np.median(t) * 1e3:.3f} ms / {np.max(t) * 1e3:.3f} ms"),
        ("time per feature frame (median)", f"{np.median(t) / res.frames_per_window * 1e6:.1f} µs"),
    ]
    if res.keras_pred is not None:
        rows.append(("agreement with Keras model", f"{float(np.mean(res.keras_pred == res.pred)):.4f}"))
    rows += [(str(k), str(v)) for k, v in res.view_rows]
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

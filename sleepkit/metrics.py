"""Classification and sleep metrics on per-frame class ids (numpy only; excluded frames pre-filtered).

Sleep efficiency and total sleep time follow the usual definitions over scored frames: TST is the
time in any class other than wake, efficiency is TST divided by the scored time in bed.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def accuracy(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def f1_scores(cm: np.ndarray) -> tuple[float, float]:
    """(macro F1 over classes present in truth or prediction, support-weighted F1)."""
    pc = per_class(cm)
    present = (pc["support"] + cm.sum(axis=0)) > 0
    macro = float(pc["f1"][present].mean()) if present.any() else 0.0
    weighted = float(np.average(pc["f1"], weights=pc["support"])) if pc["support"].sum() else 0.0
    return macro, weighted


def cohen_kappa(cm: np.ndarray) -> float:
    total = cm.sum()
    if total == 0:
        return 0.0
    po = np.trace(cm) / total
    pe = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / total**2
    return float((po - pe) / (1 - pe)) if pe < 1 else 1.0


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    pc = per_class(cm)
    macro, weighted = f1_scores(cm)
    return {
        "frames": int(cm.sum()),
        "accuracy": accuracy(cm),
        "f1_macro": macro,
        "f1_weighted": weighted,
        "kappa": cohen_kappa(cm),
        "per_class_recall": {n: float(r) for n, r in zip(class_names, pc["recall"])},
        "per_class_f1": {n: float(f) for n, f in zip(class_names, pc["f1"])},
        "support": {n: int(s) for n, s in zip(class_names, pc["support"])},
        "confusion_matrix": cm.tolist(),
    }


def sleep_summary(classes: np.ndarray, frame_seconds: float, wake_class: int | None) -> dict:
    """Total sleep time (minutes) and sleep efficiency of one night's scored frames."""
    n = len(classes)
    if wake_class is None:
        return {"tst_min": None, "sleep_efficiency": None}
    asleep = int(np.count_nonzero(np.asarray(classes) != wake_class))
    return {
        "tst_min": asleep * frame_seconds / 60.0,
        "sleep_efficiency": asleep / n if n else 0.0,
    }


def masked_f1(y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray, num_classes: int) -> tuple[float, float]:
    """(accuracy, macro F1) over valid frames; used for validation during training."""
    cm = confusion_matrix(y_true[valid], y_pred[valid], num_classes)
    return accuracy(cm), f1_scores(cm)[0]


# ---------------------------------------------------------------------------------------------------
# Night summaries (stage and detect tasks)


def minutes_per_class(classes: np.ndarray, num_classes: int, frame_seconds: float) -> list[float]:
    """Minutes spent in each class over the given frames (excluded frames already removed)."""
    counts = np.bincount(np.asarray(classes, int)[np.asarray(classes) >= 0], minlength=num_classes)[:num_classes]
    return [float(c * frame_seconds / 60.0) for c in counts]


def wake_after_sleep_onset(classes: np.ndarray, frame_seconds: float, wake_class: int | None) -> float | None:
    """Minutes of wake between the first and the last sleep frame (WASO)."""
    if wake_class is None:
        return None
    asleep = np.flatnonzero(np.asarray(classes) != wake_class)
    if len(asleep) == 0:
        return 0.0
    span = np.asarray(classes)[asleep[0] : asleep[-1] + 1]
    return float(np.count_nonzero(span == wake_class) * frame_seconds / 60.0)


def agreement_summary(true: list[float | None], pred: list[float | None]) -> dict:
    """Mean absolute error, mean bias (pred - true) and Pearson r of paired per-subject values."""
    pairs = np.array([(t, p) for t, p in zip(true, pred) if t is not None and p is not None], dtype=float)
    if len(pairs) == 0:
        return {"subjects": 0, "mae": None, "bias": None, "pearson_r": None}
    diff = pairs[:, 1] - pairs[:, 0]
    r = None
    if len(pairs) > 2 and pairs[:, 0].std() > 0 and pairs[:, 1].std() > 0:
        r = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    return {"subjects": int(len(pairs)), "mae": float(np.abs(diff).mean()), "bias": float(diff.mean()), "pearson_r": r}


# ---------------------------------------------------------------------------------------------------
# Events (apnea and arousal tasks)

# Apnea-hypopnea index bands (events per hour of sleep): normal < 5 <= mild < 15 <= moderate < 30 <= severe.
SEVERITY_THRESHOLDS = (5.0, 15.0, 30.0)
SEVERITY_NAMES = ("normal", "mild", "moderate", "severe")


def event_runs(classes: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of consecutive event frames (class > 0) as (start, stop, class); the class of a run is its
    most severe (highest) class. Frames <= 0 (none, excluded) end a run."""
    c = np.asarray(classes, dtype=np.int64)
    ev = np.concatenate([[False], c > 0, [False]])
    edges = np.flatnonzero(ev[1:] != ev[:-1])
    return [(int(a), int(b), int(c[a:b].max())) for a, b in zip(edges[::2], edges[1::2])]


def count_events(classes: np.ndarray, hop_seconds: float, min_event_seconds: float = 10.0,
                 counting: str = "runs", during: np.ndarray | None = None) -> int:
    """Number of events in a per-frame class sequence with frames ``hop_seconds`` apart.

    ``counting="runs"``: each run of consecutive event frames lasting at least ``min_event_seconds``
    (run length x hop) is one event (right for hops shorter than the gap between events, e.g. 10 s);
    ``"frames"``: every event frame is one event (per-minute labels such as Apnea-ECG's, where one
    minute stands for "an event in progress"). ``during`` (bool per frame) keeps only events that
    overlap it (e.g. sleep)."""
    if counting == "frames":
        ev = np.asarray(classes) > 0
        if during is not None:
            ev &= np.asarray(during, dtype=bool)
        return int(np.count_nonzero(ev))
    if counting != "runs":
        raise ValueError(f"counting must be 'runs' or 'frames', got {counting!r}")
    n = 0
    for a, b, _ in event_runs(classes):
        if (b - a) * hop_seconds + 1e-9 < min_event_seconds:
            continue
        if during is not None and not np.asarray(during, dtype=bool)[a:b].any():
            continue
        n += 1
    return n


def events_per_hour(classes: np.ndarray, time_base: np.ndarray, hop_seconds: float, min_event_seconds: float = 10.0,
                    counting: str = "runs") -> dict:
    """Events per hour of ``time_base`` (bool per frame, e.g. scored sleep): the apnea-hypopnea index
    for apnea classes, the arousal index for arousal classes."""
    hours = float(np.count_nonzero(time_base)) * hop_seconds / 3600.0
    events = count_events(classes, hop_seconds, min_event_seconds, counting, during=time_base)
    return {"events": events, "hours": hours, "per_hour": events / hours if hours > 0 else None}


def severity(ahi: float | None) -> str | None:
    if ahi is None:
        return None
    return SEVERITY_NAMES[int(np.searchsorted(SEVERITY_THRESHOLDS, ahi, side="right"))]

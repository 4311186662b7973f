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

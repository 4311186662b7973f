"""Evaluate mode: the trained Keras model on the held-out test subjects, whole nights tiled.

Writes ``metrics.json`` (accuracy, macro/weighted F1, per-class recall, Cohen's kappa, confusion
matrix, per-subject total sleep time and sleep efficiency, true vs predicted) and ``confusion.png``.
Frames excluded from training (masked, unscored) are excluded here too. With ``threshold`` set,
frames whose top softmax probability is below it are left out and the kept share is reported.
"""

from __future__ import annotations

import json

import numpy as np

from .. import data
from ..fsutil import write_text
from ..log import logger
from ..metrics import classification_report, sleep_summary
from ..params import TaskParams
from ..report import plot_confusion
from ..tasks.base import Task
from ..training.model_io import load_model, model_path


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def predict_subjects(model, subjects: list[data.SubjectData], params: TaskParams) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per subject: (per-frame probabilities [N, C], covered mask [N]) from tiled windows."""
    x, starts = data.eval_windows(subjects, params)
    out = model.predict(x, batch_size=params.batch_size, verbose=0)
    probs = _softmax(out) if params.use_logits else out
    results, i = [], 0
    for s, st in zip(subjects, starts):
        results.append(data.stitch(probs[i : i + len(st)], st, s.num_frames))
        i += len(st)
    return results


def run(params: TaskParams, task: Task) -> dict:
    split = data.subject_split(params)
    subjects = data.load_subjects(split.test, params, task.label_key)
    model = load_model(params, num_features=subjects[0].x.shape[1])
    names = data.class_names(params)
    wake = data.wake_class(params)

    all_true, all_pred, per_subject = [], [], []
    kept_total = scored_total = 0
    for s, (probs, covered) in zip(subjects, predict_subjects(model, subjects, params)):
        pred = probs.argmax(-1)
        use = s.valid & covered
        scored_total += int(use.sum())
        if params.threshold is not None:
            use &= probs.max(-1) >= params.threshold
        kept_total += int(use.sum())
        all_true.append(s.y[use])
        all_pred.append(pred[use])
        scored = s.valid & covered
        t, p = sleep_summary(s.y[scored], s.frame_seconds, wake), sleep_summary(pred[scored], s.frame_seconds, wake)
        per_subject.append({
            "subject": s.ref.key,
            "frames": int(scored.sum()),
            "accuracy": float(np.mean(pred[scored] == s.y[scored])) if scored.any() else None,
            "tst_min_true": t["tst_min"], "tst_min_pred": p["tst_min"],
            "sleep_efficiency_true": t["sleep_efficiency"], "sleep_efficiency_pred": p["sleep_efficiency"],
        })

    report = classification_report(np.concatenate(all_true), np.concatenate(all_pred), names)
    metrics = {
        "model_file": str(model_path(params)),
        "test_subjects": [s.ref.key for s in subjects],
        "class_names": names,
        **report,
        "threshold": params.threshold,
        "coverage": kept_total / scored_total if scored_total else 0.0,
        "per_subject": per_subject,
    }
    test_metric = {"acc": "accuracy", "f1": "f1_macro", "loss": None}[params.test_metric]
    if test_metric is None:
        logger.info("test_metric 'loss' is a training quantity; reporting accuracy instead")
        test_metric = "accuracy"
    metrics["test_metric"] = {"name": test_metric, "value": metrics[test_metric]}
    out = params.job_dir / "metrics.json"
    write_text(out, json.dumps(metrics, indent=2))
    plot_confusion(np.asarray(report["confusion_matrix"]), names, params.job_dir / "confusion.png")
    logger.info("test accuracy %.4f, macro F1 %.4f, kappa %.4f on %d frames", report["accuracy"], report["f1_macro"], report["kappa"], report["frames"])
    return {
        "accuracy": round(report["accuracy"], 4),
        "f1_macro": round(report["f1_macro"], 4),
        "f1_weighted": round(report["f1_weighted"], 4),
        "kappa": round(report["kappa"], 4),
        "frames": report["frames"],
        "metrics": str(out),
    }

"""Evaluate mode: the trained model on the held-out test subjects, whole nights tiled.

Writes ``metrics.json`` and ``confusion.png`` (and ``confusion_int8.png``). metrics.json holds, for
the Keras model (``model_file``): accuracy, macro/weighted F1, per-class recall and F1, Cohen's kappa,
the confusion matrix, per-subject entries and the task's sections (``sleep`` for stage/detect, ``ahi``
and ``severity`` for apnea, ``arousal_index`` for arousal, ``classic`` for detect: see the task
modules). Frames excluded from training (masked, unscored) are excluded here too. With ``threshold``
set, frames whose top probability is below it are left out of the classification metrics and the
kept share is reported.

Float vs int8, side by side (``comparison``): the int8 model is the exported
``export/model.tflite`` when it is newer than the Keras model, otherwise (with
``quantization.enabled``) an in-memory int8 conversion of it; both run on TFLite's reference kernels,
the arithmetic TFLM runs on the device. With quantisation-aware training the Keras model holds
fake-quant ops, and the float model it was fine-tuned from is scored as well.
"""

from __future__ import annotations

import json
import time

import numpy as np

from .. import data
from ..errors import SleepkitError
from ..fsutil import write_text
from ..log import logger
from ..metrics import classification_report
from ..params import TaskParams
from ..report import plot_confusion
from ..tasks.base import SubjectResult, Task
from ..training.model_io import float_model_path, load_model, model_path


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _results(outputs: np.ndarray, subjects: list[data.SubjectData], starts: list[np.ndarray], params: TaskParams) -> list[SubjectResult]:
    probs = _softmax(outputs) if params.use_logits else outputs
    results, i = [], 0
    for s, st in zip(subjects, starts):
        p, covered = data.stitch(probs[i : i + len(st)], st, s.num_frames)
        results.append(SubjectResult(s, p, p.argmax(-1), s.valid & covered))
        i += len(st)
    return results


def score(task: Task, results: list[SubjectResult], params: TaskParams, names: list[str]) -> dict:
    """Classification report, per-subject entries and the task's sections for one set of predictions."""
    all_true, all_pred, per_subject = [], [], []
    kept_total = scored_total = 0
    for r in results:
        use = r.scored.copy()
        scored_total += int(use.sum())
        if params.threshold is not None:
            use &= r.probs.max(-1) >= params.threshold
        kept_total += int(use.sum())
        all_true.append(r.true[use])
        all_pred.append(r.pred[use])
        per_subject.append({
            "subject": r.subject.ref.key,
            "frames": int(r.scored.sum()),
            "accuracy": float(np.mean(r.pred[r.scored] == r.true[r.scored])) if r.scored.any() else None,
            **task.subject_metrics(r, params),
        })
    report = classification_report(np.concatenate(all_true), np.concatenate(all_pred), names)
    return {
        **report,
        "threshold": params.threshold,
        "coverage": kept_total / scored_total if scored_total else 0.0,
        "per_subject": per_subject,
        **task.summary_metrics(results, per_subject, params),
    }


def int8_model(params: TaskParams, task: Task, model, split: data.Split) -> tuple[bytes, str] | None:
    """(TFLite bytes, where they came from) of the int8 model to score, or None (logged)."""
    tflite_path = params.job_dir / "export" / "model.tflite"
    keras_path = model_path(params)
    if tflite_path.is_file() and tflite_path.stat().st_mtime >= keras_path.stat().st_mtime:
        return tflite_path.read_bytes(), str(tflite_path)
    if tflite_path.is_file():
        logger.info("%s is older than %s; it is not scored", tflite_path, keras_path)
    if not params.quantization.enabled:
        logger.info("no current exported model and quantization.enabled is false: int8 accuracy not evaluated (run export first)")
        return None
    from ..convert import convert_int8
    from .export import REPRESENTATIVE_WINDOWS, representative_windows

    train_s = data.load_subjects(split.train, params, task.label_key_for(params))
    tflite = convert_int8(model, representative_windows(train_s, params, REPRESENTATIVE_WINDOWS), params.quantization.io_type)
    return tflite, "in-memory int8 conversion of model_file (run export to write and verify it)"


def int8_outputs(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Dequantised outputs of the int8 model on TFLite's reference kernels."""
    from ..quant import dequantize
    from ..tflm_check import io_details, quantize_input, run_reference

    qin, qout = io_details(tflite)
    if tuple(qin.shape[1:]) != x.shape[1:]:
        raise SleepkitError(f"the int8 model takes windows {tuple(qin.shape[1:])} but the test windows are {x.shape[1:]}; rerun export")
    raw = run_reference(tflite, quantize_input(x, qin))
    return raw.astype(np.float32) if qout.dtype == np.float32 else dequantize(raw, qout.scale, qout.zero_point)


def _column(scored: dict, task: Task) -> dict:
    keys = ("accuracy", "f1_macro", "f1_weighted", "kappa")
    return {**{k: scored[k] for k in keys}, **task.headline_metrics(scored)}


def _compact(scored: dict) -> dict:
    return {k: v for k, v in scored.items() if k != "per_subject"}


def run(params: TaskParams, task: Task) -> dict:
    split = data.subject_split(params)
    subjects = data.load_subjects(split.test, params, task.label_key_for(params))
    model = load_model(params, num_features=subjects[0].x.shape[1])
    names = data.class_names(params)
    x, starts = data.eval_windows(subjects, params)
    results = _results(model.predict(x, batch_size=params.batch_size, verbose=0), subjects, starts, params)
    main = score(task, results, params, names)
    if not main["frames"]:
        raise SleepkitError(
            f"no scorable frames in the test subjects ({', '.join(s.ref.key for s in subjects)}): every frame is "
            f"masked, unscored or excluded by class_map; {params.job_dir / 'metrics.json'} was left as it was"
        )

    from ..training.qat import is_qat_model

    qat = is_qat_model(model)
    columns = {"keras_qat" if qat else "float": _column(main, task)}
    extra: dict = {}
    if qat and float_model_path(params).is_file():
        fmodel = load_model(params, float_model_path(params), num_features=subjects[0].x.shape[1])
        fscored = score(task, _results(fmodel.predict(x, batch_size=params.batch_size, verbose=0), subjects, starts, params), params, names)
        columns = {"float": _column(fscored, task), **columns}
        extra["float_before_qat"] = _compact(fscored)

    found = int8_model(params, task, model, split)
    if found is not None:
        tflite, source = found
        t0 = time.perf_counter()
        int8_results = _results(int8_outputs(tflite, x), subjects, starts, params)
        int8 = score(task, int8_results, params, names)
        logger.info("int8 model (%s) on %d windows in %.1f s", source, len(x), time.perf_counter() - t0)
        columns["int8"] = _column(int8, task)
        agreement = np.concatenate([a.pred[a.scored] == b.pred[b.scored] for a, b in zip(results, int8_results)])
        extra["int8"] = {"source": source, "class_agreement_with_keras": float(agreement.mean()), **_compact(int8)}
        plot_confusion(np.asarray(int8["confusion_matrix"]), names, params.job_dir / "confusion_int8.png")

    metrics = {
        "task": task.name,
        "label_key": task.label_key_for(params),
        "model_file": str(model_path(params)),
        "quantization_aware": qat,
        "test_subjects": [s.ref.key for s in subjects],
        "class_names": names,
        **main,
        "comparison": columns,
        **extra,
        **task.baseline_metrics(results, split, params),
    }
    test_metric = {"acc": "accuracy", "f1": "f1_macro", "loss": None}[params.test_metric]
    if test_metric is None:
        logger.info("test_metric 'loss' is a training quantity; reporting accuracy instead")
        test_metric = "accuracy"
    metrics["test_metric"] = {"name": test_metric, "value": metrics[test_metric]}
    out = params.job_dir / "metrics.json"
    write_text(out, json.dumps(metrics, indent=2, default=_json_default).replace("NaN", "null"))
    plot_confusion(np.asarray(main["confusion_matrix"]), names, params.job_dir / "confusion.png")
    logger.info("test accuracy %.4f, macro F1 %.4f, kappa %.4f on %d frames", main["accuracy"], main["f1_macro"], main["kappa"], main["frames"])
    summary = {
        "accuracy": round(main["accuracy"], 4),
        "f1_macro": round(main["f1_macro"], 4),
        "f1_weighted": round(main["f1_weighted"], 4),
        "kappa": round(main["kappa"], 4),
        "frames": main["frames"],
    }
    if len(columns) > 1:  # float vs int8 (vs QAT) side by side
        for name, col in columns.items():
            summary[f"{name}_accuracy"] = round(col["accuracy"], 4)
    for key, value in task.headline_metrics(main).items():
        summary[key] = None if value is None else round(float(value), 4)
    if "classic" in metrics and "accuracy" in metrics["classic"]:
        summary["classic_accuracy"] = round(metrics["classic"]["accuracy"], 4)
        summary["classic_kappa"] = round(metrics["classic"]["kappa"], 4)
    summary["metrics"] = str(out)
    return summary


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

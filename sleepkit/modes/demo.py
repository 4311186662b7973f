"""Demo mode: the exported model over a held-out night on the chosen backend, then a report.

Writes to job_dir: ``report.html`` (self-contained, opens offline), ``hypnogram.png`` and
``demo_outputs.npz`` (raw model outputs per window, for parity checks between backends). The night is
the first test subject (sorted), cut to ``demo_size`` feature frames when set. The report's views
come from the task: hypnogram and stage minutes (stage, detect), apnea events and AHI bars with the
severity thresholds (apnea), an arousal timeline (arousal).
"""

from __future__ import annotations

import dataclasses
import json
import webbrowser

import numpy as np

from .. import data
from ..errors import SleepkitError
from ..fsutil import atomic_path
from ..log import logger
from ..params import TaskParams
from ..registry import BackendFactory
from ..report import DemoResult, plot_hypnogram, scored_kappa, write_demo_report
from ..tasks.base import Task
from ..training.model_io import load_model, model_path


def _night(params: TaskParams, task: Task) -> data.SubjectData:
    split = data.subject_split(params)
    subject = data.load_subjects(split.test[:1], params, task.label_key_for(params))[0]
    n = subject.num_frames
    if params.demo_size is not None:
        if params.demo_size < params.frame_size:
            logger.info("demo_size %d < frame_size %d; using one full window", params.demo_size, params.frame_size)
        n = min(n, max(params.demo_size, params.frame_size))
    return dataclasses.replace(subject, x=subject.x[:n], y=subject.y[:n], valid=subject.valid[:n])


def run(params: TaskParams, task: Task) -> dict:
    backend_cls = BackendFactory.get(params.backend)  # an unknown name first: its message lists the known ones
    if params.backend != "evb":
        from ..backends.evb import options as evb_options

        if evb_options.given:
            raise SleepkitError(f"{', '.join(evb_options.given)} {'applies' if len(evb_options.given) == 1 else 'apply'} only to the evb backend, and the backend is "
                                f"'{params.backend}'; add --backend evb, or drop them")
    tflite_path = params.job_dir / "export" / "model.tflite"
    if not tflite_path.is_file():
        raise SleepkitError(f"{tflite_path} does not exist; run `sleepkit export` first")
    extra = {"model": str(tflite_path)}
    export_json = tflite_path.with_name("export.json")
    if export_json.is_file():
        try:
            verified = bool(json.loads(export_json.read_text()).get("verified", False))
        except (OSError, ValueError, AttributeError) as exc:
            raise SleepkitError(f"cannot read {export_json}: {exc}; rerun `sleepkit export`") from None
        extra["export verified"] = verified
        if not verified:
            logger.warning("%s failed export verification (see %s); running it anyway", tflite_path, export_json)
    else:
        logger.warning("no %s next to the model; it was not verified against TFLM", export_json)
    night = _night(params, task)
    windows, starts = data.tiled_windows(night, params.frame_size)
    raws, times = [], []
    with backend_cls(params, tflite_path) as backend:
        io = backend.io
        if tuple(io.input_shape) != windows.shape[1:]:
            raise SleepkitError(f"{tflite_path} takes input {tuple(io.input_shape)} but the windows are {windows.shape[1:]}")
        for w in windows:
            inf = backend.infer(w)
            raws.append(np.asarray(inf.raw))
            times.append(inf.rtt_s)
    raw = np.stack(raws)
    pred, _ = data.stitch(raw.argmax(-1), starts, night.num_frames)

    keras_pred = None
    if model_path(params).is_file():
        model = load_model(params, num_features=night.x.shape[1])
        keras_pred, _ = data.stitch(model.predict(windows, verbose=0).argmax(-1), starts, night.num_frames)
    else:
        logger.info("no Keras model at %s; the report shows the %s backend only", model_path(params), params.backend)

    names = data.class_names(params)
    true = np.where(night.valid, night.y, -1)
    view = task.demo_view(night, pred, params)
    result = DemoResult(
        subject=night.ref.key, backend=backend_cls.name, class_names=names, frame_seconds=night.frame_seconds,
        true=true, pred=pred, window_times_s=np.asarray(times), frames_per_window=params.frame_size,
        keras_pred=keras_pred, extra=extra, view=view.view, view_data=view.data, view_rows=view.rows,
    )
    job = params.job_dir
    with atomic_path(job / "demo_outputs.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, raw=raw, starts=starts, pred=pred, true=true, subject=night.ref.key, backend=backend_cls.name,
                 window_times_s=np.asarray(times))
    hours = np.arange(night.num_frames) * night.frame_seconds / 3600
    plot_hypnogram(hours, true, pred, names, job / "hypnogram.png", f"{night.ref.key} ({backend_cls.name})")
    report = write_demo_report(result, job / "report.html")
    scored = true >= 0
    summary = {
        "backend": backend_cls.name,
        "subject": night.ref.key,
        "windows": len(windows),
        "accuracy": round(float(np.mean(pred[scored] == true[scored])), 4) if scored.any() else None,
        "kappa": round(scored_kappa(result), 4) if scored.any() else None,
        "ms_per_window": round(float(np.median(times)) * 1e3, 3),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in view.summary.items()},
        "report": str(report),
    }
    if keras_pred is not None:
        summary["keras_agreement"] = round(float(np.mean(keras_pred == pred)), 4)
    if params.display_report:
        webbrowser.open(report.resolve().as_uri())
    return summary

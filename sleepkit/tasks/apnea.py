"""Apnea/hypopnea detection per frame, the apnea-hypopnea index (AHI) and severity per subject.

Labels: the ``apnea`` array (``ApneaEvent``: 0 none, 1 hypopnea, 2 apnea; -1 not scored). Two class
layouts: ``{0: 0, 1: 1, 2: 2}`` (none / hypopnea / apnea) or ``{0: 0, 1: 1, 2: 1}`` (none / event).
configs/apnea.json uses the second with unweighted classes: the AHI counts both kinds alike, and
balanced class weights (x7 on event frames) made the model call too many short events, which the
AHI counts one by one.

AHI = events of at least 10 s per hour of sleep (``sleepkit.tasks.events`` says how frames become
events and which hours count); severity bands: normal < 5, mild 5-15, moderate 15-30, severe >= 30.
metrics.json gets, per subject, AHI and severity true vs predicted and, over subjects, the AHI's mean
absolute error, bias and Pearson r plus the severity confusion matrix.

Real recordings: per-minute labels (Apnea-ECG: 'A' = apnea or hypopnea in progress, 60-s frames)
count one event per event minute: ``ApneaTask(counting="frames")``; a store without a ``stage``
array (Apnea-ECG again) gives events per hour of recording: ``ApneaTask(sleep_key=None)`` says so
explicitly. Register such a variant under its own name::

    sk.TaskFactory.register("apnea-minutes", lambda: ApneaTask(counting="frames", sleep_key=None))
"""

from __future__ import annotations

import json

import numpy as np

from .. import data
from ..log import logger
from ..metrics import SEVERITY_NAMES, SEVERITY_THRESHOLDS, confusion_matrix, event_runs, severity
from ..params import TaskParams
from .base import DemoView, SubjectResult
from .events import EventTask


class ApneaTask(EventTask):
    name = "apnea"
    label_key = "apnea"
    index_name = "ahi"
    event_names = "apneas and hypopneas"

    def subject_metrics(self, result: SubjectResult, params: TaskParams) -> dict:
        out = super().subject_metrics(result, params)
        out["severity_true"] = severity(out["ahi_true"])
        out["severity_pred"] = severity(out["ahi_pred"])
        return out

    def summary_metrics(self, results: list[SubjectResult], per_subject: list[dict], params: TaskParams) -> dict:
        out = super().summary_metrics(results, per_subject, params)
        pairs = [(p["severity_true"], p["severity_pred"]) for p in per_subject if p["severity_true"] and p["severity_pred"]]
        idx = {n: i for i, n in enumerate(SEVERITY_NAMES)}
        cm = confusion_matrix(np.array([idx[t] for t, _ in pairs], int), np.array([idx[p] for _, p in pairs], int), len(SEVERITY_NAMES))
        out["severity"] = {
            "bands": {"normal": "< 5", "mild": "5-15", "moderate": "15-30", "severe": ">= 30"},
            "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else None,
            "labels": list(SEVERITY_NAMES),
            "confusion_matrix": cm.tolist(),
        }
        return out

    def headline_metrics(self, scored: dict) -> dict:
        return {**super().headline_metrics(scored), "severity_accuracy": scored.get("severity", {}).get("accuracy")}

    def demo_view(self, night: data.SubjectData, pred: np.ndarray, params: TaskParams) -> DemoView:
        usable = night.valid.copy()
        base, kind = self.time_base(night, usable, night.num_frames)
        hop = night.frame_seconds
        true_cls = np.where(usable, night.y, 0)
        pred_cls = np.where(usable, pred, 0)
        t, p = self.night_index(true_cls, base, hop), self.night_index(pred_cls, base, hop)
        subjects = _evaluated_subjects(params, "ahi")
        view = {
            "time_base": base, "time_base_kind": kind,
            "true_events": event_runs(true_cls), "pred_events": event_runs(pred_cls),
            "index_name": "AHI", "index_true": t["per_hour"], "index_pred": p["per_hour"],
            "thresholds": list(SEVERITY_THRESHOLDS), "bands": list(SEVERITY_NAMES), "subjects": subjects,
            "definition": self.definition(),
        }
        fmt = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
        rows = [
            ("AHI true / predicted (this night)", f"{fmt(t['per_hour'])} / {fmt(p['per_hour'])} events/h of {kind}"),
            ("severity true / predicted", f"{severity(t['per_hour'])} / {severity(p['per_hour'])}"),
            ("events true / predicted", f"{t['events']} / {p['events']} in {t['hours']:.2f} h"),
        ]
        return DemoView("apnea", view, rows, {"ahi_true": t["per_hour"], "ahi_pred": p["per_hour"],
                                              "severity_true": severity(t["per_hour"]), "severity_pred": severity(p["per_hour"])})


def _evaluated_subjects(params: TaskParams, key: str) -> list[dict]:
    """Per-subject true vs predicted index from a previous ``evaluate`` (metrics.json), if any."""
    path = params.job_dir / "metrics.json"
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text()).get("per_subject", [])
        return [{"subject": r["subject"], "true": r[f"{key}_true"], "pred": r[f"{key}_pred"]}
                for r in rows if f"{key}_true" in r]
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        logger.warning("cannot read %s for the report (%s); showing this night only", path, exc)
        return []

"""Arousal detection per frame and the arousal index (arousals per hour of sleep).

Labels: the ``arousal`` array (0 none, 1 arousal, -1 not scored — YSYW's per-sample vector, where
-1 marks stretches the challenge left unscored; they are masked, never guessed). Classes:
``{0: 0, 1: 1}``. An arousal lasts at least 3 s (AASM); frames count as arousal frames when events
cover at least ``feature.params.arousal_min_seconds`` of them (FS sets' default 3 s), so every run
of arousal frames is one arousal here (``min_event_seconds=3``).

metrics.json gets per-subject arousal index true vs predicted and, over subjects, its mean absolute
error, bias and Pearson r; the demo report shows an arousal timeline over the night.
"""

from __future__ import annotations

import numpy as np

from .. import data
from ..metrics import event_runs
from ..params import TaskParams
from .apnea import _evaluated_subjects
from .base import DemoView
from .events import EventTask


class ArousalTask(EventTask):
    name = "arousal"
    label_key = "arousal"
    index_name = "arousal_index"
    event_names = "arousals"

    def __init__(self, min_event_seconds: float = 3.0, counting: str = "runs", sleep_key: str | None = "stage") -> None:
        super().__init__(min_event_seconds, counting, sleep_key)

    def demo_view(self, night: data.SubjectData, pred: np.ndarray, params: TaskParams) -> DemoView:
        usable = night.valid.copy()
        base, kind = self.time_base(night, usable, night.num_frames)
        true_cls, pred_cls = np.where(usable, night.y, 0), np.where(usable, pred, 0)
        t = self.night_index(true_cls, base, night.frame_seconds)
        p = self.night_index(pred_cls, base, night.frame_seconds)
        view = {
            "time_base": base, "time_base_kind": kind,
            "true_events": event_runs(true_cls), "pred_events": event_runs(pred_cls),
            "index_name": "arousal index", "index_true": t["per_hour"], "index_pred": p["per_hour"],
            "subjects": _evaluated_subjects(params, self.index_name), "definition": self.definition(),
        }
        fmt = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
        rows = [
            ("arousal index true / predicted", f"{fmt(t['per_hour'])} / {fmt(p['per_hour'])} per h of {kind}"),
            ("arousals true / predicted", f"{t['events']} / {p['events']} in {t['hours']:.2f} h"),
        ]
        return DemoView("arousal", view, rows, {"arousal_index_true": t["per_hour"], "arousal_index_pred": p["per_hour"]})

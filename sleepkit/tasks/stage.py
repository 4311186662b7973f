"""Sleep staging: 2, 3, 4 or 5 classes chosen by ``class_map`` over the base stage coding.

``sleepkit.datasets.label_maps.STAGE_CLASS_MAPS`` lists the usual maps (wake/sleep; wake/NREM/REM;
wake/light/deep/REM; wake/N1/N2/N3/REM). R&K stage 4 must go to the same class as N3.

Metrics beyond the classification report (per-class F1, Cohen's kappa): per subject total sleep time
(TST, minutes not in the wake class), sleep efficiency (TST / scored time), wake after sleep onset
(WASO) and minutes in each class, true vs predicted on the same frames, and over subjects their mean
absolute error, bias and Pearson r.
"""

from __future__ import annotations

import numpy as np

from .. import data
from ..errors import SleepkitError
from ..metrics import agreement_summary, minutes_per_class, sleep_summary, wake_after_sleep_onset
from ..params import TaskParams
from .base import DemoView, SubjectResult, Task

STAGE_CLASSES = (2, 3, 4, 5)


class StageTask(Task):
    name = "stage"
    label_key = "stage"

    def check(self, params: TaskParams) -> None:
        if params.num_classes not in STAGE_CLASSES:
            raise SleepkitError(f"task '{self.name}': num_classes must be one of {STAGE_CLASSES}, got {params.num_classes}")
        cmap = {int(k): int(v) for k, v in params.class_map.items()}
        # R&K stage 4 is deep sleep: it must land in N3's class. A map without 4 is fine — a night that
        # holds stage 4 then fails at loading with "label(s) [4] are not in class_map".
        if self.label_key_for(params) == "stage" and 3 in cmap and 4 in cmap and cmap[3] != cmap[4]:
            raise SleepkitError(
                f"class_map: N3 (3) goes to class {cmap[3]} but R&K stage 4 (4) goes to class {cmap[4]}; "
                f"stage 4 is deep sleep, set 4: {cmap[3]}"
            )

    def subject_metrics(self, result: SubjectResult, params: TaskParams) -> dict:
        s, use = result.subject, result.scored
        wake = data.wake_class(params)
        true, pred = s.y[use], result.pred[use]
        t, p = sleep_summary(true, s.frame_seconds, wake), sleep_summary(pred, s.frame_seconds, wake)
        names = data.class_names(params)
        return {
            "tst_min_true": t["tst_min"], "tst_min_pred": p["tst_min"],
            "sleep_efficiency_true": t["sleep_efficiency"], "sleep_efficiency_pred": p["sleep_efficiency"],
            "waso_min_true": wake_after_sleep_onset(true, s.frame_seconds, wake),
            "waso_min_pred": wake_after_sleep_onset(pred, s.frame_seconds, wake),
            "minutes_true": dict(zip(names, minutes_per_class(true, params.num_classes, s.frame_seconds))),
            "minutes_pred": dict(zip(names, minutes_per_class(pred, params.num_classes, s.frame_seconds))),
        }

    def summary_metrics(self, results: list[SubjectResult], per_subject: list[dict], params: TaskParams) -> dict:
        def pair(key: str) -> dict:
            return agreement_summary([p[f"{key}_true"] for p in per_subject], [p[f"{key}_pred"] for p in per_subject])

        names = data.class_names(params)
        return {
            "sleep": {
                "tst_min": pair("tst_min"),
                "sleep_efficiency": pair("sleep_efficiency"),
                "waso_min": pair("waso_min"),
                "minutes_per_class": {
                    n: agreement_summary([p["minutes_true"][n] for p in per_subject], [p["minutes_pred"][n] for p in per_subject])
                    for n in names
                },
            }
        }

    def headline_metrics(self, scored: dict) -> dict:
        sleep = scored.get("sleep", {})
        return {"tst_mae_min": sleep.get("tst_min", {}).get("mae")}

    def demo_view(self, night: data.SubjectData, pred: np.ndarray, params: TaskParams) -> DemoView:
        wake = data.wake_class(params)
        true = np.where(night.valid, night.y, -1)
        scored = true >= 0
        t = sleep_summary(true[scored], night.frame_seconds, wake)
        p = sleep_summary(pred[scored], night.frame_seconds, wake)
        rows = []
        if t["tst_min"] is not None:
            rows = [
                ("total sleep time true / predicted", f"{t['tst_min']:.1f} / {p['tst_min']:.1f} min"),
                ("sleep efficiency true / predicted", f"{t['sleep_efficiency']:.3f} / {p['sleep_efficiency']:.3f}"),
            ]
        return DemoView("stage", {}, rows, {"tst_min_true": t["tst_min"], "tst_min_pred": p["tst_min"]})

"""Sleep/wake detection from a wrist accelerometer (FS-W-A-5), compared with a classic actigraphy rule.

Classes: 0 = wake, 1 = sleep. On stage labels (synthetic, PSG) ``class_map`` sends wake (0) to 0 and
every sleep stage to 1 (unscorable codes to -1); on CMIDSS's ``sleep`` track (0 wake, 1 sleep,
-1 not scored) use ``--set feature.label_key=sleep`` with ``class_map {0: 0, 1: 1}``.

Metrics are those of ``stage`` (TST, sleep efficiency, WASO) plus a ``classic`` section: the
published Cole-Kripke rule with Webster rescoring (``sleepkit.actigraphy``) on the same frames of the
same test subjects, from the store's raw activity column (``enmo_mean`` of FS-W-A-5, or ``count`` of
WALCH-5), with its one device scale fitted on the training subjects.
"""

from __future__ import annotations

import numpy as np

from .. import actigraphy, data
from ..errors import SleepkitError
from ..log import logger
from ..metrics import classification_report, sleep_summary
from ..params import TaskParams
from .base import SubjectResult
from .stage import StageTask

ACTIVITY_FEATURES = ("enmo_mean", "count", "activity", "counts")


class DetectTask(StageTask):
    name = "detect"
    label_key = "stage"

    def __init__(self, rule: str = "cole_kripke", rescore: bool = True, activity_features: tuple[str, ...] = ACTIVITY_FEATURES) -> None:
        if rule not in actigraphy.RULES:
            raise SleepkitError(f"detect: unknown actigraphy rule '{rule}' (choose {', '.join(actigraphy.RULES)})")
        self.rule = rule
        self.rescore = bool(rescore)
        self.activity_features = tuple(activity_features)

    def check(self, params: TaskParams) -> None:
        cmap = {int(k): int(v) for k, v in params.class_map.items()}
        bad = {k: v for k, v in cmap.items() if (k == 0 and v != 0) or (k != 0 and v not in (1, -1))}
        if params.num_classes != 2 or cmap.get(0) != 0 or bad or 1 not in cmap.values():
            raise SleepkitError(
                f"task 'detect' is wake (class 0) vs sleep (class 1): num_classes must be 2 and class_map must send "
                f"label 0 to 0 and every other label to 1 (or -1 to exclude it); got num_classes={params.num_classes}, "
                f"class_map={params.class_map}"
            )

    # --- classic rule on the same frames ------------------------------------------------------------

    def _night(self, ref: data.SubjectRef, params: TaskParams, subject: data.SubjectData, use: np.ndarray) -> actigraphy.Night | None:
        found = data.raw_feature_column(ref.path, params, self.activity_features)
        if found is None:
            return None
        activity, _ = found
        return actigraphy.Night(activity, subject.frame_seconds, (subject.y == 1).astype(int), use)

    def baseline_metrics(self, results: list[SubjectResult], split: data.Split, params: TaskParams) -> dict:
        label_key = self.label_key_for(params)
        found = data.raw_feature_column(results[0].subject.ref.path, params, self.activity_features)
        if found is None:
            why = f"the feature store has none of the activity columns {', '.join(self.activity_features)}"
            logger.warning("detect: classic actigraphy rule skipped: %s", why)
            return {"classic": {"skipped": why}}
        column = found[1]
        hops = {round(r.subject.frame_seconds, 6) for r in results}
        try:
            for hop in hops:
                actigraphy.check_epoch(self.rule, hop)
        except SleepkitError as exc:
            logger.warning("detect: classic actigraphy rule skipped: %s", exc)
            return {"classic": {"skipped": str(exc)}}

        train = data.load_subjects(split.train, params, label_key)
        train_nights = [n for s in train if (n := self._night(s.ref, params, s, s.valid)) is not None]
        scale, train_kappa = actigraphy.fit_scale(train_nights, self.rule, self.rescore)
        logger.info("classic %s: device scale %.4g fitted on %d training subjects (kappa %.3f)", self.rule, scale, len(train_nights), train_kappa)

        names = data.class_names(params)
        wake = data.wake_class(params)
        all_true, all_pred, per_subject = [], [], []
        for r in results:
            night = self._night(r.subject.ref, params, r.subject, r.scored)
            sleep = actigraphy.score(self.rule, night.activity * scale, night.epoch_seconds, self.rescore).astype(int)
            true, pred = r.subject.y[r.scored], sleep[r.scored]
            all_true.append(true)
            all_pred.append(pred)
            t, p = sleep_summary(true, night.epoch_seconds, wake), sleep_summary(pred, night.epoch_seconds, wake)
            per_subject.append({
                "subject": r.subject.ref.key,
                "accuracy": float(np.mean(true == pred)) if len(true) else None,
                "tst_min_true": t["tst_min"], "tst_min_pred": p["tst_min"],
                "sleep_efficiency_true": t["sleep_efficiency"], "sleep_efficiency_pred": p["sleep_efficiency"],
            })
        report = classification_report(np.concatenate(all_true), np.concatenate(all_pred), names)
        return {
            "classic": {
                **actigraphy.describe(self.rule, min(hops), self.rescore),
                "activity_feature": column,
                "epoch_seconds": sorted(hops),
                "device_scale": scale,
                "device_scale_fit": {"subjects": len(train_nights), "criterion": "Cohen's kappa", "kappa": train_kappa},
                **report,
                "per_subject": per_subject,
            }
        }

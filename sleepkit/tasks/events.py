"""Shared by the event tasks (apnea, arousal): events from per-frame classes and events per hour.

Frames are ``hop`` seconds apart (the feature store's frame step, from its ``times``). A class > 0
is an event frame. Counting (``counting``):

* ``"runs"`` (default): a run of consecutive event frames lasting at least ``min_event_seconds``
  (frames x hop) is one event. Right when the hop is shorter than the gap between events (the
  synthetic configs use 10-s frames: events are >= 10 s long and >= 20 s apart).
* ``"frames"``: every event frame is one event — for per-minute labels such as Apnea-ECG's, where a
  minute marked 'A' means "apnea or hypopnea in progress".

Time base (the "per hour of" part): the frames scored as sleep in the store's ``stage`` array
(N1-N4, REM) when the subject file has one; otherwise all evaluated frames (a recording-time index,
logged). Only frames that are evaluated count (a label, a model output and usable features: the
frames of the classification metrics); predicted and true indices use the same frames and the same
(true) sleep time, so their difference measures event detection alone.
"""

from __future__ import annotations

import numpy as np

from .. import data
from ..errors import SleepkitError
from ..labels import SleepStage
from ..log import logger
from ..metrics import agreement_summary, events_per_hour
from ..params import TaskParams
from .base import SubjectResult, Task

SLEEP_CODES = tuple(int(s) for s in (SleepStage.N1, SleepStage.N2, SleepStage.N3, SleepStage.N4, SleepStage.REM))


class EventTask(Task):
    index_name = "events_per_hour"
    event_names = "events"

    def __init__(self, min_event_seconds: float = 10.0, counting: str = "runs", sleep_key: str | None = "stage") -> None:
        if counting not in ("runs", "frames"):
            raise SleepkitError(f"task '{self.name}': counting must be 'runs' or 'frames', got {counting!r}")
        self.min_event_seconds = float(min_event_seconds)
        self.counting = counting
        self.sleep_key = sleep_key

    def check(self, params: TaskParams) -> None:
        cmap = {int(k): int(v) for k, v in params.class_map.items()}
        if cmap.get(0) != 0 or any(v == 0 for k, v in cmap.items() if k != 0):
            raise SleepkitError(
                f"task '{self.name}': class 0 must be 'no event' — class_map must send label 0 (none) to 0 and event "
                f"labels to classes >= 1 (or -1); got {params.class_map}"
            )

    def time_base(self, subject: data.SubjectData, frames: np.ndarray, n: int | None = None) -> tuple[np.ndarray, str]:
        """(bool per frame of the time base, its description) restricted to ``frames``."""
        stage = data.read_store_array(subject.ref.path, self.sleep_key) if self.sleep_key else None
        if stage is None:
            return frames.copy(), "recording"
        stage = stage[: n if n is not None else len(stage)]
        return frames & np.isin(stage, SLEEP_CODES), "sleep"

    def night_index(self, classes: np.ndarray, base: np.ndarray, hop: float) -> dict:
        return events_per_hour(classes, base, hop, self.min_event_seconds, self.counting)

    def subject_metrics(self, result: SubjectResult, params: TaskParams) -> dict:
        s, use = result.subject, result.scored
        base, kind = self.time_base(s, use)
        true = self.night_index(np.where(use, s.y, 0), base, s.frame_seconds)
        pred = self.night_index(np.where(use, result.pred, 0), base, s.frame_seconds)
        if kind == "recording":
            logger.info("%s: no '%s' labels; %s per hour of recording", s.ref.key, self.sleep_key, self.event_names)
        return {
            "time_base": kind, "hours": true["hours"],
            "events_true": true["events"], "events_pred": pred["events"],
            f"{self.index_name}_true": true["per_hour"], f"{self.index_name}_pred": pred["per_hour"],
        }

    def summary_metrics(self, results: list[SubjectResult], per_subject: list[dict], params: TaskParams) -> dict:
        key = self.index_name
        return {
            key: {
                "definition": self.definition(),
                **agreement_summary([p[f"{key}_true"] for p in per_subject], [p[f"{key}_pred"] for p in per_subject]),
            }
        }

    def definition(self) -> str:
        unit = (f"runs of event frames lasting >= {self.min_event_seconds:g} s" if self.counting == "runs"
                else "event frames")
        return f"{self.event_names} ({unit}) per hour of {'sleep' if self.sleep_key else 'recording'}"

    def headline_metrics(self, scored: dict) -> dict:
        return {f"{self.index_name}_mae": scored.get(self.index_name, {}).get("mae")}

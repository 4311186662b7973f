"""The dataset contract.

A dataset lists subject ids and loads one subject as a ``Recording``: named signals (each at its own
sampling rate, in physical units) and named label tracks (each at its own rate, e.g. one label per
30-s epoch is ``fs = 1/30``). Signal roles are the names feature sets ask for: ``ppg``, ``acc_x``,
``acc_y``, ``acc_z``, ``spo2``, ``quality``, ``ecg``, ``eeg``, ``eog``, ``resp``. Label tracks use the
base codings in ``sleepkit.labels``: ``stage`` (SleepStage, UNSCORED = -1), ``apnea`` (ApneaEvent),
``arousal`` (0/1, -1 not scored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Signal:
    data: np.ndarray  # 1-D float32, physical units
    fs: float  # Hz
    unit: str = ""

    @property
    def duration(self) -> float:
        return len(self.data) / self.fs


@dataclass
class LabelTrack:
    values: np.ndarray  # 1-D int, base coding; -1 = unscored/masked
    fs: float  # labels per second (1/30 for 30-s epochs)

    def at(self, t: np.ndarray) -> np.ndarray:
        """Label in force at times ``t`` (seconds); -1 outside the track."""
        idx = np.floor(np.asarray(t) * self.fs + 1e-9).astype(np.int64)
        out = np.full(idx.shape, -1, dtype=np.int32)
        ok = (idx >= 0) & (idx < len(self.values))
        out[ok] = self.values[idx[ok]]
        return out


@dataclass
class Recording:
    subject_id: str
    signals: dict[str, Signal]
    labels: dict[str, LabelTrack] = field(default_factory=dict)
    source: str = ""  # file or generator the recording came from, for messages
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return min((s.duration for s in self.signals.values()), default=0.0)


def channel_candidates(user: dict[str, list[str]] | None, defaults: dict[str, list[str]]) -> dict[str, list[str]]:
    """Channel labels to try per signal role: the user's first, then the dataset's known spellings."""
    merged = {role: list(c) + defaults.get(role, []) for role, c in (user or {}).items()}
    for role, cands in defaults.items():
        merged.setdefault(role, list(cands))
    return merged


class Dataset:
    """Base class. Subclasses take their NamedParams ``params`` as keyword arguments."""

    name: str = "dataset"

    def subject_ids(self) -> list[str]:  # sorted, deterministic
        raise NotImplementedError

    def load(self, subject_id: str) -> Recording:
        raise NotImplementedError

    def download(self, dest: Path, force: bool = False, num_workers: int = 1) -> None:
        """Fetch the dataset into ``dest``. Offline datasets have nothing to do."""
        return None

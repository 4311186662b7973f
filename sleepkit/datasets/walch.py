"""Walch et al. (SLEEP 2019) Apple Watch + PSG study, as per-epoch feature tables.

Layout under ``path`` (flat folder; one number per line, one line per 30-s epoch, all files of a
subject equally long)::

    <id>_count_feature.out       activity counts from the wrist accelerometer
    <id>_hr_feature.out          heart-rate feature (PPG heart rate, normalised)
    <id>_cosine_feature.out      cosine circadian proxy
    <id>_time_feature.out        hours since the recording started
    <id>_circadian_feature.out   modelled circadian drive
    <id>_psg_labels.out          PSG stage of the epoch: 0 W, 1 N1, 2 N2, 3 N3, 4 R&K stage 4, 5 REM

There are no raw signals: each feature column loads as a signal role of that name at one value per
epoch (``fs = 1 / epoch``), so the ``WALCH-5`` feature set (``sleepkit.features.table_import``) writes
them to the feature store unchanged. Label track ``stage`` in the base coding: the file's codes are the
base codes (stage 4 stays ``SleepStage.N4``; every stage ``class_map`` merges it with N3, and
``validate_stage_class_map`` refuses one that does not); -1 (unscored) is accepted too. Any other value
is an error naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..labels import UNSCORED, SleepStage
from ..log import logger
from .base import Dataset, LabelTrack, Recording, Signal

COLUMNS = ("count", "hr", "cosine", "time", "circadian")
LABEL_SUFFIX = "_psg_labels.out"
# Walch label → base coding (SleepStage); written out so a change of either side is visible here.
STAGE_CODES = {
    UNSCORED: UNSCORED,
    0: int(SleepStage.WAKE),
    1: int(SleepStage.N1),
    2: int(SleepStage.N2),
    3: int(SleepStage.N3),
    4: int(SleepStage.N4),
    5: int(SleepStage.REM),
}


def read_column_file(path: str | Path) -> np.ndarray:
    """One number per line (blank lines skipped) as float64; a bad line is a SleepkitError naming it."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    values = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise SleepkitError(f"{path}: line {n} is {text[:40]!r}, not a number") from None
    return np.asarray(values, dtype=np.float64)


def stage_codes(raw: np.ndarray, path: Path) -> np.ndarray:
    out = np.empty(len(raw), dtype=np.int32)
    for i, v in enumerate(raw):
        code = STAGE_CODES.get(int(v)) if np.isfinite(v) and v == int(v) else None
        if code is None:
            raise SleepkitError(f"{path}: line {i + 1} holds stage {v:g}; expected one of -1, 0, 1, 2, 3, 4, 5 "
                                "(W, N1, N2, N3, stage 4, REM)")
        out[i] = code
    return out


class WalchDataset(Dataset):
    """Params: ``path`` (folder with the ``.out`` files), ``subjects`` (ids), ``epoch`` (seconds per line,
    30)."""

    name = "walch"

    def __init__(self, path: str | Path = "datasets/walch", subjects: list[str] | None = None, epoch: float = 30.0) -> None:
        self.path = Path(path)
        self.subjects = [str(s) for s in subjects] if subjects is not None else None
        try:
            self.epoch = float(epoch)
        except (TypeError, ValueError):
            raise SleepkitError(f"datasets[walch].params.epoch must be a number of seconds (got {epoch!r})") from None
        if self.epoch <= 0:
            raise SleepkitError(f"datasets[walch].params.epoch must be positive (got {epoch!r})")

    def _all(self) -> list[str]:
        if not self.path.is_dir():
            raise SleepkitError(f"walch: dataset folder {self.path} does not exist (set the dataset's 'path')")
        ids = sorted(p.name[: -len(LABEL_SUFFIX)] for p in self.path.glob(f"*{LABEL_SUFFIX}"))
        if not ids:
            raise SleepkitError(f"walch: no '<id>{LABEL_SUFFIX}' files in {self.path}")
        return ids

    def subject_ids(self) -> list[str]:
        found = self._all()
        if self.subjects is None:
            return found
        absent = sorted(set(self.subjects) - set(found))
        if absent:
            raise SleepkitError(f"walch: subjects not found in {self.path}: {', '.join(absent[:10])}")
        return sorted(self.subjects)

    def load(self, subject_id: str) -> Recording:
        label_path = self.path / f"{subject_id}{LABEL_SUFFIX}"
        if not label_path.is_file():
            raise SleepkitError(f"walch: {label_path} not found")
        stages = stage_codes(read_column_file(label_path), label_path)
        fs = 1.0 / self.epoch
        signals = {}
        for col in COLUMNS:
            path = self.path / f"{subject_id}_{col}_feature.out"
            if not path.is_file():
                raise SleepkitError(f"walch: subject '{subject_id}' has no {path.name} in {self.path}")
            values = read_column_file(path)
            if len(values) != len(stages):
                raise SleepkitError(f"{path}: {len(values)} lines but {label_path.name} has {len(stages)}; "
                                    "every file of a subject holds one line per epoch")
            signals[col] = Signal(values.astype(np.float32), fs)
        if len(stages) < 240:
            logger.info("walch: subject '%s' has only %d epochs (%.1f h)", subject_id, len(stages), len(stages) * self.epoch / 3600)
        return Recording(subject_id, signals, {"stage": LabelTrack(stages, fs)}, source=str(label_path),
                         meta={"dataset": self.name, "epochs": len(stages)})

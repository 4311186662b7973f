"""Per-epoch feature tables → the HDF5 feature store, through the ordinary ``sleepkit feature`` mode.

Some datasets ship features, not signals (the Walch Apple Watch study: one value per 30-s epoch per
feature). Their dataset loads every column as a signal at one value per epoch (``fs = 1 / epoch``);
the feature sets here pass the columns through unchanged, one frame per table row, with the row's
labels, so the store holds exactly what the files hold and training/evaluation read it like any other
feature set::

    {"datasets": [{"name": "walch", "params": {"path": "datasets/walch"}}],
     "feature": {"name": "WALCH-5", "sampling_rate": 1, "frame_size": 30, "save_path": "features"}}

writes ``features/WALCH-5/walch/<id>.h5``. ``sampling_rate`` and ``frame_size`` only state the row
length (frame_size / sampling_rate must equal it: 30 s here), so the store attributes stay truthful.

``table`` is the generic form: ``feature.params.columns`` lists the signal roles to copy, in order
(every one at the same rate); ``WALCH-5`` is ``table`` with the Walch columns count, hr, cosine, time,
circadian.

Frame *j* is row *j* (centre at (j + 0.5) × row length); its labels follow
``sleepkit.features.framing`` (for a stage track with one label per row: that row's label). Mask:
``nan_feature`` (a non-finite value in the row).
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from ..errors import SleepkitError
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet
from .framing import FrameGrid, require_signals

WALCH_COLUMNS = ["count", "hr", "cosine", "time", "circadian"]


class TableFeatureSet(ConfiguredFeatureSet):
    name = "table"
    defaults = {"columns": None}

    def _check_params(self) -> None:
        cols = self.params["columns"]
        if not isinstance(cols, (list, tuple)) or not cols or not all(isinstance(c, str) and c for c in cols):
            raise SleepkitError(
                f"feature.params.columns must list the table columns (signal roles) to store, e.g. "
                f"[\"count\", \"hr\"] (got {cols!r})"
            )
        if len(set(cols)) != len(cols):
            raise SleepkitError(f"feature.params.columns lists a column twice: {cols!r}")
        self.params["columns"] = list(cols)

    @property
    def feature_names(self) -> list[str]:  # type: ignore[override]
        return list(self.params["columns"])

    def compute(self, recording: Recording) -> FeatureFrames:
        cols = self.feature_names
        require_signals(recording, tuple(cols), self.name)
        rates = sorted({float(recording.signals[c].fs) for c in cols})
        if rates[-1] - rates[0] > 1e-9 * rates[-1]:
            raise SleepkitError(
                f"subject '{recording.subject_id}' ({recording.source}): table columns have different row rates "
                f"({', '.join(f'{c}: {recording.signals[c].fs:g} Hz' for c in cols)})"
            )
        row = 1.0 / rates[0]
        if abs(self.frame_seconds - row) > 1e-6 * row:
            raise SleepkitError(
                f"feature set {self.name}: the table has one row per {row:g} s but frame_size / sampling_rate is "
                f"{self.frame_seconds:g} s; set them to describe one row (e.g. sampling_rate 1, frame_size {row:g})"
            )
        n = min(len(recording.signals[c].data) for c in cols)
        lengths = {c: len(recording.signals[c].data) for c in cols}
        if len(set(lengths.values())) > 1:
            raise SleepkitError(f"subject '{recording.subject_id}' ({recording.source}): table columns differ in length {lengths}")
        grid = FrameGrid(row, row, np.arange(n) * row)
        columns = [np.asarray(recording.signals[c].data[:n], dtype=np.float64) for c in cols]
        return self.finish(recording, grid, columns, [])


class WALCH_5(TableFeatureSet):
    """The five Walch per-epoch features: count, hr, cosine, time, circadian (see ``datasets.walch``)."""

    name = "WALCH-5"
    defaults = {}

    def __init__(self, sampling_rate: float, frame_size: int, **params) -> None:
        super().__init__(sampling_rate, frame_size, **params)
        self.params["columns"] = list(WALCH_COLUMNS)

    def _check_params(self) -> None:
        pass

    @property
    def feature_names(self) -> list[str]:  # type: ignore[override]
        return list(WALCH_COLUMNS)

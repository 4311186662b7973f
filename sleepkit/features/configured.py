"""Plumbing shared by the parameterised feature sets: parameter checking, frame and hop, and turning
per-frame features plus (reason, bad-frame) conditions into ``FeatureFrames``.

A subclass declares ``defaults`` (every accepted ``feature.params`` key with its default) and
``min_sampling_rate``; numbers are coerced to float, booleans must be booleans, anything else is
checked by the subclass in ``_check_params``. ``finish`` counts every masked frame under the first
reason that applies, logs the counts, stores non-finite features as 0 (the store holds no NaN) and
labels the frames with ``sleepkit.features.framing.frame_labels``.
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from ..errors import SleepkitError
from ..log import logger
from .base import FeatureFrames, FeatureSet
from .framing import FrameGrid, combine_mask, frame_labels

# Accepted by every set built on this class (labels of event tracks; see framing.EVENT_MIN_SECONDS).
COMMON_DEFAULTS = {"apnea_min_seconds": 10.0, "arousal_min_seconds": 3.0}


class ConfiguredFeatureSet(FeatureSet):
    defaults: dict[str, object] = {}
    min_sampling_rate: float = 0.0
    why_min_rate: str = ""

    def __init__(self, sampling_rate: float, frame_size: int, **params) -> None:
        accepted = {**COMMON_DEFAULTS, **self.defaults}
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise SleepkitError(
                f"feature.params: unknown parameter(s) {', '.join(unknown)} for {self.name}; "
                f"known: {', '.join(sorted(accepted))}"
            )
        try:
            sampling_rate = float(sampling_rate)
        except (TypeError, ValueError):
            raise SleepkitError(f"feature.sampling_rate must be a number (got {sampling_rate!r})") from None
        if not sampling_rate > 0 or sampling_rate < self.min_sampling_rate:
            need = f"at least {self.min_sampling_rate:g} Hz" if self.min_sampling_rate else "positive"
            raise SleepkitError(
                f"feature.sampling_rate must be {need} for {self.name}{self.why_min_rate} (got {sampling_rate:g})"
            )
        try:
            whole = not isinstance(frame_size, bool) and int(frame_size) == frame_size and int(frame_size) >= 1
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise SleepkitError(f"feature.frame_size must be a positive whole number of samples (got {frame_size!r})")
        merged = {**accepted, **params}
        for key, default in accepted.items():
            value = merged[key]
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise SleepkitError(f"feature.params.{key} must be true or false (got {value!r})")
            elif isinstance(default, (int, float)):
                if isinstance(value, bool):
                    raise SleepkitError(f"feature.params.{key} must be a number (got {value!r})")
                try:
                    merged[key] = float(value)
                except (TypeError, ValueError):
                    raise SleepkitError(f"feature.params.{key} must be a number (got {value!r})") from None
        super().__init__(sampling_rate, int(frame_size), **merged)
        self.frame_seconds = self.frame_size / self.sampling_rate
        self.hop_seconds = float(merged.get("hop_seconds", self.frame_seconds))
        if not self.hop_seconds > 0:
            raise SleepkitError(f"feature.params.hop_seconds must be positive (got {self.hop_seconds})")
        self._check_params()

    def _check_params(self) -> None:
        """Subclass hook for parameters that are not plain numbers or booleans."""

    def finish(
        self,
        recording: Recording,
        grid: FrameGrid,
        columns: list[np.ndarray],
        conditions: list[tuple[str, np.ndarray]],
        feature_names: list[str] | None = None,
    ) -> FeatureFrames:
        """Stack ``columns`` into [T, F], build the mask from ``conditions`` (plus ``nan_feature``), label
        the frames and log how many frames each reason masked."""
        features = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1) if columns else np.zeros((grid.n, 0))
        finite = np.isfinite(features).all(axis=1)
        mask, reasons = combine_mask([*conditions, ("nan_feature", ~finite)], grid.n)
        features = np.where(np.isfinite(features), features, 0.0).astype(np.float32)
        p = self.params
        labels = frame_labels(
            recording.labels, grid, {"apnea": p["apnea_min_seconds"], "arousal": p["arousal_min_seconds"]}
        )
        masked = grid.n - int(mask.sum())
        if masked:
            detail = ", ".join(f"{k} {v}" for k, v in reasons.items())
            logger.info("%s %s: %d of %d frames masked (%s)", self.name, recording.subject_id, masked, grid.n, detail)
        return FeatureFrames(
            features=features,
            mask=mask,
            labels=labels,
            times=grid.centres,
            feature_names=list(feature_names or self.feature_names),
            mask_reasons=reasons,
        )


def signal_array(recording: Recording, role: str) -> tuple[np.ndarray, float]:
    """(float64 samples, rate) of one signal role."""
    sig = recording.signals[role]
    return np.asarray(sig.data, dtype=np.float64), float(sig.fs)


def low_quality_frames(recording: Recording, grid: FrameGrid, min_quality: float) -> np.ndarray:
    """Frames whose mean optional ``quality`` signal (0..1) is below ``min_quality`` (or has no value)."""
    from . import dsp
    from .framing import frame_matrix

    if "quality" not in recording.signals:
        return np.zeros(grid.n, dtype=bool)
    q, fs = signal_array(recording, "quality")
    qm = frame_matrix(q, fs, grid)
    q_mean, _, _, q_n = dsp.masked_stats(qm, np.isfinite(qm))
    return (q_n == 0) | (q_mean < min_quality)

"""Feature set FS-H-E-10: EEG/EOG band powers on the head, 5 bands × 2 channels = 10 features.

Signals (roles): two channels named by ``channels`` (default ``["eeg", "eog"]``), each at any rate and
resampled to ``sampling_rate`` (at least 100 Hz, so the gamma band lies below the Nyquist frequency).

Features, per channel ``<role>`` in ``channels`` order, then per band (10 in all):
``<role>_delta`` (0.5–4 Hz), ``<role>_theta`` (4–8 Hz), ``<role>_alpha`` (8–12 Hz), ``<role>_beta``
(12–30 Hz), ``<role>_gamma`` (30–45 Hz, clear of 50/60 Hz mains). Band power is the Welch power
spectral density of the frame (``scipy.signal.welch``: Hann segments of ``segment_seconds`` (4 s, or
the whole frame if shorter), 50 % overlap, mean removed per segment) summed over the frequency bins
in [lo, hi) times the bin width. ``relative`` (default true): power of the band / power of all five
bands, so a channel's five features sum to 1 and do not depend on the amplifier's gain; false: the
absolute power in the signal's unit² (e.g. µV²).

Mask (1 = usable), each masked frame counted under the first reason: ``nan_signal`` (a NaN sample of
either channel in the frame), ``flat_signal`` (a channel's 0.5–45 Hz power is 0 or below 1e-6 times
its night median: lead off), ``high_power_artefact`` (a channel's 0.5–45 Hz power above
``max_power_ratio`` (50) times its night median: movement, electrode pop), ``nan_feature``.

Params: ``hop_seconds`` (30), ``channels`` (["eeg", "eog"]), ``relative`` (true), ``segment_seconds``
(4), ``max_power_ratio`` (50), ``apnea_min_seconds`` (10), ``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ..datasets.base import Recording
from ..errors import SleepkitError
from ..log import logger
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet
from .framing import FrameGrid, count_in_frames, frame_matrix, make_grid, require_signals

BANDS = (("delta", 0.5, 4.0), ("theta", 4.0, 8.0), ("alpha", 8.0, 12.0), ("beta", 12.0, 30.0), ("gamma", 30.0, 45.0))
CHUNK = 256  # frames per Welch call: bounds memory for long nights


def band_powers(x: np.ndarray, fs: float, grid: FrameGrid, segment_seconds: float) -> np.ndarray:
    """[T, 5] absolute power of each band in each frame (see the module docstring)."""
    frames = frame_matrix(x, fs, grid)
    nseg = min(frames.shape[1], max(8, int(round(segment_seconds * fs))))
    out = np.zeros((grid.n, len(BANDS)))
    for a in range(0, grid.n, CHUNK):
        freqs, psd = scipy.signal.welch(
            frames[a : a + CHUNK], fs=fs, window="hann", nperseg=nseg, noverlap=nseg // 2, detrend="constant", axis=-1
        )
        df = freqs[1] - freqs[0]
        for j, (_, lo, hi) in enumerate(BANDS):
            sel = (freqs >= lo) & (freqs < hi)
            out[a : a + CHUNK, j] = psd[:, sel].sum(axis=1) * df
    return out


class FS_H_E_10(ConfiguredFeatureSet):
    name = "FS-H-E-10"
    defaults = {
        "hop_seconds": 30.0,
        "channels": ["eeg", "eog"],
        "relative": True,
        "segment_seconds": 4.0,
        "max_power_ratio": 50.0,
    }
    min_sampling_rate = 100.0
    why_min_rate = " (gamma band 30–45 Hz)"

    def _check_params(self) -> None:
        ch = self.params["channels"]
        if not isinstance(ch, (list, tuple)) or len(ch) != 2 or not all(isinstance(c, str) and c for c in ch) or ch[0] == ch[1]:
            raise SleepkitError(f"feature.params.channels must be two different signal roles, e.g. [\"eeg\", \"eog\"] (got {ch!r})")
        self.params["channels"] = list(ch)
        if self.params["segment_seconds"] <= 0:
            raise SleepkitError(f"feature.params.segment_seconds must be positive (got {self.params['segment_seconds']})")
        if self.params["max_power_ratio"] <= 1:
            raise SleepkitError(f"feature.params.max_power_ratio must be above 1 (got {self.params['max_power_ratio']})")

    @property
    def channels(self) -> list[str]:
        return self.params["channels"]

    @property
    def feature_names(self) -> list[str]:  # type: ignore[override]
        return [f"{role}_{band}" for role in self.channels for band, _, _ in BANDS]

    def compute(self, recording: Recording) -> FeatureFrames:
        p = self.params
        roles = tuple(self.channels)
        require_signals(recording, roles, self.name)
        grid = make_grid(recording, roles, self.frame_seconds, self.hop_seconds)
        sr = self.sampling_rate
        columns: list[np.ndarray] = []
        nan_frames = np.zeros(grid.n, dtype=bool)
        flat = np.zeros(grid.n, dtype=bool)
        loud = np.zeros(grid.n, dtype=bool)
        for role in roles:
            sig = recording.signals[role]
            if sig.fs < 2 * BANDS[-1][2]:
                logger.warning("%s %s: '%s' is sampled at %g Hz; bands above %g Hz hold no power",
                               self.name, recording.subject_id, role, sig.fs, sig.fs / 2)
            x = dsp.resample(sig.data, sig.fs, sr)
            filled, bad = dsp.fill_nan(x)
            nan_frames |= count_in_frames(bad, sr, grid) > 0
            power = band_powers(filled, sr, grid, p["segment_seconds"])
            total = power.sum(axis=1)
            median = float(np.median(total)) if grid.n else 0.0
            flat |= (total <= 0) | (total < 1e-6 * median)
            loud |= total > p["max_power_ratio"] * median
            if p["relative"]:
                with np.errstate(invalid="ignore", divide="ignore"):
                    power = power / total[:, None]
            columns.extend(power.T)
        return self.finish(
            recording,
            grid,
            columns,
            [("nan_signal", nan_frames), ("flat_signal", flat), ("high_power_artefact", loud)],
            self.feature_names,
        )

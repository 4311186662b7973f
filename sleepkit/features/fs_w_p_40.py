"""Feature set FS-W-P-40: the PPG power spectrum of each frame in 40 bins of 0.1 Hz (0–4 Hz),
normalised to sum 1 — heart rate and its harmonics, respiratory and vasomotor modulation in one
gain-free vector.

Signals (roles): ``ppg`` (any rate, resampled to ``sampling_rate``, at least 8 Hz); ``quality`` (0..1)
optional, for masking. Frames of ``frame_size / sampling_rate`` s (at least 10 s gives 0.1-Hz
resolution, e.g. 64 Hz × 1920 = 30 s) advance by ``hop_seconds`` (30).

Features ``ppg_bin_00`` … ``ppg_bin_39``: feature k is the power in [0.1·k, 0.1·(k+1)) Hz divided by the
power in [0, 4) Hz. Power: periodogram of the linearly detrended, Hann-windowed frame
(``dsp.frame_spectra``), zero-padded to nfft = max(frame samples, ⌈sampling_rate / 0.025⌉) so that every
0.1-Hz bin sums at least 4 FFT bins.

Mask (1 = usable), each masked frame counted under the first reason: ``nan_signal`` (a NaN PPG sample
in the frame), ``low_quality`` (mean ``quality`` below ``min_quality``), ``no_power`` (no 0–4 Hz power:
flat signal), ``nan_feature``.

Params: ``hop_seconds`` (30), ``min_quality`` (0.5), ``apnea_min_seconds`` (10),
``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet, low_quality_frames
from .framing import FrameGrid, count_in_frames, frame_index, make_grid, require_signals

N_BINS = 40
BIN_HZ = 0.1
MAX_FFT_STEP_HZ = 0.025  # at least 4 FFT bins per 0.1-Hz bin
CHUNK = 512  # frames per FFT call: bounds memory for long nights at a 1-s hop


def binned_spectrum(x: np.ndarray, fs: float, grid: FrameGrid) -> tuple[np.ndarray, np.ndarray]:
    """([T, 40] power per 0.1-Hz bin, [T] total 0–4 Hz power) of every frame of ``x``; frames are
    cut and transformed ``CHUNK`` at a time (a night at a 1-s hop would not fit in memory at once)."""
    starts, length = frame_index(grid, fs, len(x))
    windows = np.lib.stride_tricks.sliding_window_view(x, length)
    nfft = max(length, int(np.ceil(fs / MAX_FFT_STEP_HZ)))
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    # bin of every FFT frequency (-1: outside 0–4 Hz); rounding guards the k·0.1 float edges
    k = np.floor(np.round(freqs / BIN_HZ, 9)).astype(np.int64)
    k[k >= N_BINS] = -1
    onehot = (k[:, None] == np.arange(N_BINS)[None, :]).astype(np.float64)  # [F, 40]
    out = np.zeros((len(starts), N_BINS))
    for a in range(0, len(starts), CHUNK):
        _, spec = dsp.frame_spectra(windows[starts[a : a + CHUNK]], fs, nfft=nfft)
        out[a : a + CHUNK] = spec @ onehot
    return out, out.sum(axis=1)


class FS_W_P_40(ConfiguredFeatureSet):
    name = "FS-W-P-40"
    feature_names = [f"ppg_bin_{k:02d}" for k in range(N_BINS)]
    required_signals = ("ppg",)
    defaults = {"hop_seconds": 30.0, "min_quality": 0.5}
    min_sampling_rate = 2 * N_BINS * BIN_HZ
    why_min_rate = " (0–4 Hz spectrum)"

    def compute(self, recording: Recording) -> FeatureFrames:
        require_signals(recording, self.required_signals, self.name)
        grid = make_grid(recording, self.required_signals, self.frame_seconds, self.hop_seconds)
        sr = self.sampling_rate
        sig = recording.signals["ppg"]
        filled, bad = dsp.fill_nan(dsp.resample(sig.data, sig.fs, sr))
        bins, total = binned_spectrum(filled, sr, grid)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = bins / total[:, None]
        return self.finish(
            recording,
            grid,
            list(rel.T),
            [
                ("nan_signal", count_in_frames(bad, sr, grid) > 0),
                ("low_quality", low_quality_frames(recording, grid, self.params["min_quality"])),
                ("no_power", ~(total > 0)),
            ],
        )

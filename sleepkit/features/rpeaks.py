"""Heart beats for the ECG feature sets: R-peak detection over a whole night, and beat times from a
recording that has either an ``ecg`` signal or a ``beats`` signal.

``beats`` is a beat indicator at the rate beat positions were recorded at: 1.0 at the sample of each
beat, 0 elsewhere (Apnea-ECG's machine QRS annotations load this way, at 100 Hz). It keeps the exact
beat times, a uniform rate and the recording length, so framing works as for any other signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal
from scipy.ndimage import uniform_filter1d

from ..datasets.base import Recording
from ..errors import SleepkitError
from . import dsp

ECG_BAND = (0.5, 40.0)  # Hz, baseline wander and mains removed: R amplitude and polarity
QRS_BAND = (5.0, 20.0)  # Hz, where the QRS complex has its energy and P/T waves have little


def detect_rpeaks(
    ecg: np.ndarray,
    fs: float,
    bad: np.ndarray | None = None,
    max_hr: float = 200.0,
    rel_height: float = 0.3,
    neighbours: int = 7,
) -> dsp.Beats:
    """R peaks of a single-lead ECG; ``Beats.amplitudes`` are R amplitudes (baseline removed, in the
    ECG's units, sign-corrected), the input of ECG-derived respiration.

    The QRS energy (squared 5–20 Hz band, smoothed over 80 ms) is searched with
    ``scipy.signal.find_peaks`` at most once per ``60 / max_hr`` s; a candidate stays when its energy
    reaches ``rel_height`` times the largest among its ``neighbours`` nearest candidates (T waves and
    noise bumps drop out) and 2 % of the night's 90th-percentile QRS energy (a flat or disconnected lead
    gives no beats). The lead's polarity is decided once per night (larger median positive or negative
    deflection around the candidates); each R peak is the extreme of the 0.5–40 Hz ECG within 80 ms of
    its candidate, refined to sub-sample time by a parabola. Peaks within 1 s of a ``bad`` sample are
    dropped.
    """
    ecg = np.asarray(ecg, dtype=np.float64)
    if len(ecg) < int(2 * fs):
        return dsp.Beats(np.zeros(0), np.zeros(0))
    x = dsp.bandpass(ecg, fs, ECG_BAND[0], min(ECG_BAND[1], 0.45 * fs), order=2)
    q = dsp.bandpass(ecg, fs, QRS_BAND[0], min(QRS_BAND[1], 0.45 * fs), order=2)
    energy = uniform_filter1d(q * q, size=max(1, int(round(0.08 * fs))), mode="nearest")
    peaks, _ = scipy.signal.find_peaks(energy, distance=max(1, int(fs * 60.0 / max_hr)))
    if len(peaks) == 0:
        return dsp.Beats(np.zeros(0), np.zeros(0))
    heights = energy[peaks]
    k = max(1, int(neighbours) | 1)
    local = np.lib.stride_tricks.sliding_window_view(np.pad(heights, k // 2, mode="edge"), k).max(axis=1)
    floor = 0.02 * np.percentile(heights, 90)
    peaks = peaks[(heights >= rel_height * local) & (heights > floor)]
    if len(peaks) == 0:
        return dsp.Beats(np.zeros(0), np.zeros(0))

    w = max(1, int(round(0.08 * fs)))
    idx = np.clip(peaks[:, None] + np.arange(-w, w + 1)[None, :], 0, len(x) - 1)
    seg = x[idx]
    sign = 1.0 if np.median(seg.max(axis=1)) >= np.median(-seg.min(axis=1)) else -1.0
    r = np.unique(idx[np.arange(len(idx)), np.argmax(sign * seg, axis=1)])
    if bad is not None and bad.any():
        near_bad = uniform_filter1d(bad.astype(np.float64), size=max(3, int(2 * fs)), mode="nearest") > 0
        r = r[~near_bad[r]]
    if len(r) == 0:
        return dsp.Beats(np.zeros(0), np.zeros(0))
    y = sign * x
    pos = r.astype(np.float64)
    inner = (r > 0) & (r < len(y) - 1)
    ri = r[inner]
    y0, y1, y2 = y[ri - 1], y[ri], y[ri + 1]
    denom = y0 - 2 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / denom, 0.0)
    pos[inner] += np.clip(delta, -0.5, 0.5)
    return dsp.Beats(pos / fs, y[r])


@dataclass
class RecordingBeats:
    beats: dsp.Beats  # amplitudes are NaN when beats came from a ``beats`` indicator
    bad: np.ndarray | None  # NaN samples of the ECG at ``fs`` (None for a beats indicator)
    fs: float
    source: str  # "ecg" or "beats"


def recording_beats(recording: Recording, sampling_rate: float, feature_name: str, prefer: str = "ecg") -> RecordingBeats:
    """Beats of a recording: R peaks of ``ecg`` (resampled to ``sampling_rate``) or the ``beats``
    indicator as recorded; ``prefer`` picks when both exist."""
    has = {r for r in ("ecg", "beats") if r in recording.signals}
    if not has:
        raise SleepkitError(
            f"subject '{recording.subject_id}' ({recording.source or 'no source'}): feature set {feature_name} "
            f"needs an 'ecg' signal or a 'beats' signal (beat times); recording has "
            f"{', '.join(sorted(recording.signals)) or 'none'}"
        )
    role = prefer if prefer in has else next(iter(has))
    sig = recording.signals[role]
    if role == "beats":
        times = np.flatnonzero(np.asarray(sig.data) > 0.5) / float(sig.fs)  # NaN compares False
        return RecordingBeats(dsp.Beats(times, np.full(len(times), np.nan)), None, float(sig.fs), "beats")
    ecg = dsp.resample(sig.data, sig.fs, sampling_rate)
    filled, bad = dsp.fill_nan(ecg)
    return RecordingBeats(detect_rpeaks(filled, sampling_rate, bad), bad, sampling_rate, "ecg")

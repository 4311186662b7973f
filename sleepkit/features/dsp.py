"""Vectorised signal helpers shared by feature sets: resampling, filtering, beat detection, RR cleaning,
per-frame statistics and spectra.

Everything works on a whole night at once (one filter pass, one ``find_peaks`` call) and then on
``[frames, samples]`` matrices, so cost grows with the night length, not with the number of frames.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.signal
from scipy.ndimage import uniform_filter1d


def fill_nan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate over NaN/inf runs (edges hold the nearest value). Returns (filled, bad mask)."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    if not bad.any():
        return x.copy(), bad
    if bad.all():
        return np.zeros_like(x), bad
    idx = np.arange(len(x))
    out = x.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return out, bad


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``); NaN samples stay NaN at the nearest output time."""
    x = np.asarray(x, dtype=np.float64)
    if fs_in == fs_out:
        return x.copy()
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    filled, bad = fill_nan(x)
    mean = filled.mean() if len(filled) else 0.0
    y = scipy.signal.resample_poly(filled - mean, ratio.numerator, ratio.denominator) + mean
    n_out = int(np.floor(len(x) * fs_out / fs_in + 1e-9))
    y = y[:n_out]
    if bad.any():
        src = np.minimum(np.round(np.arange(len(y)) * fs_in / fs_out).astype(np.int64), len(x) - 1)
        y[bad[src]] = np.nan
    return y


def bandpass(x: np.ndarray, fs: float, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth filter (``sosfiltfilt``); ``lo=None`` → low-pass, ``hi=None`` → high-pass."""
    nyq = fs / 2.0
    if hi is not None and hi >= nyq:
        hi = None
    if lo is None and hi is None:
        return np.asarray(x, dtype=np.float64).copy()
    if lo is None:
        sos = scipy.signal.butter(order, hi, btype="lowpass", fs=fs, output="sos")
    elif hi is None:
        sos = scipy.signal.butter(order, lo, btype="highpass", fs=fs, output="sos")
    else:
        sos = scipy.signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    x = np.asarray(x, dtype=np.float64)
    if len(x) <= 3 * (2 * len(sos) + 1):  # shorter than sosfiltfilt's edge padding: too short to filter
        return x - x.mean()
    return scipy.signal.sosfiltfilt(sos, x)


def rolling_nanmedian(x: np.ndarray, k: int) -> np.ndarray:
    """Centred running median over ``k`` samples (odd), ignoring NaN; edges use the shorter window."""
    k = max(1, int(k) | 1)
    pad = k // 2
    xp = np.pad(np.asarray(x, dtype=np.float64), pad, constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(xp, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN, which is what we want
        return np.nanmedian(win, axis=1)


@dataclass
class Beats:
    """Pulse peaks of a PPG signal: times (s), amplitudes (peak minus preceding trough, band-passed)."""

    times: np.ndarray
    amplitudes: np.ndarray


def detect_beats(
    ppg: np.ndarray,
    fs: float,
    bad: np.ndarray | None = None,
    band: tuple[float, float] = (0.5, 4.0),
    max_hr: float = 200.0,
    rel_prominence: float = 0.45,
    neighbours: int = 7,
) -> Beats:
    """Systolic peaks of a PPG: band-pass, then ``scipy.signal.find_peaks`` with physiological limits.

    Candidates are peaks at most one beat per ``60 / max_hr`` s with a prominence of at least 0.1 times
    the local 5-s RMS. A candidate is kept when its prominence reaches ``rel_prominence`` times the
    largest prominence among its ``neighbours`` nearest candidates: the dicrotic wave, which at slow
    heart rates forms a peak of its own, is far less prominent than the systolic wave and drops out.
    Peak times are refined to sub-sample precision by a parabola through the three samples around the
    maximum. Peaks within 1 s of a ``bad`` (NaN) sample are dropped.
    """
    x = bandpass(ppg, fs, band[0], band[1], order=2)
    rms = np.sqrt(np.maximum(uniform_filter1d(x * x, size=max(3, int(5 * fs)), mode="nearest"), 0.0))
    peaks, props = scipy.signal.find_peaks(
        x,
        distance=max(1, int(fs * 60.0 / max_hr)),
        prominence=np.maximum(0.1 * rms, 1e-12),
        wlen=max(3, int(4 * fs)),
    )
    if len(peaks):
        prom = props["prominences"]
        k = max(1, int(neighbours) | 1)
        ref = np.lib.stride_tricks.sliding_window_view(np.pad(prom, k // 2, mode="edge"), k).max(axis=1)
        peaks = peaks[prom >= rel_prominence * ref]
    if bad is not None and bad.any():
        near_bad = uniform_filter1d(bad.astype(np.float64), size=max(3, int(2 * fs)), mode="nearest") > 0
        peaks = peaks[~near_bad[peaks]]
    if len(peaks) == 0:
        return Beats(np.zeros(0), np.zeros(0))
    # Parabolic refinement of the peak time.
    inner = (peaks > 0) & (peaks < len(x) - 1)
    p = peaks[inner]
    y0, y1, y2 = x[p - 1], x[p], x[p + 1]
    denom = y0 - 2 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / denom, 0.0)
    pos = peaks.astype(np.float64)
    pos[inner] += np.clip(delta, -0.5, 0.5)
    # Amplitude: peak minus the minimum since the previous peak (the pulse foot);
    # reduceat over [0, p0), [p0, p1), ...: segment i ends at peak i (equal indices give the single sample).
    troughs = np.minimum.reduceat(x, np.concatenate([[0], peaks]))[: len(peaks)]
    return Beats(pos / fs, x[peaks] - troughs)


@dataclass
class NNIntervals:
    """Clean beat-to-beat intervals: ``end`` time of each interval (s) and its length (s)."""

    end: np.ndarray
    nn: np.ndarray
    n_beats: int
    n_rejected: int


def clean_rr(
    beat_times: np.ndarray, min_hr: float = 30.0, max_hr: float = 200.0, max_rel_dev: float = 0.25, k: int = 11
) -> NNIntervals:
    """RR intervals kept as NN: within the physiological range and within ``max_rel_dev`` of the running
    median of the ``k`` surrounding in-range intervals (rejects missed and extra beats)."""
    t = np.asarray(beat_times, dtype=np.float64)
    if len(t) < 2:
        return NNIntervals(np.zeros(0), np.zeros(0), len(t), 0)
    rr = np.diff(t)
    ok = (rr >= 60.0 / max_hr) & (rr <= 60.0 / min_hr)
    med = rolling_nanmedian(np.where(ok, rr, np.nan), k)
    with np.errstate(invalid="ignore"):
        ok &= np.abs(rr - med) <= max_rel_dev * med
    return NNIntervals(t[1:][ok], rr[ok], len(t), int((~ok).sum()))


def event_series(times: np.ndarray, values: np.ndarray, fs: float, n: int) -> np.ndarray:
    """Values known at event ``times`` linearly interpolated onto a uniform grid of ``n`` samples at ``fs``."""
    grid = np.arange(n) / fs
    if len(times) == 0:
        return np.zeros(n)
    return np.interp(grid, times, values)


def masked_stats(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise mean, std (ddof 0), median and count over the ``valid`` entries of a [T, L] matrix.

    Rows with no valid entry give NaN. The median sorts invalid entries to the end (as +inf), so it
    needs no per-row loop and raises no all-NaN warnings.
    """
    values = np.asarray(values, dtype=np.float64)
    count = valid.sum(axis=1)
    safe = np.where(count > 0, count, 1)
    v0 = np.where(valid, values, 0.0)
    mean = v0.sum(axis=1) / safe
    var = (np.where(valid, values - mean[:, None], 0.0) ** 2).sum(axis=1) / safe
    srt = np.sort(np.where(valid, values, np.inf), axis=1)
    rows = np.arange(len(values))
    lo = np.clip((count - 1) // 2, 0, None)
    hi = np.clip(count // 2, 0, None)
    if values.shape[1] == 0:
        median = np.full(len(values), np.nan)
    else:
        median = 0.5 * (srt[rows, np.minimum(lo, values.shape[1] - 1)] + srt[rows, np.minimum(hi, values.shape[1] - 1)])
    empty = count == 0
    mean[empty] = np.nan
    var[empty] = np.nan
    median[empty] = np.nan
    return mean, np.sqrt(var), median, count


def frame_spectra(frames: np.ndarray, fs: float, nfft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectra of each row (linear detrend, Hann window, zero-padded to ``nfft``)."""
    frames = np.asarray(frames, dtype=np.float64)
    # Least-squares line per row, in closed form (much cheaper than a generic lstsq per call).
    tc = np.arange(frames.shape[-1]) - (frames.shape[-1] - 1) / 2.0
    slope = frames @ tc / max(float(tc @ tc), 1e-12)
    frames = frames - frames.mean(axis=-1, keepdims=True) - slope[..., None] * tc
    w = np.hanning(frames.shape[-1])
    n = max(nfft or 0, frames.shape[-1])
    spec = np.abs(np.fft.rfft(frames * w, n=n, axis=-1)) ** 2 / (fs * (w * w).sum())
    spec[..., 1:] *= 2.0
    return np.fft.rfftfreq(n, 1.0 / fs), spec


def band_power(freqs: np.ndarray, spec: np.ndarray, lo: float, hi: float) -> np.ndarray:
    sel = (freqs >= lo) & (freqs < hi)
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    return spec[..., sel].sum(axis=-1) * df


def peak_frequency(freqs: np.ndarray, spec: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Frequency of the largest local maximum of each row's spectrum inside [lo, hi], refined by a parabola.

    Only true local maxima count, so power leaking in from below the band (e.g. Mayer waves near
    0.1 Hz under a respiration band) cannot win at the band edge; a row without one uses its in-band
    maximum.
    """
    spec = np.asarray(spec, dtype=np.float64)
    in_band = (freqs >= lo) & (freqs <= hi)
    local = np.zeros(spec.shape, dtype=bool)
    local[:, 1:-1] = (spec[:, 1:-1] >= spec[:, :-2]) & (spec[:, 1:-1] >= spec[:, 2:])
    cand = np.where(local & in_band[None, :], spec, -np.inf)
    fallback = np.where(in_band[None, :], spec, -np.inf)
    none = ~np.isfinite(cand).any(axis=1)
    k = np.argmax(np.where(none[:, None], fallback, cand), axis=1)
    rows = np.arange(spec.shape[0])
    km = np.clip(k, 1, spec.shape[1] - 2)
    y0, y1, y2 = spec[rows, km - 1], spec[rows, km], spec[rows, km + 1]
    denom = y0 - 2 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where((np.abs(denom) > 0) & (k == km), 0.5 * (y0 - y2) / denom, 0.0)
    df = freqs[1] - freqs[0]
    return freqs[k] + np.clip(delta, -0.5, 0.5) * df

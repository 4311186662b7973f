"""Feature set FS-RR-12: 12 features of the heart-beat (RR) interval series, per minute by default,
for sleep apnea from beat times alone (Apnea-ECG) or from an ECG.

Signals (roles): ``beats`` (beat indicator, see ``sleepkit.features.rpeaks``; Apnea-ECG loads its QRS
annotations this way) or ``ecg`` (any rate, R peaks detected at ``sampling_rate``, at least 100 Hz when
used); ``beat_source`` picks: ``"auto"`` (beats when present, else ecg), ``"beats"``, ``"ecg"``. ``sampling_rate`` and ``frame_size`` set the frame (e.g. 100 Hz × 6000 = 60 s, one Apnea-ECG
label minute); frames advance by ``hop_seconds`` (60).

Beats → NN intervals: RR intervals outside 30–200 bpm, or more than ``max_rr_deviation`` (25 %) away
from the running median of the 11 surrounding in-range intervals, are artefacts (missed, extra or
unaudited beats; real Apnea-ECG nights hold gaps of minutes) and are dropped. Spectral and cyclic
features use a ``context_seconds`` (300) window centred on the frame (shifted to stay inside the
recording), because one minute is too short for VLF power or a 30–90 s apnea cycle; the NN series is
linearly interpolated at 4 Hz (tachogram) for them.

Features, in order (units):

==  ==================  =============================================================================
 0  ``rr_mean``         mean NN interval ending in the frame (ms)
 1  ``rr_sd``           standard deviation of those NN intervals, SDNN (ms)
 2  ``rmssd``           root mean square of successive differences of adjacent NN intervals (ms)
 3  ``pnn50``           fraction of those successive differences larger than 50 ms (0..1)
 4  ``hr_range``        max − min instantaneous heart rate 60/NN in the frame (bpm): the brady-
                        /tachycardia swing of an apnea and its arousal
 5  ``vlf_log``         log10 of 0.0033–0.04 Hz tachogram power in the context window (log10 ms²)
 6  ``lf_log``          log10 of 0.04–0.15 Hz power (log10 ms²)
 7  ``hf_log``          log10 of 0.15–0.4 Hz power (log10 ms²)
 8  ``lf_hf``           LF / HF power ratio (powers + 1e-4 ms², so a steady rhythm gives 1)
 9  ``rsp_bpm``         RR-derived respiration rate (breaths/min): largest local spectral peak of the
                        tachogram in 0.15–0.5 Hz (respiratory sinus arrhythmia) in the context window
10  ``cvhr_acf``        cyclic variation of heart rate: the highest local maximum of the autocorrelation
                        of the 0.008–0.05 Hz band-passed tachogram in the context window at lags of
                        20–120 s, the variance taken as variance + (5 ms)² (0..1; 0 without a peak;
                        repeated apneas give high values)
11  ``rr_qos``          seconds of clean NN intervals ending in the frame / frame seconds (0..1)
==  ==================  =============================================================================

Power: Hann-windowed periodogram of the linearly detrended tachogram (``dsp.frame_spectra``), bands
integrated as [lo, hi). log10 uses power + 1e-4 ms².

Mask (1 = usable), each masked frame counted under the first reason: ``nan_signal`` (NaN ECG samples in
the frame), ``too_few_beats`` (``rr_qos`` below ``min_rr_qos`` (0.5) or fewer than 5 NN intervals),
``sparse_context`` (clean NN intervals cover less than ``min_context_qos`` (0.5) of the context window),
``nan_feature``.

Params: ``hop_seconds`` (60), ``context_seconds`` (300), ``max_rr_deviation`` (0.25), ``min_rr_qos``
(0.5), ``min_context_qos`` (0.5), ``beat_source`` ("auto"), ``apnea_min_seconds`` (10),
``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from ..errors import SleepkitError
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet
from .framing import FrameGrid, count_in_frames, events_in_frames, frame_matrix, gather_events, make_grid, require_signals
from .rpeaks import recording_beats

TACHO_FS = 4.0
VLF_BAND = (0.0033, 0.04)
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.40)
RESP_BAND = (0.15, 0.50)
CVHR_LAGS = (20.0, 120.0)  # s: apnea/arousal cycles
CVHR_BAND = (0.008, 0.05)  # Hz: the same cycles as frequencies
CVHR_FLOOR_MS = 5.0  # RR swings well below 5 ms are not a heart-rate cycle
POWER_FLOOR_MS2 = 1e-4


def successive_differences(nn: dsp.NNIntervals) -> tuple[np.ndarray, np.ndarray]:
    """(end time of the later interval, difference in ms) for every pair of NN intervals that follow one
    another directly (no rejected interval between them)."""
    if len(nn.nn) < 2:
        return np.zeros(0), np.zeros(0)
    starts = nn.end - nn.nn
    adjacent = np.abs(starts[1:] - nn.end[:-1]) < 1e-6
    return nn.end[1:][adjacent], (np.diff(nn.nn) * 1000.0)[adjacent]


def context_grid(grid: FrameGrid, context: float, duration: float) -> FrameGrid:
    """Windows of ``context`` s centred on each frame, shifted to stay inside [0, duration]."""
    context = min(context, duration)
    starts = np.clip(grid.centres - context / 2.0, 0.0, max(0.0, duration - context))
    return FrameGrid(context, grid.hop_seconds, starts)


def cycle_strength(frames: np.ndarray, fs: float, lags: tuple[float, float], floor: float = 0.0) -> np.ndarray:
    """Highest *local maximum* of each row's normalised autocorrelation at lags in ``lags`` (s), 0 when
    there is none. A periodic swing gives a peak at its period; a slow random drift only a decaying
    autocorrelation without one. FFT-based; each lag normalised by its number of sample pairs, the
    variance by variance + ``floor``² (so a swing far smaller than ``floor`` — round-off, beat-time
    quantisation — cannot look cyclic)."""
    n = frames.shape[1]
    x = frames - frames.mean(axis=1, keepdims=True)
    acf = np.fft.irfft(np.abs(np.fft.rfft(x, n=2 * n, axis=1)) ** 2, n=2 * n, axis=1)[:, :n]
    lo = max(1, int(np.ceil(lags[0] * fs)))
    hi = min(int(np.floor(lags[1] * fs)), n - 2)
    if hi < lo:
        return np.full(len(frames), np.nan)
    k = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (acf / (n - k)) / (acf[:, :1] / n + floor * floor)
    mid = r[:, lo : hi + 1]
    local = (mid >= r[:, lo - 1 : hi]) & (mid >= r[:, lo + 1 : hi + 2])
    best = np.where(local, mid, -np.inf).max(axis=1)
    return np.where((acf[:, 0] > 0) & np.isfinite(best), np.clip(best, 0.0, 1.0), 0.0)


class FS_RR_12(ConfiguredFeatureSet):
    name = "FS-RR-12"
    feature_names = [
        "rr_mean",
        "rr_sd",
        "rmssd",
        "pnn50",
        "hr_range",
        "vlf_log",
        "lf_log",
        "hf_log",
        "lf_hf",
        "rsp_bpm",
        "cvhr_acf",
        "rr_qos",
    ]
    feature_units = ["ms", "ms", "ms", "", "bpm", "log10 ms2", "log10 ms2", "log10 ms2", "", "breaths/min", "", ""]
    required_signals = ()  # 'beats' or 'ecg', checked in compute
    defaults = {
        "hop_seconds": 60.0,
        "context_seconds": 300.0,
        "max_rr_deviation": 0.25,
        "min_rr_qos": 0.5,
        "min_context_qos": 0.5,
        "beat_source": "auto",
    }

    def _check_params(self) -> None:
        if self.params["beat_source"] not in ("auto", "beats", "ecg"):
            raise SleepkitError(f"feature.params.beat_source must be 'auto', 'beats' or 'ecg' (got {self.params['beat_source']!r})")
        if self.params["context_seconds"] < self.frame_seconds:
            raise SleepkitError(
                f"feature.params.context_seconds ({self.params['context_seconds']:g}) must be at least the frame "
                f"({self.frame_seconds:g} s)"
            )

    def compute(self, recording: Recording) -> FeatureFrames:
        p = self.params
        prefer = "beats" if p["beat_source"] == "auto" else p["beat_source"]
        if p["beat_source"] != "auto" and prefer not in recording.signals:
            require_signals(recording, (prefer,), f"{self.name} (beat_source={prefer})")
        if self.sampling_rate < 100 and "ecg" in recording.signals and (prefer == "ecg" or "beats" not in recording.signals):
            raise SleepkitError(f"feature.sampling_rate must be at least 100 Hz for R-peak detection in {self.name} (got {self.sampling_rate:g})")
        rb = recording_beats(recording, self.sampling_rate, self.name, prefer=prefer)
        role = "ecg" if rb.source == "ecg" else "beats"
        grid = make_grid(recording, (role,), self.frame_seconds, self.hop_seconds)
        duration = recording.signals[role].duration
        nn = dsp.clean_rr(rb.beats.times, max_rel_dev=p["max_rr_deviation"])

        # --- time domain, frame ------------------------------------------------------------------
        i0, i1 = events_in_frames(nn.end, grid)
        nn_ms, valid = gather_events(nn.nn * 1000.0, i0, i1)
        rr_mean, rr_sd, _, n_nn = dsp.masked_stats(nn_ms, valid)
        rr_qos = np.minimum(1.0, np.where(valid, nn_ms, 0.0).sum(axis=1) / 1000.0 / self.frame_seconds)
        with np.errstate(divide="ignore"):
            hr = 60000.0 / nn_ms
        hr_range = np.where(valid, hr, -np.inf).max(axis=1) - np.where(valid, hr, np.inf).min(axis=1)
        hr_range = np.where(n_nn > 0, hr_range, np.nan)

        sd_end, sd_ms = successive_differences(nn)
        j0, j1 = events_in_frames(sd_end, grid)
        diffs, dvalid = gather_events(sd_ms, j0, j1)
        n_d = dvalid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rmssd = np.sqrt(np.where(dvalid, diffs * diffs, 0.0).sum(axis=1) / n_d)
            pnn50 = (dvalid & (np.abs(np.nan_to_num(diffs)) > 50.0)).sum(axis=1) / n_d

        # --- context window: spectrum, respiration, cyclic variation -----------------------------
        ctx = context_grid(grid, p["context_seconds"], duration)
        n_tacho = int(np.floor(duration * TACHO_FS))
        tacho_ms = dsp.event_series(nn.end, nn.nn * 1000.0, TACHO_FS, n_tacho)
        tm = frame_matrix(tacho_ms, TACHO_FS, ctx)
        nfft = max(tm.shape[1], 2048)
        freqs, spec = dsp.frame_spectra(tm, TACHO_FS, nfft=nfft)
        vlf = dsp.band_power(freqs, spec, *VLF_BAND)
        lf = dsp.band_power(freqs, spec, *LF_BAND)
        hf = dsp.band_power(freqs, spec, *HF_BAND)
        rsp = 60.0 * dsp.peak_frequency(freqs, spec, *RESP_BAND)
        slow = dsp.bandpass(tacho_ms, TACHO_FS, *CVHR_BAND, order=2)
        cvhr = cycle_strength(frame_matrix(slow, TACHO_FS, ctx), TACHO_FS, CVHR_LAGS, CVHR_FLOOR_MS)
        c0, c1 = events_in_frames(nn.end, ctx)
        ctx_nn, ctx_valid = gather_events(nn.nn, c0, c1)
        ctx_qos = np.where(ctx_valid, ctx_nn, 0.0).sum(axis=1) / ctx.frame_seconds

        nan_frames = np.zeros(grid.n, dtype=bool)
        if rb.bad is not None:
            nan_frames = count_in_frames(rb.bad, rb.fs, grid) > 0
        return self.finish(
            recording,
            grid,
            [
                rr_mean,
                rr_sd,
                rmssd,
                pnn50,
                hr_range,
                np.log10(vlf + POWER_FLOOR_MS2),
                np.log10(lf + POWER_FLOOR_MS2),
                np.log10(hf + POWER_FLOOR_MS2),
                (lf + POWER_FLOOR_MS2) / (hf + POWER_FLOOR_MS2),
                rsp,
                cvhr,
                rr_qos,
            ],
            [
                ("nan_signal", nan_frames),
                ("too_few_beats", (rr_qos < p["min_rr_qos"]) | (n_nn < 5)),
                ("sparse_context", ctx_qos < p["min_context_qos"]),
            ],
        )

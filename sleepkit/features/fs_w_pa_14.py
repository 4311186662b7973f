"""Feature set FS-W-PA-14: 14 per-frame features from wrist PPG, accelerometer and SpO2.

Signals (roles): ``ppg`` (any rate, resampled to ``sampling_rate``), ``acc_x``/``acc_y``/``acc_z`` (g, own
rate), ``spo2`` (%, own rate); ``quality`` (0..1, own rate) is optional and only used for masking.

Features, in order (units):

==  =====================  =========================================================================
 0  ``hr_bpm``             heart rate, 60 / mean NN (beats/min)
 1  ``hrv_td_mean_nn``     mean of the clean NN intervals ending in the frame (ms)
 2  ``hrv_td_sd_nn``       standard deviation of those NN intervals, SDNN (ms)
 3  ``hrv_td_median_nn``   median NN interval (ms)
 4  ``hrv_fd_lfhf_ratio``  LF (0.04–0.15 Hz) / HF (0.15–0.4 Hz) power of the 4-Hz NN tachogram in the
                           frame (linear detrend, Hann periodogram); no variability at all gives 1
 5  ``spo2_mu``            mean SpO2 over valid samples (50–100 %) (%)
 6  ``spo2_std``           standard deviation of SpO2 (%)
 7  ``spo2_med``           median SpO2 (%)
 8  ``mov_mu``             mean movement magnitude: ‖band-pass 0.25–5 Hz (acc_x, acc_y, acc_z)‖ (g)
 9  ``mov_std``            standard deviation of the movement magnitude (g)
10  ``mov_med``            median movement magnitude (g)
11  ``rsp_bpm``            respiration rate (breaths/min): largest local spectral peak in 0.15–0.5 Hz
                           (9–30 breaths/min) of the sum of the spectra of three PPG respiratory
                           surrogates — pulse-interval (RIFV), pulse-amplitude (RIAV) and baseline
                           (RIIV) modulation — each normalised by its 0.04–0.5 Hz power
12  ``spo2_qos``           fraction of SpO2 samples in the frame that are valid (0..1)
13  ``hrv_qos``            seconds of clean NN intervals ending in the frame / frame seconds (0..1)
==  =====================  =========================================================================

Beats: PPG band-passed 0.5–4 Hz, ``scipy.signal.find_peaks`` with one beat per 0.3 s at most
(200 bpm), keeping peaks at least 45 % as prominent as the most prominent of their 7 neighbouring
candidates (drops dicrotic waves); RR intervals outside 30–200 bpm or more than ``max_rr_deviation``
(25 %) from the running median of 11 intervals are rejected. Beats are found once per night and
then assigned to frames (an NN interval belongs to the frame its closing beat falls in).

Mask (1 = usable). A frame is masked, counted under the first reason that applies:
``nan_signal`` (any NaN sample of ppg/acc/spo2 in the frame), ``low_quality`` (mean ``quality`` below
``min_quality``), ``too_few_beats`` (``hrv_qos`` below ``min_hrv_qos`` or fewer than 3 NN intervals),
``spo2_invalid`` (``spo2_qos`` below ``min_spo2_qos``), ``nan_feature`` (any other non-finite feature).
Features of masked frames are still computed where possible; anything non-finite there is stored as 0,
so the store holds no NaN.

Params: ``hop_seconds`` (30), ``min_quality`` (0.5), ``min_hrv_qos`` (0.5), ``min_spo2_qos`` (0.5),
``max_rr_deviation`` (0.25), ``apnea_min_seconds`` (10), ``arousal_min_seconds`` (3). Labels per frame
follow ``sleepkit.features.framing``.
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from ..errors import SleepkitError
from . import dsp
from .base import FeatureFrames, FeatureSet
from .framing import (
    combine_mask,
    count_in_frames,
    events_in_frames,
    frame_labels,
    frame_matrix,
    gather_events,
    make_grid,
    require_signals,
)

TACHO_FS = 4.0  # Hz, uniform resampling of NN intervals and respiratory surrogates
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.40)
RESP_BAND = (0.15, 0.50)  # 9–30 breaths/min: the HF (respiratory) band, clear of Mayer waves near 0.1 Hz
MOV_BAND = (0.25, 5.0)
SPO2_RANGE = (50.0, 100.0)
_EPS_POWER = 1e-10  # s², far below any real HRV power; keeps LF/HF finite for a perfectly steady rhythm

_DEFAULTS = {
    "hop_seconds": 30.0,
    "min_quality": 0.5,
    "min_hrv_qos": 0.5,
    "min_spo2_qos": 0.5,
    "max_rr_deviation": 0.25,
    "apnea_min_seconds": 10.0,
    "arousal_min_seconds": 3.0,
}


class FS_W_PA_14(FeatureSet):
    name = "FS-W-PA-14"
    feature_names = [
        "hr_bpm",
        "hrv_td_mean_nn",
        "hrv_td_sd_nn",
        "hrv_td_median_nn",
        "hrv_fd_lfhf_ratio",
        "spo2_mu",
        "spo2_std",
        "spo2_med",
        "mov_mu",
        "mov_std",
        "mov_med",
        "rsp_bpm",
        "spo2_qos",
        "hrv_qos",
    ]
    feature_units = ["bpm", "ms", "ms", "ms", "", "%", "%", "%", "g", "g", "g", "breaths/min", "", ""]
    required_signals = ("ppg", "acc_x", "acc_y", "acc_z", "spo2")

    def __init__(self, sampling_rate: float, frame_size: int, **params) -> None:
        unknown = sorted(set(params) - set(_DEFAULTS))
        if unknown:
            raise SleepkitError(
                f"feature.params: unknown parameter(s) {', '.join(unknown)} for {self.name}; "
                f"known: {', '.join(sorted(_DEFAULTS))}"
            )
        if not sampling_rate or sampling_rate < 16:
            raise SleepkitError(f"feature.sampling_rate must be at least 16 Hz for PPG beat detection (got {sampling_rate})")
        if int(frame_size) < 1:
            raise SleepkitError(f"feature.frame_size must be positive (got {frame_size})")
        merged = {**_DEFAULTS, **params}
        for key, value in merged.items():
            try:
                merged[key] = float(value)
            except (TypeError, ValueError):
                raise SleepkitError(f"feature.params.{key} must be a number (got {value!r})") from None
        super().__init__(float(sampling_rate), int(frame_size), **merged)
        self.frame_seconds = self.frame_size / self.sampling_rate
        self.hop_seconds = merged["hop_seconds"]
        if self.hop_seconds <= 0:
            raise SleepkitError(f"feature.params.hop_seconds must be positive (got {self.hop_seconds})")

    # -----------------------------------------------------------------------------------------------
    def compute(self, recording: Recording) -> FeatureFrames:
        p = self.params
        require_signals(recording, self.required_signals, self.name)
        grid = make_grid(recording, self.required_signals, self.frame_seconds, self.hop_seconds)
        sr = self.sampling_rate
        n_frames = grid.n

        # --- PPG → beats → NN intervals (once per night) ------------------------------------------
        ppg_sig = recording.signals["ppg"]
        ppg = dsp.resample(ppg_sig.data, ppg_sig.fs, sr)
        ppg_filled, ppg_bad = dsp.fill_nan(ppg)
        beats = dsp.detect_beats(ppg_filled, sr, ppg_bad)
        nn = dsp.clean_rr(beats.times, max_rel_dev=p["max_rr_deviation"])
        nan_frames = count_in_frames(ppg_bad, sr, grid) > 0

        i0, i1 = events_in_frames(nn.end, grid)
        nn_ms, nn_valid = gather_events(nn.nn * 1000.0, i0, i1)
        mean_nn, sd_nn, med_nn, n_nn = dsp.masked_stats(nn_ms, nn_valid)
        with np.errstate(divide="ignore", invalid="ignore"):
            hr = 60000.0 / mean_nn
        hrv_qos = np.minimum(1.0, np.where(nn_valid, nn_ms, 0.0).sum(axis=1) / 1000.0 / self.frame_seconds)

        # --- LF/HF and respiration from 4-Hz series -----------------------------------------------
        n_tacho = int(np.floor(len(ppg) / sr * TACHO_FS))
        tacho = dsp.event_series(nn.end, nn.nn, TACHO_FS, n_tacho)
        freqs, spec_rr = dsp.frame_spectra(frame_matrix(tacho, TACHO_FS, grid), TACHO_FS, nfft=1024)
        lf = dsp.band_power(freqs, spec_rr, *LF_BAND)
        hf = dsp.band_power(freqs, spec_rr, *HF_BAND)
        lfhf = (lf + _EPS_POWER) / (hf + _EPS_POWER)

        riav = dsp.event_series(beats.times, beats.amplitudes, TACHO_FS, n_tacho)
        riiv = dsp.bandpass(dsp.resample(ppg_filled, sr, TACHO_FS)[:n_tacho], TACHO_FS, 0.08, 0.7)
        fused = np.zeros_like(spec_rr)
        for series in (tacho, riav, riiv):
            fm = frame_matrix(series, TACHO_FS, grid)
            _, spec = dsp.frame_spectra(fm, TACHO_FS, nfft=1024)
            # Each surrogate weighs by the share of its 0.04–0.5 Hz power at each frequency; one with no
            # variability at all (e.g. a perfectly steady rhythm) would only add round-off, so it is left out.
            power = dsp.band_power(freqs, spec, LF_BAND[0], RESP_BAND[1])
            alive = fm.std(axis=1) > 1e-6 * (np.abs(fm.mean(axis=1)) + 1e-12)
            fused += np.where(alive, 1.0, 0.0)[:, None] * spec / np.where(power > 0, power, 1.0)[:, None]
        rsp = 60.0 * dsp.peak_frequency(freqs, fused, *RESP_BAND)

        # --- SpO2 at its own rate -------------------------------------------------------------------
        spo2_sig = recording.signals["spo2"]
        spo2 = frame_matrix(np.asarray(spo2_sig.data, dtype=np.float64), spo2_sig.fs, grid)
        spo2_finite = np.isfinite(spo2)
        nan_frames |= ~spo2_finite.all(axis=1)
        with np.errstate(invalid="ignore"):
            spo2_ok = spo2_finite & (spo2 >= SPO2_RANGE[0]) & (spo2 <= SPO2_RANGE[1])
        spo2_mu, spo2_std, spo2_med, spo2_n = dsp.masked_stats(spo2, spo2_ok)
        spo2_qos = spo2_n / spo2.shape[1]

        # --- Movement -------------------------------------------------------------------------------
        mov, mov_bad, mov_fs = self._movement(recording)
        nan_frames |= count_in_frames(mov_bad, mov_fs, grid) > 0
        mov_mu, mov_std, mov_med, _ = dsp.masked_stats(frame_matrix(mov, mov_fs, grid), ~frame_matrix(mov_bad, mov_fs, grid))

        features = np.stack(
            [hr, mean_nn, sd_nn, med_nn, lfhf, spo2_mu, spo2_std, spo2_med, mov_mu, mov_std, mov_med, rsp, spo2_qos, hrv_qos],
            axis=1,
        )

        # --- Mask -----------------------------------------------------------------------------------
        low_quality = np.zeros(n_frames, dtype=bool)
        if "quality" in recording.signals:
            q = recording.signals["quality"]
            qm = frame_matrix(np.asarray(q.data, dtype=np.float64), q.fs, grid)
            q_mean, _, _, q_n = dsp.masked_stats(qm, np.isfinite(qm))
            low_quality = (q_n == 0) | (q_mean < p["min_quality"])
        mask, reasons = combine_mask(
            [
                ("nan_signal", nan_frames),
                ("low_quality", low_quality),
                ("too_few_beats", (hrv_qos < p["min_hrv_qos"]) | (n_nn < 3)),
                ("spo2_invalid", spo2_qos < p["min_spo2_qos"]),
                ("nan_feature", ~np.isfinite(features).all(axis=1)),
            ],
            n_frames,
        )
        features = np.where(np.isfinite(features), features, 0.0).astype(np.float32)
        labels = frame_labels(
            recording.labels, grid, {"apnea": p["apnea_min_seconds"], "arousal": p["arousal_min_seconds"]}
        )
        return FeatureFrames(
            features=features,
            mask=mask,
            labels=labels,
            times=grid.centres,
            feature_names=list(self.feature_names),
            mask_reasons=reasons,
        )

    def _movement(self, recording: Recording) -> tuple[np.ndarray, np.ndarray, float]:
        """Movement magnitude in g at the accelerometer rate (acc_y/acc_z resampled to acc_x's rate)."""
        fs = recording.signals["acc_x"].fs
        axes, bad = [], None
        for role in ("acc_x", "acc_y", "acc_z"):
            sig = recording.signals[role]
            x = dsp.resample(sig.data, sig.fs, fs) if sig.fs != fs else np.asarray(sig.data, dtype=np.float64)
            axes.append(x)
        n = min(len(a) for a in axes)
        filtered = []
        for a in axes:
            filled, b = dsp.fill_nan(a[:n])
            bad = b if bad is None else (bad | b)
            filtered.append(dsp.bandpass(filled, fs, MOV_BAND[0], MOV_BAND[1], order=2))
        mag = np.sqrt(sum(f * f for f in filtered))
        return mag, bad, fs

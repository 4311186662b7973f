"""Feature set FS-C-EAR-9: 9 per-frame features from a chest ECG, with movement from a chest
accelerometer or, without one, from a respiration signal.

Signals (roles): ``ecg`` (any rate, resampled to ``sampling_rate``, at least 100 Hz); movement from
``acc_x``/``acc_y``/``acc_z`` (g, own rate) or ``resp`` (airflow or belt, own rate), see ``movement``.

Features, in order (units):

==  =====================  =========================================================================
 0  ``hrv_td_mean_nn``     mean of the clean NN intervals ending in the frame (ms)
 1  ``hrv_td_sd_nn``       standard deviation of those NN intervals, SDNN (ms)
 2  ``hrv_td_median_nn``   median NN interval (ms)
 3  ``hrv_fd_lfhf_ratio``  LF (0.04–0.15 Hz) / HF (0.15–0.4 Hz) power of the 4-Hz NN tachogram in the
                           frame (linear detrend, Hann periodogram); no variability at all gives 1
 4  ``mov_mu``             mean movement magnitude in the frame (g, or resp units, see below)
 5  ``mov_std``            standard deviation of the movement magnitude
 6  ``mov_med``            median movement magnitude
 7  ``rsp_bpm``            respiration rate from the ECG alone (EDR, breaths/min): largest local peak in
                           0.15–0.5 Hz of the sum of the spectra of the NN tachogram (respiratory sinus
                           arrhythmia) and of the R-amplitude series (chest impedance changes the QRS
                           amplitude), each normalised by its 0.04–0.5 Hz power
 8  ``hrv_qos``            seconds of clean NN intervals ending in the frame / frame seconds (0..1)
==  =====================  =========================================================================

R peaks: ``sleepkit.features.rpeaks.detect_rpeaks`` over the whole night; NN intervals: RR outside
30–200 bpm or more than ``max_rr_deviation`` (25 %) from the running median of 11 intervals rejected.

Movement (``movement`` param): ``"acc"`` — ‖band-pass 0.25–5 Hz (acc_x, acc_y, acc_z)‖ in g;
``"resp"`` — |band-pass 2–11 Hz ``resp``| (capped below the signal's Nyquist frequency), the
body-movement artefact a breathing signal carries, in the respiration signal's units (per-subject
normalisation in training makes units irrelevant); ``"auto"`` (default) — acc when all three axes
exist, else resp.

Mask (1 = usable), each masked frame counted under the first reason that applies: ``nan_signal`` (a NaN
sample of ecg or the movement source in the frame), ``too_few_beats`` (``hrv_qos`` below
``min_hrv_qos`` or fewer than 3 NN intervals), ``nan_feature``.

Params: ``hop_seconds`` (30), ``min_hrv_qos`` (0.5), ``max_rr_deviation`` (0.25), ``movement``
("auto"), ``apnea_min_seconds`` (10), ``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from ..errors import SleepkitError
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet
from .framing import count_in_frames, events_in_frames, frame_matrix, gather_events, make_grid, require_signals
from .rpeaks import detect_rpeaks

TACHO_FS = 4.0
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.40)
RESP_BAND = (0.15, 0.50)
ACC_MOV_BAND = (0.25, 5.0)
RESP_MOV_BAND = (2.0, 11.0)
_EPS_POWER = 1e-10  # s²: keeps LF/HF finite (= 1) for a perfectly steady rhythm
ACC_ROLES = ("acc_x", "acc_y", "acc_z")


def lf_hf_ratio(freqs: np.ndarray, spec: np.ndarray) -> np.ndarray:
    lf = dsp.band_power(freqs, spec, *LF_BAND)
    hf = dsp.band_power(freqs, spec, *HF_BAND)
    return (lf + _EPS_POWER) / (hf + _EPS_POWER)


def fused_resp_rate(series: list[np.ndarray], grid, nfft: int = 1024) -> np.ndarray:
    """Breaths/min per frame from several 4-Hz respiratory surrogates: spectra normalised by their
    0.04–0.5 Hz power and summed; a surrogate with no variability in a frame is left out there."""
    fused = None
    freqs = None
    for s in series:
        fm = frame_matrix(s, TACHO_FS, grid)
        freqs, spec = dsp.frame_spectra(fm, TACHO_FS, nfft=nfft)
        power = dsp.band_power(freqs, spec, LF_BAND[0], RESP_BAND[1])
        alive = fm.std(axis=1) > 1e-6 * (np.abs(fm.mean(axis=1)) + 1e-12)
        part = np.where(alive, 1.0, 0.0)[:, None] * spec / np.where(power > 0, power, 1.0)[:, None]
        fused = part if fused is None else fused + part
    return 60.0 * dsp.peak_frequency(freqs, fused, *RESP_BAND)


def acc_movement(recording: Recording) -> tuple[np.ndarray, np.ndarray, float]:
    """‖band-pass 0.25–5 Hz acceleration‖ (g) at acc_x's rate, and its NaN samples."""
    fs = float(recording.signals["acc_x"].fs)
    axes = []
    for role in ACC_ROLES:
        sig = recording.signals[role]
        axes.append(dsp.resample(sig.data, sig.fs, fs) if sig.fs != fs else np.asarray(sig.data, dtype=np.float64))
    n = min(len(a) for a in axes)
    bad = np.zeros(n, dtype=bool)
    power = np.zeros(n)
    for a in axes:
        filled, b = dsp.fill_nan(a[:n])
        bad |= b
        power += dsp.bandpass(filled, fs, ACC_MOV_BAND[0], ACC_MOV_BAND[1], order=2) ** 2
    return np.sqrt(power), bad, fs


def resp_movement(recording: Recording) -> tuple[np.ndarray, np.ndarray, float]:
    """|band-pass 2–11 Hz resp| (resp units): body movement seen by a breathing sensor."""
    sig = recording.signals["resp"]
    fs = float(sig.fs)
    filled, bad = dsp.fill_nan(sig.data)
    hi = min(RESP_MOV_BAND[1], 0.45 * fs)
    if hi <= RESP_MOV_BAND[0]:
        raise SleepkitError(
            f"subject '{recording.subject_id}': 'resp' at {fs:g} Hz cannot show movement "
            f"({RESP_MOV_BAND[0]:g}–{RESP_MOV_BAND[1]:g} Hz needs more than {2 * RESP_MOV_BAND[0] / 0.45:.1f} Hz)"
        )
    return np.abs(dsp.bandpass(filled, fs, RESP_MOV_BAND[0], hi, order=2)), bad, fs


class FS_C_EAR_9(ConfiguredFeatureSet):
    name = "FS-C-EAR-9"
    feature_names = [
        "hrv_td_mean_nn",
        "hrv_td_sd_nn",
        "hrv_td_median_nn",
        "hrv_fd_lfhf_ratio",
        "mov_mu",
        "mov_std",
        "mov_med",
        "rsp_bpm",
        "hrv_qos",
    ]
    feature_units = ["ms", "ms", "ms", "", "g|resp", "g|resp", "g|resp", "breaths/min", ""]
    required_signals = ("ecg",)
    defaults = {"hop_seconds": 30.0, "min_hrv_qos": 0.5, "max_rr_deviation": 0.25, "movement": "auto"}
    min_sampling_rate = 100.0
    why_min_rate = " (R-peak detection)"

    def _check_params(self) -> None:
        if self.params["movement"] not in ("auto", "acc", "resp"):
            raise SleepkitError(f"feature.params.movement must be 'auto', 'acc' or 'resp' (got {self.params['movement']!r})")

    def movement_source(self, recording: Recording) -> str:
        choice = self.params["movement"]
        has_acc = all(r in recording.signals for r in ACC_ROLES)
        if choice == "auto":
            if has_acc:
                return "acc"
            if "resp" in recording.signals:
                return "resp"
            require_signals(recording, ("ecg", "acc_x", "acc_y", "acc_z"), f"{self.name} (movement: acc or resp)")
        if choice == "acc":
            require_signals(recording, ACC_ROLES, self.name)
        elif choice == "resp":
            require_signals(recording, ("resp",), self.name)
        return choice

    def compute(self, recording: Recording) -> FeatureFrames:
        p = self.params
        require_signals(recording, self.required_signals, self.name)
        source = self.movement_source(recording)
        roles = ("ecg",) + (ACC_ROLES if source == "acc" else ("resp",))
        grid = make_grid(recording, roles, self.frame_seconds, self.hop_seconds)
        sr = self.sampling_rate

        ecg_sig = recording.signals["ecg"]
        ecg = dsp.resample(ecg_sig.data, ecg_sig.fs, sr)
        ecg_filled, ecg_bad = dsp.fill_nan(ecg)
        beats = detect_rpeaks(ecg_filled, sr, ecg_bad)
        nn = dsp.clean_rr(beats.times, max_rel_dev=p["max_rr_deviation"])
        nan_frames = count_in_frames(ecg_bad, sr, grid) > 0

        i0, i1 = events_in_frames(nn.end, grid)
        nn_ms, nn_valid = gather_events(nn.nn * 1000.0, i0, i1)
        mean_nn, sd_nn, med_nn, n_nn = dsp.masked_stats(nn_ms, nn_valid)
        hrv_qos = np.minimum(1.0, np.where(nn_valid, nn_ms, 0.0).sum(axis=1) / 1000.0 / self.frame_seconds)

        n_tacho = int(np.floor(len(ecg) / sr * TACHO_FS))
        tacho = dsp.event_series(nn.end, nn.nn, TACHO_FS, n_tacho)
        freqs, spec_rr = dsp.frame_spectra(frame_matrix(tacho, TACHO_FS, grid), TACHO_FS, nfft=1024)
        lfhf = lf_hf_ratio(freqs, spec_rr)
        r_amp = dsp.event_series(beats.times, beats.amplitudes, TACHO_FS, n_tacho)
        rsp = fused_resp_rate([tacho, r_amp], grid)

        mov, mov_bad, mov_fs = acc_movement(recording) if source == "acc" else resp_movement(recording)
        nan_frames |= count_in_frames(mov_bad, mov_fs, grid) > 0
        mov_mu, mov_std, mov_med, _ = dsp.masked_stats(frame_matrix(mov, mov_fs, grid), ~frame_matrix(mov_bad, mov_fs, grid))

        return self.finish(
            recording,
            grid,
            [mean_nn, sd_nn, med_nn, lfhf, mov_mu, mov_std, mov_med, rsp, hrv_qos],
            [
                ("nan_signal", nan_frames),
                ("too_few_beats", (hrv_qos < p["min_hrv_qos"]) | (n_nn < 3)),
            ],
        )

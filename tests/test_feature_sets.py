"""FS-W-A-5, FS-W-P-5, FS-W-P-40, FS-C-EAR-9, FS-H-E-10 and FS-RR-12 on short signals whose feature
values are known by hand, plus their masks and parameter checks.

The signal builders here (``ecg_wave``, ``pulse_wave``, ``beats_signal``) are imported by the other
feature tests."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.signal

from sleepkit.datasets.base import LabelTrack, Recording, Signal
from sleepkit.errors import SleepkitError
from sleepkit.features.fs_c_ear_9 import FS_C_EAR_9
from sleepkit.features.fs_h_e_10 import FS_H_E_10
from sleepkit.features.fs_rr_12 import FS_RR_12
from sleepkit.features.fs_w_a_5 import FS_W_A_5
from sleepkit.features.fs_w_p_40 import FS_W_P_40
from sleepkit.features.fs_w_p_5 import FS_W_P_5
from sleepkit.features.rpeaks import detect_rpeaks
from sleepkit.registry import FeatureFactory


def col(frames, name: str) -> np.ndarray:
    return frames.features[:, frames.feature_names.index(name)].astype(np.float64)


def ecg_wave(beat_times: np.ndarray, seconds: float, fs: float, r_amp: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """ECG-like lead: P, Q, R, S, T waves per beat, baseline wander and a little noise (mV)."""
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    amp = np.ones(len(beat_times)) if r_amp is None else r_amp
    half = int(0.5 * fs)
    for b, a in zip(beat_times, amp):
        c = int(round(b * fs))
        lo, hi = max(0, c - half), min(n, c + half)
        if lo >= hi:
            continue
        d = t[lo:hi] - b
        x[lo:hi] += (
            a * np.exp(-0.5 * (d / 0.012) ** 2)
            - 0.1 * np.exp(-0.5 * ((d + 0.03) / 0.01) ** 2)
            - 0.2 * np.exp(-0.5 * ((d - 0.03) / 0.01) ** 2)
            + 0.3 * np.exp(-0.5 * ((d - 0.25) / 0.04) ** 2)
            + 0.1 * np.exp(-0.5 * ((d + 0.16) / 0.025) ** 2)
        )
    rng = np.random.default_rng(seed)
    return x + 0.2 * np.sin(2 * np.pi * 0.1 * t) + 0.01 * rng.standard_normal(n)


def pulse_wave(beat_times: np.ndarray, seconds: float, fs: float, amps: np.ndarray | None = None) -> np.ndarray:
    """PPG-like wave: per beat a systolic pulse peaking at the beat time (amplitude ``amps[i]``) and a
    smaller dicrotic wave 0.3 s later."""
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    a = np.ones(len(beat_times)) if amps is None else amps
    for b, ai in zip(beat_times, a):
        lo, hi = max(0, int((b - 0.5) * fs)), min(n, int((b + 0.8) * fs))
        if lo < hi:
            d = t[lo:hi] - b
            x[lo:hi] += ai * (np.exp(-0.5 * (d / 0.07) ** 2) + 0.3 * np.exp(-0.5 * ((d - 0.3) / 0.09) ** 2))
    return x


def beats_signal(beat_times: np.ndarray, seconds: float, fs: float = 100.0) -> Signal:
    """The ``beats`` role: 1 at the sample of each beat."""
    x = np.zeros(int(seconds * fs), dtype=np.float32)
    idx = np.round(np.asarray(beat_times) * fs).astype(np.int64)
    x[idx[(idx >= 0) & (idx < len(x))]] = 1.0
    return Signal(x, fs, "beat")


def alternating_beats(seconds: float, rr=(0.8, 0.9), start: float = 0.3) -> np.ndarray:
    n = int(seconds / np.mean(rr)) + 4
    return start + np.concatenate([[0.0], np.cumsum(np.resize(np.asarray(rr), n))])


# ---------------------------------------------------------------------------------------------------
# FS-W-A-5


def _acc_recording(seconds: int = 120, fs: float = 10.0, start_time: str | None = "23:59:00") -> Recording:
    """Epochs of 5 s alternate between lying flat (a = (0, 0, 1) g: z-angle 90°, ENMO 0) and on the side
    with a 1.2-g push (a = (1.2, 0, 0): z-angle 0°, ENMO 0.2 g)."""
    n = int(seconds * fs)
    epoch = (np.arange(n) / fs // 5).astype(int) % 2
    ax = np.where(epoch == 1, 1.2, 0.0)
    az = np.where(epoch == 1, 0.0, 1.0)
    sig = {"acc_x": Signal(ax.astype(np.float32), fs, "g"), "acc_y": Signal(np.zeros(n, np.float32), fs, "g"),
           "acc_z": Signal(az.astype(np.float32), fs, "g")}
    meta = {"start_time": start_time} if start_time else {}
    return Recording("acc", sig, {}, source="unit", meta=meta)


def test_fs_w_a_5_from_raw_axes_hand_values():
    frames = FS_W_A_5(sampling_rate=0.2, frame_size=6).compute(_acc_recording())
    assert frames.feature_names == ["tod_cos", "enmo_mean", "enmo_std", "anglez_mean", "anglez_std"]
    assert frames.features.shape == (4, 5) and frames.mask.tolist() == [1, 1, 1, 1]
    # 6 epochs per 30-s frame, 3 of each posture: mean 0.1 g / 45°, std 0.1 g / 45°
    np.testing.assert_allclose(col(frames, "enmo_mean"), 0.1, atol=1e-6)
    np.testing.assert_allclose(col(frames, "enmo_std"), 0.1, atol=1e-6)
    np.testing.assert_allclose(col(frames, "anglez_mean"), 45.0, atol=1e-4)
    np.testing.assert_allclose(col(frames, "anglez_std"), 45.0, atol=1e-4)
    # frame centres 15, 45, 75, 105 s after 23:59:00 wrap past midnight
    clock = (23 * 3600 + 59 * 60 + np.array([15, 45, 75, 105])) % 86400
    np.testing.assert_allclose(col(frames, "tod_cos"), np.cos(2 * np.pi * clock / 86400), atol=1e-6)


def test_fs_w_a_5_from_cmidss_roles_matches_raw_path():
    raw = _acc_recording()
    step = np.arange(24) % 2  # 5-s steps at 0.2 Hz, same postures as the raw signal
    pre = Recording("cm", {"anglez": Signal(np.where(step == 1, 0.0, 90.0).astype(np.float32), 0.2, "deg"),
                           "enmo": Signal(np.where(step == 1, 0.2, 0.0).astype(np.float32), 0.2, "g")},
                    {}, meta={"first_timestamp": "2018-08-14T23:59:00-0400"})
    fs = FS_W_A_5(sampling_rate=0.2, frame_size=6)
    np.testing.assert_allclose(fs.compute(pre).features, fs.compute(raw).features, atol=1e-5)
    with pytest.raises(SleepkitError, match=r"one value per 5 s epoch but feature.sampling_rate is 1 Hz"):
        FS_W_A_5(sampling_rate=1.0, frame_size=30).compute(pre)


def test_fs_w_a_5_masks_missing_and_flat_and_needs_a_clock():
    rec = _acc_recording(seconds=90)
    rec.signals["acc_x"].data[:300] = np.nan  # the first 30 s lost
    rec.signals["acc_z"].data[300:] = 1.0  # then the device lies still
    rec.signals["acc_x"].data[300:] = 0.0
    frames = FS_W_A_5(sampling_rate=0.2, frame_size=6).compute(rec)
    assert frames.mask.tolist() == [0, 0, 0] and frames.mask_reasons == {"missing_data": 1, "flat_signal": 2}
    with pytest.raises(SleepkitError, match=r"start_time.*22:30"):
        FS_W_A_5(sampling_rate=0.2, frame_size=6).compute(_acc_recording(start_time=None))
    ok = FS_W_A_5(sampling_rate=0.2, frame_size=6, start_time="12:00").compute(_acc_recording(start_time=None))
    assert col(ok, "tod_cos")[0] == pytest.approx(np.cos(2 * np.pi * (43200 + 15) / 86400))
    with pytest.raises(SleepkitError, match="start_time must be a clock time"):
        FS_W_A_5(sampling_rate=0.2, frame_size=6, start_time="25:00")


# ---------------------------------------------------------------------------------------------------
# FS-W-P-5


def test_fs_w_p_5_hand_values():
    seconds, fs = 120, 50.0
    # RR alternates 0.9 / 1.1 s (mean 1 s, std 0.1 s: ibi_cv 0.1); pulses of amplitude 1 for the first
    # 85 s, 0.5 afterwards (night median ~1: pulse_amp 0.5 at the end); SpO2 96 %, then 90 %.
    beats = alternating_beats(seconds + 2, rr=(0.9, 1.1), start=0.0)
    amps = np.where(beats < 85, 1.0, 0.5)
    ppg = pulse_wave(beats, seconds, fs, amps)
    spo2 = np.where(np.arange(seconds) < 60, 96.0, 90.0)
    rec = Recording("ppg", {"ppg": Signal(ppg.astype(np.float32), fs), "spo2": Signal(spo2.astype(np.float32), 1.0, "%")})
    frames = FS_W_P_5(sampling_rate=50, frame_size=500, hop_seconds=10).compute(rec)
    assert frames.feature_names == ["spo2", "pulse_amp", "amp_cv", "ibi_cv", "ppg_qos"]
    np.testing.assert_allclose(frames.times, 5 + 10 * np.arange(12))
    np.testing.assert_allclose(col(frames, "spo2"), [96] * 6 + [90] * 6)
    inner = slice(1, 8)  # away from the record start and the amplitude step at 85 s
    # the 0.9-s and 1.1-s pulses differ slightly after band-passing, so the night median is ~1, and the
    # filter is linear: halving the pulse halves the feature
    amp = col(frames, "pulse_amp")
    np.testing.assert_allclose(amp[inner], 1.0, atol=0.05)
    np.testing.assert_allclose(amp[9:11] / amp[inner].mean(), 0.5, atol=0.01)
    assert col(frames, "amp_cv")[inner].max() < 0.04
    # frame [80, 90) s: five pulses of 1, five of 0.5 → std 0.25 / mean 0.75
    assert col(frames, "amp_cv")[8] == pytest.approx(1 / 3, abs=0.03)
    np.testing.assert_allclose(col(frames, "ibi_cv")[1:11], 0.1, atol=0.01)
    assert col(frames, "ppg_qos")[1:11].min() > 0.85
    assert frames.mask[1:11].all()


def test_fs_w_p_5_masks_low_spo2_quality_and_nan():
    seconds, fs = 60, 50.0
    beats = np.arange(0, seconds + 2, 1.0)
    ppg = pulse_wave(beats, seconds, fs)
    ppg[int(35 * fs) : int(38 * fs)] = np.nan
    spo2 = np.full(seconds, 95.0)
    spo2[:10] = 0.0  # oximeter not yet reading
    quality = np.ones(seconds)
    quality[20:30] = 0.1
    rec = Recording("ppg", {"ppg": Signal(ppg.astype(np.float32), fs), "spo2": Signal(spo2.astype(np.float32), 1.0),
                            "quality": Signal(quality.astype(np.float32), 1.0)})
    frames = FS_W_P_5(sampling_rate=50, frame_size=500, hop_seconds=10).compute(rec)
    assert frames.mask.tolist() == [0, 1, 0, 0, 1, 1]
    assert frames.mask_reasons == {"spo2_invalid": 1, "low_quality": 1, "nan_signal": 1}


# ---------------------------------------------------------------------------------------------------
# FS-W-P-40


def test_fs_w_p_40_bins_against_periodogram_by_hand():
    fs, seconds = 32.0, 80
    t = np.arange(int(seconds * fs)) / fs
    # two sines at bin centres, amplitudes 1 and 0.5: powers 1/2 and 1/8 → shares 0.8 and 0.2
    ppg = np.sin(2 * np.pi * 1.05 * t) + 0.5 * np.sin(2 * np.pi * 2.55 * t + 0.3)
    rec = Recording("p40", {"ppg": Signal(ppg.astype(np.float32), fs)})
    frames = FS_W_P_40(sampling_rate=32, frame_size=1280, hop_seconds=40).compute(rec)
    assert frames.features.shape == (2, 40) and frames.feature_names[0] == "ppg_bin_00"
    np.testing.assert_allclose(frames.features.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(col(frames, "ppg_bin_10"), 0.8, atol=0.01)
    np.testing.assert_allclose(col(frames, "ppg_bin_25"), 0.2, atol=0.01)
    # the same numbers from scipy's periodogram, frame by frame
    for j in range(2):
        x = ppg[j * 1280 : (j + 1) * 1280]
        nfft = max(1280, int(np.ceil(fs / 0.025)))  # the documented zero-padding
        f, pxx = scipy.signal.periodogram(x, fs, window="hann", nfft=nfft, detrend="linear")
        power = np.array([pxx[(f >= k / 10 - 1e-9) & (f < (k + 1) / 10 - 1e-9)].sum() for k in range(40)])
        np.testing.assert_allclose(frames.features[j], power / power.sum(), atol=1e-5)


def test_fs_w_p_40_masks_flat_and_checks_rate():
    ppg = np.zeros(64 * 30, dtype=np.float32)
    frames = FS_W_P_40(sampling_rate=64, frame_size=640, hop_seconds=10).compute(Recording("flat", {"ppg": Signal(ppg, 64.0)}))
    assert frames.mask.tolist() == [0, 0, 0] and frames.mask_reasons == {"no_power": 3}
    assert np.isfinite(frames.features).all()
    with pytest.raises(SleepkitError, match="at least 8 Hz"):
        FS_W_P_40(sampling_rate=4, frame_size=40)


# ---------------------------------------------------------------------------------------------------
# FS-C-EAR-9 and R peaks


def _resp_modulated_beats(seconds: float, resp_hz: float = 0.25) -> np.ndarray:
    """Beats whose RR follows 1 s + 60 ms · sin(2π · resp_hz · t) (respiratory sinus arrhythmia)."""
    t, beats = 0.37, []
    while t < seconds + 1:
        beats.append(t)
        t += 1.0 + 0.06 * np.sin(2 * np.pi * resp_hz * t)
    return np.array(beats)


def test_rpeaks_found_to_the_sample_either_polarity():
    fs = 250.0
    beats = _resp_modulated_beats(60)
    ecg = ecg_wave(beats, 60, fs)
    for sign in (1, -1):
        found = detect_rpeaks(sign * ecg, fs).times
        inside = beats[(beats > 0.5) & (beats < 59.5)]
        assert len(found) == len(beats[beats < 60])
        err = np.abs(found[:, None] - inside[None, :]).min(axis=0)
        assert err.max() < 0.004  # one sample at 250 Hz
    assert len(detect_rpeaks(np.zeros(int(30 * fs)), fs).times) == 0  # flat lead: no beats


def test_fs_c_ear_9_hand_values_with_acc_movement():
    fs, seconds = 250.0, 120
    beats = _resp_modulated_beats(seconds)
    r_amp = 1 + 0.1 * np.sin(2 * np.pi * 0.25 * beats)  # EDR: breathing changes the R amplitude too
    ecg = ecg_wave(beats, seconds, fs, r_amp)
    acc_fs = 25.0
    ta = np.arange(int(seconds * acc_fs)) / acc_fs
    ax = np.where((ta >= 60) & (ta < 90), 0.1 * np.sin(2 * np.pi * 2.0 * ta), 0.0)  # a 2-Hz shake in frame 2
    rec = Recording("ecg", {"ecg": Signal(ecg.astype(np.float32), fs, "mV"),
                            "acc_x": Signal(ax.astype(np.float32), acc_fs, "g"),
                            "acc_y": Signal(np.zeros_like(ta, dtype=np.float32), acc_fs, "g"),
                            "acc_z": Signal(np.ones_like(ta, dtype=np.float32), acc_fs, "g")})
    frames = FS_C_EAR_9(sampling_rate=200, frame_size=6000).compute(rec)
    assert frames.feature_names[:4] == ["hrv_td_mean_nn", "hrv_td_sd_nn", "hrv_td_median_nn", "hrv_fd_lfhf_ratio"]
    assert frames.features.shape == (4, 9) and frames.mask.all()
    rr = np.diff(beats)
    for j in range(4):  # NN intervals ending inside frame j, computed from the true beats
        sel = (beats[1:] >= 30 * j) & (beats[1:] < 30 * (j + 1))
        if j == 0:
            sel &= beats[:-1] > 0.5  # the detector cannot see a beat in the filter's first samples
        assert col(frames, "hrv_td_mean_nn")[j] == pytest.approx(1000 * rr[sel].mean(), abs=2.0)
        assert col(frames, "hrv_td_sd_nn")[j] == pytest.approx(1000 * rr[sel].std(), abs=2.0)
    np.testing.assert_allclose(col(frames, "rsp_bpm"), 15.0, atol=1.0)  # 0.25 Hz
    assert (col(frames, "hrv_fd_lfhf_ratio") < 0.2).all()  # all variability is respiratory (HF)
    assert col(frames, "hrv_qos").min() > 0.9
    # |0.1 g · sin| averages 0.1 · 2/π in the shaken frame (the band-pass keeps 2 Hz)
    assert col(frames, "mov_mu")[2] == pytest.approx(0.2 / np.pi, rel=0.03)
    assert col(frames, "mov_mu")[[0, 3]].max() < 1e-3


def test_fs_c_ear_9_movement_source_and_masks():
    fs, seconds = 200.0, 90
    beats = np.arange(0.4, seconds + 1, 0.8)
    ecg = ecg_wave(beats, seconds, fs)
    ecg[int(65 * fs) :] = 0.0  # lead off for the last 25 s
    resp = np.sin(2 * np.pi * 0.25 * np.arange(seconds * 32) / 32)
    rec = Recording("r", {"ecg": Signal(ecg.astype(np.float32), fs), "resp": Signal(resp.astype(np.float32), 32.0)})
    fset = FS_C_EAR_9(sampling_rate=200, frame_size=6000)
    assert fset.movement_source(rec) == "resp"
    frames = fset.compute(rec)
    assert frames.mask.tolist() == [1, 1, 0] and frames.mask_reasons == {"too_few_beats": 1}
    np.testing.assert_allclose(col(frames, "hrv_td_mean_nn")[:2], 800.0, atol=1.0)
    assert col(frames, "mov_mu")[:2].max() < 0.01  # slow breathing is not movement
    with pytest.raises(SleepkitError, match=r"needs signal role\(s\) 'acc_x'"):
        fset.compute(Recording("e", {"ecg": rec.signals["ecg"]}))
    with pytest.raises(SleepkitError, match="at least 100 Hz"):
        FS_C_EAR_9(sampling_rate=64, frame_size=1920)
    with pytest.raises(SleepkitError, match="movement must be"):
        FS_C_EAR_9(sampling_rate=200, frame_size=6000, movement="wrist")


# ---------------------------------------------------------------------------------------------------
# FS-H-E-10


def test_fs_h_e_10_sine_band_powers_by_hand():
    fs, seconds = 128.0, 60
    t = np.arange(int(seconds * fs)) / fs
    eeg = 20 * np.sin(2 * np.pi * 10 * t)  # alpha: power A²/2 = 200
    eog = 50 * np.sin(2 * np.pi * 2 * t) + 4 * np.sin(2 * np.pi * 20 * t)  # delta 1250, beta 8
    rec = Recording("h", {"eeg": Signal(eeg.astype(np.float32), fs, "uV"), "eog": Signal(eog.astype(np.float32), fs, "uV")})
    absolute = FS_H_E_10(sampling_rate=128, frame_size=3840, relative=False).compute(rec)
    assert absolute.feature_names == [f"{c}_{b}" for c in ("eeg", "eog") for b in ("delta", "theta", "alpha", "beta", "gamma")]
    np.testing.assert_allclose(col(absolute, "eeg_alpha"), 200.0, rtol=0.01)
    np.testing.assert_allclose(col(absolute, "eog_delta"), 1250.0, rtol=0.01)
    np.testing.assert_allclose(col(absolute, "eog_beta"), 8.0, rtol=0.01)
    relative = FS_H_E_10(sampling_rate=128, frame_size=3840).compute(rec)
    np.testing.assert_allclose(relative.features[:, :5].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(col(relative, "eeg_alpha"), 1.0, atol=1e-3)
    np.testing.assert_allclose(col(relative, "eog_delta"), 1250 / 1258, atol=1e-3)


def test_fs_h_e_10_masks_and_channel_param():
    fs = 100.0
    rng = np.random.default_rng(3)
    x = rng.standard_normal(int(150 * fs))
    y = rng.standard_normal(int(150 * fs))
    x[int(30 * fs) : int(60 * fs)] = 0.0  # lead off
    y[int(95 * fs)] = 5000.0  # electrode pop
    y[int(125 * fs)] = np.nan
    rec = Recording("h", {"c3": Signal(x.astype(np.float32), fs), "loc": Signal(y.astype(np.float32), fs)})
    frames = FS_H_E_10(sampling_rate=100, frame_size=3000, channels=["c3", "loc"]).compute(rec)
    assert frames.feature_names[0] == "c3_delta" and frames.feature_names[5] == "loc_delta"
    assert frames.mask.tolist() == [1, 0, 1, 0, 0]
    assert frames.mask_reasons == {"nan_signal": 1, "flat_signal": 1, "high_power_artefact": 1}
    for bad in (["eeg"], ["eeg", "eeg"], "eeg"):
        with pytest.raises(SleepkitError, match="two different signal roles"):
            FS_H_E_10(sampling_rate=100, frame_size=3000, channels=bad)
    with pytest.raises(SleepkitError, match=r"needs signal role\(s\) 'eog'"):
        FS_H_E_10(sampling_rate=100, frame_size=3000).compute(Recording("x", {"eeg": rec.signals["c3"]}))


# ---------------------------------------------------------------------------------------------------
# FS-RR-12


def test_fs_rr_12_time_domain_by_hand():
    seconds = 360
    beats = alternating_beats(seconds, rr=(0.8, 0.9))
    rec = Recording("rr", {"beats": beats_signal(beats, seconds)})
    frames = FS_RR_12(sampling_rate=100, frame_size=6000).compute(rec)
    assert frames.features.shape == (6, 12) and frames.mask.all()
    np.testing.assert_allclose(col(frames, "rr_mean"), 850.0, atol=1.0)
    np.testing.assert_allclose(col(frames, "rr_sd"), 50.0, atol=1.0)
    np.testing.assert_allclose(col(frames, "rmssd"), 100.0, atol=0.5)  # every difference is ±100 ms
    np.testing.assert_allclose(col(frames, "pnn50"), 1.0)
    np.testing.assert_allclose(col(frames, "hr_range"), 60 / 0.8 - 60 / 0.9, atol=0.1)
    assert col(frames, "rr_qos").min() > 0.98


def test_fs_rr_12_respiration_and_cyclic_variation():
    seconds = 600
    rsa = _resp_modulated_beats(seconds)  # 0.25 Hz RSA, no cycles
    rec = Recording("rsa", {"beats": beats_signal(rsa, seconds)})
    frames = FS_RR_12(sampling_rate=100, frame_size=6000).compute(rec)
    np.testing.assert_allclose(col(frames, "rsp_bpm"), 15.0, atol=0.5)
    assert (col(frames, "hf_log") > col(frames, "vlf_log") + 1).all()
    # apnea-like cycles: heart rate swings with a 60-s period (bradycardia, then a surge)
    t, beats = 0.3, []
    while t < seconds + 1:
        beats.append(t)
        t += 1.0 + 0.15 * np.sin(2 * np.pi * t / 60.0)
    cyc = FS_RR_12(sampling_rate=100, frame_size=6000).compute(Recording("cyc", {"beats": beats_signal(np.array(beats), seconds)}))
    assert col(cyc, "cvhr_acf").min() > 0.8 and col(frames, "cvhr_acf").max() < 0.3
    assert (col(cyc, "vlf_log") > col(frames, "vlf_log") + 1).all()


def test_fs_rr_12_drops_artefact_beats_and_masks_gaps():
    seconds = 420
    beats = np.arange(0.5, seconds, 0.8)
    beats = np.sort(np.concatenate([beats, [100.1, 100.3]]))  # two extra (noise) beats
    beats = beats[(beats < 200) | (beats > 215)]  # 15 s without beats (missed/unaudited)
    beats = beats[(beats < 300) | (beats > 420)]  # the last 2 minutes: no beats at all
    rec = Recording("gap", {"beats": beats_signal(beats, seconds)})
    frames = FS_RR_12(sampling_rate=100, frame_size=6000).compute(rec)
    ok = frames.mask.astype(bool)
    np.testing.assert_allclose(col(frames, "rr_mean")[ok], 800.0, atol=0.5)  # gaps and extra beats dropped
    np.testing.assert_allclose(col(frames, "rr_sd")[ok], 0.0, atol=0.5)
    assert col(frames, "rr_qos")[3] == pytest.approx((60 - 15 - 0.8) / 60, abs=0.03)
    assert frames.mask.tolist() == [1, 1, 1, 1, 1, 0, 0]
    assert frames.mask_reasons == {"too_few_beats": 2}


def test_fs_rr_12_from_ecg_matches_beats_path():
    fs, seconds = 200.0, 180
    beats = _resp_modulated_beats(seconds)
    ecg = Recording("e", {"ecg": Signal(ecg_wave(beats, seconds, fs).astype(np.float32), fs, "mV")})
    ann = Recording("b", {"beats": beats_signal(beats, seconds, fs)})
    fset = FS_RR_12(sampling_rate=200, frame_size=12000)
    a, b = fset.compute(ecg), fset.compute(ann)
    np.testing.assert_allclose(col(a, "rr_mean"), col(b, "rr_mean"), atol=2.0)
    np.testing.assert_allclose(col(a, "rsp_bpm"), col(b, "rsp_bpm"), atol=0.5)
    both = Recording("both", {**ecg.signals, **ann.signals})
    np.testing.assert_array_equal(fset.compute(both).features, b.features)  # auto: annotated beats first
    forced = FS_RR_12(sampling_rate=200, frame_size=12000, beat_source="ecg").compute(both)
    np.testing.assert_array_equal(forced.features, a.features)
    with pytest.raises(SleepkitError, match="needs an 'ecg' signal or a 'beats' signal"):
        fset.compute(Recording("none", {"ppg": Signal(np.zeros(100, np.float32), 1.0)}))
    with pytest.raises(SleepkitError, match=r"beat_source=ecg\) needs signal role\(s\) 'ecg'"):
        FS_RR_12(sampling_rate=200, frame_size=12000, beat_source="ecg").compute(ann)


# ---------------------------------------------------------------------------------------------------
# Common behaviour


def test_labels_per_frame_and_mask_reasons_logged(caplog):
    seconds = 240
    beats = np.arange(0.5, 150, 0.8)  # no beats after 150 s
    apnea = np.zeros(seconds // 60, dtype=np.int32)
    apnea[1] = 2
    apnea[3] = -1
    rec = Recording("lab", {"beats": beats_signal(beats, seconds)}, {"apnea": LabelTrack(apnea, 1 / 60)})
    with caplog.at_level(logging.INFO, logger="sleepkit"):
        frames = FS_RR_12(sampling_rate=100, frame_size=6000).compute(rec)
    assert frames.labels["apnea"].tolist() == [0, 2, 0, -1]
    assert "FS-RR-12 lab: 2 of 4 frames masked (too_few_beats 2)" in caplog.text


@pytest.mark.parametrize(
    "name, kwargs",
    [("FS-W-A-5", dict(sampling_rate=0.2, frame_size=6)), ("FS-W-P-5", dict(sampling_rate=64, frame_size=640)),
     ("FS-W-P-40", dict(sampling_rate=64, frame_size=1920)), ("FS-C-EAR-9", dict(sampling_rate=200, frame_size=6000)),
     ("FS-H-E-10", dict(sampling_rate=100, frame_size=3000)), ("FS-RR-12", dict(sampling_rate=100, frame_size=6000))],
)
def test_registered_and_params_checked(name, kwargs):
    cls = FeatureFactory.get(name)
    fset = cls(**kwargs)
    assert fset.name == name and len(fset.feature_names) == int(name.rsplit("-", 1)[1])
    with pytest.raises(SleepkitError, match="unknown parameter.*hop_secs"):
        cls(**kwargs, hop_secs=5)
    with pytest.raises(SleepkitError, match="hop_seconds must be a number"):
        cls(**kwargs, hop_seconds="often")
    with pytest.raises(SleepkitError, match="frame_size must be a positive whole number"):
        cls(sampling_rate=kwargs["sampling_rate"], frame_size=0)

"""FS-W-PA-14 on signals with known answers, masking, labels per frame, and stage separation."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit.datasets.base import LabelTrack, Recording, Signal
from sleepkit.datasets.synthetic import SyntheticDataset
from sleepkit.errors import SleepkitError
from sleepkit.features import dsp
from sleepkit.features.fs_w_pa_14 import FS_W_PA_14
from sleepkit.labels import SleepStage

PPG_FS = 100.0  # deliberately not the feature rate: exercises resampling to 64 Hz
ACC_FS = 25.0


def pulse_wave(beat_times: np.ndarray, n: int, fs: float, resp_bpm: float | None = None) -> np.ndarray:
    """A PPG-like wave with one pulse per beat time (systolic + dicrotic wave)."""
    t = np.arange(n) / fs
    phase = np.interp(t, beat_times, np.arange(len(beat_times)))
    u = phase % 1.0
    wave = np.exp(-0.5 * ((u - 0.2) / 0.07) ** 2) + 0.3 * np.exp(-0.5 * ((u - 0.5) / 0.09) ** 2)
    if resp_bpm:
        r = np.sin(2 * np.pi * resp_bpm / 60.0 * t)
        wave = (1 + 0.2 * r) * wave + 0.3 * r
    return wave


def make_recording(
    seconds: float = 180.0,
    hr_bpm: float = 72.0,
    spo2: float = 97.0,
    resp_bpm: float | None = None,
    beat_times: np.ndarray | None = None,
    labels: dict | None = None,
) -> Recording:
    if beat_times is None:
        beat_times = np.arange(-1.0, seconds + 2.0, 60.0 / hr_bpm)
    n = int(seconds * PPG_FS)
    rng = np.random.default_rng(0)
    n_acc = int(seconds * ACC_FS)
    signals = {
        "ppg": Signal(pulse_wave(beat_times, n, PPG_FS, resp_bpm).astype(np.float32), PPG_FS),
        "acc_x": Signal((0.001 * rng.standard_normal(n_acc)).astype(np.float32), ACC_FS, "g"),
        "acc_y": Signal((0.001 * rng.standard_normal(n_acc)).astype(np.float32), ACC_FS, "g"),
        "acc_z": Signal((1.0 + 0.001 * rng.standard_normal(n_acc)).astype(np.float32), ACC_FS, "g"),
        "spo2": Signal(np.full(int(seconds), spo2, dtype=np.float32), 1.0, "%"),
    }
    return Recording("unit", signals, labels or {}, source="unit-test")


def col(frames, name: str) -> np.ndarray:
    return frames.features[:, frames.feature_names.index(name)]


FS = FS_W_PA_14(sampling_rate=64, frame_size=3840)


def test_feature_names_and_frame_times():
    frames = FS.compute(make_recording(seconds=180))
    assert frames.feature_names == [
        "hr_bpm", "hrv_td_mean_nn", "hrv_td_sd_nn", "hrv_td_median_nn", "hrv_fd_lfhf_ratio",
        "spo2_mu", "spo2_std", "spo2_med", "mov_mu", "mov_std", "mov_med", "rsp_bpm", "spo2_qos", "hrv_qos",
    ]
    assert frames.features.shape == (5, 14) and frames.features.dtype == np.float32
    np.testing.assert_allclose(frames.times, [30, 60, 90, 120, 150])
    assert frames.mask.tolist() == [1] * 5 and frames.mask_reasons == {}


def test_constant_72_bpm_pulse_train():
    frames = FS.compute(make_recording(hr_bpm=72.0, spo2=97.0))
    np.testing.assert_allclose(col(frames, "hr_bpm"), 72.0, atol=1.0)
    np.testing.assert_allclose(col(frames, "hrv_td_mean_nn"), 60000 / 72, atol=5.0)
    np.testing.assert_allclose(col(frames, "hrv_td_median_nn"), 60000 / 72, atol=8.0)
    assert col(frames, "hrv_td_sd_nn").max() < 3.0  # constant RR: SDNN ≈ 0 (sampling jitter only)
    np.testing.assert_allclose(col(frames, "spo2_mu"), 97.0)
    np.testing.assert_allclose(col(frames, "spo2_med"), 97.0)
    np.testing.assert_allclose(col(frames, "spo2_std"), 0.0, atol=1e-6)
    np.testing.assert_allclose(col(frames, "spo2_qos"), 1.0)
    assert col(frames, "hrv_qos").min() > 0.95
    assert col(frames, "mov_mu").max() < 0.005  # a still wrist


@pytest.mark.parametrize("hr", [45.0, 110.0])
def test_other_heart_rates(hr):
    frames = FS.compute(make_recording(hr_bpm=hr))
    np.testing.assert_allclose(col(frames, "hr_bpm"), hr, atol=1.0)


def test_respiration_rate_from_ppg_modulation():
    frames = FS.compute(make_recording(hr_bpm=66.0, resp_bpm=15.0))
    np.testing.assert_allclose(col(frames, "rsp_bpm"), 15.0, atol=1.0)


def test_lf_hf_ratio_follows_rr_modulation():
    def beats(mod_hz: float) -> np.ndarray:
        t, out = -1.0, []
        while t < 185:
            out.append(t)
            t += 0.9 + 0.06 * np.sin(2 * np.pi * mod_hz * t)
        return np.array(out)

    lf = FS.compute(make_recording(beat_times=beats(0.08)))
    hf = FS.compute(make_recording(beat_times=beats(0.25)))
    assert np.median(col(lf, "hrv_fd_lfhf_ratio")) > 5.0
    assert np.median(col(hf, "hrv_fd_lfhf_ratio")) < 0.2
    assert col(lf, "hrv_td_sd_nn").min() > 20.0  # RR swings ±60 ms


def test_nan_run_masks_only_its_frames():
    rec = make_recording(seconds=240)
    ppg = rec.signals["ppg"].data
    ppg[int(100 * PPG_FS) : int(108 * PPG_FS)] = np.nan  # inside frames [60,120) and [90,150)
    frames = FS.compute(rec)
    assert frames.mask.tolist() == [1, 1, 0, 0, 1, 1, 1]
    assert frames.mask_reasons == {"nan_signal": 2}
    assert np.isfinite(frames.features).all()
    np.testing.assert_allclose(col(frames, "hr_bpm")[frames.mask == 1], 72.0, atol=1.0)


def test_nan_in_spo2_and_invalid_spo2_are_masked():
    rec = make_recording(seconds=180)
    rec.signals["spo2"].data[10:15] = np.nan  # frame 0 only
    rec.signals["spo2"].data[100:] = 0.0  # oximeter "no reading" code: frames 3, 4 mostly invalid
    frames = FS.compute(rec)
    assert frames.mask.tolist() == [0, 1, 1, 0, 0]
    assert frames.mask_reasons == {"nan_signal": 1, "spo2_invalid": 2}
    np.testing.assert_allclose(col(frames, "spo2_mu")[1:3], 97.0)


def test_low_quality_channel_masks():
    rec = make_recording(seconds=180)
    q = np.ones(180, dtype=np.float32)
    q[100:] = 0.1  # frame 2 [60,120) averages 0.7 (kept), frames 3 and 4 fall below 0.5
    rec.signals["quality"] = Signal(q, 1.0)
    frames = FS.compute(rec)
    assert frames.mask.tolist() == [1, 1, 1, 0, 0]
    assert frames.mask_reasons == {"low_quality": 2}


def test_flat_ppg_has_too_few_beats():
    rec = make_recording(seconds=120)
    rec.signals["ppg"].data[:] = 0.5
    frames = FS.compute(rec)
    assert frames.mask.sum() == 0 and frames.mask_reasons == {"too_few_beats": 3}


def test_frame_longer_than_recording_is_an_error():
    fs = FS_W_PA_14(sampling_rate=64, frame_size=64 * 600)
    with pytest.raises(SleepkitError, match=r"subject 'unit'.*frame of 600 s.*180 s"):
        fs.compute(make_recording(seconds=180))


def test_missing_role_names_role_and_source():
    rec = make_recording()
    del rec.signals["acc_y"]
    with pytest.raises(SleepkitError, match=r"\(unit-test\).*'acc_y'"):
        FS.compute(rec)


def test_unknown_and_bad_params():
    with pytest.raises(SleepkitError, match="hop_secs"):
        FS_W_PA_14(sampling_rate=64, frame_size=3840, hop_secs=10)
    with pytest.raises(SleepkitError, match="hop_seconds"):
        FS_W_PA_14(sampling_rate=64, frame_size=3840, hop_seconds="soon")
    with pytest.raises(SleepkitError, match="sampling_rate"):
        FS_W_PA_14(sampling_rate=4, frame_size=100)


def test_hop_parameter():
    frames = FS_W_PA_14(sampling_rate=64, frame_size=1920, hop_seconds=10).compute(make_recording(seconds=120))
    assert len(frames.times) == (120 - 30) // 10 + 1
    np.testing.assert_allclose(frames.times[:3], [15, 25, 35])


def test_labels_per_frame():
    stage = np.array([0, 2, 2, 3, 5, -1, -1, -1], dtype=np.int32)  # 8 epochs of 30 s
    apnea = np.zeros(240, dtype=np.int32)
    apnea[35:47] = 2  # 12 s apnea inside frames 0 [0,60) and 1 [30,90)
    apnea[95:103] = 1  # 8 s hypopnea: too short to label a frame
    apnea[150:165] = 1  # 15 s hypopnea in frames 4 [120,180) and 5 [150,210)
    rec = make_recording(
        seconds=240, labels={"stage": LabelTrack(stage, 1 / 30), "apnea": LabelTrack(apnea, 1.0)}
    )
    frames = FS.compute(rec)
    # 60-s frames straddle two epochs: the later one (the epoch at the frame centre) wins.
    assert frames.labels["stage"].tolist() == [2, 2, 3, 5, -1, -1, -1]
    assert frames.labels["apnea"].tolist() == [2, 2, 0, 0, 1, 1, 0]
    assert all(v.dtype == np.int32 for v in frames.labels.values())


def test_majority_and_per_sample_event_tracks():
    from sleepkit.features.framing import FrameGrid, frame_labels

    grid = FrameGrid(frame_seconds=90.0, hop_seconds=90.0, starts=np.array([0.0, 90.0]))
    stage = LabelTrack(np.array([2, 5, 5, 3, 3, 1], dtype=np.int32), 1 / 30)
    arousal = np.zeros(180 * 100, dtype=np.int32)  # one value per sample at 100 Hz
    arousal[100 * 100 : int(103.5 * 100)] = 1  # 3.5 s arousal in the second frame
    arousal[10 * 100 : 12 * 100] = 1  # 2 s: too short
    out = frame_labels({"stage": stage, "arousal": LabelTrack(arousal, 100.0)}, grid)
    assert out["stage"].tolist() == [5, 3]  # the label covering most of each 90-s frame
    assert out["arousal"].tolist() == [0, 1]


def test_unscored_apnea_seconds_make_frame_unscored():
    apnea = np.zeros(180, dtype=np.int32)
    apnea[100:180] = -1
    rec = make_recording(seconds=180, labels={"apnea": LabelTrack(apnea, 1.0)})
    assert FS.compute(rec).labels["apnea"].tolist() == [0, 0, 0, -1, -1]


def test_features_separate_wake_from_deep_sleep_on_synthetic_nights():
    ds = SyntheticDataset(num_subjects=2, hours=8.0, seed=3)
    feats, stages, masks = [], [], []
    for sid in ds.subject_ids():
        frames = FS.compute(ds.load(sid))
        feats.append(frames.features)
        stages.append(frames.labels["stage"])
        masks.append(frames.mask.astype(bool))
    f, s, m = np.concatenate(feats), np.concatenate(stages), np.concatenate(masks)
    assert m.mean() > 0.9
    names = FS.feature_names

    def mean(stage_codes, name):
        sel = np.isin(s, stage_codes) & m
        assert sel.sum() >= 20
        return float(f[sel, names.index(name)].mean())

    wake, deep, rem = [int(SleepStage.WAKE)], [int(SleepStage.N3), int(SleepStage.N4)], [int(SleepStage.REM)]
    assert mean(wake, "hr_bpm") - mean(deep, "hr_bpm") > 6.0
    assert mean(wake, "mov_mu") > 3 * mean(deep, "mov_mu")
    assert mean(rem, "hr_bpm") - mean(deep, "hr_bpm") > 4.0
    assert mean(rem, "hrv_fd_lfhf_ratio") > 5 * mean(deep, "hrv_fd_lfhf_ratio")
    assert mean(wake, "rsp_bpm") - mean(deep, "rsp_bpm") > 1.0


# ---------------------------------------------------------------------------------------------------
# Shared helpers


def test_masked_stats_match_numpy():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(6, 9))
    valid = rng.random((6, 9)) < 0.7
    valid[2] = False
    mean, std, med, count = dsp.masked_stats(v, valid)
    for i in range(6):
        if valid[i].any():
            assert mean[i] == pytest.approx(v[i, valid[i]].mean())
            assert std[i] == pytest.approx(v[i, valid[i]].std())
            assert med[i] == pytest.approx(np.median(v[i, valid[i]]))
        else:
            assert np.isnan(mean[i]) and np.isnan(med[i]) and count[i] == 0


def test_resample_keeps_nan_positions():
    x = np.sin(np.arange(750) / 10.0)
    x[300:330] = np.nan  # 4.0–4.4 s at 75 Hz
    y = dsp.resample(x, 75.0, 64.0)
    assert len(y) == 640
    bad = np.flatnonzero(np.isnan(y))
    assert bad.min() / 64 == pytest.approx(4.0, abs=0.03) and bad.max() / 64 == pytest.approx(4.4, abs=0.03)


def test_clean_rr_rejects_missed_and_extra_beats():
    t = np.arange(0, 60, 0.8)
    t = np.delete(t, 20)  # a missed beat → one 1.6-s interval
    t = np.sort(np.append(t, 40.3))  # an extra beat → two short intervals
    nn = dsp.clean_rr(t)
    assert nn.n_rejected == 3
    np.testing.assert_allclose(nn.nn, 0.8, atol=1e-9)

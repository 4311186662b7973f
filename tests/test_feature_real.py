"""The feature sets on real recordings from ../shared/data (see its README.md for origin and licence):
YASA REM-sleep EOG (BSD-3-Clause), 120 s of a Nox A1 PSG (sleepr, MIT) and the PhysioNet Apnea-ECG
learning set (Open Data Commons). Skipped when the folder is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from sleepkit.datasets.apnea_ecg import ApneaEcgDataset
from sleepkit.datasets.base import Recording, Signal
from sleepkit.datasets.edf import read_edf
from sleepkit.features.framing import frame_matrix, make_grid
from sleepkit.features.fs_c_ear_9 import FS_C_EAR_9
from sleepkit.features.fs_h_e_10 import BANDS, FS_H_E_10
from sleepkit.features.fs_rr_12 import FS_RR_12
from sleepkit.features.fs_w_a_5 import FS_W_A_5
from sleepkit.features.fs_w_p_40 import FS_W_P_40
from sleepkit.features.fs_w_p_5 import FS_W_P_5

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EOG = DATA / "yasa" / "EOGs_REM_256Hz.npz"
NOX = DATA / "psg" / "nox_a1_subject1_120s.edf"
APNEA = DATA / "apnea-ecg"


def col(frames, name: str) -> np.ndarray:
    return frames.features[:, frames.feature_names.index(name)].astype(np.float64)


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive frame scores higher than a negative one (ties count half)."""
    from scipy.stats import rankdata

    r = rankdata(score)
    n1, n0 = positive.sum(), (~positive).sum()
    return float((r[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# ---------------------------------------------------------------------------------------------------
# YASA EOG: FS-H-E-10


@pytest.fixture(scope="module")
def eog_recording() -> Recording:
    if not EOG.is_file():
        pytest.skip(f"real EOG not available ({EOG})")
    d = np.load(EOG)
    fs = float(d["sf"])
    return Recording("yasa-rem", {"loc": Signal(d["data"][0].astype(np.float32), fs, "uV"),
                                  "roc": Signal(d["data"][1].astype(np.float32), fs, "uV")}, source=str(EOG))


def test_fs_h_e_10_on_real_rem_eog(eog_recording):
    absolute = FS_H_E_10(sampling_rate=256, frame_size=7680, channels=["loc", "roc"], relative=False).compute(eog_recording)
    assert absolute.features.shape == (28, 10)  # 14.3 min in 30-s frames
    assert absolute.mask.all() and (absolute.features > 0).all()
    # each frame against scipy.signal.welch run on that frame alone
    for role, ch in (("loc", 0), ("roc", 1)):
        x = eog_recording.signals[role].data.astype(np.float64)
        for j in (0, 13, 27):
            f, pxx = scipy.signal.welch(x[j * 7680 : (j + 1) * 7680], fs=256, nperseg=1024, noverlap=512)
            hand = [pxx[(f >= lo) & (f < hi)].sum() * (f[1] - f[0]) for _, lo, hi in BANDS]
            np.testing.assert_allclose(absolute.features[j, 5 * ch : 5 * ch + 5], hand, rtol=1e-5)
    relative = FS_H_E_10(sampling_rate=256, frame_size=7680, channels=["loc", "roc"]).compute(eog_recording)
    for ch in (0, 1):
        rel = relative.features[:, 5 * ch : 5 * ch + 5]
        np.testing.assert_allclose(rel.sum(axis=1), 1.0, atol=1e-5)
        assert (rel[:, 0][:, None] > rel[:, 1:]).all()  # delta dominates EOG in every frame
        assert np.median(rel[:, 0]) > 0.6


# ---------------------------------------------------------------------------------------------------
# Nox A1 PSG: ECG, PPG, SpO2, accelerometer, EEG/EOG against the device's own derived channels


@pytest.fixture(scope="module")
def nox() -> dict[str, Signal]:
    if not NOX.is_file():
        pytest.skip(f"real PSG not available ({NOX})")
    labels = ["ECG", "Heart Rate", "Resp Rate", "Pulse Waveform", "Pulse", "Saturation", "X Axis", "Y Axis", "Z Axis",
              "C4-M1", "E1-M2"]
    _, signals = read_edf(NOX, labels)
    return signals


def test_fs_c_ear_9_and_fs_rr_12_on_real_ecg(nox):
    rec = Recording("nox", {"ecg": nox["ECG"], "acc_x": nox["X Axis"], "acc_y": nox["Y Axis"], "acc_z": nox["Z Axis"]})
    frames = FS_C_EAR_9(sampling_rate=200, frame_size=6000).compute(rec)
    assert frames.mask.all() and frames.features.shape == (4, 9)
    grid = make_grid(rec, ("ecg",), 30, 30)
    device_hr = frame_matrix(nox["Heart Rate"].data.astype(np.float64), nox["Heart Rate"].fs, grid).mean(axis=1)
    device_rr = frame_matrix(nox["Resp Rate"].data.astype(np.float64), nox["Resp Rate"].fs, grid).mean(axis=1)
    np.testing.assert_allclose(60000 / col(frames, "hrv_td_mean_nn"), device_hr, atol=0.5)
    np.testing.assert_allclose(col(frames, "rsp_bpm"), device_rr, atol=2.5)  # EDR vs the RIP belt's rate
    assert col(frames, "hrv_qos").min() > 0.9
    rr = FS_RR_12(sampling_rate=200, frame_size=12000).compute(Recording("nox", {"ecg": nox["ECG"]}))
    grid = make_grid(rec, ("ecg",), 60, 60)
    device_hr = frame_matrix(nox["Heart Rate"].data.astype(np.float64), nox["Heart Rate"].fs, grid).mean(axis=1)
    np.testing.assert_allclose(60000 / col(rr, "rr_mean"), device_hr, atol=0.5)


def test_fs_w_p_5_and_p_40_on_real_ppg(nox):
    rec = Recording("nox", {"ppg": nox["Pulse Waveform"], "spo2": nox["Saturation"]})
    p5 = FS_W_P_5(sampling_rate=64, frame_size=640).compute(rec)
    assert p5.features.shape == (111, 5) and p5.mask.all()
    grid = make_grid(rec, ("ppg", "spo2"), 10, 1)
    spo2 = frame_matrix(nox["Saturation"].data.astype(np.float64), 3.0, grid).mean(axis=1)
    np.testing.assert_allclose(col(p5, "spo2"), spo2, atol=1e-4)
    assert 0.9 < np.median(col(p5, "pulse_amp")) < 1.1 and col(p5, "ppg_qos").mean() > 0.9
    assert np.median(col(p5, "ibi_cv")) < 0.1
    p40 = FS_W_P_40(sampling_rate=64, frame_size=1920).compute(rec)
    np.testing.assert_allclose(p40.features.sum(axis=1), 1.0, atol=1e-5)
    pulse_hz = frame_matrix(nox["Pulse"].data.astype(np.float64), 3.0, make_grid(rec, ("ppg",), 30, 30)).mean(axis=1) / 60
    # the pulse rate wanders by a few beats/min inside a 30-s frame: its power lies in the pulse-rate bin
    # and its neighbours, and the strongest bin is at most one bin away
    k = np.floor(pulse_hz / 0.1).astype(int)
    assert (np.abs(p40.features.argmax(axis=1) - k) <= 1).all()
    near = np.array([p40.features[j, k[j] - 1 : k[j] + 2].sum() for j in range(len(k))])
    assert near.min() > 0.6


def test_fs_w_a_5_on_real_wrist_axes(nox):
    rec = Recording("nox", {"acc_x": nox["X Axis"], "acc_y": nox["Y Axis"], "acc_z": nox["Z Axis"]},
                    meta={"start_time": "01:36:50"})  # the EDF header's start time
    frames = FS_W_A_5(sampling_rate=0.2, frame_size=6).compute(rec)
    assert frames.mask.all() and frames.features.shape == (4, 5)
    x, y, z = (nox[k].data.astype(np.float64).reshape(-1, 100) for k in ("X Axis", "Y Axis", "Z Axis"))  # 5-s epochs at 20 Hz
    angle = np.degrees(np.arctan(z / np.sqrt(x * x + y * y))).mean(axis=1).reshape(4, 6)
    np.testing.assert_allclose(col(frames, "anglez_mean"), angle.mean(axis=1), atol=1e-4)
    np.testing.assert_allclose(col(frames, "anglez_std"), angle.std(axis=1), atol=1e-4)
    enmo = np.maximum(np.sqrt(x * x + y * y + z * z) - 1, 0).mean(axis=1).reshape(4, 6)
    np.testing.assert_allclose(col(frames, "enmo_mean"), enmo.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(col(frames, "tod_cos"), np.cos(2 * np.pi * (5810 + np.array([15, 45, 75, 105])) / 86400), atol=1e-6)


def test_fs_h_e_10_on_real_eeg_eog(nox):
    rec = Recording("nox", {"eeg": nox["C4-M1"], "eog": nox["E1-M2"]})
    frames = FS_H_E_10(sampling_rate=200, frame_size=6000).compute(rec)
    assert frames.mask.all()
    np.testing.assert_allclose(frames.features[:, :5].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(frames.features[:, 5:].sum(axis=1), 1.0, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# Apnea-ECG: FS-RR-12 from machine beat annotations


@pytest.fixture(scope="module")
def apnea_ds() -> ApneaEcgDataset:
    if not (APNEA / "a03.qrs").is_file():
        pytest.skip(f"Apnea-ECG records not available ({APNEA})")
    return ApneaEcgDataset(path=APNEA)


def test_apnea_ecg_person_groups(apnea_ds):
    groups = apnea_ds.subject_groups()
    assert len(groups) == 35 and len(set(groups.values())) == 24
    assert groups["c05"] == groups["c06"] == "c05+c06"  # one ECG, shifted 80 s
    assert groups["a05"] == groups["a10"] == groups["a20"] == "a05+a10+a20"
    assert groups["b04"] == groups["c08"] == "b04+c08"
    assert groups["a02"] == "a02" and groups["c01"] == "c01"
    assert apnea_ds.load("a14").meta["group"] == "a01+a14"


def test_fs_rr_12_separates_apnea_minutes_within_real_nights(apnea_ds):
    fset = FS_RR_12(sampling_rate=100, frame_size=6000)
    for record, min_auc in (("a03", 0.9), ("a11", 0.7)):  # nights with both kinds of minute
        rec = apnea_ds.load(record)
        frames = fset.compute(rec)
        y = frames.labels["apnea"]
        apn = rec.labels["apnea"].values
        assert (y == apn[: len(y)]).all()  # 60-s frames on the label minutes
        ok = frames.mask.astype(bool) & (y >= 0)
        assert ok.mean() > 0.95
        rr = col(frames, "rr_mean")[ok]
        assert 600 < np.median(rr) < 1300  # 46–100 bpm
        apnea = y[ok] == 2
        assert auc(col(frames, "vlf_log")[ok], apnea) > min_auc
        assert auc(col(frames, "cvhr_acf")[ok], apnea) > 0.6
        assert auc(col(frames, "rr_sd")[ok], apnea) > 0.7


def test_fs_rr_12_same_ecg_c05_c06_gives_same_features(apnea_ds):
    fset = FS_RR_12(sampling_rate=100, frame_size=6000, hop_seconds=20)
    c05, c06 = fset.compute(apnea_ds.load("c05")), fset.compute(apnea_ds.load("c06"))
    # c06's beats are c05's 80 s later: c06 frame j + 4 (hop 20 s) holds the beats of c05 frame j
    n = min(len(c05.mask), len(c06.mask) - 4)
    for name in ("rr_mean", "rmssd", "hr_range"):
        same = np.abs(col(c05, name)[:n] - col(c06, name)[4 : 4 + n]) < 0.5
        assert same.mean() > 0.99

"""YSYW (PhysioNet/CinC 2018) reader on the real label files of record tr03-0005 and on a small
record written here with wfdb (signals, .arousal annotations) and h5py (-arousal.mat, MATLAB v7.3
layout) carrying the same quirks: 'undefined' epochs, arousal -1 = not scored, one-hot vectors that
switch one sample before the 30-s boundary, an unpaired event marker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.ysyw import YsywDataset, read_arousal_mat
from sleepkit.errors import SleepkitError
from sleepkit.labels import UNSCORED, ApneaEvent
from sleepkit.registry import DatasetFactory

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ysyw"
FS = 200


@pytest.fixture
def real_root() -> Path:
    if not (DATA / "tr03-0005.hea").exists():
        pytest.skip("real YSYW label files not available")
    return DATA


def test_real_record_labels(real_root):
    ds = DatasetFactory.get("ysyw")(path=str(real_root), signals=[])
    assert ds.subject_ids() == ["tr03-0005"]
    rec = ds.load("tr03-0005")
    stage, arousal, apnea = rec.labels["stage"], rec.labels["arousal"], rec.labels["apnea"]
    assert len(stage.values) == 858  # 5,147,000 samples / 200 Hz / 30 s, last epoch partial
    codes, counts = np.unique(stage.values, return_counts=True)
    assert dict(zip(codes.tolist(), counts.tolist())) == {-1: 12, 0: 368, 1: 58, 2: 267, 3: 72, 5: 81}
    # per-sample vectors: undefined covers the first 72,000 samples = 12 epochs
    arousals, stages = read_arousal_mat(real_root / "tr03-0005-arousal.mat")
    assert int(stages["undefined"].sum()) == 72000
    assert len(arousal.values) == 25735 and arousal.fs == 1.0
    mid = (np.arange(25735) * FS + FS // 2)
    assert (arousal.values == arousals[mid]).all()
    assert int((arousal.values == 1).sum()) == 929
    # apnea from the paired resp markers: 20 central + 9 obstructive apneas, 14 hypopneas
    assert int((apnea.values == ApneaEvent.APNEA).sum()) == 550
    assert int((apnea.values == ApneaEvent.HYPOPNEA).sum()) == 395
    assert (apnea.values[:360] == UNSCORED).all()  # the undefined first 6 minutes


def test_real_record_without_signal_file_is_a_clear_error(real_root):
    with pytest.raises(SleepkitError, match=r"tr03-0005.mat missing; pass signals=\[\]"):
        YsywDataset(path=real_root).load("tr03-0005")


def _write_record(root: Path, name: str = "tr99-0001", seconds: int = 300) -> Path:
    import h5py
    import wfdb

    rec_dir = root / "training" / name
    rec_dir.mkdir(parents=True)
    n = seconds * FS
    t = np.arange(n) / FS
    sig = np.stack([20 * np.sin(2 * np.pi * 10 * t), 5 * np.sin(2 * np.pi * 1 * t),
                    95 + np.sin(2 * np.pi * 0.01 * t), 0.5 * np.sin(2 * np.pi * 1.2 * t)], axis=1)
    wfdb.wrsamp(name, fs=FS, units=["uV", "uV", "%", "mV"], sig_name=["C4-M1", "E1-M2", "SaO2", "ECG"],
                p_signal=sig, fmt=["16"] * 4, adc_gain=[100.0, 100.0, 300.0, 1000.0], baseline=[0, 0, -28000, 0],
                write_dir=str(rec_dir))
    # stage changes + paired events (+ one unpaired closing marker, a real-file quirk)
    marks = [(30, "W"), (90, "N2"), (100, "(resp_obstructiveapnea"), (118, "resp_obstructiveapnea)"),
             (150, "R"), (160, "(resp_hypopnea"), (171, "resp_hypopnea)"), (200, "arousal_rera)"),
             (210, "(arousal_rera"), (214, "arousal_rera)"), (240, "N3")]
    wfdb.wrann(name, "arousal", np.array([int(s * FS) for s, _ in marks]), symbol=['"'] * len(marks),
               aux_note=[m for _, m in marks], fs=FS, write_dir=str(rec_dir))
    # -arousal.mat: one-hot stage vectors switching one sample early, arousal -1/0/1 per sample
    onehot = {k: np.zeros((1, n), np.uint8) for k in ("wake", "nonrem1", "nonrem2", "nonrem3", "rem", "undefined")}
    spans = [("undefined", 0, 30), ("wake", 30, 90), ("nonrem2", 90, 150), ("rem", 150, 240), ("nonrem3", 240, 300)]
    for key, a, b in spans:
        onehot[key][0, max(a * FS - 1, 0): b * FS - 1] = 1
    onehot["nonrem3"][0, -1] = 1
    arousal = np.zeros((n, 1))
    arousal[: 30 * FS] = -1
    arousal[210 * FS: 214 * FS] = 1
    with h5py.File(rec_dir / f"{name}-arousal.mat", "w", userblock_size=512) as h5:
        grp = h5.create_group("data")
        grp.create_dataset("arousals", data=arousal, compression="gzip")
        st = grp.create_group("sleep_stages")
        for key, v in onehot.items():
            st.create_dataset(key, data=v, compression="gzip")
    return rec_dir


def test_written_record_signals_and_labels(tmp_path):
    _write_record(tmp_path)
    ds = YsywDataset(path=tmp_path)
    assert ds.subject_ids() == ["tr99-0001"]
    rec = ds.load("tr99-0001")
    assert set(rec.signals) == {"eeg", "eog", "spo2", "ecg"}
    assert rec.signals["eeg"].fs == FS and len(rec.signals["eeg"].data) == 300 * FS
    assert rec.signals["spo2"].unit == "%" and 93.9 < float(rec.signals["spo2"].data.mean()) < 96.1
    assert abs(float(rec.signals["eeg"].data.max()) - 20) < 0.05
    assert rec.labels["stage"].values.tolist() == [-1, 0, 0, 2, 2, 5, 5, 5, 3, 3]
    apnea = rec.labels["apnea"].values
    assert np.flatnonzero(apnea == ApneaEvent.APNEA).tolist() == list(range(100, 118))
    assert np.flatnonzero(apnea == ApneaEvent.HYPOPNEA).tolist() == list(range(160, 171))
    assert (apnea[:30] == UNSCORED).all()
    arousal = rec.labels["arousal"].values
    assert np.flatnonzero(arousal == 1).tolist() == [210, 211, 212, 213] and (arousal[:30] == -1).all()
    only = YsywDataset(path=tmp_path, signals=["ecg"]).load("tr99-0001")
    assert set(only.signals) == {"ecg"} and only.signals["ecg"].unit == "mV"
    with pytest.raises(SleepkitError, match=r"no channel for signal role 'resp'.*C4-M1"):
        YsywDataset(path=tmp_path, signals=["resp"]).load("tr99-0001")

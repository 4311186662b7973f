"""`sleepkit feature` end to end on every dataset layout: MESA (EDF + NSRR XML), STAGES (EDF + CSV),
YSYW (WFDB), CMIDSS (parquet + events CSV) written here with physiological test signals, the real
Apnea-ECG records in ../shared/data, and the synthetic dataset. The labels in the HDF5 store must match
the annotations epoch for epoch (expected values derived by hand from the files written here)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.synthetic import SyntheticDataset
from sleepkit.features.store import read_subject
from sleepkit.modes import feature as feature_mode
from sleepkit.params import load_params
from test_datasets_nsrr import write_nsrr_xml
from test_feature_sets import ecg_wave

APNEA_ECG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "apnea-ecg"


def run_feature(tmp_path: Path, dataset: str, ds_params: dict, feature: dict) -> dict:
    cfg = {
        "job_dir": str(tmp_path / "job"),
        "datasets": [{"name": dataset, "params": ds_params}],
        "feature": {"save_path": str(tmp_path / "store"), **feature},
        "num_workers": 1,
        "verbose": 0,
    }
    summary = feature_mode.run(load_params(cfg), None)
    assert summary["subjects_failed"] == 0
    return summary


def stored(tmp_path: Path, feature: str, dataset: str, subject: str, key: str = "stage"):
    return read_subject(tmp_path / "store" / feature / dataset / f"{subject}.h5", label_key=key)


def labels_of(path: Path, key: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as h5:
        return h5[key][...]


def rr_beats(seconds: float) -> np.ndarray:
    t, out = 0.45, []
    while t < seconds + 1:
        out.append(t)
        t += 0.95 + 0.05 * np.sin(2 * np.pi * 0.25 * t)
    return np.array(out)


def write_edf(path: Path, channels: dict[str, tuple[float, np.ndarray]], start: datetime) -> Path:
    """EDF+ with every channel at its own rate (physical range from the data)."""
    from pyedflib import highlevel

    headers, data = [], []
    for label, (fs, x) in channels.items():
        lo, hi = float(np.min(x)), float(np.max(x))
        pad = 0.05 * (hi - lo) + 1e-3
        h = highlevel.make_signal_header(label, physical_min=lo - pad, physical_max=hi + pad, sample_frequency=fs)
        headers.append(h)
        data.append(np.asarray(x, dtype=np.float64))
    path.parent.mkdir(parents=True, exist_ok=True)
    highlevel.write_edf(str(path), data, headers, highlevel.make_header(startdate=start))
    return path


def eeg_like(seconds: int, fs: float, stages: list[int], seed: int) -> np.ndarray:
    """Noise plus a 10-Hz alpha rhythm in wake epochs and 1.5-Hz delta waves in N3 epochs (30-s epochs)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    stage = np.asarray(stages)[np.minimum((t // 30).astype(int), len(stages) - 1)]
    return (5 * rng.standard_normal(len(t)) + np.where(stage == 0, 30, 0) * np.sin(2 * np.pi * 10 * t)
            + np.where(stage == 3, 60, 0) * np.sin(2 * np.pi * 1.5 * t))


# ---------------------------------------------------------------------------------------------------
# MESA: EDF + NSRR XML → FS-C-EAR-9 (ECG, movement from the airflow channel)


def test_mesa_layout_fs_c_ear_9(tmp_path):
    root = tmp_path / "mesa"
    seconds = 300
    t32 = np.arange(seconds * 32) / 32
    flow = np.sin(2 * np.pi * 0.25 * t32) + np.where((t32 > 200) & (t32 < 210), 0.5 * np.sin(2 * np.pi * 3 * t32), 0)
    write_edf(root / "polysomnography/edfs/mesa-sleep-0001.edf",
              {"EKG": (256, ecg_wave(rr_beats(seconds), seconds, 256)), "Flow": (32, flow)}, datetime(2011, 3, 4, 22))
    write_nsrr_xml(root / "polysomnography/annotations-events-nsrr/mesa-sleep-0001-nsrr.xml")
    summary = run_feature(tmp_path, "mesa", {"path": str(root)},
                          {"name": "FS-C-EAR-9", "sampling_rate": 200, "frame_size": 6000})
    assert summary["subjects_written"] == 1 and summary["frames"] == 10
    sub = stored(tmp_path, "FS-C-EAR-9", "mesa", "mesa-sleep-0001")
    # the XML's stages per 30-s epoch: Wake (60 s), N2, stage 4, REM, Unscored, N3, N1, N2 (past the EDF end)
    assert sub.labels.tolist() == [0, 0, 2, 4, 5, -1, 3, 1, 2, 2]
    # obstructive apnea 70.5–92.5 s: 19.5 s in frame [60, 90); the 6-s hypopnea is under 10 s; the
    # central apnea lies in the unscored epoch. Arousal 92–97 s: 5 s in frame [90, 120).
    assert labels_of(sub.path, "apnea").tolist() == [0, 0, 2, 0, 0, -1, 0, 0, 0, 0]
    assert labels_of(sub.path, "arousal").tolist() == [0, 0, 0, 1, 0, -1, 0, 0, 0, 0]
    assert sub.mask.all()
    hr = 60000 / sub.features[:, 0]
    np.testing.assert_allclose(hr, 60 / 0.95, atol=0.5)
    mov = sub.features[:, sub.feature_names.index("mov_mu")]
    assert mov[6] > 10 * np.delete(mov, 6).max()  # the 3-Hz burst at 200–210 s


# ---------------------------------------------------------------------------------------------------
# STAGES: EDF + CSV → FS-H-E-10 (EEG and EOG)

STAGES_CSV = """Start Time,Duration (seconds),Event
23:58:00,30,Wake
23:58:30,30,Stage1
23:59:00,60,Stage2
00:00:00,30,Stage3
00:00:10,15,ObstructiveApnea
00:00:30,30,REM
00:01:00,30,UnknownStage
00:01:30,30,Wake
"""
STAGES_EPOCHS = [0, 1, 2, 2, 3, 5, -1, 0]


def test_stages_layout_fs_h_e_10(tmp_path):
    site = tmp_path / "stages" / "original" / "STAGES PSGs" / "BOGN"
    seconds = 240
    write_edf(site / "BOGN00004.edf",
              {"C4-M1": (200, eeg_like(seconds, 200, STAGES_EPOCHS, 1)), "E1-M2": (200, eeg_like(seconds, 200, STAGES_EPOCHS, 2))},
              datetime(2020, 2, 1, 23, 58, 0))
    (site / "BOGN00004.csv").write_text(STAGES_CSV)
    run_feature(tmp_path, "stages", {"path": str(tmp_path / "stages")},
                {"name": "FS-H-E-10", "sampling_rate": 200, "frame_size": 6000})
    sub = stored(tmp_path, "FS-H-E-10", "stages", "BOGN00004")
    assert sub.labels.tolist() == STAGES_EPOCHS
    # apnea 00:00:10–00:00:25 = 130–145 s: 15 s inside frame [120, 150)
    assert labels_of(sub.path, "apnea").tolist() == [0, 0, 0, 0, 2, 0, -1, 0]
    assert sub.feature_names[:5] == ["eeg_delta", "eeg_theta", "eeg_alpha", "eeg_beta", "eeg_gamma"]
    alpha, delta = sub.features[:, 2], sub.features[:, 0]
    wake, n3 = np.array(STAGES_EPOCHS) == 0, np.array(STAGES_EPOCHS) == 3
    assert alpha[wake].min() > 0.5 > alpha[~wake].max()
    assert delta[n3].min() > 0.5 and (delta[n3].min() > delta[~n3]).all()


# ---------------------------------------------------------------------------------------------------
# YSYW: WFDB record + stage/event annotations → FS-C-EAR-9


def write_ysyw_record(root: Path, name: str, seconds: int) -> None:
    import wfdb

    fs = 200
    rec_dir = root / "training" / name
    rec_dir.mkdir(parents=True)
    t = np.arange(seconds * fs) / fs
    sig = np.stack([ecg_wave(rr_beats(seconds), seconds, fs), np.sin(2 * np.pi * 0.25 * t),
                    eeg_like(seconds, fs, [0] * 10, 3)], axis=1)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV", "uV"], sig_name=["ECG", "AIRFLOW", "C4-M1"], p_signal=sig,
                fmt=["16"] * 3, adc_gain=[2000.0, 2000.0, 100.0], baseline=[0, 0, 0], write_dir=str(rec_dir))
    # (wfdb's reader drops a note annotation at sample 0, and real records start later: begin at 30 s)
    marks = [(30, "W"), (60, "N2"), (100, "(resp_obstructiveapnea"), (118, "resp_obstructiveapnea)"), (120, "R"),
             (180, "N3"), (240, "N1")]
    wfdb.wrann(name, "arousal", np.array([s * fs for s, _ in marks]), symbol=['"'] * len(marks),
               aux_note=[m for _, m in marks], fs=fs, write_dir=str(rec_dir))


def test_ysyw_layout_fs_c_ear_9(tmp_path):
    write_ysyw_record(tmp_path / "ysyw", "tr99-0002", 300)
    run_feature(tmp_path, "ysyw", {"path": str(tmp_path / "ysyw")},
                {"name": "FS-C-EAR-9", "sampling_rate": 200, "frame_size": 6000})
    sub = stored(tmp_path, "FS-C-EAR-9", "ysyw", "tr99-0002")
    assert sub.labels.tolist() == [-1, 0, 2, 2, 5, 5, 3, 3, 1, 1]  # nothing scored before 30 s
    assert labels_of(sub.path, "apnea").tolist() == [-1, 0, 0, 2, 0, 0, 0, 0, 0, 0]  # 100–118 s
    assert sub.mask.all()
    np.testing.assert_allclose(60000 / sub.features[:, 0], 60 / 0.95, atol=0.5)
    np.testing.assert_allclose(sub.features[:, sub.feature_names.index("rsp_bpm")], 15.0, atol=1.0)


# ---------------------------------------------------------------------------------------------------
# CMIDSS: parquet + events → FS-W-A-5 on the precomputed anglez/enmo


def test_cmidss_layout_fs_w_a_5(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "cmidss"
    root.mkdir()
    n = 17280  # one day of 5-s steps from 20:00
    steps = np.arange(n)
    start = np.datetime64("2018-08-14T20:00:00")
    stamps = np.char.add(np.datetime_as_string(start + 5 * steps.astype("timedelta64[s]"), unit="s"), "-0400").tolist()
    asleep = (steps >= 1440) & (steps < 7920)  # 22:00 to 07:00
    rng = np.random.default_rng(0)
    anglez = np.where(asleep, -10 + rng.normal(0, 1, n), 30 * np.sin(steps / 20.0) + rng.normal(0, 5, n))
    enmo = np.where(asleep, 0.001, 0.05 + 0.02 * rng.random(n))
    pq.write_table(pa.table({"series_id": ["s01"] * n, "step": steps.astype(np.uint32), "timestamp": stamps,
                             "anglez": anglez.astype(np.float32), "enmo": enmo.astype(np.float32)}),
                   root / "train_series.parquet")
    (root / "train_events.csv").write_text(
        "series_id,night,event,step,timestamp\n"
        "s01,1,onset,1440,2018-08-14T22:00:00-0400\ns01,1,wakeup,7920,2018-08-15T07:00:00-0400\n"
    )
    run_feature(tmp_path, "cmidss", {"path": str(root)},
                {"name": "FS-W-A-5", "sampling_rate": 0.2, "frame_size": 6, "params": {"hop_seconds": 30}})
    sub = stored(tmp_path, "FS-W-A-5", "cmidss", "s01", key="sleep")
    assert len(sub.labels) == n // 6
    first = 6 * np.arange(n // 6)  # first step of each 30-s frame (frames never straddle an event here)
    expected = np.where(first < 1440, 0, np.where(first < 7920, 1, np.where(first < 11520, 0, -1)))  # noon: unscored
    np.testing.assert_array_equal(sub.labels, expected)
    clock = (20 * 3600 + 30 * np.arange(n // 6) + 15) % 86400
    np.testing.assert_allclose(sub.features[:, 0], np.cos(2 * np.pi * clock / 86400), atol=1e-5)
    enmo_mean = sub.features[:, 1]
    assert enmo_mean[expected == 1].max() < 0.002 < 0.04 < enmo_mean[expected != 1].min()
    assert sub.mask.all()


# ---------------------------------------------------------------------------------------------------
# Apnea-ECG (real) → FS-RR-12; synthetic → FS-W-A-5


def test_apnea_ecg_records_fs_rr_12(tmp_path):
    if not (APNEA_ECG / "a03.qrs").is_file():
        pytest.skip(f"Apnea-ECG records not available ({APNEA_ECG})")
    import wfdb

    records = ["a03", "c07"]
    summary = run_feature(tmp_path, "apnea-ecg", {"path": str(APNEA_ECG), "subjects": records},
                          {"name": "FS-RR-12", "sampling_rate": 100, "frame_size": 6000})
    assert summary["subjects_written"] == 2
    for rec in records:
        sub = stored(tmp_path, "FS-RR-12", "apnea-ecg", rec, key="apnea")
        ann = wfdb.rdann(str(APNEA_ECG / rec), "apn")
        minutes = (np.asarray(ann.sample) // 6000).tolist()
        assert minutes == list(range(len(minutes)))  # one label per minute, in order
        by_hand = np.array([2 if s == "A" else 0 for s in ann.symbol])
        n = len(sub.labels)  # whole minutes of signal
        np.testing.assert_array_equal(sub.labels, np.concatenate([by_hand, np.full(max(0, n - len(by_hand)), -1)])[:n])
        assert sub.mask.mean() > 0.95


def test_synthetic_fs_w_a_5(tmp_path):
    params = {"num_subjects": 2, "hours": 0.5, "seed": 3}
    run_feature(tmp_path, "synthetic", params,
                {"name": "FS-W-A-5", "sampling_rate": 0.2, "frame_size": 6, "params": {"start_time": "22:30"}})
    ds = SyntheticDataset(**params)
    for sid in ds.subject_ids():
        sub = stored(tmp_path, "FS-W-A-5", "synthetic", sid)
        hyp = ds.load(sid).labels["stage"].values
        np.testing.assert_array_equal(sub.labels, hyp[: len(sub.labels)])  # 30-s frames on 30-s epochs
        assert len(sub.labels) == 60
        enmo = sub.features[:, 1]
        wake, deep = sub.labels == 0, np.isin(sub.labels, (2, 3, 4))
        assert enmo[wake].mean() > 2 * enmo[deep].mean()  # wake moves more than N2/N3

"""Walch per-epoch feature tables → the HDF5 feature store through `sleepkit feature` (dataset 'walch',
feature set 'WALCH-5' / generic 'table'). Real files: ../shared/data/walch (PhysioNet sleep-accel, Open
Data Commons Attribution 1.0); broken copies are written to tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepkit.cli import main
from sleepkit.datasets.walch import COLUMNS, WalchDataset
from sleepkit.errors import SleepkitError
from sleepkit.features.store import read_subject
from sleepkit.features.table_import import WALCH_5, TableFeatureSet
from sleepkit.modes import feature as feature_mode
from sleepkit.params import load_params
from sleepkit.registry import DatasetFactory, FeatureFactory

WALCH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "walch"
SHORT = "7749105"  # the subject with only 118 epochs


@pytest.fixture(scope="module")
def walch() -> Path:
    if not (WALCH / f"{SHORT}_psg_labels.out").is_file():
        pytest.skip(f"Walch feature tables not available ({WALCH})")
    return WALCH


def config(tmp_path: Path, path: Path, subjects=None, feature: str = "WALCH-5", **feature_over) -> dict:
    params = {"path": str(path)}
    if subjects is not None:
        params["subjects"] = subjects
    return {
        "job_dir": str(tmp_path / "job"),
        "datasets": [{"name": "walch", "params": params}],
        "feature": {"name": feature, "sampling_rate": 1, "frame_size": 30, "save_path": str(tmp_path / "store"), **feature_over},
        "num_workers": 1,
        "verbose": 0,
    }


def copy_subject(src: Path, dest: Path, sid: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob(f"{sid}_*.out"):
        shutil.copy(f, dest / f.name)
    return dest


def test_cli_imports_walch_tables_unchanged(tmp_path, walch):
    subjects = [SHORT, "1066528"]
    with pytest.raises(SystemExit) as done:
        main(["feature", "--config", json.dumps(config(tmp_path, walch, subjects))])
    assert done.value.code in (0, None)
    store = tmp_path / "store" / "WALCH-5" / "walch"
    assert sorted(p.name for p in store.glob("*.h5")) == ["1066528.h5", f"{SHORT}.h5"]
    for sid in subjects:
        sub = read_subject(store / f"{sid}.h5", label_key="stage")
        files = np.stack([np.loadtxt(walch / f"{sid}_{c}_feature.out") for c in COLUMNS], axis=1)
        labels = np.loadtxt(walch / f"{sid}_psg_labels.out").astype(np.int32)
        assert sub.feature_names == ["count", "hr", "cosine", "time", "circadian"]
        np.testing.assert_array_equal(sub.features, files.astype(np.float32))
        np.testing.assert_array_equal(sub.labels, labels)  # epoch for epoch (Walch codes = base codes)
        np.testing.assert_allclose(sub.times, 15.0 + 30.0 * np.arange(len(labels)))
        assert sub.mask.all()
    assert len(read_subject(store / f"{SHORT}.h5").labels) == 118
    with h5py.File(store / f"{SHORT}.h5", "r") as h5:
        assert h5.attrs["frame_seconds"] == 30.0 and h5.attrs["hop_seconds"] == 30.0
        assert h5.attrs["feature_set"] == "WALCH-5" and h5.attrs["dataset"] == "walch"


def test_all_21_subjects_and_stage_counts(walch):
    ds = DatasetFactory.get("walch")(path=str(walch))
    ids = ds.subject_ids()
    assert len(ids) == 21 and SHORT in ids
    fset = FeatureFactory.get("WALCH-5")(sampling_rate=1, frame_size=30)
    counts = np.zeros(7, dtype=int)
    for sid in ids:
        frames = fset.compute(ds.load(sid))
        counts += np.bincount(frames.labels["stage"], minlength=7)
    assert counts.sum() == 16036 and counts[[0, 1, 2, 3, 5]].tolist() == [1531, 1032, 7933, 2340, 3200]


def test_generic_table_columns_and_stage_4(tmp_path, walch):
    folder = copy_subject(walch, tmp_path / "w", SHORT)
    labels = folder / f"{SHORT}_psg_labels.out"
    lines = labels.read_text().splitlines()
    lines[5] = "4.000000"  # an R&K stage-4 epoch
    labels.write_text("\n".join(lines) + "\n")
    cfg = config(tmp_path, folder, feature="table", params={"columns": ["hr", "count"]})
    summary = feature_mode.run(load_params(cfg), None)
    assert summary["subjects_written"] == 1
    sub = read_subject(tmp_path / "store" / "table" / "walch" / f"{SHORT}.h5")
    assert sub.feature_names == ["hr", "count"]
    np.testing.assert_array_equal(sub.features[:, 0], np.loadtxt(walch / f"{SHORT}_hr_feature.out").astype(np.float32))
    assert sub.labels[5] == 4  # kept as SleepStage.N4; every stage class_map merges it with N3
    with pytest.raises(SleepkitError, match="columns must list"):
        TableFeatureSet(sampling_rate=1, frame_size=30)
    with pytest.raises(SleepkitError, match="unknown parameter.*columns"):
        WALCH_5(sampling_rate=1, frame_size=30, columns=["hr"])


def test_frame_must_describe_one_row(walch):
    rec = WalchDataset(path=walch).load(SHORT)
    with pytest.raises(SleepkitError, match=r"one row per 30 s but frame_size / sampling_rate is 5 s.*frame_size 30"):
        WALCH_5(sampling_rate=250, frame_size=1250).compute(rec)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / f"{SHORT}_hr_feature.out").write_text("0.1\n0.2\n"), r"_hr_feature.out: 2 lines but .*has 118"),
        (lambda d: (d / f"{SHORT}_count_feature.out").write_text("0.0\nn/a\n"), r"_count_feature.out: line 2 is 'n/a'"),
        (lambda d: (d / f"{SHORT}_psg_labels.out").write_text("0\n7\n"), r"_psg_labels.out: line 2 holds stage 7"),
        (lambda d: (d / f"{SHORT}_circadian_feature.out").unlink(), r"has no 7749105_circadian_feature.out"),
    ],
)
def test_broken_tables_name_file_and_line(tmp_path, walch, breakage, message):
    folder = copy_subject(walch, tmp_path / "w", SHORT)
    breakage(folder)
    with pytest.raises(SleepkitError, match=message):
        WalchDataset(path=folder).load(SHORT)
    with pytest.raises(SleepkitError, match="no '<id>_psg_labels.out' files"):
        WalchDataset(path=tmp_path).subject_ids()

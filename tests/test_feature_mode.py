"""The feature mode: HDF5 store, resume, force, parallel workers, failures and config errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sleepkit.cli import main
from sleepkit.datasets.synthetic import SyntheticDataset
from sleepkit.errors import SleepkitError
from sleepkit.features.store import list_subject_files, read_subject
from sleepkit.modes import feature as feature_mode
from sleepkit.params import load_params
from sleepkit.registry import DatasetFactory


def config(tmp_path, **over) -> dict:
    cfg = {
        "job_dir": str(tmp_path / "job"),
        "datasets": [{"name": "synthetic", "params": {"num_subjects": 2, "hours": 0.25, "seed": 1}}],
        "feature": {"name": "FS-W-PA-14", "sampling_rate": 64, "frame_size": 3840, "save_path": str(tmp_path / "store")},
        "num_workers": 1,
        "verbose": 0,
    }
    cfg.update(over)
    return cfg


def store(tmp_path, dataset="synthetic"):
    return tmp_path / "store" / "FS-W-PA-14" / dataset


class FlakyDataset(SyntheticDataset):
    """Synthetic nights where one subject's file is broken and another hits a bug."""

    name = "flaky"

    def load(self, subject_id):
        if subject_id == "syn-001":
            raise SleepkitError("syn-001.edf: header field 'number of signals' is not a number")
        if subject_id == "syn-002":
            raise ZeroDivisionError("division by zero")
        return super().load(subject_id)


@pytest.fixture
def flaky():
    DatasetFactory.register("flaky", FlakyDataset, replace=True)
    yield
    DatasetFactory.unregister("flaky")


def test_writes_store_then_resumes(tmp_path):
    params = load_params(config(tmp_path))
    summary = feature_mode.run(params, None)
    files = list_subject_files(store(tmp_path))
    assert [f.name for f in files] == ["syn-000.h5", "syn-001.h5"]
    assert summary["subjects_written"] == 2 and summary["subjects_skipped"] == 0 and summary["subjects_failed"] == 0
    assert summary["frames"] == 2 * ((15 * 60 - 60) // 30 + 1)
    assert summary["hours"] == pytest.approx(0.5)
    assert summary["masked_frames"] == sum(summary["masked_by_reason"].values())

    sub = read_subject(files[0], label_key="stage")
    assert sub.features.shape == (29, 14) and sub.feature_names[0] == "hr_bpm"
    assert np.isfinite(sub.features).all()
    np.testing.assert_allclose(sub.times[:2], [30.0, 60.0])
    with h5py.File(files[0], "r") as h5:
        assert set(h5.keys()) == {"features", "mask", "times", "stage", "apnea"}
        attrs = dict(h5.attrs)
    assert attrs["dataset"] == "synthetic" and attrs["feature_set"] == "FS-W-PA-14"
    assert attrs["sampling_rate"] == 64.0 and attrs["frame_size"] == 3840 and attrs["hop_seconds"] == 30.0
    assert attrs["version"] and attrs["subject"] == "syn-000"

    mtime = files[0].stat().st_mtime_ns
    again = feature_mode.run(params, None)
    assert again["subjects_written"] == 0 and again["subjects_skipped"] == 2
    assert files[0].stat().st_mtime_ns == mtime

    # More subjects: only the new one is computed.
    more = load_params(config(tmp_path, datasets=[{"name": "synthetic", "params": {"num_subjects": 3, "hours": 0.25, "seed": 1}}]))
    assert feature_mode.run(more, None)["subjects_written"] == 1

    # force recomputes; a changed configuration (hop) recomputes too.
    forced = config(tmp_path)
    forced["feature"]["params"] = {"force": True}
    assert feature_mode.run(load_params(forced), None)["subjects_written"] == 2
    hop = config(tmp_path)
    hop["feature"]["params"] = {"hop_seconds": 60}
    res = feature_mode.run(load_params(hop), None)
    assert res["subjects_written"] == 2 and res["subjects_recomputed_stale"] == 2 and res["subjects_skipped"] == 0
    assert read_subject(files[0]).features.shape[0] == 15
    # Spelling out a default is the same configuration.
    explicit = config(tmp_path)
    explicit["feature"]["params"] = {"hop_seconds": 60.0, "min_quality": 0.5}
    assert feature_mode.run(load_params(explicit), None)["subjects_skipped"] == 2


def test_parallel_workers_match_in_process(tmp_path):
    feature_mode.run(load_params(config(tmp_path / "a")), None)
    summary = feature_mode.run(load_params(config(tmp_path / "b", num_workers=2)), None)
    assert summary["subjects_written"] == 2
    for name in ("syn-000.h5", "syn-001.h5"):
        a = read_subject(store(tmp_path / "a") / name)
        b = read_subject(store(tmp_path / "b") / name)
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_failing_subjects_are_reported_and_others_written(tmp_path, flaky):
    cfg = config(tmp_path, datasets=[{"name": "flaky", "params": {"num_subjects": 4, "hours": 0.25}}])
    with pytest.raises(SleepkitError) as err:
        feature_mode.run(load_params(cfg), None)
    msg = str(err.value)
    assert "failed for 2 of 4" in msg and "written 2" in msg
    assert "flaky/syn-001: syn-001.edf: header field" in msg
    assert "flaky/syn-002: ZeroDivisionError" in msg
    out = store(tmp_path, "flaky")
    assert sorted(p.name for p in out.iterdir()) == ["syn-000.h5", "syn-003.h5"]  # no partial or temp files


def test_cli_exits_non_zero_on_failures(tmp_path, flaky):
    cfg = config(tmp_path, datasets=[{"name": "flaky", "params": {"num_subjects": 2, "hours": 0.1}}])
    with pytest.raises(SystemExit) as exc:
        main(["feature", "--task", "stage", "--config", json.dumps(cfg)])
    assert exc.value.code == 2
    assert (store(tmp_path, "flaky") / "syn-000.h5").exists()


def test_frame_longer_than_night_fails_per_subject(tmp_path):
    cfg = config(tmp_path, datasets=[{"name": "synthetic", "params": {"num_subjects": 1, "hours": 0.1}}])
    cfg["feature"]["frame_size"] = 64 * 600
    with pytest.raises(SleepkitError, match=r"syn-000.*frame of 600 s.*360 s"):
        feature_mode.run(load_params(cfg), None)
    assert not store(tmp_path).exists() or not any(store(tmp_path).iterdir())


@pytest.mark.parametrize(
    "over, pattern",
    [
        ({"datasets": []}, "no datasets configured"),
        ({"datasets": [{"name": "synthetc"}]}, "unknown dataset 'synthetc'.*Did you mean 'synthetic'"),
        ({"datasets": [{"name": "synthetic", "params": {"num_subject": 2}}]}, r"datasets\[0\] 'synthetic'.*num_subject"),
        ({"datasets": [{"name": "synthetic"}, {"name": "synthetic"}]}, "listed more than once"),
        ({"datasets": [{"name": "byod", "params": {"path": "/nonexistent/x.edf", "channels": {"ppg": "P"}}}]}, "does not exist"),
    ],
)
def test_config_errors(tmp_path, over, pattern):
    with pytest.raises(SleepkitError, match=pattern):
        feature_mode.run(load_params(config(tmp_path, **over)), None)


def test_feature_set_errors(tmp_path):
    cfg = config(tmp_path)
    cfg["feature"]["name"] = "FS-W-PA-99"
    with pytest.raises(SleepkitError, match="unknown feature set 'FS-W-PA-99'"):
        feature_mode.run(load_params(cfg), None)
    cfg = config(tmp_path)
    cfg["feature"]["params"] = {"hop": 10}
    with pytest.raises(SleepkitError, match=r"feature.params.*hop"):
        feature_mode.run(load_params(cfg), None)
    cfg["feature"]["params"] = {"force": "yes"}
    with pytest.raises(SleepkitError, match="feature.params.force"):
        feature_mode.run(load_params(cfg), None)

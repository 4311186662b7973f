"""The detect task on CMIDSS-style data: nights written here in the Kaggle layout (5-s anglez/enmo steps
and onset/wakeup events, taken from synthetic nights), features FS-W-A-5 from anglez/enmo, the
``sleep`` label track chosen with feature.label_key, and the classic Cole-Kripke rule on the same
frames."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.synthetic import SyntheticDataset
from sleepkit.features.fs_w_a_5 import FS_W_A_5
from sleepkit.labels import SleepStage
from sleepkit.params import TaskParams
from sleepkit.tasks.detect import DetectTask

STEP = 5  # seconds
START = datetime(2018, 8, 14, 22, 0, 0)


def write_cmidss(root: Path, nights: int, hours: float, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    synthetic = SyntheticDataset(num_subjects=nights, hours=hours, seed=seed)
    fs = FS_W_A_5(sampling_rate=1 / STEP, frame_size=12, start_time="22:00")
    tables, events = [], ["series_id,night,event,step,timestamp"]
    for sid in synthetic.subject_ids():
        rec = synthetic.load(sid)
        enmo, anglez, _ = fs.epoch_signals(rec)
        steps = np.arange(len(enmo), dtype=np.uint32)
        times = np.datetime64(START, "s") + (STEP * steps.astype(np.int64)).astype("timedelta64[s]")
        stamps = np.char.add(np.datetime_as_string(times, unit="s"), "-0400").tolist()
        series = f"{sid.replace('-', '')}ab"
        tables.append(pa.table({"series_id": [series] * len(steps), "step": steps, "timestamp": stamps,
                                "anglez": anglez.astype(np.float32), "enmo": enmo.astype(np.float32)}))
        stage = rec.labels["stage"].values
        asleep = np.flatnonzero((stage != int(SleepStage.WAKE)) & (stage >= 0))
        onset, wakeup = int(asleep[0]) * 30 // STEP, min((int(asleep[-1]) + 1) * 30 // STEP, len(steps) - 1)
        events += [f"{series},1,onset,{onset},{stamps[onset]}", f"{series},1,wakeup,{wakeup},{stamps[wakeup]}"]
    root.mkdir(parents=True)
    pq.write_table(pa.concat_tables(tables), root / "train_series.parquet")
    (root / "train_events.csv").write_text("\n".join(events) + "\n")


@pytest.fixture(scope="module")
def cmidss_run(tmp_path_factory):
    from sleepkit.modes import feature

    tmp = tmp_path_factory.mktemp("cmidss")
    write_cmidss(tmp / "cmidss", nights=5, hours=8.0, seed=4)
    params = TaskParams.model_validate({
        "job_dir": str(tmp / "job"),
        "datasets": [{"name": "cmidss", "params": {"path": str(tmp / "cmidss")}}],
        "feature": {"name": "FS-W-A-5", "sampling_rate": 0.2, "frame_size": 12, "save_path": str(tmp / "store"),
                    "label_key": "sleep", "params": {"hop_seconds": 30}},
        "frame_size": 64, "num_classes": 2, "class_map": {0: 0, 1: 1}, "class_names": ["WAKE", "SLEEP"],
        "train_subjects": 3, "val_subjects": 1, "test_subjects": 1, "samples_per_subject": 8,
        "architecture": {"name": "resnet", "params": {"filters": [8, 8], "dilations": [1, 2], "kernel_size": 3}},
        "epochs": 1, "steps_per_epoch": 4, "batch_size": 8, "val_steps_per_epoch": 2, "class_weights": "balanced",
        "num_workers": 1, "seed": 3, "verbose": 0,
    })
    feature.run(params)
    task = DetectTask()
    task.run("train", params)
    summary = task.run("evaluate", params)
    return params, summary, json.loads((params.job_dir / "metrics.json").read_text())


def test_sleep_track_is_the_label(cmidss_run):
    params, _, m = cmidss_run
    assert m["label_key"] == "sleep" and m["class_names"] == ["WAKE", "SLEEP"]
    support = m["support"]
    assert support["WAKE"] > 0 and support["SLEEP"] > support["WAKE"]  # awake before onset and after wakeup
    sub = m["per_subject"][0]
    assert 0 < sub["sleep_efficiency_true"] < 1 and sub["tst_min_true"] > 60


def test_classic_rule_on_the_same_frames(cmidss_run):
    _, summary, m = cmidss_run
    c = m["classic"]
    assert c["rule"] == "cole_kripke" and c["activity_feature"] == "enmo_mean" and c["epoch_seconds"] == [30.0]
    assert c["frames"] == m["frames"] and c["per_subject"][0]["subject"] == m["per_subject"][0]["subject"]
    assert c["device_scale_fit"]["subjects"] == 3 and c["device_scale_fit"]["kappa"] > 0.3
    # movement separates the wake before onset and after wakeup from the night
    assert c["accuracy"] > 0.8 and c["kappa"] > 0.3
    assert summary["classic_accuracy"] == pytest.approx(c["accuracy"], abs=1e-4)


def test_detect_refuses_a_stage_class_map(cmidss_run):
    from sleepkit.errors import SleepkitError

    params, _, _ = cmidss_run
    bad = params.model_copy(update={"num_classes": 3, "class_map": {0: 0, 1: 1, 2: 2}, "class_names": None})
    with pytest.raises(SleepkitError, match="task 'detect' is wake"):
        DetectTask().run("evaluate", bad)

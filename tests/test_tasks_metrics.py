"""Task metrics against hand-computed values (events, AHI and severity, sleep summaries), each task's
class-map checks and label key, and the registries."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit import data, metrics
from sleepkit.errors import SleepkitError
from sleepkit.features.base import FeatureFrames
from sleepkit.features.store import subject_file, write_subject
from sleepkit.params import TaskParams
from sleepkit.registry import ModelFactory, TaskFactory
from sleepkit.tasks.apnea import ApneaTask
from sleepkit.tasks.arousal import ArousalTask
from sleepkit.tasks.base import SubjectResult
from sleepkit.tasks.detect import DetectTask
from sleepkit.tasks.stage import StageTask


def test_event_runs_and_counting():
    c = np.array([0, 1, 1, 0, 2, 2, 1, 0, 0, 1, -1, 1, 0])
    assert metrics.event_runs(c) == [(1, 3, 1), (4, 7, 2), (9, 10, 1), (11, 12, 1)]  # -1 ends a run
    # 10-s hop: runs of 2, 3, 1 and 1 frames; a 1-frame run lasts 10 s and counts
    assert metrics.count_events(c, 10.0, 10.0) == 4
    assert metrics.count_events(c, 10.0, 20.0) == 2  # only runs of >= 2 frames
    assert metrics.count_events(c, 60.0, 10.0, counting="frames") == 7
    during = np.zeros(len(c), bool)
    during[5] = True
    assert metrics.count_events(c, 10.0, 10.0, during=during) == 1


def test_events_per_hour_and_severity():
    c = np.zeros(360, int)  # one hour of 10-s frames
    for start in range(0, 360, 30):  # 12 events of 20 s
        c[start : start + 2] = 2
    base = np.ones(360, bool)
    base[180:] = False  # half an hour of sleep: events in it count, over 0.5 h
    r = metrics.events_per_hour(c, base, 10.0)
    assert r == {"events": 6, "hours": pytest.approx(0.5), "per_hour": pytest.approx(12.0)}
    assert metrics.events_per_hour(c, np.zeros(360, bool), 10.0)["per_hour"] is None
    assert [metrics.severity(v) for v in (0, 4.99, 5, 14.9, 15, 29.9, 30, 80)] == [
        "normal", "normal", "mild", "mild", "moderate", "moderate", "severe", "severe"]
    assert metrics.severity(None) is None


def test_night_summaries():
    cls = np.array([0, 0, 1, 1, 0, 2, 3, 0, 1, 0])  # 30-s frames, wake = 0
    assert metrics.minutes_per_class(cls, 4, 30.0) == [2.5, 1.5, 0.5, 0.5]
    assert metrics.wake_after_sleep_onset(cls, 30.0, 0) == pytest.approx(1.0)  # frames 4 and 7
    assert metrics.wake_after_sleep_onset(np.zeros(4, int), 30.0, 0) == 0.0
    s = metrics.agreement_summary([10.0, 20.0, 30.0, None], [12.0, 18.0, 36.0, 5.0])
    assert s["subjects"] == 3 and s["mae"] == pytest.approx(10 / 3) and s["bias"] == pytest.approx(2.0)
    assert s["pearson_r"] == pytest.approx(np.corrcoef([10, 20, 30], [12, 18, 36])[0, 1])


def _params(tmp_path, **kw) -> TaskParams:
    base = dict(job_dir=tmp_path / "job", datasets=[{"name": "toy"}], feature={"name": "toyfeat", "save_path": str(tmp_path / "store")},
                num_classes=3, class_map={0: 0, 1: 1, 2: 2}, frame_size=8)
    base.update(kw)
    return TaskParams.model_validate(base)


def test_class_map_checks(tmp_path):
    StageTask().check(_params(tmp_path, num_classes=4, class_map={0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3}))
    with pytest.raises(SleepkitError, match="R&K stage 4"):
        StageTask().check(_params(tmp_path, num_classes=4, class_map={0: 0, 1: 1, 2: 1, 3: 2, 4: 1, 5: 3}))
    with pytest.raises(SleepkitError, match="num_classes must be one of"):
        StageTask().check(_params(tmp_path, num_classes=1, class_map={0: 0}))
    DetectTask().check(_params(tmp_path, num_classes=2, class_map={0: 0, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: -1}))
    with pytest.raises(SleepkitError, match="wake \\(class 0\\) vs sleep"):
        DetectTask().check(_params(tmp_path, num_classes=2, class_map={0: 1, 1: 0}))
    ApneaTask().check(_params(tmp_path))
    ApneaTask().check(_params(tmp_path, num_classes=2, class_map={0: 0, 1: 1, 2: 1}))
    with pytest.raises(SleepkitError, match="class 0 must be 'no event'"):
        ApneaTask().check(_params(tmp_path, num_classes=2, class_map={0: 1, 1: 0, 2: 0}))
    with pytest.raises(SleepkitError, match="counting must be"):
        ApneaTask(counting="minutes")


def test_label_key_defaults_to_the_task_and_follows_feature_label_key(tmp_path):
    p = _params(tmp_path)
    assert [t.label_key_for(p) for t in (StageTask(), DetectTask(), ApneaTask(), ArousalTask())] == ["stage", "stage", "apnea", "arousal"]
    cmidss = _params(tmp_path, feature={"name": "toyfeat", "save_path": str(tmp_path / "store"), "label_key": "sleep"})
    assert DetectTask().label_key_for(cmidss) == "sleep"


def test_registries_list_every_task_and_architecture():
    assert {"stage", "detect", "apnea", "arousal"} <= set(TaskFactory.list())
    assert {"tcn", "unet", "resnet"} <= set(ModelFactory.list())
    assert isinstance(TaskFactory.get("apnea")(), ApneaTask)


def _apnea_subject(tmp_path, with_stage: bool):
    n = 360  # an hour of 10-s frames
    apnea = np.zeros(n, np.int32)
    for start in (10, 40, 70, 100, 250, 300):
        apnea[start : start + 2] = 1
    apnea[300:302] = 2
    apnea[5] = -1
    stage = np.full(n, 2, np.int32)
    stage[:180] = 0  # first half hour awake: events 10, 40, 70, 100 are not in sleep
    labels = {"apnea": apnea, **({"stage": stage} if with_stage else {})}
    frames = FeatureFrames(np.zeros((n, 2), np.float32), np.ones(n, np.uint8), labels, np.arange(n) * 10.0 + 5, ["a", "b"])
    path = write_subject(subject_file(tmp_path / "store", "toyfeat", "toy", "S0"), frames)
    params = _params(tmp_path)
    subject = data.load_subject(data.SubjectRef("toy", "S0", path), params, "apnea")
    pred = np.zeros(n, int)
    pred[250:253] = 1  # one event found, in sleep
    pred[20] = 2  # one false event in wake
    return SubjectResult(subject, np.zeros((n, 3)), pred, subject.valid.copy()), params


def test_ahi_true_vs_predicted_per_hour_of_sleep(tmp_path):
    result, params = _apnea_subject(tmp_path, with_stage=True)
    m = ApneaTask().subject_metrics(result, params)
    # sleep: 180 frames = 0.5 h; true events in sleep: 250, 300 -> AHI 4; predicted: 250 -> 2
    assert m["time_base"] == "sleep" and m["hours"] == pytest.approx(0.5)
    assert (m["events_true"], m["events_pred"]) == (2, 1)
    assert m["ahi_true"] == pytest.approx(4.0) and m["ahi_pred"] == pytest.approx(2.0)
    assert m["severity_true"] == m["severity_pred"] == "normal"
    summary = ApneaTask().summary_metrics([result], [m], params)
    assert summary["ahi"]["mae"] == pytest.approx(2.0) and summary["ahi"]["bias"] == pytest.approx(-2.0)
    assert summary["severity"]["accuracy"] == 1.0 and summary["severity"]["confusion_matrix"][0][0] == 1


def test_ahi_without_stage_labels_is_per_hour_of_recording(tmp_path):
    result, params = _apnea_subject(tmp_path, with_stage=False)
    m = ApneaTask().subject_metrics(result, params)
    # 359 scored frames (frame 5 unscored); 6 true events, 2 predicted
    assert m["time_base"] == "recording" and m["hours"] == pytest.approx(359 * 10 / 3600)
    assert (m["events_true"], m["events_pred"]) == (6, 2)
    per_minute = ApneaTask(counting="frames", sleep_key=None).subject_metrics(result, params)
    assert per_minute["events_true"] == 12 and per_minute["events_pred"] == 4

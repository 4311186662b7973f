"""Every task config in configs/ through feature -> train -> evaluate -> export -> demo, via the CLI with
``--set`` overrides for tiny sizes (few short synthetic nights, tiny models, two short epochs).

The arousal config targets YSYW recordings; the synthetic nights carry no arousal track, so its run
uses synthetic nights and adds an ``arousal`` label array to the feature files itself: the arousal a
respiratory event ends in (the generator's heart-rate surge and movement at each event's end),
framed with the feature sets' event rule. The apnea run also drives the ``evb`` backend against the
simulated device (host TFLM) and requires the same raw int8 outputs as the ``pc`` backend.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepkit.cli import main as cli_main

from test_models import ALLOWED_OPS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TASKS = ("stage", "detect", "apnea", "arousal")
MODES = ("feature", "train", "evaluate", "export", "demo")

PA14_10S = {"name": "FS-W-PA-14", "sampling_rate": 64, "frame_size": 640, "params": {"hop_seconds": 10}}
TINY: dict[str, dict] = {
    "stage": {
        "datasets": [{"name": "synthetic", "params": {"num_subjects": 5, "hours": 2.5, "seed": 7}}],
        "architecture": {"name": "tcn", "params": {"input_filters": 8, "filters": 8, "kernel_size": 3, "dilations": [1, 2], "se_ratio": 4}},
    },
    "detect": {
        "datasets": [{"name": "synthetic", "params": {"num_subjects": 5, "hours": 2.5, "seed": 11}}],
        "architecture": {"name": "resnet", "params": {"filters": [8, 8], "dilations": [1, 2], "kernel_size": 3, "qat_epochs": 1}},
    },
    "apnea": {
        "datasets": [{"name": "synthetic", "params": {"num_subjects": 5, "hours": 1.5, "seed": 23, "ahi_range": [10, 60]}}],
        "architecture": {"name": "unet", "params": {"filters": [8, 12], "kernel_size": 3, "blocks": 1}},
    },
    "arousal": {
        "datasets": [{"name": "synthetic", "params": {"num_subjects": 5, "hours": 1.5, "seed": 31, "ahi_range": [20, 60]}}],
        "feature": PA14_10S,
        "architecture": {"name": "unet", "params": {"filters": [8, 12], "kernel_size": 3, "blocks": 1}},
    },
}
COMMON = {
    "frame_size": 64, "epochs": 2, "steps_per_epoch": 4, "batch_size": 8, "val_steps_per_epoch": 2,
    "samples_per_subject": 8, "train_subjects": 3, "val_subjects": 1, "test_subjects": 1, "num_workers": 1, "demo_size": 150, "test_metric_threshold": 0.8, "verbose": 0,
}


def _overrides(task: str, tmp: Path) -> list[str]:
    values = {**COMMON, **{k: v for k, v in TINY[task].items() if k != "feature"}, "job_dir": str(tmp / "job")}
    sets = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in values.items()]
    feature = TINY[task].get("feature", {})
    for k, v in feature.items():
        sets.append(f"feature.{k}={json.dumps(v) if not isinstance(v, str) else v}")
    sets.append(f"feature.save_path={tmp / 'store'}")
    return sets


def _cli(mode: str, task: str, sets: list[str], *extra: str) -> None:
    args = [mode, "--task", task, "--config", str(CONFIGS / f"{task}.json"), *extra]
    for s in sets:
        args += ["--set", s]
    try:
        cli_main(args)
    except SystemExit as exc:  # typer ends every command with SystemExit
        assert not exc.code, f"sleepkit {mode} --task {task} exited with {exc.code}"


def add_arousal_labels(store: Path, dataset_params: dict, frame_seconds: float) -> None:
    """Per-frame ``arousal`` labels for synthetic nights: 1 during the 8 s after each respiratory
    event ends, -1 where the night is not scoreable (stage NOISE/unscored), 0 elsewhere; a frame is
    an arousal frame when arousals cover >= 3 s of it (the feature sets' rule)."""
    from sleepkit.datasets.base import LabelTrack
    from sleepkit.datasets.synthetic import SyntheticDataset
    from sleepkit.features.framing import FrameGrid, event_labels
    from sleepkit.labels import SleepStage
    from sleepkit.metrics import event_runs

    ds = SyntheticDataset(**dataset_params)
    for path in sorted(store.glob("*.h5")):
        rec = ds.load(path.stem)
        apnea = rec.labels["apnea"]
        n = int(len(apnea.values) / apnea.fs)
        arousal = np.zeros(n, np.int32)
        for _, stop, _ in event_runs(apnea.at(np.arange(n) + 0.5)):
            arousal[stop : stop + 8] = 1
        stage = rec.labels["stage"].at(np.arange(n) + 0.5)
        arousal[(stage < 0) | (stage == int(SleepStage.NOISE))] = -1
        with h5py.File(path, "r+") as h5:
            times = h5["times"][...]
            grid = FrameGrid(frame_seconds, float(np.median(np.diff(times))), times - frame_seconds / 2)
            if "arousal" in h5:
                del h5["arousal"]
            h5.create_dataset("arousal", data=event_labels(LabelTrack(arousal, 1.0), grid, 3.0))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for task in TASKS:
        tmp = tmp_path_factory.mktemp(task)
        sets = _overrides(task, tmp)
        for mode in MODES:
            _cli(mode, task, sets)
            if mode == "feature" and task == "arousal":
                ds = TINY[task]["datasets"][0]["params"]
                add_arousal_labels(tmp / "store" / PA14_10S["name"] / "synthetic", ds, 10.0)
        out[task] = (tmp / "job", sets)
    return out


def _metrics(runs, task) -> dict:
    return json.loads((runs[task][0] / "metrics.json").read_text())


@pytest.mark.parametrize("task", TASKS)
def test_every_mode_leaves_its_artefacts(runs, task):
    job, _ = runs[task]
    for name in ("model.keras", "history.csv", "split.json", "metrics.json", "confusion.png", "confusion_int8.png",
                 "export/model.tflite", "export/model_buffer.h", "export/export.json", "report.html", "demo_outputs.npz"):
        assert (job / name).is_file(), name
    m = _metrics(runs, task)
    assert m["task"] == task and m["frames"] > 0 and len(m["per_class_f1"]) == len(m["class_names"])
    assert -1 <= m["kappa"] <= 1 and 0 <= m["accuracy"] <= 1
    # float vs int8 side by side, the int8 model run on TFLite reference kernels
    assert "int8" in m["comparison"] and 0 <= m["comparison"]["int8"]["accuracy"] <= 1
    assert m["int8"]["class_agreement_with_keras"] > 0.8


@pytest.mark.parametrize("task", TASKS)
def test_export_is_verified_with_engine_ops(runs, task):
    info = json.loads((runs[task][0] / "export" / "export.json").read_text())
    assert info["verified"] is True and info["parity"]["tflite_vs_tflm_max_lsb"] == 0
    assert set(info["ops"]) <= ALLOWED_OPS
    assert info["macs"] > 0 and info["keras_params"] > 0


def test_stage_sleep_metrics(runs):
    m = _metrics(runs, "stage")
    assert m["label_key"] == "stage" and m["class_names"] == ["WAKE", "LIGHT", "DEEP", "REM"]
    sub = m["per_subject"][0]
    assert sub["tst_min_true"] > 0 and 0 < sub["sleep_efficiency_true"] <= 1
    assert sum(sub["minutes_true"].values()) == pytest.approx(sub["frames"] * 0.5)  # 30-s frames
    assert set(m["sleep"]["minutes_per_class"]) == set(m["class_names"])
    assert m["sleep"]["tst_min"]["mae"] == pytest.approx(abs(sub["tst_min_pred"] - sub["tst_min_true"]))


def test_detect_classic_rule_and_qat(runs):
    job, _ = runs["detect"]
    m = _metrics(runs, "detect")
    c = m["classic"]
    assert c["rule"] == "cole_kripke" and c["activity_feature"] == "enmo_mean" and c["epoch_seconds"] == [30.0]
    assert c["coefficients"] == {"P": 0.0001, "weights_t-4..t+2": [50, 30, 14, 28, 121, 8, 50]}
    assert c["device_scale"] > 0 and c["webster_rescoring"] is True
    assert c["frames"] == m["frames"]  # the same frames as the model
    assert c["accuracy"] > 0.5
    # quantisation-aware: float model kept, fake-quant Keras model evaluated, int8 from its ranges
    assert m["quantization_aware"] is True and set(m["comparison"]) == {"float", "keras_qat", "int8"}
    assert (job / "model_float.keras").is_file() and (job / "history_qat.csv").is_file()
    assert json.loads((job / "export" / "export.json").read_text())["quantization_aware"] is True
    assert m["comparison"]["int8"]["accuracy"] == pytest.approx(m["comparison"]["keras_qat"]["accuracy"], abs=0.05)


def test_apnea_ahi_and_severity(runs):
    m = _metrics(runs, "apnea")
    sub = m["per_subject"][0]
    assert sub["time_base"] == "sleep" and sub["hours"] > 0
    assert sub["events_true"] > 0 and sub["ahi_true"] == pytest.approx(sub["events_true"] / sub["hours"])
    assert sub["severity_true"] in ("normal", "mild", "moderate", "severe")
    assert m["ahi"]["subjects"] == len(m["per_subject"]) and len(m["severity"]["confusion_matrix"]) == 4
    html = (runs["apnea"][0] / "report.html").read_text()
    assert "AHI per subject: true vs predicted" in html and "severe ≥ 30" in html and "moderate ≥ 15" in html
    assert "AHI true / predicted (this night)" in html


def test_arousal_index_and_timeline(runs):
    m = _metrics(runs, "arousal")
    assert m["label_key"] == "arousal" and m["class_names"] == ["NONE", "AROUSAL"]
    sub = m["per_subject"][0]
    assert sub["events_true"] > 0 and sub["arousal_index_true"] > 0
    html = (runs["arousal"][0] / "report.html").read_text()
    assert "arousal index events over the night" in html and "arousal index true / predicted" in html


def test_demo_views_per_task(runs):
    figures = {}
    for task in TASKS:
        html = (runs[task][0] / "report.html").read_text()
        assert not re.search(r"<script[^>]*\bsrc=", html)
        figures[task] = html.count('class="plotly-graph-div"')
        assert "Cohen&#x27;s kappa on scored frames" in html or "Cohen's kappa on scored frames" in html
    # stage views: hypnogram, minutes per stage, share, confusion, timing; event views: timeline, bars, timing
    assert figures == {"stage": 5, "detect": 5, "apnea": 3, "arousal": 3}


def test_evb_demo_on_the_simulated_device_matches_pc(runs):
    from sleepkit.backends.evb import options as evb_options

    job, sets = runs["apnea"]
    pc = dict(np.load(job / "demo_outputs.npz"))
    shutil.copy(job / "report.html", job / "report_pc.html")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleepkit.devices.simulated", "--model", str(job / "export" / "model.tflite"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
        _cli("demo", "apnea", sets, "--backend", "evb", "--port", url)
    finally:
        evb_options.port = None
        proc.terminate()
        proc.wait(timeout=30)
    evb = np.load(job / "demo_outputs.npz")
    assert str(evb["backend"]) == "evb" and str(pc["backend"]) == "pc"
    np.testing.assert_array_equal(evb["raw"], pc["raw"])
    np.testing.assert_array_equal(evb["pred"], pc["pred"])
    assert "Backend <b>evb</b>" in (job / "report.html").read_text()


@pytest.mark.parametrize("task", TASKS)
def test_configs_real_sizes_are_sensible(task):
    from sleepkit.params import load_params
    from sleepkit.registry import FeatureFactory, ModelFactory, TaskFactory

    p = load_params(CONFIGS / f"{task}.json")
    TaskFactory.get(task)().check(p)
    assert FeatureFactory.has(p.feature.name) and ModelFactory.has(p.architecture.name)
    assert 120 <= p.frame_size <= 720 and p.epochs >= 20 and p.quantization.enabled
    hop = p.feature.params.get("hop_seconds", 30)
    assert 0.5 <= p.frame_size * hop / 3600 <= 2  # the model sees 0.5-2 h of night per window

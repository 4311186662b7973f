"""train -> evaluate -> export -> demo (pc) on a tiny self-made feature store, plus bad inputs.

The pipeline runs once per module (a few seconds of training); each test checks one artefact.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from sleepkit.c_header import parse_model_header
from sleepkit.cli import main as cli_main
from sleepkit.errors import SleepkitError, VerificationError
from sleepkit.tasks.stage import StageTask
from sleepkit.tflm_check import ENGINE_OPS, FORBIDDEN_OPS, io_details, quantize_input, run_tflm

from test_data_split import toy_params, write_toy_store

ARCH = {"name": "tcn", "params": {"input_filters": 12, "filters": 12, "kernel_size": 3, "dilations": [1, 2, 4], "se_ratio": 4}}
SETTINGS = dict(
    frame_size=48, epochs=3, steps_per_epoch=15, batch_size=16, samples_per_subject=8, val_steps_per_epoch=2,
    class_weights="balanced", val_metric="f1", lr_rate=1e-2, architecture=ARCH, tflm_var_name="g_toy_model",
    test_metric_threshold=0.9, display_report=False, demo_size=150,
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    import sleepkit.firmware.integrate as integrate

    tmp = tmp_path_factory.mktemp("pipeline")
    write_toy_store(tmp / "store", subjects=7, frames=160, seed=1)
    params = toy_params(tmp, tflm_file=str(tmp / "fw" / "model_buffer.h"), **SETTINGS)
    (tmp / "fw").mkdir()
    calls = []
    real_hook = integrate.on_export

    def recording_hook(*args):
        calls.append(args)
        return real_hook(*args)

    mp = pytest.MonkeyPatch()
    mp.setattr(integrate, "on_export", recording_hook)
    task = StageTask()
    try:
        summaries = {mode: task.run(mode, params) for mode in ("train", "evaluate", "export", "demo")}
    finally:
        mp.undo()
    return params, summaries, calls


def test_train_writes_best_model_history_and_split(pipeline):
    params, s, _ = pipeline
    job = params.job_dir
    assert (job / "model.keras").is_file() and (job / "checkpoints" / "last.keras").is_file()
    rows = (job / "history.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    assert {"loss", "val_loss", "val_acc", "val_f1"} <= set(header) and len(rows) - 1 == s["train"]["epochs_run"]
    f1 = [float(r.split(",")[header.index("val_f1")]) for r in rows[1:]]
    assert s["train"]["best_val_f1"] == pytest.approx(max(f1), abs=1e-5)
    assert (job / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    split = json.loads((job / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"]) and len(split["test"]) == 1
    # The toy data is learnable: validation is far above chance (4 classes) after 3 short epochs.
    assert max(f1) > 0.6


def test_evaluate_metrics_json(pipeline):
    params, s, _ = pipeline
    m = json.loads((params.job_dir / "metrics.json").read_text())
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (4, 4) and cm.sum() == m["frames"] > 0
    assert m["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert m["accuracy"] > 0.6 and 0.4 < m["kappa"] <= 1
    assert set(m["per_class_recall"]) == {"WAKE", "N1+N2", "N3", "REM"}
    subj = m["per_subject"][0]
    assert subj["tst_min_true"] > 0 and 0 < subj["sleep_efficiency_true"] <= 1
    assert (params.job_dir / "confusion.png").is_file()


def test_evaluate_threshold_drops_unsure_frames(pipeline, tmp_path):
    params, s, _ = pipeline
    job = tmp_path / "job"
    job.mkdir()
    sure = params.model_copy(update={"job_dir": job, "model_file": params.job_dir / "model.keras", "threshold": 0.5})
    summary = StageTask().run("evaluate", sure)
    m = json.loads((job / "metrics.json").read_text())
    assert 0 < m["coverage"] < 1 and summary["frames"] < s["evaluate"]["frames"]
    assert m["frames"] == pytest.approx(m["coverage"] * s["evaluate"]["frames"], abs=1)


def test_export_ops_parity_and_header(pipeline):
    params, s, calls = pipeline
    exp = params.job_dir / "export"
    info = json.loads((exp / "export.json").read_text())
    tflite = (exp / "model.tflite").read_bytes()
    assert info["verified"] is True
    assert not set(info["ops"]) & FORBIDDEN_OPS and set(info["ops"]) <= ENGINE_OPS
    # Squeeze-excite uses 1x1 convs: per-channel FULLY_CONNECTED is not bit-exact between TFLite and TFLM.
    assert "FULLY_CONNECTED" not in info["ops"]
    # Each dilated depthwise conv stays one op with its dilation.
    assert info["op_counts"]["DEPTHWISE_CONV_2D"] == 3 and _dilations(tflite) == [1, 2, 4]
    assert info["parity"]["tflite_vs_tflm_max_lsb"] == 0 and info["parity"]["tflite_vs_tflm_windows_differing"] == 0
    assert info["parity"]["test_windows"] >= 3
    assert info["parity"]["keras_vs_tflite_agreement"] >= 0.9
    assert info["tflm_arena_bytes"] > 0 and info["macs"] > 0 and info["keras_params"] == s["train"]["params"]
    header = (exp / "model_buffer.h").read_text()
    assert parse_model_header(header, "g_toy_model") == tflite
    assert "alignas(16) const unsigned char g_toy_model[]" in header
    assert f"const unsigned int g_toy_model_len = {len(tflite)};" in header
    assert (params.job_dir.parent / "fw" / "model_buffer.h").read_text() == header  # tflm_file copy
    # The firmware hook ran once, on the verified model, with the measured arena.
    assert len(calls) == 1
    p, export_dir, tflite_path, arena, board = calls[0]
    assert p is params and export_dir == exp and tflite_path == exp / "model.tflite"
    assert arena == info["tflm_arena_bytes"] and board is None


def _dilations(tflite: bytes) -> list[int]:
    import tflite as tfl

    model = tfl.Model.GetRootAsModel(tflite, 0)
    sg = model.Subgraphs(0)
    out = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        if model.OperatorCodes(op.OpcodeIndex()).DeprecatedBuiltinCode() == tfl.BuiltinOperator.DEPTHWISE_CONV_2D:
            opts = tfl.DepthwiseConv2DOptions()
            opts.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            out.append(opts.DilationHFactor())
    return out


def test_demo_report_and_outputs_match_tflm(pipeline):
    params, s, _ = pipeline
    job = params.job_dir
    html = (job / "report.html").read_text()
    assert "Plotly" in html and len(html) > 1_000_000  # plotly.js is inline
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing loaded from a CDN or anywhere else
    assert "cdn." not in "".join(re.findall(r"<script[^>]*>", html))
    assert "Backend <b>pc</b>" in html and "<th>export verified</th><td>True</td>" in html
    assert (job / "hypnogram.png").read_bytes()[:4] == b"\x89PNG"
    out = np.load(job / "demo_outputs.npz")
    raw, starts = out["raw"], out["starts"]
    assert raw.dtype == np.int8 and raw.shape == (len(starts), 48, 4) and s["demo"]["windows"] == len(starts)
    assert len(out["pred"]) == 150  # demo_size frames
    # The pc backend's raw outputs are what the host TFLM runtime produces (0 LSB).
    from sleepkit import data

    subject = data.load_subject(data.subject_split(params).test[0], params, "stage")
    tflite = (job / "export" / "model.tflite").read_bytes()
    windows = subject.x[starts[:, None] + np.arange(48)]
    micro = run_tflm(tflite, quantize_input(windows, io_details(tflite)[0]))
    np.testing.assert_array_equal(micro, raw)
    assert s["demo"]["keras_agreement"] >= 0.9
    # kappa of the demo night by hand from the saved predictions
    from sleepkit.metrics import cohen_kappa, confusion_matrix

    scored = out["true"] >= 0
    kappa = cohen_kappa(confusion_matrix(out["true"][scored], out["pred"][scored], 4))
    assert s["demo"]["kappa"] == pytest.approx(kappa, abs=1e-4)


def test_resume_continues_from_last_epoch(pipeline, tmp_path):
    params, _, _ = pipeline
    job = tmp_path / "job"
    shutil.copytree(params.job_dir, job, ignore=shutil.ignore_patterns("export", "*.html"))
    resumed = params.model_copy(update={"job_dir": job, "model_file": job / "model.keras", "resume": True, "epochs": 4})
    summary = StageTask().run("train", resumed)
    rows = (job / "history.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == summary["epochs_run"] == 4
    assert rows[1:4] == (params.job_dir / "history.csv").read_text().strip().splitlines()[1:4]


def test_failed_verification_raises_with_numbers(pipeline, tmp_path):
    params, _, _ = pipeline
    job = tmp_path / "job"
    job.mkdir()
    shutil.copy(params.job_dir / "model.keras", job / "model.keras")
    strict = params.model_copy(update={"job_dir": job, "model_file": job / "model.keras", "tflm_file": None,
                                       "test_metric_threshold": 1.01})
    with pytest.raises(VerificationError, match=r"agreement \d\.\d+ < test_metric_threshold 1\.01") as err:
        StageTask().run("export", strict)
    assert err.value.exit_code == 3
    assert json.loads((job / "export" / "rejected" / "export.json").read_text())["verified"] is False
    assert not (job / "export" / "model.tflite").exists()  # nothing unverified where the firmware looks


def test_failed_verification_keeps_the_last_verified_export(pipeline):
    """A rejected model must not replace a verified one (the firmware and demo read export/)."""
    params, _, _ = pipeline
    export_dir = params.job_dir / "export"
    before = {p.name: p.read_bytes() for p in export_dir.iterdir() if p.is_file()}
    assert json.loads(before["export.json"])["verified"] is True
    strict = params.model_copy(update={"test_metric_threshold": 1.01, "tflm_file": None})
    with pytest.raises(VerificationError, match="previous verified export is unchanged"):
        StageTask().run("export", strict)
    after = {p.name: p.read_bytes() for p in export_dir.iterdir() if p.is_file()}
    assert after == before
    assert json.loads((export_dir / "rejected" / "export.json").read_text())["verified"] is False


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing_store", r"feature store .*does not exist"),
        ("unmapped_label", r"label\(s\) \[5\] are not in class_map"),
        ("long_frame_size", r"frame_size=400 .*longer than the night"),
    ],
)
def test_bad_inputs_exit_2_without_traceback(tmp_path, capsys, case, match):
    write_toy_store(tmp_path / "store", subjects=4, frames=300, seed=2)
    overrides = {"missing_store": {"feature": {"name": "nope", "save_path": str(tmp_path / "store")}},
                 "unmapped_label": {"class_map": {0: 0, 1: 1, 2: 1, 3: 2}, "num_classes": 3},
                 "long_frame_size": {"frame_size": 400}}[case]
    params = toy_params(tmp_path, **overrides)
    with pytest.raises(SleepkitError, match=match):
        StageTask().run("train", params)
    # The same through the CLI: exit code 2 and a one-line message, no traceback.
    config = params.model_dump(mode="json")
    with pytest.raises(SystemExit) as exit_:
        cli_main(["train", "--config", json.dumps(config)])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_corrupt_tflite_is_a_clear_error_not_a_traceback(pipeline, tmp_path):
    from sleepkit.backends.pc import PcBackend
    from sleepkit.errors import SleepkitError

    params, _, _ = pipeline
    good = (params.job_dir / "export" / "model.tflite").read_bytes()
    for name, content in {"truncated": good[:1000], "empty": b""}.items():
        bad = tmp_path / f"{name}.tflite"
        bad.write_bytes(content)
        with pytest.raises(SleepkitError, match=rf"{name}\.tflite: .*(not a usable TFLite model|empty)"):
            PcBackend(params, bad).open()

"""The README's pipeline through the real CLI, shrunk: synthetic nights → features → train → evaluate →
export (int8, TFLM parity) → demo (pc) → report.html. One subprocess per mode, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _cli(mode: str, job: Path, *extra: str) -> subprocess.CompletedProcess:
    overrides = [
        f"job_dir={job}", f"feature.save_path={job / 'features'}",
        'datasets=[{"name": "synthetic", "params": {"num_subjects": 6, "hours": 1.5, "seed": 3}}]',
        "frame_size=60", "epochs=2", "steps_per_epoch=4", "val_steps_per_epoch=2", "batch_size=8",
        "samples_per_subject=8", "val_samples_per_subject=4", "test_samples_per_subject=4",
        "num_workers=1", "test_metric_threshold=0.8", "display_report=false",
    ]
    cmd = [sys.executable, "-m", "sleepkit.cli", "-m", mode, "-t", "stage", "-c", str(ROOT / "configs" / "quickstart.json")]
    for o in overrides:
        cmd += ["--set", o]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([*cmd, *extra], capture_output=True, text=True, timeout=600, env=env, cwd=job)
    assert out.returncode == 0, f"{mode} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr
    return out


def test_quickstart_pipeline_through_cli(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    _cli("feature", job)
    stores = sorted((job / "features" / "FS-W-PA-14" / "synthetic").glob("*.h5"))
    assert [p.stem for p in stores] == [f"syn-{i:03d}" for i in range(6)]
    assert (job / "feature.log").read_text().strip()

    _cli("train", job)
    assert (job / "model.keras").is_file() and (job / "history.csv").is_file()

    _cli("evaluate", job)
    metrics = json.loads((job / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["frames"] > 0
    assert len(metrics["confusion_matrix"]) == 4

    _cli("export", job)
    export = json.loads((job / "export" / "export.json").read_text())
    assert export["verified"] is True
    assert export["parity"]["tflite_vs_tflm_max_lsb"] == 0 and export["parity"]["test_windows"] >= 1
    assert "SPACE_TO_BATCH_ND" not in export["ops"]
    tflite = (job / "export" / "model.tflite").read_bytes()
    header = (job / "export" / "model_buffer.h").read_text()
    assert "alignas(16)" in header and "g_sleep_model" in header
    body = header[header.index("{") + 1 : header.index("}")]
    assert bytes(int(b, 16) for b in body.replace(",", " ").split()) == tflite

    _cli("demo", job)
    html = (job / "report.html").read_text()
    assert "plotly" in html.lower() and 'src="https://cdn' not in html
    assert (job / "hypnogram.png").stat().st_size > 1000
    outputs = np.load(job / "demo_outputs.npz")
    assert outputs[outputs.files[0]].dtype == np.int8

"""CLI start-up stays free of TensorFlow; errors are one readable line, not a traceback."""

import subprocess
import sys

import pytest

from sleepkit.cli import _upstream_argv
from sleepkit.errors import SleepkitError


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sleepkit.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from sleepkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "import sleepkit\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'heavy import at start-up'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "download" in out.stdout and "demo" in out.stdout and out.stdout.strip().endswith("ok")


def test_upstream_form_is_translated():
    assert _upstream_argv(["-m", "train", "-t", "stage", "-c", "x.json"]) == ["train", "-t", "stage", "-c", "x.json"]
    assert _upstream_argv(["train", "--task", "stage"]) == ["train", "--task", "stage"]
    with pytest.raises(SleepkitError, match="unknown mode 'trian'"):
        _upstream_argv(["-m", "trian"])


def test_config_error_is_one_message_without_traceback(tmp_path):
    out = _run("train", "--task", "stage", "--config", '{"epoch": 3}')
    assert out.returncode == 2
    assert "did you mean 'epochs'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_unknown_task_lists_available(tmp_path):
    out = _run("-m", "feature", "-t", "stagee", "-c", f'{{"job_dir": "{tmp_path}"}}')
    assert out.returncode == 2
    assert "unknown task 'stagee'" in out.stderr and "stage" in out.stderr
    assert "Traceback" not in out.stderr


def test_evb_link_options_with_the_pc_backend_are_refused(tmp_path):
    cfg = f'{{"job_dir": "{tmp_path}", "num_classes": 2, "class_map": {{"0": 0, "1": 1}}}}'
    out = _run("demo", "-t", "stage", "-c", cfg, "--port", "/dev/ttyACM0", "--baud", "9600")
    assert out.returncode != 0 and "Traceback" not in out.stderr + out.stdout
    text = " ".join((out.stderr + out.stdout).split())
    assert "--port, --baud apply only to the evb backend" in text and "'pc'" in text
    # with --backend evb the options are taken (it then stops at the missing export)
    out = _run("demo", "-t", "stage", "-c", cfg, "--port", "/dev/ttyACM0", "--backend", "evb")
    text = " ".join((out.stderr + out.stdout).split())
    assert "apply only" not in text and "does not exist" in text

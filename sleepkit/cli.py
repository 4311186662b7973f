"""Command line: ``sleepkit MODE --task TASK --config CFG`` (and upstream's ``-m MODE -t TASK -c CFG``).

Kept free of TensorFlow imports: ``sleepkit --help`` must answer in well under a second.
"""

from __future__ import annotations

import sys
import time
from typing import Optional

import typer

from .errors import SleepkitError
from .modes import MODES
from .modes.download import HELP as _DOWNLOAD_HELP

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="sleepkit: sleep-monitoring models from wearable signals to int8 firmware.\n\n"
    "Modes: download, feature, train, evaluate, export, demo. "
    "Each takes --task and --config (a JSON file or inline JSON).",
    pretty_exceptions_enable=False,
)

TaskOpt = typer.Option("stage", "--task", "-t", help="Task: stage, detect, apnea, arousal (or a registered one)")
ConfigOpt = typer.Option(None, "--config", "-c", help="JSON config file or inline JSON object")
SetOpt = typer.Option(None, "--set", help="Override a field, e.g. --set feature.frame_size=240 (repeatable)")


def _run(mode: str, task: str, config: Optional[str], overrides: Optional[list[str]], extra: dict | None = None) -> dict:
    from .log import console, logger, setup_logging
    from .params import load_params
    from .registry import TaskFactory

    params = load_params(config, overrides)
    for key, value in (extra or {}).items():
        if value is not None:
            setattr(params, key, value)
    log_path = setup_logging(params.job_dir, mode, params.verbose)
    from .params import inert_fields_set

    for field, why in inert_fields_set(params).items():
        logger.warning("config field '%s' is set but has no effect in sleepkit: %s", field, why)
    task_cls = TaskFactory.get(task)
    t0 = time.perf_counter()
    logger.info("%s: task=%s job_dir=%s", mode, task, params.job_dir)
    summary = task_cls().run(mode, params) or {}
    summary.setdefault("elapsed_s", round(time.perf_counter() - t0, 2))
    if log_path:
        summary.setdefault("log", str(log_path))
    from rich.table import Table

    table = Table(title=f"sleepkit {mode} ({task})", show_header=False)
    for k, v in summary.items():
        table.add_row(str(k), str(v))
    console.print(table)
    return summary


@app.command(help=_DOWNLOAD_HELP, short_help="Download the configured datasets (needs each dataset's credentials).")
def download(task: str = TaskOpt, config: Optional[str] = ConfigOpt, set_: Optional[list[str]] = SetOpt) -> None:
    _run("download", task, config, set_)


@app.command()
def feature(task: str = TaskOpt, config: Optional[str] = ConfigOpt, set_: Optional[list[str]] = SetOpt) -> None:
    """Compute per-frame features for every subject into the HDF5 store (resumable)."""
    _run("feature", task, config, set_)


@app.command()
def train(task: str = TaskOpt, config: Optional[str] = ConfigOpt, set_: Optional[list[str]] = SetOpt) -> None:
    """Train a model on the feature store."""
    _run("train", task, config, set_)


@app.command()
def evaluate(task: str = TaskOpt, config: Optional[str] = ConfigOpt, set_: Optional[list[str]] = SetOpt) -> None:
    """Evaluate the trained model on held-out subjects (metrics.json, confusion matrix)."""
    _run("evaluate", task, config, set_)


@app.command()
def export(
    task: str = TaskOpt,
    config: Optional[str] = ConfigOpt,
    set_: Optional[list[str]] = SetOpt,
    build: Optional[str] = typer.Option(None, "--build", help="Also build the firmware for this board"),
) -> None:
    """Export an int8 TFLite model, verify it against TFLM, write model_buffer.h."""
    from .modes import export as export_mode

    export_mode.BUILD_BOARD = build
    _run("export", task, config, set_)


@app.command()
def demo(
    task: str = TaskOpt,
    config: Optional[str] = ConfigOpt,
    set_: Optional[list[str]] = SetOpt,
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="pc (TFLite on this PC) or evb (serial device)"),
    port: Optional[str] = typer.Option(
        None, "--port", help="evb: serial device path or pyserial URL, e.g. /dev/ttyACM0 or socket://127.0.0.1:5555"
    ),
    baud: Optional[int] = typer.Option(None, "--baud", help="evb: baud rate (default 115200)"),
    vid_pid: Optional[str] = typer.Option(None, "--vid-pid", help="evb: find the board by USB VID:PID, e.g. 1fc9:0143"),
    serial_number: Optional[str] = typer.Option(None, "--serial-number", help="evb: find the board by USB serial number"),
) -> None:
    """Run the exported model over a held-out night and write report.html."""
    given = {"port": port, "baud": baud, "vid_pid": vid_pid, "serial_number": serial_number}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        _run("demo", task, config, set_, {"backend": backend})
        return
    # evb link settings are not task config (its fields are fixed): they go to the backend's options,
    # and are named for this one run so the demo can refuse them with another backend.
    from .backends.evb import options as evb_options

    evb_options.update(**given)
    evb_options.given = [f"--{k.replace('_', '-')}" for k in given]
    try:
        _run("demo", task, config, set_, {"backend": backend})
    finally:
        evb_options.given = []


def _upstream_argv(argv: list[str]) -> list[str]:
    """Translate ``-m MODE -t TASK -c CFG`` (upstream's form) into ``MODE --task TASK --config CFG``."""
    if not any(a in ("-m", "--mode") for a in argv):
        return argv
    rest: list[str] = []
    mode = None
    i = 0
    while i < len(argv):
        if argv[i] in ("-m", "--mode") and i + 1 < len(argv):
            mode = argv[i + 1]
            i += 2
            continue
        rest.append(argv[i])
        i += 1
    if mode not in MODES:
        raise SleepkitError(f"unknown mode '{mode}'; choose one of {', '.join(MODES)}")
    return [mode, *rest]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = _upstream_argv(argv)
        app(args=argv, prog_name="sleepkit", standalone_mode=True)
    except SleepkitError as exc:
        from .log import console

        console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

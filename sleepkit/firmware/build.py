"""Build the firmware (``make -C firmware``) for a board and measure its flash/RAM budget.

Needs arm-none-eabi-gcc and, for ENGINE=tflm, a TensorFlow Lite Micro tree (``TFLM_DIR``) or a prebuilt
library (``TFLM_LIB`` + ``TFLM_INCLUDE``) in the environment. The Apollo EVBs need AmbiqSuite
(``AMBIQSUITE_DIR``) for their UART driver; without it they are linked with a stub driver only to
measure the budget against their real memory map (the ELF is then marked not runnable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SleepkitError
from ..log import logger
from . import budget as budget_mod

REPO_DIR = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_DIR / "firmware"
BOARDS_DIR = REPO_DIR / "boards"
TOOLCHAIN_GCC = "arm-none-eabi-gcc"


@dataclass(frozen=True)
class BoardInfo:
    name: str
    cpu: str
    qemu: bool
    needs_ambiqsuite: bool
    description: str


BOARDS: dict[str, BoardInfo] = {
    "mps2-an386": BoardInfo("mps2-an386", "cortex-m4", True, False, "ARM MPS2+ AN386, Cortex-M4F (QEMU)"),
    "mps3-an547": BoardInfo("mps3-an547", "cortex-m55", True, False, "ARM MPS3 AN547, Cortex-M55 (QEMU)"),
    "apollo4p_evb": BoardInfo("apollo4p_evb", "cortex-m4", False, True, "Ambiq Apollo4 Plus EVB, Cortex-M4F"),
    "apollo510_evb": BoardInfo("apollo510_evb", "cortex-m55", False, True, "Ambiq Apollo510 EVB, Cortex-M55"),
}


def toolchain_missing() -> str | None:
    if shutil.which(TOOLCHAIN_GCC) is None:
        return (f"{TOOLCHAIN_GCC} not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "libstdc++-arm-none-eabi-newlib)")
    return None


def tflm_missing(env: dict | None = None) -> str | None:
    env = os.environ if env is None else env
    if env.get("TFLM_LIB"):
        return None
    tflm_dir = env.get("TFLM_DIR")
    if not tflm_dir:
        return "no TensorFlow Lite Micro: set TFLM_DIR=<tflite-micro tree> (or TFLM_LIB + TFLM_INCLUDE)"
    if not (Path(tflm_dir) / "tensorflow/lite/micro/micro_interpreter.h").is_file():
        return f"TFLM_DIR={tflm_dir} is not a tflite-micro source tree"
    return None


@dataclass
class BuildResult:
    board: str
    ok: bool
    status: str  # "built", "link-only", "failed", "skipped", "does not fit"
    reason: str = ""
    elf: str | None = None
    runnable: bool = False
    budget: budget_mod.Budget | None = None
    command: list[str] = field(default_factory=list)
    log_tail: str = ""

    def to_dict(self) -> dict:
        return {
            "board": self.board,
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "elf": self.elf,
            "runnable": self.runnable,
            "budget": self.budget.to_dict() if self.budget else None,
            "command": self.command,
        }


def make_command(
    board: str,
    *,
    model_dir: Path | None,
    build_dir: Path,
    engine: str = "tflm",
    app: str = "main",
    tflm_obj_dir: Path | None = None,
    budget_only: bool = False,
    jobs: int = 2,
    extra: tuple[str, ...] = (),
) -> list[str]:
    cmd = ["make", "-C", str(FIRMWARE_DIR), f"-j{jobs}", f"BOARD={board}", f"ENGINE={engine}", f"APP={app}",
           f"BUILD_DIR={build_dir}"]
    if model_dir is not None:
        cmd.append(f"MODEL_DIR={model_dir}")
    if tflm_obj_dir is not None:
        cmd.append(f"TFLM_OBJ_DIR={tflm_obj_dir}")
    if budget_only:
        cmd.append("BUDGET_ONLY=1")
    return cmd + list(extra)


def _elf_path(build_dir: Path, board: str, budget_only: bool) -> Path:
    return build_dir / f"sleepkit-{board}{'-budget' if budget_only else ''}.elf"


def build(
    board: str,
    *,
    model_dir: Path | None,
    build_root: Path,
    engine: str = "tflm",
    app: str = "main",
    model_bytes: int | None = None,
    jobs: int = 2,
    env: dict | None = None,
    timeout: float = 3600,
    make_args: tuple[str, ...] = (),
    tflm_cache: Path | None = None,
) -> BuildResult:
    """Build one board; a failure is returned (status + one-line reason), never raised.

    Compiled TFLM objects go to ``<tflm_cache or build_root>/tflm-<cpu>``: they depend only on the CPU
    and the TFLM tree, so boards with the same core and later exports can share them."""
    if board not in BOARDS:
        raise SleepkitError(f"unknown board '{board}' (boards: {', '.join(BOARDS)})")
    info = BOARDS[board]
    env = dict(os.environ if env is None else env)
    missing = toolchain_missing() or (tflm_missing(env) if engine == "tflm" and app != "uart_echo" else None)
    if missing:
        return BuildResult(board, False, "skipped", missing)
    budget_only = info.needs_ambiqsuite and not env.get("AMBIQSUITE_DIR")
    build_root = Path(build_root)
    build_dir = build_root / f"{board}-{engine}-{app}"
    # Boards with the same CPU flags share compiled TFLM objects.
    tflm_obj_dir = Path(tflm_cache or build_root) / f"tflm-{info.cpu}"
    cmd = make_command(board, model_dir=model_dir, build_dir=build_dir, engine=engine, app=app,
                       tflm_obj_dir=tflm_obj_dir, budget_only=budget_only, jobs=jobs, extra=make_args)
    logger.info("building firmware for %s: %s", board, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    log = proc.stdout + proc.stderr
    tail = "\n".join(log.strip().splitlines()[-15:])
    elf = _elf_path(build_dir, board, budget_only)
    if proc.returncode != 0:
        over = budget_mod.parse_link_overflow(log)
        if over:
            return _overflow_result(board, cmd, env, elf, model_bytes, over, tail, timeout)
        reason = _first_error(log) or f"make exited with {proc.returncode}"
        return BuildResult(board, False, "failed", reason, command=cmd, log_tail=tail)
    measured = budget_mod.measure(board, elf, elf.with_suffix(".map"), model_bytes)
    status = "link-only" if budget_only else "built"
    reason = ""
    if budget_only:
        reason = "AMBIQSUITE_DIR not set: linked with a stub UART driver to measure the budget, not runnable"
    return BuildResult(board, True, status, reason, str(elf), not budget_only, measured, cmd, tail)


def _overflow_result(board, cmd, env, elf, model_bytes, over, tail, timeout) -> BuildResult:
    # Link once more keeping the output despite the overflow, only to report every region's numbers;
    # that ELF is deleted afterwards so nobody flashes it.
    relink = cmd + ["LDFLAGS_EXTRA=-Wl,--noinhibit-exec"]
    subprocess.run(relink, capture_output=True, text=True, env=env, timeout=timeout)
    measured = None
    if elf.is_file():
        try:
            measured = budget_mod.measure(board, elf, elf.with_suffix(".map"), model_bytes)
        finally:
            elf.unlink(missing_ok=True)
    detail = "; ".join(f"{name} over by {n} B" for name, n in over.items())
    if measured is not None:
        detail = "; ".join(measured.overflows()) or detail
        detail += f" (flash {measured.flash_bytes} B, RAM {measured.ram_bytes} B, arena {measured.arena_bytes} B"
        detail += f", model {model_bytes} B)" if model_bytes is not None else ")"
    return BuildResult(board, False, "does not fit", f"model does not fit {board}: {detail}", None, False,
                       measured, cmd, tail)


def _first_error(log: str) -> str:
    """The most telling line of a failed build: a make $(error) message, a compiler error, a link error."""
    lines = log.splitlines()
    for line in lines:
        if "***" in line and line.rstrip().endswith("Stop."):  # the Makefile's own $(error ...)
            return line.split("***", 1)[1].strip().removesuffix("Stop.").strip().rstrip(".")
    for line in lines:
        if ("error:" in line and not line.startswith("collect2")) or "undefined reference" in line:
            return line.strip()
    return ""


def build_boards(
    boards: list[str],
    *,
    model_dir: Path | None,
    build_root: Path,
    engine: str = "tflm",
    app: str = "main",
    model_bytes: int | None = None,
    jobs: int = 2,
    env: dict | None = None,
    tflm_cache: Path | None = None,
) -> list[BuildResult]:
    return [
        build(b, model_dir=model_dir, build_root=build_root, engine=engine, app=app, model_bytes=model_bytes,
              jobs=jobs, env=env, tflm_cache=tflm_cache)
        for b in boards
    ]


def write_json(path: Path, report: dict) -> None:
    from ..fsutil import write_text

    write_text(path, json.dumps(report, indent=2) + "\n")


def print_budget_table(results: list[BuildResult]) -> None:
    from ..log import console

    console.print(budget_mod.budget_table([r.to_dict() for r in results]))


def main(argv: list[str] | None = None) -> int:
    """``python -m sleepkit.firmware.build --model-dir <export dir>``: build and print the budget table."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sleepkit.firmware.build", description=main.__doc__)
    ap.add_argument("--model-dir", type=Path, help="export directory (model_buffer.h, model_ops.h, ...)")
    ap.add_argument("--boards", default="all", help=f"comma-separated boards or 'all' ({', '.join(BOARDS)})")
    ap.add_argument("--engine", default="tflm", choices=("tflm", "aot", "echo"))
    ap.add_argument("--app", default="main", choices=("main", "selftest", "uart_echo"))
    ap.add_argument("--build-root", type=Path, default=Path("firmware-build"))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    boards = list(BOARDS) if args.boards == "all" else [b.strip() for b in args.boards.split(",") if b.strip()]
    try:
        results = build_boards(boards, model_dir=args.model_dir, build_root=args.build_root, engine=args.engine,
                               app=args.app, jobs=args.jobs)
    except SleepkitError as exc:
        print(f"error: {exc}")
        return 2
    print_budget_table(results)
    for r in results:
        if r.reason:
            print(f"{r.board}: {r.reason}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

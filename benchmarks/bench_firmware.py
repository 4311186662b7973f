"""Firmware figures: flash/RAM per board, build time, inference cost, UART speed under QEMU.

    python benchmarks/bench_firmware.py            # needs arm-none-eabi-gcc and qemu-system-arm
    TFLM_DIR=<tflite-micro tree> python benchmarks/bench_firmware.py   # adds the TFLM model figures

Inference cost is measured with QEMU's ``-icount shift=0`` (guest time advances 1 ns per executed
instruction), so "ms" there means millions of guest instructions: a deterministic stand-in for cycles,
not a timing of real hardware. It also compares TFLM reference kernels built at -O2 and -Os.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sleepkit.c_header import write_model_header  # noqa: E402
from sleepkit.tflm_check import tflm_arena_bytes  # noqa: E402
from sleepkit.firmware import build, headers, integrate, qemu, tiny_model  # noqa: E402

QEMU_BOARDS = ["mps2-an386", "mps3-an547"]
REPS = 50  # invokes per timed frame: guest time has 1 ms (1 M instruction) resolution


def uart_figures(root: Path) -> None:
    print("== UART under QEMU (bring-up app, interrupt-driven RX)")
    for board in QEMU_BOARDS:
        r = build.build(board, model_dir=None, build_root=root, app="uart_echo")
        assert r.ok, r.reason
        with qemu.QemuRun(r.elf, board) as run, run.open_serial(timeout=10) as port:
            port.readline()
            n = 200
            t = time.perf_counter()
            for _ in range(n):
                port.write(b"S\n")
                port.readline()
            rtt = (time.perf_counter() - t) / n
            payload = b"".join(b"D" + b"x" * 254 + b"\n" for _ in range(32))
            t = time.perf_counter()
            port.write(payload + b"S\n")
            port.readline()
            rate = len(payload) / (time.perf_counter() - t)
        print(f"{board:12s} round trip {rtt * 1e3:6.2f} ms   host->device {rate / 1024:6.1f} KiB/s")


def tflm_figures(root: Path) -> None:
    export = root / "export"
    export.mkdir(exist_ok=True)
    tfl = export / "model.tflite"
    data = tiny_model.build_tiny_model(tfl)
    q = tiny_model.quantized_inputs(tfl, data[:4])
    write_model_header(tfl.read_bytes(), export / "model_buffer.h", "g_model", "tiny")
    summary = integrate.on_export(SimpleNamespace(name="tiny", tflm_var_name="g_model", tflm_file=None),
                                  export, tfl, tflm_arena_bytes(tfl.read_bytes()), None)
    (export / "test_vectors.h").write_text(headers.test_vectors_header(q, "bench"))
    print(f"== TFLM, tiny model: {summary['model_bytes']} B, ops {' '.join(summary['ops'])}")

    env = {k: v for k, v in os.environ.items() if k != "AMBIQSUITE_DIR"}
    cache = Path(os.environ.get("SLEEPKIT_FW_CACHE", Path(tempfile.gettempdir()) / "sleepkit-firmware-cache"))
    t = time.perf_counter()
    results = build.build_boards(list(build.BOARDS), model_dir=export, build_root=cache, app="selftest",
                                 model_bytes=summary["model_bytes"], env=env)
    print(f"build of all four boards: {time.perf_counter() - t:.1f} s (TFLM objects cached in {cache})")
    build.print_budget_table(results)

    for opt in ("-O2", "-Os"):
        for board in QEMU_BOARDS:
            make_args = (f"KERNEL_OPT={opt}", f"CORE_OPT={opt}", f"EXTRA_DEFINES=-DSK_SELFTEST_REPS={REPS}")
            r = build.build(board, model_dir=export, build_root=root / f"kernels{opt}", app="selftest",
                            model_bytes=summary["model_bytes"], make_args=make_args,
                            tflm_cache=cache if opt == "-O2" else cache / "Os")
            assert r.ok, r.reason
            res = qemu.run_to_exit(r.elf, board, timeout=300, extra_args=("-icount", "shift=0"))
            out = headers.parse_selftest_output(res.uart.decode())
            per_frame = sum(out["ms"]) / (max(len(out["ms"]), 1) * REPS)
            print(f"{board:12s} kernels {opt}: {per_frame:8.2f} M guest instructions / inference, "
                  f"text {r.budget.berkeley['text']} B")


def main() -> None:
    reason = build.toolchain_missing() or qemu.qemu_unavailable_reason()
    if reason:
        sys.exit(f"bench_firmware: {reason}")
    with tempfile.TemporaryDirectory(prefix="sleepkit-bench-fw-") as tmp:
        root = Path(tmp)
        uart_figures(root)
        reason = build.tflm_missing()
        if reason:
            print(f"TFLM figures skipped: {reason}")
            return
        tflm_figures(root)


if __name__ == "__main__":
    main()

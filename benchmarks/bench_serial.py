"""Serial protocol throughput: payload bytes/s and round-trip time per window.

Runs the EVB host client against
  - the simulated device on a raw loopback socket (protocol + Python overhead only),
  - the same behind a link paced like a UART at 115200 and 921600 baud (10 bits per byte), where the
    payload rate is also given as a fraction of the link's byte rate (framing, CRC, COBS and the
    stop-and-wait round trips are the difference),
  - the firmware in QEMU (mps2-an386, protocol.c + the echo engine) when QEMU and the ARM toolchain
    are installed (QEMU's UART is not paced, so only absolute numbers).

The device runs the echo engine (no inference cost) unless --model gives an exported .tflite.

    python benchmarks/bench_serial.py [--windows 200] [--input-bytes 1536] [--max-payload 1024]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import serial

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sleepkit.devices.engines import EchoEngine, TflmEngine, echo_output  # noqa: E402
from sleepkit.devices.faults import Faults, FaultyLink  # noqa: E402
from sleepkit.devices.protocol_device import DeviceProtocol  # noqa: E402
from sleepkit.devices.server import TcpDeviceServer  # noqa: E402
from sleepkit.protocol import ProtocolClient  # noqa: E402


def measure(url: str, windows: list[bytes], out_bytes: int, check=None) -> dict:
    link = serial.serial_for_url(url)
    try:
        client = ProtocolClient(link, timeout=10.0, retries=0, name=url)
        client.hello()
        client.run_frame(windows[0], out_bytes)  # warm-up (first INFER sets the adaptive timeout)
        rtts = []
        t0 = time.perf_counter()
        for w in windows:
            r = client.run_frame(w, out_bytes)
            if check is not None:
                assert r.output == check(w), "wrong output"
            rtts.append(r.rtt_s)
        wall = time.perf_counter() - t0
        stats = client.stats
    finally:
        link.close()
    payload = len(windows) * (len(windows[0]) + out_bytes)
    return {
        "payload_Bps": payload / wall,
        "rtt_ms_median": 1e3 * statistics.median(rtts),
        "rtt_ms_p95": 1e3 * float(np.percentile(rtts, 95)),
        "wire_bytes_per_window": (stats.bytes_out + stats.bytes_in) / (len(windows) + 1),
    }


def build_qemu_echo() -> Path | None:
    """The product firmware (main.c + protocol.c) with the echo engine, default sizes (256-byte input,
    1024-byte device buffer): the Makefile's engine section is skipped and the echo engine given."""
    from sleepkit.firmware.qemu import qemu_unavailable_reason

    if qemu_unavailable_reason("mps2-an386") or not (ROOT / "firmware/src/main.c").is_file():
        return None
    build = Path(tempfile.mkdtemp(prefix="sk-bench-fw-"))
    cmd = [
        "make", "-s", "-C", str(ROOT / "firmware"), "BOARD=mps2-an386", "APP=main", "ENGINE=echo", "NEEDS_ENGINE=0",
        f"ENGINE_C_SRCS={ROOT / 'firmware/src/engine_echo.c'}", f"BUILD_DIR={build}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"(QEMU firmware build failed, skipped)\n{proc.stderr[-800:]}")
        return None
    return next(build.glob("*.elf"), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--input-bytes", type=int, default=1536, help="echo engine input size (multiple of 4)")
    ap.add_argument("--max-payload", type=int, default=1024)
    ap.add_argument("--model", help="serve this .tflite with the host TFLM runtime instead of the echo engine")
    ap.add_argument("--no-qemu", action="store_true")
    args = ap.parse_args()

    if args.model:
        engine = TflmEngine(args.model)
        check = None
    else:
        engine = EchoEngine(input_shape=(1, args.input_bytes // 4, 4), output_shape=(1, 5))
        check = lambda w: echo_output(w, 5)  # noqa: E731
    rng = np.random.default_rng(0)
    windows = [bytes(rng.integers(0, 256, engine.input.bytes, dtype=np.uint8)) for _ in range(args.windows)]
    out_bytes = engine.output.bytes
    print(f"input {engine.input.bytes} B, output {out_bytes} B, device buffer {args.max_payload} B, "
          f"{args.windows} windows ({engine.engine_name} engine)")
    print(f"{'link':34s} {'payload B/s':>12s} {'of link':>8s} {'RTT med ms':>10s} {'RTT p95 ms':>10s} {'wire B/win':>10s}")

    def row(name: str, r: dict, link_Bps: float | None) -> None:
        frac = f"{r['payload_Bps'] / link_Bps:8.1%}" if link_Bps else f"{'-':>8s}"
        print(f"{name:34s} {r['payload_Bps']:12.0f} {frac} {r['rtt_ms_median']:10.2f} {r['rtt_ms_p95']:10.2f} "
              f"{r['wire_bytes_per_window']:10.0f}")

    device = DeviceProtocol(engine, max_payload=args.max_payload)
    with TcpDeviceServer(device) as srv:
        row("simulated, loopback socket", measure(srv.url, windows, out_bytes, check), None)
        for baud in (115200, 921600):
            byte_rate = baud / 10
            n = max(20, min(args.windows, int(20 * byte_rate / 11520)))
            with FaultyLink(srv.port, Faults(byte_rate=byte_rate)) as link:
                row(f"simulated, UART pace {baud} baud", measure(link.url, windows[:n], out_bytes, check), byte_rate)

    if args.no_qemu or args.model:
        return
    elf = build_qemu_echo()
    if elf is None:
        print("QEMU firmware: not available here (needs qemu-system-arm, arm-none-eabi-gcc and firmware/src/main.c)")
        return
    from sleepkit.firmware.qemu import QemuRun

    small = [w[:256] for w in windows]  # the echo firmware's default 256-byte input
    with TcpDeviceServer(DeviceProtocol(EchoEngine(), max_payload=1024)) as srv:
        row("simulated, loopback, 256 B input", measure(srv.url, small, 5, lambda w: echo_output(w, 5)), None)
    with QemuRun(elf, "mps2-an386") as run:
        run.start()
        row("QEMU mps2-an386, 256 B input", measure(run.url, small, 5, lambda w: echo_output(w, 5)), None)


if __name__ == "__main__":
    main()

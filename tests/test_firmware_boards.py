"""Board startup, interrupt-driven UART, SysTick, semihosting and budgets on the QEMU boards.

Uses the real arm-none-eabi toolchain and qemu-system-arm with the bring-up app (APP=uart_echo),
which needs no inference engine, so this runs in CI without TFLM.
"""

from __future__ import annotations

import os
import subprocess
import zlib

import pytest

from sleepkit.firmware import build, qemu
from sleepkit.firmware.budget import budget_table

QEMU_BOARDS = ["mps2-an386", "mps3-an547"]

missing = build.toolchain_missing() or qemu.qemu_unavailable_reason()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")


@pytest.fixture(scope="module")
def echo_builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("fw")
    results = {b: build.build(b, model_dir=None, build_root=root, app="uart_echo") for b in QEMU_BOARDS}
    for r in results.values():
        assert r.ok, (r.reason, r.log_tail)
    return results


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_uart_rx_keeps_every_byte_while_busy(echo_builds, board):
    """6000 bytes arrive while the app is busy for 300 ms without reading: the RX interrupt must ring them."""
    payload = [bytes([65 + i % 26]) * 100 for i in range(60)]
    data = b"".join(payload)
    with qemu.QemuRun(echo_builds[board].elf, board) as run:
        with run.open_serial(timeout=10) as port:
            assert port.readline() == f"READY {board}\n".encode()
            port.write(b"B300\n" + b"".join(b"D" + p + b"\n" for p in payload) + b"S\n")
            busy = port.readline().split()
            stat = port.readline().split()
            port.write(b"L\nX7\n")
            assert port.readline() == b"LOGGED\n"
        assert run.wait(timeout=10) == 7  # the guest's exit code, via semihosting
        assert f"uart_echo: debug console on {board}" in run.debug_output
    assert busy[0] == b"BUSY" and int(busy[1]) >= 300
    assert stat == [b"STAT", str(len(data)).encode(), f"{zlib.crc32(data):08x}".encode(), b"0"]
    assert run.proc is None


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_fault_ends_the_run_with_code_127(echo_builds, board):
    result = qemu.run_to_exit(echo_builds[board].elf, board, send=b"F\n", timeout=20)
    assert result.exit_code == 0x7F
    assert "fault" in result.debug
    assert result.uart.startswith(f"READY {board}\n".encode())


def test_qemu_run_stops_a_running_guest(echo_builds):
    run = qemu.QemuRun(echo_builds["mps2-an386"].elf, "mps2-an386")
    url = run.start()
    assert url.startswith("socket://127.0.0.1:")
    proc = run.proc
    assert proc.poll() is None
    assert run.stop() is None  # still running, so stopped rather than exited
    assert proc.poll() is not None and run.proc is None


def test_budget_from_elf_and_map(echo_builds):
    for board, r in echo_builds.items():
        b = r.budget
        assert b.fits and b.arena_bytes == 0 and b.stack_bytes == 16384
        by_name = {reg.name: reg for reg in b.regions}
        code_region = "SSRAM1" if board == "mps2-an386" else "ITCM"
        assert by_name[code_region].used > 0
        # Flash = every stored byte (size's text + data); RAM = .data copied out + everything NOLOAD.
        data = subprocess.run(["arm-none-eabi-size", "-A", r.elf], capture_output=True, text=True).stdout
        data_bytes = int(next(l.split()[1] for l in data.splitlines() if l.startswith(".data ")))
        assert b.flash_bytes == b.berkeley["text"] + b.berkeley["data"]
        assert b.ram_bytes == data_bytes + b.berkeley["bss"]
        assert sum(reg.used for reg in b.regions) == b.flash_bytes + b.ram_bytes


def test_overflow_fails_the_build_with_numbers(tmp_path):
    r = build.build("mps2-an386", model_dir=None, build_root=tmp_path, app="uart_echo",
                    make_args=("STACK_BYTES=0x500000",))
    assert not r.ok and r.status == "does not fit"
    assert "SSRAM23 needs" in r.reason and "over by" in r.reason
    assert r.budget is not None and not r.budget.fits
    assert not list(tmp_path.rglob("*.elf"))  # the over-full image is not left behind


def test_apollo_link_only_budget_without_ambiqsuite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AMBIQSUITE_DIR"}
    for board, data_region in (("apollo4p_evb", "TCM"), ("apollo510_evb", "DTCM")):
        r = build.build(board, model_dir=None, build_root=tmp_path, app="uart_echo", env=env)
        assert r.ok and r.status == "link-only" and not r.runnable, r.reason
        assert "AMBIQSUITE_DIR" in r.reason
        regions = {reg.name: reg for reg in r.budget.regions}
        assert regions["MRAM"].used > 0 and regions[data_region].used >= 16384
    table = budget_table([r.to_dict()])
    assert table.row_count == 1


def test_makefile_messages_are_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TFLM_DIR", "TFLM_LIB", "AMBIQSUITE_DIR")}
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_buffer.h").write_text("")
    (model / "model_ops.mk").write_text("SK_TFLM_KERNELS := conv conv_common\n")

    def make(*args):
        cmd = ["make", "-C", str(build.FIRMWARE_DIR), f"BUILD_DIR={tmp_path / 'b'}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env)

    no_tflm = make("BOARD=mps2-an386", "APP=selftest", f"MODEL_DIR={model}")
    assert no_tflm.returncode != 0
    lines = [l for l in no_tflm.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "TensorFlow Lite Micro not found" in lines[0] and "TFLM_DIR" in lines[0]
    no_sdk = make("BOARD=apollo4p_evb", "APP=uart_echo")
    assert no_sdk.returncode != 0 and "needs AMBIQSUITE_DIR" in no_sdk.stderr
    bad_board = make("BOARD=nonesuch")
    assert "unknown BOARD 'nonesuch'" in bad_board.stderr and "mps3-an547" in bad_board.stderr

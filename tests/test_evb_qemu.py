"""The firmware's protocol in QEMU (mps2-an386): firmware/src/main.c + protocol.c with the echo
engine (a protocol-test engine, so no model is needed), driven by the host client and EvbBackend."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from sleepkit.backends.evb import EvbBackend, EvbOptions
from sleepkit.devices.engines import echo_output
from sleepkit.errors import SleepkitError
from sleepkit.params import TaskParams
from sleepkit.protocol import ProtocolClient
from sleepkit.protocol import messages as m
from sleepkit.protocol.constants import ErrorCode, MsgType
from sleepkit.protocol.framing import Frame, encode_frame

ROOT = Path(__file__).resolve().parents[1]
BOARD = "mps2-an386"


def _unavailable() -> str | None:
    if shutil.which("arm-none-eabi-gcc") is None:
        return "arm-none-eabi-gcc not installed"
    if not (ROOT / "firmware/src/main.c").is_file():
        return "firmware/src/main.c not in this tree"
    try:
        from sleepkit.firmware.qemu import qemu_unavailable_reason
    except ImportError:
        return "sleepkit.firmware.qemu not in this tree"
    return qemu_unavailable_reason(BOARD)


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable()))


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    """APP=main with the echo engine. The Makefile's engine section is skipped (NEEDS_ENGINE=0) and
    the echo engine given as the engine sources, so no exported model is needed."""
    build = tmp_path_factory.mktemp("fw-echo")
    cmd = [
        "make", "-s", "-C", str(ROOT / "firmware"), f"BOARD={BOARD}", "APP=main", "ENGINE=echo", "NEEDS_ENGINE=0",
        f"ENGINE_C_SRCS={ROOT / 'firmware/src/engine_echo.c'}", f"BUILD_DIR={build}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    elfs = sorted(build.glob("*.elf"))
    assert elfs, "no ELF produced"
    return elfs[0]


@pytest.fixture
def qemu(elf):
    from sleepkit.firmware.qemu import QemuRun

    with QemuRun(elf, BOARD) as run:
        run.start()
        yield run


def test_protocol_in_qemu(qemu):
    link = serial.serial_for_url(qemu.url)
    try:
        client = ProtocolClient(link, timeout=5.0, retries=1, name="qemu")
        hello = client.hello()
        assert hello.max_payload == 1024
        info = client.info()
        assert (info.model_name, info.engine_name) == ("echo", "echo")
        assert info.input.shape == (1, 64, 4) and info.model_hash == 0xEC40EC40
        rng = np.random.default_rng(21)
        for _ in range(5):
            x = bytes(rng.integers(0, 256, 256, dtype=np.uint8))
            r = client.run_frame(x, 5)
            assert r.output == echo_output(x, 5)
        # a chunked upload (small chunks forced on the host side) gives the same result
        client.max_payload = 40
        x = bytes(rng.integers(0, 256, 256, dtype=np.uint8))
        assert client.run_frame(x, 5).output == echo_output(x, 5)
        client.max_payload = hello.max_payload
        # corrupt and oversize frames get the right error replies, then the device still works
        bad = bytearray(encode_frame(MsgType.HELLO, 200))
        bad[-3] ^= 0x10
        client._write(bytes(bad) + encode_frame(MsgType.SET_INPUT, 201, bytes(1100)) + encode_frame(MsgType.INFER, 202))
        deadline = time.monotonic() + 10
        events = [client._next_event(deadline) for _ in range(3)]
        codes = [(e.seq, m.unpack_error(e.payload).code) for e in events if isinstance(e, Frame) and e.type == MsgType.ERROR]
        assert codes == [(200, ErrorCode.BAD_CRC), (201, ErrorCode.TOO_LARGE), (202, ErrorCode.INPUT_INCOMPLETE)]
        assert client.hello().version == 1
    finally:
        link.close()


def test_evb_backend_refuses_the_echo_firmware(qemu, tmp_path):
    """The handshake against real firmware: a model other than the one flashed is refused."""
    from _evb_support import tiny_model_path

    with pytest.raises(SleepkitError, match=r"runs model 'echo' \(engine echo, firmware .*model hash"):
        EvbBackend(TaskParams(), tiny_model_path(), EvbOptions(port=qemu.url, timeout=5.0)).open()


def test_parity_pc_simulated_and_qemu_aot_firmware(tmp_path):
    """One set of windows, three places: TFLite reference kernels on the PC, the simulated device
    (host TFLM) and the firmware in QEMU with the ahead-of-time engine: identical int8 outputs."""
    from sleepkit.aot.generate import generate
    from sleepkit.backends.pc import PcBackend
    from sleepkit.devices.engines import TflmEngine
    from sleepkit.devices.protocol_device import DeviceProtocol
    from sleepkit.devices.server import TcpDeviceServer
    from sleepkit.firmware.qemu import QemuRun

    from _evb_support import tiny_model_path, windows

    model = tiny_model_path()
    ws = windows(8, seed=5)
    with PcBackend(TaskParams(), model) as pc:
        ref = np.stack([pc.infer(w).raw for w in ws])
    with TcpDeviceServer(DeviceProtocol(TflmEngine(model), max_payload=100)) as srv:
        with EvbBackend(TaskParams(), model, EvbOptions(port=srv.url)) as evb:
            sim = np.stack([evb.infer(w).raw for w in ws])

    generate(model, tmp_path / "model")
    build = tmp_path / "build"
    cmd = ["make", "-s", "-C", str(ROOT / "firmware"), f"BOARD={BOARD}", "APP=main", "ENGINE=aot",
           f"MODEL_DIR={tmp_path / 'model'}", f"BUILD_DIR={build}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with QemuRun(next(build.glob("*.elf")), BOARD) as run:
        run.start()
        with EvbBackend(TaskParams(), model, EvbOptions(port=run.url, timeout=5.0)) as evb:
            assert evb.io.extra["engine"] == "aot"
            fw = [evb.infer(w) for w in ws]
    np.testing.assert_array_equal(sim, ref)
    np.testing.assert_array_equal(np.stack([r.raw for r in fw]), ref)
    assert all(r.rtt_s > 0 for r in fw)

"""EvbBackend against the simulated device (host TFLM runtime): parity with the pc backend, the
handshake's model checks, and every bad-input case ending in a clear SleepkitError."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sleepkit.backends.evb import EvbBackend, EvbOptions
from sleepkit.backends.pc import PcBackend
from sleepkit.devices.engines import EchoEngine, TflmEngine
from sleepkit.devices.protocol_device import DeviceProtocol
from sleepkit.devices.server import PtyDeviceServer, TcpDeviceServer
from sleepkit.errors import SleepkitError
from sleepkit.params import TaskParams

from _evb_support import tiny_model_path, windows


@pytest.fixture(scope="module")
def model():
    return tiny_model_path()


@pytest.fixture(scope="module")
def pc_raw(model):
    with PcBackend(TaskParams(), model) as pc:
        return np.stack([pc.infer(w).raw for w in windows(12)])


def opts(port: str, **kw) -> EvbOptions:
    return EvbOptions(port=port, timeout=kw.pop("timeout", 1.0), retries=kw.pop("retries", 2), **kw)


@pytest.mark.parametrize("server_cls", [TcpDeviceServer, PtyDeviceServer])
def test_evb_matches_pc_bit_exactly(model, pc_raw, server_cls):
    device = DeviceProtocol(TflmEngine(model), max_payload=100)  # 288-byte input: 3 chunks
    with server_cls(device) as srv, EvbBackend(TaskParams(), model, opts(srv.url)) as evb:
        assert evb.io.input_shape == (48, 6) and evb.io.output_shape == (5,)
        assert evb.io.extra["engine"] == "tflm-host"
        results = [evb.infer(w) for w in windows(12)]
    raw = np.stack([r.raw for r in results])
    assert raw.dtype == np.int8
    np.testing.assert_array_equal(raw, pc_raw)
    assert all(r.rtt_s > 0 for r in results)
    first = results[0]
    np.testing.assert_allclose(first.values, (first.raw.astype(np.float32) - evb.io.output_zero_point) * evb.io.output_scale)


def test_zero_point_zero_is_used_as_is(model):
    """A zero point of 0 is a real zero point (never "unset"): bytes are round(x / scale) + zp exactly."""
    from sleepkit.protocol.constants import DType
    from sleepkit.protocol.messages import TensorInfo

    backend = EvbBackend(TaskParams(), model, EvbOptions())
    x = np.array([[3.0, -5.0, 0.26, -0.25]], np.float32) * 0.5
    for zp in (0, 11):
        t = TensorInfo(DType.INT8, (1, 4), 0.5, zp, 4)
        q = np.frombuffer(backend._to_wire(x, t), np.int8)
        np.testing.assert_array_equal(q, np.array([3, -5, 0, 0]) + zp)  # 0.13 -> 0, -0.125 -> 0
    with pytest.raises(SleepkitError, match="no quantisation scale"):
        backend._to_wire(x, TensorInfo(DType.INT8, (1, 4), 0.0, 0, 4))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: setattr(e, "model_hash", e.model_hash ^ 1), "model hash"),
        (lambda e: setattr(e, "input", dataclasses.replace(e.input, zero_point=e.input.zero_point + 1)), "input quantisation"),
        (lambda e: setattr(e, "output", dataclasses.replace(e.output, scale=e.output.scale * 2)), "output quantisation"),
    ],
)
def test_device_with_another_model_is_refused(model, change, message):
    engine = TflmEngine(model)
    change(engine)
    with TcpDeviceServer(DeviceProtocol(engine)) as srv:
        with pytest.raises(SleepkitError, match=message) as err:
            EvbBackend(TaskParams(), model, opts(srv.url)).open()
    assert "not the exported" in str(err.value)


def test_echo_device_is_refused_with_shape_and_dtype_details(model):
    with TcpDeviceServer(DeviceProtocol(EchoEngine())) as srv:
        with pytest.raises(SleepkitError) as err:
            EvbBackend(TaskParams(), model, opts(srv.url)).open()
    text = str(err.value)
    assert "runs model 'echo'" in text and "input shape (1, 64, 4) != (1, 48, 6)" in text


def test_wrong_port_lists_the_ports(model):
    with pytest.raises(SleepkitError, match=r"cannot open serial port '/dev/no-such-tty'.*(ports present|no serial ports found)"):
        EvbBackend(TaskParams(), model, opts("/dev/no-such-tty")).open()


def test_no_port_configured_says_how(model):
    with pytest.raises(SleepkitError, match="--backend evb needs --port"):
        EvbBackend(TaskParams(), model, EvbOptions()).open()


def test_usb_device_not_found_names_the_timeout(model):
    o = EvbOptions(vid_pid="dead:beef", find_timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(SleepkitError, match=r"no serial device with VID:PID dead:beef appeared within 0.3 s"):
        EvbBackend(TaskParams(), model, o).open()
    assert time.monotonic() - t0 >= 0.3


def test_silent_device_times_out_clearly(model):
    """A port that accepts bytes and never answers (wrong firmware, wrong baud rate)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    conns = []
    threading.Thread(target=lambda: conns.append(listener.accept()), daemon=True).start()
    try:
        with pytest.raises(SleepkitError, match=r"did not answer .*HELLO.*after 2 attempts.*no reply within 0.3 s"):
            EvbBackend(TaskParams(), model, opts(f"socket://127.0.0.1:{port}", timeout=0.3, retries=1)).open()
    finally:
        for c, _ in conns:
            c.close()
        listener.close()


def test_interrupted_stream_names_the_window(model):
    device = DeviceProtocol(TflmEngine(model))
    srv = TcpDeviceServer(device).start()
    backend = EvbBackend(TaskParams(), model, opts(srv.url, timeout=0.3, retries=1))
    backend.open()
    try:
        for w in windows(3):
            backend.infer(w)
        srv.stop()  # cable pulled
        with pytest.raises(SleepkitError, match=r"window 3 was lost .*windows 0\.\.2 completed"):
            backend.infer(windows(1)[0])
    finally:
        backend.close()


def test_wrong_window_shape(model):
    with TcpDeviceServer(DeviceProtocol(TflmEngine(model))) as srv, EvbBackend(TaskParams(), model, opts(srv.url)) as evb:
        with pytest.raises(SleepkitError, match="does not match the model input"):
            evb.infer(np.zeros((10, 6), np.float32))


def test_cli_evb_options_are_validated_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "sleepkit.cli", "demo", "--backend", "evb", "--vid-pid", "nonsense"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--vid-pid 'nonsense' must look like" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_simulated_device_command_prints_the_port(model):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleepkit.devices.simulated", "--model", str(model), "--port", "0", "--max-payload", "128"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        with EvbBackend(TaskParams(), model, opts(url)) as evb:
            assert evb.device.max_payload == 128
            assert evb.infer(windows(1)[0]).raw.shape == (5,)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_simulated_device_command_bad_model(tmp_path):
    bad = tmp_path / "junk.tflite"
    bad.write_bytes(b"not a model")
    proc = subprocess.run(
        [sys.executable, "-m", "sleepkit.devices.simulated", "--model", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "junk.tflite is not a readable .tflite model" in proc.stderr
    assert "Traceback" not in proc.stderr

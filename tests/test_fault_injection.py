"""Faults between the EVB backend and a device: dropped, flipped, duplicated and delayed bytes and
device resets mid-stream. Every window must come back bit-identical to the fault-free run or fail
with a SleepkitError naming the window; a silently wrong output is the one outcome not allowed."""

from __future__ import annotations

import re

import numpy as np
import pytest
import serial

from sleepkit.backends.evb import EvbBackend, EvbOptions
from sleepkit.backends.pc import PcBackend
from sleepkit.devices.engines import echo_output
from sleepkit.devices.engines import TflmEngine
from sleepkit.devices.faults import Faults, FaultyLink
from sleepkit.devices.protocol_device import DeviceProtocol
from sleepkit.devices.server import TcpDeviceServer
from sleepkit.errors import SleepkitError
from sleepkit.params import TaskParams
from sleepkit.protocol import ProtocolClient, ProtocolError

from _c_protocol import CProtocolDevice, have_gcc
from _evb_support import tiny_model_path, windows

N = 16


@pytest.fixture(scope="module")
def model():
    return tiny_model_path()


@pytest.fixture(scope="module")
def expected(model):
    with PcBackend(TaskParams(), model) as pc:
        return [pc.infer(w).raw for w in windows(N)]


def run_through(model, faults: Faults, *, retries: int = 4, timeout: float = 0.15):
    device = DeviceProtocol(TflmEngine(model), max_payload=100)
    outcomes = []
    with TcpDeviceServer(device) as srv, FaultyLink(srv.port, faults, on_reset=device.reset) as link:
        link.enabled = False  # a clean handshake: these tests are about the stream
        backend = EvbBackend(TaskParams(), model, EvbOptions(port=link.url, timeout=timeout, retries=retries))
        backend.open()
        link.enabled = True
        try:
            for i, w in enumerate(windows(N)):
                try:
                    outcomes.append(backend.infer(w).raw)
                except SleepkitError as exc:
                    outcomes.append(exc)
        finally:
            backend.close()
    return outcomes, link.counts, backend


def check(outcomes, expected) -> tuple[int, int]:
    ok = failed = 0
    for i, (got, want) in enumerate(zip(outcomes, expected)):
        if isinstance(got, SleepkitError):
            assert re.search(rf"window {i} was lost", str(got)), got
            failed += 1
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"window {i} silently wrong")
            ok += 1
    return ok, failed


@pytest.mark.parametrize(
    "faults, what",
    [
        # ~15% of 110-byte frames hit: enough to exercise every path, rare enough that 5 attempts
        # almost always get one through
        (Faults(flip=0.0015, seed=1), "flipped"),
        (Faults(drop=0.0015, seed=2), "dropped"),
        (Faults(duplicate=0.0015, seed=3), "duplicated"),
        (Faults(delay=0.08, delay_s=0.3, seed=4), "delayed"),
        (Faults(reset=0.08, seed=5), "resets"),
    ],
)
def test_single_fault_kind_is_repaired(model, expected, faults, what):
    outcomes, counts, backend = run_through(model, faults)
    ok, failed = check(outcomes, expected)
    assert getattr(counts, what) > 0, "the fault was never injected"
    assert ok >= N - 2, f"only {ok}/{N} windows recovered from {what} faults ({counts})"
    assert backend.options.retries == 4


def test_all_faults_together_never_give_a_wrong_output(model, expected):
    faults = Faults(flip=0.001, drop=0.001, duplicate=0.001, delay=0.03, delay_s=0.25, reset=0.03, seed=7)
    outcomes, counts, _ = run_through(model, faults)
    ok, failed = check(outcomes, expected)
    assert counts.total >= 5
    assert ok >= N // 2


def test_a_hopeless_link_fails_with_the_window_named(model, expected):
    outcomes, counts, _ = run_through(model, Faults(drop=0.3, seed=8), retries=1, timeout=0.05)
    ok, failed = check(outcomes, expected)
    assert failed >= N - 1
    err = next(o for o in outcomes if isinstance(o, SleepkitError))
    assert "no output" in str(err) and "attempts" in str(err)


@pytest.mark.skipif(not have_gcc(), reason="gcc not installed")
def test_c_device_under_faults():
    """The firmware's protocol.c (host build, echo engine) behind the same faulty link."""
    device = CProtocolDevice(100)
    rng = np.random.default_rng(11)
    xs = [bytes(rng.integers(0, 256, 256, dtype=np.uint8)) for _ in range(N)]
    faults = Faults(flip=0.002, drop=0.002, duplicate=0.002, reset=0.05, seed=12)
    ok = 0
    with TcpDeviceServer(device) as srv, FaultyLink(srv.port, faults, on_reset=device.reset) as link:
        port = serial.serial_for_url(link.url)
        try:
            client = ProtocolClient(port, timeout=0.15, retries=4, name="c-device")
            link.enabled = False
            client.hello()
            link.enabled = True
            for x in xs:
                try:
                    out = client.run_frame(x, 5).output
                except ProtocolError:
                    continue
                assert out == echo_output(x, 5)
                ok += 1
        finally:
            port.close()
    assert link.counts.total > 0 and ok >= N - 2

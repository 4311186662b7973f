"""firmware/src/protocol.c on the host: built with gcc (-Werror) around a fake board and the echo
engine, driven through ctypes. Checked against the Python device byte for byte, and fuzzed."""

from __future__ import annotations

import random

import numpy as np
import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from sleepkit.devices.engines import EchoEngine, echo_output
from sleepkit.devices.protocol_device import DeviceProtocol
from sleepkit.devices.server import TcpDeviceServer
from sleepkit.protocol import ProtocolClient, ProtocolError
from sleepkit.protocol import messages as m
from sleepkit.protocol.constants import ErrorCode, MsgType, reply_type
from sleepkit.protocol.framing import Frame, FrameDecoder, encode_frame

from _c_protocol import CProtocolDevice, have_gcc

pytestmark = pytest.mark.skipif(not have_gcc(), reason="gcc not installed")

MAXP = 200  # small device buffer: uploads take several chunks


def frames(data: bytes) -> list:
    return FrameDecoder().feed(data)


def one_reply(dev, wire: bytes) -> Frame:
    events = frames(dev.feed(wire))
    assert len(events) == 1 and isinstance(events[0], Frame), events
    return events[0]


@pytest.fixture
def c_dev():
    return CProtocolDevice(MAXP)


@pytest.fixture
def py_dev():
    return DeviceProtocol(EchoEngine(), max_payload=MAXP)


def _session() -> list[bytes]:
    """A scripted session covering every message and every error the device can answer."""
    x = bytes(np.random.default_rng(3).integers(0, 256, 256, dtype=np.uint8))
    s = [
        encode_frame(MsgType.HELLO, 1),
        encode_frame(MsgType.GET_OUTPUT, 2, m.pack_get_output(0, 5)),  # NO_OUTPUT
        encode_frame(MsgType.INFER, 3),  # INPUT_INCOMPLETE
        encode_frame(MsgType.SET_INPUT, 4, m.pack_set_input(0, x[:196])),
        encode_frame(MsgType.SET_INPUT, 5, m.pack_set_input(196, x[196:])),
        encode_frame(MsgType.SET_INPUT, 6, m.pack_set_input(196, x[196:])),  # resend: harmless
        encode_frame(MsgType.INFER, 7),
        encode_frame(MsgType.INFER, 8),  # input consumed: INPUT_INCOMPLETE
        encode_frame(MsgType.GET_OUTPUT, 9, m.pack_get_output(0, 5)),
        encode_frame(MsgType.GET_OUTPUT, 10, m.pack_get_output(2, 3)),
        encode_frame(MsgType.GET_OUTPUT, 11, m.pack_get_output(3, 5)),  # BAD_OFFSET
        encode_frame(MsgType.SET_INPUT, 12, m.pack_set_input(100, x[:10])),  # gap after reset of held: BAD_OFFSET
        encode_frame(MsgType.SET_INPUT, 13, m.pack_set_input(250, x[:10])),  # past the end: BAD_OFFSET
        encode_frame(MsgType.SET_INPUT, 14, b"\x00\x00"),  # BAD_LENGTH
        encode_frame(MsgType.HELLO, 15, b"x"),  # BAD_LENGTH
        encode_frame(0x42, 16),  # UNKNOWN_TYPE
        encode_frame(MsgType.SET_INPUT, 17, bytes(MAXP + 1)),  # TOO_LARGE
        encode_frame(MsgType.RESET, 18),
        encode_frame(MsgType.GET_OUTPUT, 19, m.pack_get_output(0, 5)),  # NO_OUTPUT after RESET
    ]
    bad_crc = bytearray(encode_frame(MsgType.HELLO, 20, b""))
    bad_crc[-3] ^= 0x01  # a CRC byte
    s.append(bytes(bad_crc))
    return s


EXPECTED = {
    2: ErrorCode.NO_OUTPUT, 3: ErrorCode.INPUT_INCOMPLETE, 8: ErrorCode.INPUT_INCOMPLETE, 11: ErrorCode.BAD_OFFSET,
    12: ErrorCode.BAD_OFFSET, 13: ErrorCode.BAD_OFFSET, 14: ErrorCode.BAD_LENGTH, 15: ErrorCode.BAD_LENGTH,
    16: ErrorCode.UNKNOWN_TYPE, 17: ErrorCode.TOO_LARGE, 19: ErrorCode.NO_OUTPUT, 20: ErrorCode.BAD_CRC,
}


def test_c_and_python_devices_answer_identically(c_dev, py_dev):
    x = None
    for wire in _session():
        rc, rp = one_reply(c_dev, wire), one_reply(py_dev, wire)
        assert rc.seq == rp.seq
        if rc.seq in EXPECTED:
            for r in (rc, rp):
                assert r.type == MsgType.ERROR, r
                assert m.unpack_error(r.payload).code == EXPECTED[r.seq]
        else:
            assert rc.type == reply_type(frames(wire)[0].type)
        if rc.type == reply_type(MsgType.INFER):
            c_res, p_res = m.unpack_infer_reply(rc.payload), m.unpack_infer_reply(rp.payload)
            assert (c_res.input_crc, c_res.output_crc) == (p_res.input_crc, p_res.output_crc)
        elif rc.seq == 9:
            x = bytes(np.random.default_rng(3).integers(0, 256, 256, dtype=np.uint8))
            assert m.unpack_output_reply(rc.payload)[2] == echo_output(x, 5)
            assert rc.payload == rp.payload
        else:
            assert rc.payload == rp.payload, (rc, rp)  # identical bytes, incl. error details
    assert x is not None


def test_c_info_matches_the_python_echo_engine(c_dev, py_dev):
    c_info = m.unpack_info(one_reply(c_dev, encode_frame(MsgType.INFO, 1)).payload)
    p_info = m.unpack_info(one_reply(py_dev, encode_frame(MsgType.INFO, 1)).payload)
    assert c_info.firmware_version == "0.1.0"
    assert (c_info.input, c_info.output, c_info.model_hash, c_info.max_payload) == (
        p_info.input, p_info.output, p_info.model_hash, p_info.max_payload
    )
    assert c_info.input.shape == (1, 64, 4) and c_info.input.zero_point == -3


def test_c_encoder_handles_zeros_and_long_runs(c_dev):
    """Replies full of zeros and with >254-byte zero-free runs decode exactly."""
    for pattern in (bytes(256), bytes([7]) * 256, bytes(range(256))):
        c_dev.feed(encode_frame(MsgType.SET_INPUT, 1, m.pack_set_input(0, pattern[:196])))
        c_dev.feed(encode_frame(MsgType.SET_INPUT, 2, m.pack_set_input(196, pattern[196:])))
        r = one_reply(c_dev, encode_frame(MsgType.INFER, 3))
        assert r.type == reply_type(MsgType.INFER)
        r = one_reply(c_dev, encode_frame(MsgType.GET_OUTPUT, 4, m.pack_get_output(0, 5)))
        assert m.unpack_output_reply(r.payload)[2] == echo_output(pattern, 5)


def test_client_over_c_device_with_rx_overruns():
    dev = CProtocolDevice(MAXP)
    x = bytes(np.random.default_rng(5).integers(0, 256, 256, dtype=np.uint8))
    with TcpDeviceServer(dev) as srv:
        link = serial.serial_for_url(srv.url)
        try:
            client = ProtocolClient(link, timeout=0.5, retries=3, name="c-device")
            assert client.hello().max_payload == MAXP
            assert client.info().model_name == "echo"
            assert client.run_frame(x, 5).output == echo_output(x, 5)
            # the board's RX ring dropped bytes mid-frame: the frame arrives short, the device answers
            # BAD_FRAME or nothing, and the client resends
            original_feed = dev.feed
            state = {"n": 0}

            def lossy(data: bytes) -> bytes:
                state["n"] += 1
                if state["n"] == 2:
                    dev.drop_rx(3)
                    data = data[:10] + data[13:]
                return original_feed(data)

            dev.feed = lossy
            assert client.run_frame(x, 5).output == echo_output(x, 5)
            assert client.stats.resends >= 1
            assert dev.stats()["rx_overruns"] == 3
            # a frame larger than the device buffer is refused on the host side with a clear message
            with pytest.raises(ProtocolError, match="exceeds the 200-byte buffer"):
                client.request(MsgType.SET_INPUT, bytes(MAXP + 1))
        finally:
            link.close()


def _check_replies(out: bytes) -> None:
    for e in FrameDecoder().feed(out):
        assert isinstance(e, Frame), f"the device sent a corrupt frame: {e}"
        assert e.type & 0x80


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=700))
def test_fuzz_c_decoder_random_bytes(data):
    dev = _FUZZ_DEV
    _check_replies(dev.feed(data))
    # the delimiter ends the garbage (which may earn an error reply); HELLO is then answered
    events = frames(dev.feed(b"\x00" + encode_frame(MsgType.HELLO, 77)))
    assert all(isinstance(e, Frame) for e in events)
    assert events[-1].type == reply_type(MsgType.HELLO) and events[-1].seq == 77
    assert all(e.type == MsgType.ERROR for e in events[:-1])


def test_fuzz_c_decoder_mutated_frames():
    """Thousands of mutated valid requests: the C device never crashes, never sends a bad frame,
    and answers a clean HELLO afterwards (no hang, no stuck state)."""
    dev = CProtocolDevice(MAXP)
    rng = random.Random(99)
    x = bytes(256)
    base = [
        encode_frame(MsgType.SET_INPUT, 1, m.pack_set_input(0, x[:196])),
        encode_frame(MsgType.SET_INPUT, 2, m.pack_set_input(196, x[196:])),
        encode_frame(MsgType.INFER, 3),
        encode_frame(MsgType.GET_OUTPUT, 4, m.pack_get_output(0, 5)),
        encode_frame(MsgType.INFO, 5),
        encode_frame(MsgType.GET_OUTPUT, 6, m.pack_get_output(0xFFFFFFF0, 0xFFFF)),
    ]
    stream = bytearray()
    for i in range(6000):
        wire = bytearray(rng.choice(base))
        for _ in range(rng.randrange(0, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(wire))
            if op == 0:
                wire[pos] ^= 1 << rng.randrange(8)
            elif op == 1 and len(wire) > 2:
                del wire[pos]
            else:
                wire.insert(pos, rng.randrange(256))
        stream += wire
        if i % 200 == 199:
            _check_replies(dev.feed(bytes(stream)))
            stream.clear()
    r = one_reply(dev, b"\x00" + encode_frame(MsgType.HELLO, 9))
    assert r.type == reply_type(MsgType.HELLO)
    s = dev.stats()
    assert s["frames_ok"] > 1000 and s["frames_bad"] > 1000


_FUZZ_DEV = CProtocolDevice(MAXP) if have_gcc() else None

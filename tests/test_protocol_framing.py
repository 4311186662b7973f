"""Python side of the protocol: constants from the one header, frame codec, decoder robustness."""

from __future__ import annotations

import random

import pytest
from cobs import cobs
from crc import Calculator, Crc32
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepkit.protocol import constants as C
from sleepkit.protocol import messages as m
from sleepkit.protocol.framing import BadFrame, Frame, FrameDecoder, crc32, encode_frame, max_encoded_size, parse_frame


def test_constants_come_from_the_header():
    text = C.header_text()
    assert "#define SK_MSG_INFER 0x04" in text
    assert C.MsgType.INFER == 4 and C.MsgType.ERROR == 0xFF
    assert C.ErrorCode.TOO_LARGE == 3 and C.DType.INT8 == 1
    assert C.MAGIC == b"SLPK" and C.MAX_PAYLOAD == 1024
    # parse_header: hex, decimal, strings, trailing comments; first definition wins
    parsed = C.parse_header('#define SK_A 0x10 /* x */\n#define SK_B "hi"\n  #define SK_A 3\n#define OTHER 1\n')
    assert parsed == {"SK_A": 16, "SK_B": "hi"}


def test_crc_is_the_standard_crc32():
    calc = Calculator(Crc32.CRC32)
    for data in (b"", b"123456789", bytes(range(256)) * 3):
        assert crc32(data) == calc.checksum(data)
    assert crc32(b"123456789") == 0xCBF43926  # the CRC-32/ISO-HDLC check value


def test_frame_layout_and_round_trip():
    wire = encode_frame(C.MsgType.SET_INPUT, 7, b"\x00\x01\x00")
    assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1]
    raw = cobs.decode(wire[:-1])
    assert raw[:4] == bytes([3, 0, C.MsgType.SET_INPUT, 7])
    assert raw[4:7] == b"\x00\x01\x00"
    assert int.from_bytes(raw[7:], "little") == crc32(raw[:7])
    assert parse_frame(wire[:-1]) == Frame(C.MsgType.SET_INPUT, 7, b"\x00\x01\x00")


def test_decoder_splits_resyncs_and_reports_bad_frames():
    good1 = encode_frame(1, 1, b"abc")
    good2 = encode_frame(2, 2, bytes(300))
    corrupt = bytearray(encode_frame(3, 9, b"xyz"))
    corrupt[3] ^= 0x40
    dec = FrameDecoder()
    events = []
    stream = b"\x00\x00garbage\x00" + good1 + bytes(corrupt) + good2
    for i in range(0, len(stream), 5):  # arrives in pieces, like serial reads
        events += dec.feed(stream[i : i + 5])
    frames = [e for e in events if isinstance(e, Frame)]
    bad = [e for e in events if isinstance(e, BadFrame)]
    assert [(f.type, f.seq, f.payload) for f in frames] == [(1, 1, b"abc"), (2, 2, bytes(300))]
    assert len(bad) == 2  # "garbage" and the flipped frame
    assert any(b.reason in ("crc", "cobs", "length") for b in bad)


def test_decoder_bounds_memory_and_names_the_oversize_frame():
    dec = FrameDecoder(max_payload=64)
    events = dec.feed(encode_frame(C.MsgType.SET_INPUT, 42, bytes(range(1, 201))) + encode_frame(1, 43))
    assert isinstance(events[0], BadFrame) and events[0].reason == "too_large"
    assert (events[0].seq, events[0].type) == (42, C.MsgType.SET_INPUT)
    assert events[1] == Frame(1, 43, b"")
    assert len(dec._buf) == 0
    assert max_encoded_size(64) >= len(encode_frame(1, 1, bytes(64)))


def test_info_payload_round_trip_and_errors():
    t_in = m.TensorInfo(C.DType.INT8, (1, 48, 6), 0.03125, 0, 288)  # a zero point of 0 is valid
    t_out = m.TensorInfo(C.DType.INT8, (1, 5), 0.0078125, -26, 5)
    info = m.DeviceInfo(1, 512, 0xDEADBEEF, 12345, t_in, t_out, "model", "tflm", "0.1.0")
    assert m.unpack_info(m.pack_info(info)) == info
    with pytest.raises(m.PayloadError):
        m.unpack_info(m.pack_info(info)[:-1])
    with pytest.raises(m.PayloadError):
        m.unpack_hello(b"XXXX\x01\x00\x00\x04")


def _assert_decoder_total(dec: FrameDecoder, data: bytes) -> list:
    events = dec.feed(data)
    for e in events:
        assert isinstance(e, (Frame, BadFrame))
        if isinstance(e, Frame):
            assert len(e.payload) <= dec.max_payload
    assert len(dec._buf) <= max_encoded_size(dec.max_payload)
    return events


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_decoder_random_bytes(data):
    dec = FrameDecoder(max_payload=128)
    _assert_decoder_total(dec, data)
    # after garbage and a delimiter, a good frame still comes through
    events = _assert_decoder_total(dec, b"\x00" + encode_frame(4, 200, b"ok"))
    assert events[-1] == Frame(4, 200, b"ok")


@settings(max_examples=800, deadline=None)
@given(
    payload=st.binary(max_size=300),
    seq=st.integers(0, 255),
    edits=st.lists(st.tuples(st.sampled_from("flip drop dup insert"), st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)
def test_fuzz_decoder_mutated_frames(payload, seq, edits):
    wire = bytearray(encode_frame(C.MsgType.SET_INPUT, seq, payload))
    for op, pos, val in edits:
        i = pos % len(wire)
        if op == "flip":
            wire[i] ^= 1 << (val % 8)
        elif op == "drop" and len(wire) > 1:
            del wire[i]
        elif op == "dup":
            wire.insert(i, wire[i])
        else:
            wire.insert(i, val)
    events = _assert_decoder_total(FrameDecoder(max_payload=256), bytes(wire))
    for e in events:
        if isinstance(e, Frame) and e.type == C.MsgType.SET_INPUT and e.seq == seq and edits:
            # a frame that survives mutation with our header must be the original (CRC-32 guarantee
            # for these small edit counts), never a silently altered payload
            assert e.payload == payload


def test_fuzz_many_mutated_frames_fast():
    """Tens of thousands of cheap mutations beyond hypothesis' budget: no exception, bounded state."""
    rng = random.Random(1234)
    dec = FrameDecoder(max_payload=256)
    accepted_altered = 0
    for _ in range(20_000):
        payload = rng.randbytes(rng.randrange(0, 260))
        wire = bytearray(encode_frame(rng.randrange(256), rng.randrange(256), payload))
        for _ in range(rng.randrange(1, 4)):
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        for e in _assert_decoder_total(dec, bytes(wire) + b"\x00"):
            if isinstance(e, Frame) and e.payload != payload:
                accepted_altered += 1
    assert accepted_altered == 0

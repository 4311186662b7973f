"""Frames on the wire: ``COBS(len u16 | type u8 | seq u8 | payload | crc32 u32) + 0x00``.

Byte stuffing is the ``cobs`` package; the CRC is CRC-32/ISO-HDLC (the ``crc`` package's
``Crc32.CRC32``), computed with ``zlib.crc32``, which is the same polynomial in C and hashes a whole
.tflite in milliseconds. ``FrameDecoder`` never raises on bad input: it turns any byte stream into
good frames and ``BadFrame`` events, resynchronising at each delimiter.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from cobs import cobs

from .constants import CRC_BYTES, DELIMITER, HEADER_BYTES, MAX_PAYLOAD_LIMIT

_HEADER = struct.Struct("<HBB")
_CRC = struct.Struct("<I")
_DELIM = bytes([DELIMITER])


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    return zlib.crc32(data, value) & 0xFFFFFFFF


def max_encoded_size(payload: int) -> int:
    """Longest stuffed frame (delimiter included) for a payload of ``payload`` bytes."""
    raw = HEADER_BYTES + payload + CRC_BYTES
    return raw + raw // 254 + 2


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD_LIMIT:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD_LIMIT}-byte length field")
    body = _HEADER.pack(len(payload), msg_type & 0xFF, seq & 0xFF) + bytes(payload)
    return cobs.encode(body + _CRC.pack(crc32(body))) + _DELIM


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class BadFrame:
    """A delimited chunk that is not a valid frame. ``seq``/``type`` are set when a header was readable
    (they may themselves be corrupt; use them only to address an error reply)."""

    reason: str  # "crc", "cobs", "short", "length", "too_large"
    seq: int | None = None
    type: int | None = None
    size: int = 0  # stuffed bytes seen


def _cobs_prefix(encoded: bytes) -> bytes:
    """Decode the complete COBS blocks at the start of a truncated stuffed frame (to read its header)."""
    end = 0
    while end < len(encoded) and encoded[end] != 0 and end + encoded[end] <= len(encoded):
        end += encoded[end]
    try:
        return cobs.decode(encoded[:end]) if end else b""
    except cobs.DecodeError:
        return b""


def parse_frame(encoded: bytes) -> Frame | BadFrame:
    """Decode one stuffed frame without its delimiter."""
    try:
        raw = cobs.decode(encoded)
    except cobs.DecodeError:
        return BadFrame("cobs", size=len(encoded))
    if len(raw) < HEADER_BYTES + CRC_BYTES:
        return BadFrame("short", size=len(encoded))
    length, msg_type, seq = _HEADER.unpack_from(raw)
    if length != len(raw) - HEADER_BYTES - CRC_BYTES:
        return BadFrame("length", seq, msg_type, len(encoded))
    (crc,) = _CRC.unpack_from(raw, len(raw) - CRC_BYTES)
    if crc != crc32(memoryview(raw)[: len(raw) - CRC_BYTES]):
        return BadFrame("crc", seq, msg_type, len(encoded))
    return Frame(msg_type, seq, bytes(raw[HEADER_BYTES : len(raw) - CRC_BYTES]))


class FrameDecoder:
    """Incremental decoder: ``feed(bytes)`` returns the frames and bad frames completed by those bytes.

    A chunk longer than the stuffed size of ``max_payload`` is dropped up to the next delimiter and
    reported once as ``BadFrame("too_large")`` with the header read from its start, so memory stays
    bounded whatever arrives.
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD_LIMIT) -> None:
        self.max_payload = max_payload
        self._limit = max_encoded_size(max_payload)
        self._buf = bytearray()
        self._overflow = 0  # stuffed bytes of an oversize chunk seen so far (0: none)
        self._overflow_head = b""

    def reset(self) -> None:
        self._buf.clear()
        self._overflow = 0
        self._overflow_head = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | BadFrame]:
        events: list[Frame | BadFrame] = []
        data = bytes(data)
        start = 0
        while start <= len(data):
            end = data.find(_DELIM, start)
            part = data[start:] if end < 0 else data[start:end]
            self._append(part)
            if end < 0:
                break
            events.extend(self._finish())
            start = end + 1
        return events

    def _append(self, part: bytes) -> None:
        if self._overflow:
            self._overflow += len(part)
            return
        self._buf += part
        if len(self._buf) > self._limit:
            self._overflow = len(self._buf)
            # enough stuffed bytes for the COBS blocks that hold the header (a block is <= 255 bytes)
            self._overflow_head = bytes(self._buf[: HEADER_BYTES * 2 + 255])
            self._buf.clear()

    def _finish(self) -> list[Frame | BadFrame]:
        if self._overflow:
            head = _cobs_prefix(self._overflow_head)
            seq = head[3] if len(head) >= HEADER_BYTES else None
            msg_type = head[2] if len(head) >= HEADER_BYTES else None
            event = BadFrame("too_large", seq, msg_type, self._overflow)
            self._overflow = 0
            self._overflow_head = b""
            return [event]
        if not self._buf:
            return []  # back-to-back delimiters are idle fill, not errors
        encoded = bytes(self._buf)
        self._buf.clear()
        return [parse_frame(encoded)]

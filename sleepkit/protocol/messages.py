"""Payload layouts of every message (little-endian), shared by the host client and simulated device.

See firmware/protocol.md for the table; the C side (firmware/src/protocol.c) packs the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .constants import DTYPE_NAMES, MAGIC, MAX_DIMS, MAX_NAME, ErrorCode, MsgType


class PayloadError(ValueError):
    """A payload does not have the layout its message type requires."""


# HELLO reply: magic[4] | protocol version u16 | max payload u16
HELLO_REPLY = struct.Struct("<4sHH")
# INFO reply fixed part: protocol version u16 | max payload u16 | model hash u32 | arena bytes u32
INFO_FIXED = struct.Struct("<HHII")
# tensor: dtype u8 | ndims u8 | dims i32[MAX_DIMS] | scale f32 | zero point i32 | bytes u32
TENSOR = struct.Struct(f"<BB{MAX_DIMS}ifiI")
# SET_INPUT request: offset u32 | data ; reply: bytes held u32
OFFSET = struct.Struct("<I")
HELD = struct.Struct("<I")
# INFER reply: input crc32 u32 | output crc32 u32 | invoke time us u32
INFER_REPLY = struct.Struct("<III")
# GET_OUTPUT request: offset u32 | length u16 ; reply: input crc32 u32 | offset u32 | data
GET_OUTPUT_REQ = struct.Struct("<IH")
GET_OUTPUT_REPLY = struct.Struct("<II")
# ERROR reply: code u8 | request type u8 | detail u32
ERROR = struct.Struct("<BBI")


@dataclass(frozen=True)
class Hello:
    version: int
    max_payload: int


@dataclass(frozen=True)
class TensorInfo:
    dtype: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    bytes: int

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES.get(self.dtype, f"dtype#{self.dtype}")


@dataclass(frozen=True)
class DeviceInfo:
    version: int
    max_payload: int
    model_hash: int
    arena_bytes: int
    input: TensorInfo
    output: TensorInfo
    model_name: str
    engine_name: str
    firmware_version: str


@dataclass(frozen=True)
class InferResult:
    input_crc: int
    output_crc: int
    invoke_us: int


@dataclass(frozen=True)
class ErrorReply:
    code: int
    request: int
    detail: int

    def describe(self) -> str:
        try:
            code = ErrorCode(self.code).name
        except ValueError:
            code = f"code {self.code}"
        try:
            req = MsgType(self.request).name
        except ValueError:
            req = f"type 0x{self.request:02x}"
        return f"{code} for {req} (detail {self.detail})"


def _need(payload: bytes, size: int, what: str, exact: bool = True) -> None:
    if len(payload) < size or (exact and len(payload) != size):
        raise PayloadError(f"{what} payload is {len(payload)} bytes, expected {'' if exact else 'at least '}{size}")


def pack_hello(max_payload: int, version: int) -> bytes:
    return HELLO_REPLY.pack(MAGIC, version, max_payload)


def unpack_hello(payload: bytes) -> Hello:
    _need(payload, HELLO_REPLY.size, "HELLO reply")
    magic, version, max_payload = HELLO_REPLY.unpack(payload)
    if magic != MAGIC:
        raise PayloadError(f"HELLO reply magic {magic!r} is not {MAGIC!r}")
    return Hello(version, max_payload)


def pack_tensor(t: TensorInfo) -> bytes:
    if len(t.shape) > MAX_DIMS:
        raise PayloadError(f"tensor has {len(t.shape)} dims; the protocol carries at most {MAX_DIMS}")
    dims = list(t.shape) + [0] * (MAX_DIMS - len(t.shape))
    return TENSOR.pack(t.dtype, len(t.shape), *dims, t.scale, t.zero_point, t.bytes)


def unpack_tensor(payload: bytes, offset: int) -> TensorInfo:
    dtype, ndims, *rest = TENSOR.unpack_from(payload, offset)
    dims, (scale, zero_point, nbytes) = rest[:MAX_DIMS], rest[MAX_DIMS:]
    if ndims > MAX_DIMS:
        raise PayloadError(f"tensor ndims {ndims} exceeds {MAX_DIMS}")
    return TensorInfo(dtype, tuple(int(d) for d in dims[:ndims]), float(scale), int(zero_point), int(nbytes))


def _pack_name(text: str) -> bytes:
    raw = text.encode("utf-8")[:MAX_NAME]
    return bytes([len(raw)]) + raw


def pack_info(info: DeviceInfo) -> bytes:
    return (
        INFO_FIXED.pack(info.version, info.max_payload, info.model_hash, info.arena_bytes)
        + pack_tensor(info.input)
        + pack_tensor(info.output)
        + _pack_name(info.model_name)
        + _pack_name(info.engine_name)
        + _pack_name(info.firmware_version)
    )


def unpack_info(payload: bytes) -> DeviceInfo:
    fixed = INFO_FIXED.size + 2 * TENSOR.size
    _need(payload, fixed + 3, "INFO reply", exact=False)
    version, max_payload, model_hash, arena = INFO_FIXED.unpack_from(payload)
    tin = unpack_tensor(payload, INFO_FIXED.size)
    tout = unpack_tensor(payload, INFO_FIXED.size + TENSOR.size)
    names, pos = [], fixed
    for _ in range(3):
        if pos >= len(payload):
            raise PayloadError("INFO reply ends before its names")
        n = payload[pos]
        if pos + 1 + n > len(payload):
            raise PayloadError("INFO reply name runs past the payload")
        names.append(payload[pos + 1 : pos + 1 + n].decode("utf-8", errors="replace"))
        pos += 1 + n
    if pos != len(payload):
        raise PayloadError(f"INFO reply has {len(payload) - pos} trailing bytes")
    return DeviceInfo(version, max_payload, model_hash, arena, tin, tout, *names)


def pack_set_input(offset: int, data: bytes) -> bytes:
    return OFFSET.pack(offset) + bytes(data)


def unpack_set_input(payload: bytes) -> tuple[int, bytes]:
    _need(payload, OFFSET.size + 1, "SET_INPUT", exact=False)
    (offset,) = OFFSET.unpack_from(payload)
    return offset, payload[OFFSET.size :]


def pack_held(held: int) -> bytes:
    return HELD.pack(held)


def unpack_held(payload: bytes) -> int:
    _need(payload, HELD.size, "SET_INPUT reply")
    return HELD.unpack(payload)[0]


def pack_infer_reply(r: InferResult) -> bytes:
    return INFER_REPLY.pack(r.input_crc, r.output_crc, r.invoke_us)


def unpack_infer_reply(payload: bytes) -> InferResult:
    _need(payload, INFER_REPLY.size, "INFER reply")
    return InferResult(*INFER_REPLY.unpack(payload))


def pack_get_output(offset: int, length: int) -> bytes:
    return GET_OUTPUT_REQ.pack(offset, length)


def unpack_get_output(payload: bytes) -> tuple[int, int]:
    _need(payload, GET_OUTPUT_REQ.size, "GET_OUTPUT")
    return GET_OUTPUT_REQ.unpack(payload)


def pack_output_reply(input_crc: int, offset: int, data: bytes) -> bytes:
    return GET_OUTPUT_REPLY.pack(input_crc, offset) + bytes(data)


def unpack_output_reply(payload: bytes) -> tuple[int, int, bytes]:
    _need(payload, GET_OUTPUT_REPLY.size, "GET_OUTPUT reply", exact=False)
    input_crc, offset = GET_OUTPUT_REPLY.unpack_from(payload)
    return input_crc, offset, payload[GET_OUTPUT_REPLY.size :]


def pack_error(code: int, request: int, detail: int = 0) -> bytes:
    return ERROR.pack(code, request & 0xFF, detail & 0xFFFFFFFF)


def unpack_error(payload: bytes) -> ErrorReply:
    _need(payload, ERROR.size, "ERROR reply")
    return ErrorReply(*ERROR.unpack(payload))

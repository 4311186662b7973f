"""Protocol constants, parsed at import from ``sk_protocol.h`` (the header the firmware includes).

One source for both sides: editing a value in the header changes the C build and this module alike.
"""

from __future__ import annotations

import enum
import re
from importlib import resources

HEADER_NAME = "sk_protocol.h"

# "#define SK_NAME value" where value is a decimal/hex integer or a string literal; trailing C comments allowed.
_DEFINE = re.compile(r'^\s*#\s*define\s+(SK_[A-Z0-9_]+)\s+(0[xX][0-9a-fA-F]+|\d+|"[^"]*")\s*(?:/\*.*)?$')


def parse_header(text: str) -> dict[str, int | str]:
    """Return every ``SK_*`` define of the header as an int or str (the first definition wins)."""
    values: dict[str, int | str] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if not m or m.group(1) in values:
            continue
        raw = m.group(2)
        values[m.group(1)] = raw[1:-1] if raw.startswith('"') else int(raw, 0)
    return values


def header_text() -> str:
    return resources.files(__package__).joinpath(HEADER_NAME).read_text(encoding="utf-8")


DEFINES: dict[str, int | str] = parse_header(header_text())


def _get(name: str) -> int:
    value = DEFINES[name]
    assert isinstance(value, int), name
    return value


PROTOCOL_VERSION = _get("SK_PROTOCOL_VERSION")
MAGIC = str(DEFINES["SK_PROTOCOL_MAGIC"]).encode("ascii")
DELIMITER = _get("SK_FRAME_DELIMITER")
HEADER_BYTES = _get("SK_HEADER_BYTES")
CRC_BYTES = _get("SK_CRC_BYTES")
MAX_PAYLOAD = _get("SK_MAX_PAYLOAD")
MAX_PAYLOAD_LIMIT = _get("SK_MAX_PAYLOAD_LIMIT")
MAX_DIMS = _get("SK_MAX_DIMS")
MAX_NAME = _get("SK_MAX_NAME")
REPLY_FLAG = _get("SK_REPLY_FLAG")


def _enum(name: str, prefix: str, *, exclude: tuple[str, ...] = ()) -> type[enum.IntEnum]:
    members = {
        k[len(prefix):]: v for k, v in DEFINES.items() if k.startswith(prefix) and isinstance(v, int) and k not in exclude
    }
    return enum.IntEnum(name, members)


MsgType = _enum("MsgType", "SK_MSG_")
ErrorCode = _enum("ErrorCode", "SK_ERR_")
DType = _enum("DType", "SK_DTYPE_")

# numpy dtype names for each wire dtype
DTYPE_NAMES: dict[int, str] = {
    DType.INT8: "int8",
    DType.UINT8: "uint8",
    DType.INT16: "int16",
    DType.INT32: "int32",
    DType.FLOAT32: "float32",
}
DTYPE_CODES: dict[str, int] = {v: k for k, v in DTYPE_NAMES.items()}


def reply_type(request: int) -> int:
    return request | REPLY_FLAG

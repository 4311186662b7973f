"""The sleepkit serial protocol (host and simulated-device side). Spec: firmware/protocol.md.

Constants come from ``sk_protocol.h`` (shipped with this package, included by the firmware).
"""

from .constants import DType, ErrorCode, MsgType, PROTOCOL_VERSION
from .framing import BadFrame, Frame, FrameDecoder, crc32, encode_frame, parse_frame
from .client import DeviceError, IntegrityError, LinkLost, LinkTimeout, ProtocolClient, ProtocolError

__all__ = [
    "DType", "ErrorCode", "MsgType", "PROTOCOL_VERSION", "BadFrame", "Frame", "FrameDecoder", "crc32",
    "encode_frame", "parse_frame", "DeviceError", "IntegrityError", "LinkLost", "LinkTimeout",
    "ProtocolClient", "ProtocolError",
]

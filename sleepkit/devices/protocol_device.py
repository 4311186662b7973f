"""Device side of the protocol in Python: the same state machine as firmware/src/protocol.c.

``feed(bytes) -> bytes`` consumes whatever arrived on the link and returns the stuffed replies.
State: the input bytes held so far and whether the output belongs to the current input. Every
request is idempotent, so the host can resend any request whose reply it did not get.
"""

from __future__ import annotations

import threading
import time

from .. import __version__
from ..protocol import messages as m
from ..protocol.constants import MAX_PAYLOAD, PROTOCOL_VERSION, ErrorCode, MsgType, reply_type
from ..protocol.framing import BadFrame, Frame, FrameDecoder, crc32, encode_frame
from .engines import Engine

FIRMWARE_VERSION = f"sim-{__version__}"


class DeviceProtocol:
    def __init__(self, engine: Engine, max_payload: int = MAX_PAYLOAD, firmware_version: str = FIRMWARE_VERSION) -> None:
        self.engine = engine
        self.max_payload = int(max_payload)
        self.firmware_version = firmware_version
        self._decoder = FrameDecoder(self.max_payload)
        self._lock = threading.Lock()
        self.resets = 0
        self.frames_in = 0
        self._clear()

    def _clear(self) -> None:
        self._input = bytearray(self.engine.input.bytes)
        self._held = 0
        self._output: bytes | None = None
        self._input_crc = 0

    def reset(self) -> None:
        """A power-on reset: state and any partly received frame are lost."""
        with self._lock:
            self._decoder.reset()
            self._clear()
            self.resets += 1

    def feed(self, data: bytes) -> bytes:
        with self._lock:
            out = bytearray()
            for event in self._decoder.feed(data):
                out += self._handle(event)
            return bytes(out)

    # ------------------------------------------------------------------------------------------
    def _error(self, seq: int, request: int, code: int, detail: int = 0) -> bytes:
        return encode_frame(MsgType.ERROR, seq, m.pack_error(code, request, detail))

    def _handle(self, event: Frame | BadFrame) -> bytes:
        if isinstance(event, BadFrame):
            # Reply only when a header was readable: the host matches replies by seq.
            if event.seq is None:
                return b""
            code = {"crc": ErrorCode.BAD_CRC, "too_large": ErrorCode.TOO_LARGE}.get(event.reason, ErrorCode.BAD_FRAME)
            detail = self.max_payload if code == ErrorCode.TOO_LARGE else 0
            return self._error(event.seq, event.type or 0, code, detail)
        self.frames_in += 1
        seq, t, p = event.seq, event.type, event.payload
        if len(p) > self.max_payload:
            return self._error(seq, t, ErrorCode.TOO_LARGE, self.max_payload)
        handler = {
            MsgType.HELLO: self._hello,
            MsgType.INFO: self._info,
            MsgType.SET_INPUT: self._set_input,
            MsgType.INFER: self._infer,
            MsgType.GET_OUTPUT: self._get_output,
            MsgType.RESET: self._reset_cmd,
        }.get(t)
        if handler is None:
            return self._error(seq, t, ErrorCode.UNKNOWN_TYPE)
        result = handler(p)
        if isinstance(result, tuple):  # (error code, detail)
            return self._error(seq, t, *result)
        return encode_frame(reply_type(t), seq, result)

    def _hello(self, p: bytes):
        if p:
            return ErrorCode.BAD_LENGTH, len(p)
        return m.pack_hello(self.max_payload, PROTOCOL_VERSION)

    def _info(self, p: bytes):
        if p:
            return ErrorCode.BAD_LENGTH, len(p)
        e = self.engine
        return m.pack_info(
            m.DeviceInfo(
                PROTOCOL_VERSION, self.max_payload, e.model_hash, e.arena_bytes, e.input, e.output,
                e.model_name, e.engine_name, self.firmware_version,
            )
        )

    def _set_input(self, p: bytes):
        if len(p) <= m.OFFSET.size:
            return ErrorCode.BAD_LENGTH, len(p)
        offset, data = m.unpack_set_input(p)
        if offset == 0:
            self._held = 0  # a new input starts
        if offset > self._held or offset + len(data) > len(self._input):
            return ErrorCode.BAD_OFFSET, self._held
        self._input[offset : offset + len(data)] = data
        self._held = max(self._held, offset + len(data))
        self._output = None
        return m.pack_held(self._held)

    def _infer(self, p: bytes):
        if p:
            return ErrorCode.BAD_LENGTH, len(p)
        if self._held != len(self._input):
            return ErrorCode.INPUT_INCOMPLETE, self._held
        self._input_crc = crc32(self._input)
        self._held = 0  # consumed, as on the firmware (an engine may reuse the input buffer)
        t0 = time.perf_counter()
        try:
            out = self.engine.invoke(bytes(self._input))
        except Exception:  # noqa: BLE001 - report engine failure to the host like the firmware does
            self._output = None
            return ErrorCode.ENGINE, 1
        invoke_us = int((time.perf_counter() - t0) * 1e6)
        self._output = out
        return m.pack_infer_reply(m.InferResult(self._input_crc, crc32(out), invoke_us))

    def _get_output(self, p: bytes):
        if len(p) != m.GET_OUTPUT_REQ.size:
            return ErrorCode.BAD_LENGTH, len(p)
        if self._output is None:
            return ErrorCode.NO_OUTPUT, 0
        offset, length = m.unpack_get_output(p)
        if offset + length > len(self._output) or length > self.max_payload - m.GET_OUTPUT_REPLY.size:
            return ErrorCode.BAD_OFFSET, len(self._output)
        return m.pack_output_reply(self._input_crc, offset, self._output[offset : offset + length])

    def _reset_cmd(self, p: bytes):
        if p:
            return ErrorCode.BAD_LENGTH, len(p)
        self._clear()
        return b""

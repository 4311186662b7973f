"""Host side of the protocol over any pyserial port: requests with retries, chunked frame transfer.

Reading is non-blocking plus ``select`` on the port's file descriptor, so a reply is taken as soon as
its delimiter arrives and a partial read never ends a frame early (pyserial's ``read(n)`` with a
timeout may return fewer bytes; ``in_waiting`` on ``socket://`` is only 0 or 1).

Every request gets a fresh sequence number; a reply is accepted only if it decodes, its CRC matches,
and it echoes that number and the request's type. Timeouts, corrupt replies and ``BAD_CRC`` error
replies resend the request up to ``retries`` times. A whole frame (input upload, INFER, output
download) is restarted when the device shows it lost state (reset) or its input CRC differs from the
host's, again a bounded number of times. Nothing is returned that the CRCs do not vouch for.
"""

from __future__ import annotations

import select
import time
from dataclasses import dataclass, field

from ..errors import SleepkitError
from . import messages as m
from .constants import ErrorCode, MsgType, reply_type
from .framing import BadFrame, Frame, FrameDecoder, crc32, encode_frame

READ_CHUNK = 65536
# Device errors that mean "the device no longer holds this frame's state" (e.g. it was reset):
# the whole frame is sent again.
STATE_LOST = (ErrorCode.BAD_OFFSET, ErrorCode.INPUT_INCOMPLETE, ErrorCode.NO_OUTPUT)
RESEND_NOW = (ErrorCode.BAD_CRC, ErrorCode.BAD_FRAME)


class ProtocolError(SleepkitError):
    """The device could not be talked to reliably, or answered with an error."""


class LinkTimeout(ProtocolError):
    """No valid reply after every attempt."""


class LinkLost(ProtocolError):
    """The port itself failed (closed socket, unplugged device)."""


class DeviceError(ProtocolError):
    def __init__(self, message: str, error: m.ErrorReply) -> None:
        super().__init__(message)
        self.error = error


class IntegrityError(ProtocolError):
    """The device's CRC of what it received or produced differs from what the host expects."""


@dataclass
class LinkStats:
    requests: int = 0
    resends: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    stale_frames: int = 0
    frame_restarts: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    payload_out: int = 0
    payload_in: int = 0


@dataclass
class FrameResult:
    output: bytes
    input_crc: int
    invoke_us: int
    rtt_s: float
    attempts: int = 1
    log: list[str] = field(default_factory=list)


class ProtocolClient:
    def __init__(self, link, *, timeout: float = 2.0, retries: int = 3, name: str = "device") -> None:
        self.link = link
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.name = name
        self.stats = LinkStats()
        self.max_payload: int | None = None
        self._infer_rtt_max: float | None = None  # slowest INFER round trip seen
        self._seq = 0
        self._decoder = FrameDecoder()
        self._pending: list[Frame | BadFrame] = []
        self.link.timeout = 0  # non-blocking reads; waiting is done with select
        try:
            self._fd = self.link.fileno()
        except Exception:  # noqa: BLE001 - ports without a file descriptor (rfc2217://, loop://) poll instead
            self._fd = None

    # ------------------------------------------------------------------------------------ raw I/O
    def _write(self, data: bytes) -> None:
        try:
            self.link.write(data)
            self.link.flush()
        except Exception as exc:  # noqa: BLE001 - pyserial raises SerialException/OSError variants
            raise LinkLost(f"writing to {self.name} failed: {exc}") from None
        self.stats.bytes_out += len(data)

    def _read_available(self) -> bytes:
        try:
            return self.link.read(READ_CHUNK)
        except Exception as exc:  # noqa: BLE001
            raise LinkLost(f"reading from {self.name} failed: {exc}") from None

    def _next_event(self, deadline: float) -> Frame | BadFrame | None:
        while not self._pending:
            data = self._read_available()
            if data:
                self.stats.bytes_in += len(data)
                self._pending.extend(self._decoder.feed(data))
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self._fd is not None:
                select.select([self._fd], [], [], min(remaining, 0.5))
            else:
                time.sleep(min(remaining, 0.001))
        return self._pending.pop(0)

    def drain(self, quiet: float = 0.05) -> int:
        """Discard whatever arrives until the line is quiet for ``quiet`` seconds; returns bytes dropped."""
        dropped = 0
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            data = self._read_available()
            if data:
                dropped += len(data)
                end = time.monotonic() + quiet
            elif self._fd is not None:
                select.select([self._fd], [], [], quiet)
            else:
                time.sleep(0.001)
        self._decoder.reset()
        self._pending.clear()
        return dropped

    # ------------------------------------------------------------------------------------ requests
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def request(self, msg_type: int, payload: bytes = b"", *, what: str | None = None, timeout: float | None = None) -> bytes:
        """Send one request; return the payload of its reply (retrying transient failures)."""
        what = what or MsgType(msg_type).name
        timeout = self.timeout if timeout is None else timeout
        if self.max_payload is not None and len(payload) > self.max_payload:
            raise ProtocolError(
                f"{what}: a {len(payload)}-byte payload exceeds the {self.max_payload}-byte buffer of {self.name}"
            )
        attempts = self.retries + 1
        problems: list[str] = []
        self.stats.requests += 1
        for attempt in range(attempts):
            if attempt:
                self.stats.resends += 1
            seq = self._next_seq()
            self._write(encode_frame(msg_type, seq, payload))
            self.stats.payload_out += len(payload)
            deadline = time.monotonic() + timeout
            while True:
                event = self._next_event(deadline)
                if event is None:
                    self.stats.timeouts += 1
                    problems.append(f"no reply within {timeout:g} s")
                    break
                if isinstance(event, BadFrame):
                    self.stats.bad_frames += 1
                    if event.seq == seq:
                        problems.append(f"corrupt reply ({event.reason})")
                        break
                    continue  # garbage or a stale reply: keep listening
                if event.seq != seq:
                    self.stats.stale_frames += 1
                    continue
                if event.type == reply_type(msg_type):
                    self.stats.payload_in += len(event.payload)
                    return event.payload
                if event.type == MsgType.ERROR:
                    err = self._parse(f"{what} error reply", m.unpack_error, event.payload)
                    # TOO_LARGE for a payload that fits the device means the link merged frames
                    # (a lost delimiter): a transmission fault like a bad CRC.
                    fits = self.max_payload is not None and len(payload) <= self.max_payload
                    if err.code in RESEND_NOW or (err.code == ErrorCode.TOO_LARGE and fits):
                        problems.append(f"device reported {err.describe()}")
                        break
                    raise DeviceError(f"{what}: {self.name} replied {err.describe()}", err)
                problems.append(f"reply of unexpected type 0x{event.type:02x}")
                break
        summary = "; ".join(dict.fromkeys(problems))
        raise LinkTimeout(f"{what}: no valid reply from {self.name} after {attempts} attempts ({summary})")

    def _parse(self, what: str, fn, payload: bytes):
        try:
            return fn(payload)
        except (m.PayloadError, ValueError) as exc:
            raise ProtocolError(f"{what}: {self.name} sent a malformed reply: {exc}") from None

    def hello(self, timeout: float | None = None) -> m.Hello:
        hello = self._parse("HELLO", m.unpack_hello, self.request(MsgType.HELLO, timeout=timeout))
        self.max_payload = hello.max_payload
        return hello

    def info(self) -> m.DeviceInfo:
        info = self._parse("INFO", m.unpack_info, self.request(MsgType.INFO))
        self.max_payload = info.max_payload
        return info

    def reset(self) -> None:
        self.request(MsgType.RESET)

    def set_input(self, offset: int, data: bytes, what: str = "SET_INPUT") -> int:
        return self._parse(what, m.unpack_held, self.request(MsgType.SET_INPUT, m.pack_set_input(offset, data), what=what))

    def infer(self, timeout: float | None = None) -> m.InferResult:
        return self._parse("INFER", m.unpack_infer_reply, self.request(MsgType.INFER, timeout=timeout))

    def get_output(self, offset: int, length: int, what: str = "GET_OUTPUT") -> tuple[int, int, bytes]:
        reply = self.request(MsgType.GET_OUTPUT, m.pack_get_output(offset, length), what=what)
        return self._parse(what, m.unpack_output_reply, reply)

    # ------------------------------------------------------------------------------------ frames
    def run_frame(self, data: bytes, output_bytes: int, *, infer_timeout: float | None = None, max_restarts: int | None = None) -> FrameResult:
        """Upload ``data`` (chunked), run INFER, download ``output_bytes``; verify both CRCs.

        Restarts the whole frame when the device lost its state or saw different bytes.
        """
        if self.max_payload is None:
            raise ProtocolError("run_frame before HELLO/INFO: the device's buffer size is unknown")
        in_chunk = self.max_payload - m.OFFSET.size
        out_chunk = self.max_payload - m.GET_OUTPUT_REPLY.size
        if in_chunk <= 0 or out_chunk <= 0:
            raise ProtocolError(f"{self.name} reports a {self.max_payload}-byte buffer, too small for any data")
        expect_crc = crc32(data)
        if self._infer_rtt_max is not None:
            # Once the model's speed is known, a lost INFER reply costs a few invoke times, not the
            # first-window allowance.
            adaptive = max(self.timeout, 3 * self._infer_rtt_max)
            infer_timeout = adaptive if infer_timeout is None else min(infer_timeout, adaptive)
        restarts = self.retries if max_restarts is None else max_restarts
        log: list[str] = []
        t0 = time.perf_counter()
        for attempt in range(restarts + 1):
            if attempt:
                self.stats.frame_restarts += 1
            try:
                n_in = max(1, -(-len(data) // in_chunk))
                for i, off in enumerate(range(0, len(data), in_chunk)):
                    held = self.set_input(off, data[off : off + in_chunk], what=f"SET_INPUT chunk {i + 1}/{n_in}")
                    expect_held = min(len(data), off + in_chunk)
                    if held != expect_held:
                        raise IntegrityError(f"after chunk {i + 1}/{n_in} the device holds {held} bytes, expected {expect_held}")
                t_infer = time.perf_counter()
                result = self.infer(timeout=infer_timeout)
                rtt = time.perf_counter() - t_infer
                self._infer_rtt_max = rtt if self._infer_rtt_max is None else max(self._infer_rtt_max, rtt)
                if result.input_crc != expect_crc:
                    raise IntegrityError(
                        f"device input CRC 0x{result.input_crc:08x} != sent 0x{expect_crc:08x}"
                    )
                out = bytearray()
                while len(out) < output_bytes:
                    length = min(out_chunk, output_bytes - len(out))
                    in_crc, off, chunk = self.get_output(len(out), length)
                    if in_crc != expect_crc or off != len(out) or len(chunk) != length:
                        raise IntegrityError(
                            f"GET_OUTPUT at {len(out)} answered offset {off}, {len(chunk)} bytes, input CRC 0x{in_crc:08x}"
                        )
                    out += chunk
                if crc32(out) != result.output_crc:
                    raise IntegrityError(f"output CRC 0x{crc32(out):08x} != device's 0x{result.output_crc:08x}")
                return FrameResult(bytes(out), result.input_crc, result.invoke_us, time.perf_counter() - t0, attempt + 1, log)
            except DeviceError as exc:
                if exc.error.code not in STATE_LOST:
                    raise
                log.append(str(exc))
            except IntegrityError as exc:
                log.append(str(exc))
        raise ProtocolError(
            f"frame not confirmed by {self.name} after {restarts + 1} attempts: {'; '.join(dict.fromkeys(log))}"
        )

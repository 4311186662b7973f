"""``evb`` backend: run the exported model on a board (or simulated device) over a serial link.

Where the device is comes from ``options`` (set by ``sleepkit demo --port/--baud/--vid-pid/
--serial-number`` or from Python: ``sleepkit.backends.evb.options.update(port=...)``), not from the
task config, whose fields are fixed:

- ``port``: a device path (``/dev/ttyACM0``, a pty) or any pyserial URL (``socket://127.0.0.1:5555``);
- otherwise ``vid_pid`` (``"1fc9:0143"``) and/or ``serial_number`` select a USB serial device, waiting
  up to ``find_timeout`` seconds for it to enumerate.

``open`` handshakes (HELLO, INFO) and refuses a device whose model differs from the exported
.tflite (CRC-32 hash, shapes, dtypes, quantisation). ``infer`` quantises with the model's own scale
and zero point, sends the window in chunks and accepts the output only when the device's CRC of
the input it received equals the host's; any loss the retries cannot repair raises a
``SleepkitError`` naming the window.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..log import logger
from ..params import TaskParams
from ..protocol.client import LinkTimeout, ProtocolClient, ProtocolError
from ..protocol.constants import DTYPE_NAMES, PROTOCOL_VERSION
from ..protocol.messages import DeviceInfo, TensorInfo
from ..protocol.model_file import ModelFileInfo, read_model_file
from ..quant import dequantize, quantize
from .base import Backend, Inference, ModelIO


@dataclass
class EvbOptions:
    port: str | None = None
    baud: int = 115200
    vid_pid: str | None = None
    serial_number: str | None = None
    timeout: float = 5.0  # seconds to wait for one reply
    infer_timeout: float = 60.0  # seconds to wait for the INFER reply (the model runs meanwhile)
    retries: int = 3  # resends of one request, and restarts of one window
    find_timeout: float = 5.0  # seconds to wait for a USB device to appear
    given: list[str] = field(default_factory=list)  # the command-line options that set these (demo refuses them with pc)

    def update(self, **values) -> "EvbOptions":
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise SleepkitError(f"unknown evb option '{key}'; options are {', '.join(sorted(names))}")
            if value is not None:
                setattr(self, key, value)
        self.validate()
        return self

    def validate(self) -> None:
        if self.vid_pid is not None and not re.fullmatch(r"[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}", self.vid_pid):
            raise SleepkitError(f"evb --vid-pid '{self.vid_pid}' must look like 1fc9:0143 (hex VID:PID)")
        if int(self.baud) <= 0:
            raise SleepkitError(f"evb --baud must be positive, got {self.baud}")
        for name in ("timeout", "infer_timeout", "find_timeout"):
            if float(getattr(self, name)) <= 0:
                raise SleepkitError(f"evb option {name} must be > 0 seconds, got {getattr(self, name)}")
        if int(self.retries) < 0:
            raise SleepkitError(f"evb option retries must be >= 0, got {self.retries}")


options = EvbOptions()


def describe_ports() -> str:
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    if not ports:
        return "no serial ports found"
    out = []
    for p in ports:
        usb = f" VID:PID={p.vid:04x}:{p.pid:04x}" if p.vid is not None else ""
        sn = f" SN={p.serial_number}" if p.serial_number else ""
        out.append(f"{p.device} ({p.description}{usb}{sn})")
    return "ports present: " + ", ".join(out)


def find_usb_port(vid_pid: str | None, serial_number: str | None, wait_s: float) -> str:
    from serial.tools import list_ports

    vid = pid = None
    if vid_pid:
        vid, pid = (int(v, 16) for v in vid_pid.split(":"))
    want = " ".join(x for x in (f"VID:PID {vid_pid}" if vid_pid else "", f"serial number {serial_number}" if serial_number else "") if x)
    deadline = time.monotonic() + wait_s
    while True:
        found = [
            p for p in list_ports.comports()
            if (vid is None or (p.vid == vid and p.pid == pid)) and (serial_number is None or p.serial_number == serial_number)
        ]
        if len(found) == 1:
            return found[0].device
        if len(found) > 1:
            raise SleepkitError(
                f"{len(found)} serial devices match {want}: {', '.join(p.device for p in found)}; "
                "pick one with --port or --serial-number"
            )
        if time.monotonic() >= deadline:
            raise SleepkitError(f"no serial device with {want} appeared within {wait_s:g} s; {describe_ports()}")
        time.sleep(0.2)


def model_mismatches(device: DeviceInfo, model: ModelFileInfo) -> list[str]:
    problems = []
    if device.model_hash != model.hash:
        problems.append(f"model hash 0x{device.model_hash:08x} != 0x{model.hash:08x} (CRC-32 of {model.path.name})")
    for role, dev, exp in (("input", device.input, model.input), ("output", device.output, model.output)):
        if dev.shape != exp.shape:
            problems.append(f"{role} shape {dev.shape} != {exp.shape}")
        if dev.dtype != exp.dtype:
            problems.append(f"{role} dtype {dev.dtype_name} != {exp.dtype_name}")
        if np.float32(dev.scale) != np.float32(exp.scale) or dev.zero_point != exp.zero_point:
            problems.append(
                f"{role} quantisation (scale {dev.scale:.9g}, zero point {dev.zero_point}) != "
                f"(scale {exp.scale:.9g}, zero point {exp.zero_point})"
            )
        if dev.bytes != exp.bytes:
            problems.append(f"{role} size {dev.bytes} B != {exp.bytes} B")
    return problems


def _strip_batch(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[1:]) if len(shape) > 1 and shape[0] == 1 else tuple(shape)


class EvbBackend(Backend):
    name = "evb"

    def __init__(self, params: TaskParams, model_path: Path, opts: EvbOptions | None = None) -> None:
        super().__init__(params, model_path)
        self.options = opts or options
        self.client: ProtocolClient | None = None
        self.device: DeviceInfo | None = None
        self.port_name = ""
        self._link = None
        self._window = 0

    # ------------------------------------------------------------------------------------------
    def _open_link(self):
        import serial

        o = self.options
        o.validate()
        if o.port:
            name = o.port
        elif o.vid_pid or o.serial_number:
            name = find_usb_port(o.vid_pid, o.serial_number, o.find_timeout)
        else:
            raise SleepkitError(
                "--backend evb needs --port (a device path or URL such as socket://127.0.0.1:5555; "
                "`python -m sleepkit.devices.simulated --model model.tflite` prints one) or --vid-pid/"
                f"--serial-number; {describe_ports()}"
            )
        try:
            link = serial.serial_for_url(name, baudrate=int(o.baud), timeout=0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise SleepkitError(f"cannot open serial port '{name}': {exc}; {describe_ports()}") from None
        self.port_name = name
        return link

    def open(self) -> ModelIO:
        model = read_model_file(self.model_path)
        self.model = model
        self._link = self._open_link()
        o = self.options
        client = ProtocolClient(self._link, timeout=o.timeout, retries=o.retries, name=f"device on {self.port_name}")
        try:
            client._write(b"\x00")  # end any half-received frame in the device's decoder
            client.drain(0.02)
            hello = client.hello()
            if hello.version != PROTOCOL_VERSION:
                raise SleepkitError(
                    f"device on {self.port_name} speaks protocol version {hello.version}, this sleepkit speaks "
                    f"{PROTOCOL_VERSION}: rebuild the firmware from this checkout"
                )
            info = client.info()
        except LinkTimeout as exc:
            self.close()
            raise SleepkitError(
                f"device on {self.port_name} did not answer ({exc}); check that the firmware is running, "
                f"the port is right and the baud rate ({o.baud}) matches"
            ) from None
        except ProtocolError as exc:
            self.close()
            raise SleepkitError(f"handshake with device on {self.port_name} failed: {exc}") from None
        problems = model_mismatches(info, model)
        if problems:
            self.close()
            raise SleepkitError(
                f"device on {self.port_name} runs model '{info.model_name}' (engine {info.engine_name}, firmware "
                f"{info.firmware_version}), which is not the exported {self.model_path}: " + "; ".join(problems)
                + ". Flash firmware built from this export or point --port at the matching device."
            )
        if model.input.dtype not in DTYPE_NAMES or model.output.dtype not in DTYPE_NAMES:
            raise SleepkitError(f"{self.model_path}: unsupported tensor dtype for the evb backend")
        self.client, self.device = client, info
        logger.info(
            "evb: %s on %s: model %s (0x%08x), engine %s, firmware %s, arena %d B, device buffer %d B",
            "connected", self.port_name, info.model_name, info.model_hash, info.engine_name,
            info.firmware_version, info.arena_bytes, info.max_payload,
        )
        return ModelIO(
            input_shape=_strip_batch(model.input.shape),
            output_shape=_strip_batch(model.output.shape),
            input_scale=model.input.scale,
            input_zero_point=model.input.zero_point,
            output_scale=model.output.scale,
            output_zero_point=model.output.zero_point,
            input_dtype=DTYPE_NAMES[model.input.dtype],
            output_dtype=DTYPE_NAMES[model.output.dtype],
            extra={
                "port": self.port_name, "device_model": info.model_name, "engine": info.engine_name,
                "firmware": info.firmware_version, "arena_bytes": info.arena_bytes, "model_hash": f"0x{info.model_hash:08x}",
            },
        )

    def _to_wire(self, x: np.ndarray, t: TensorInfo) -> bytes:
        dtype = np.dtype(DTYPE_NAMES[t.dtype])
        if dtype.kind == "f":
            return np.ascontiguousarray(x, dtype=dtype).tobytes()
        # A zero point of 0 is as valid as any other; only the scale can make quantisation undefined.
        if t.scale <= 0:
            raise SleepkitError(f"{self.model_path}: {dtype} input has no quantisation scale")
        return quantize(x, t.scale, t.zero_point, dtype).tobytes()

    def infer(self, x: np.ndarray) -> Inference:
        if self.client is None:
            raise SleepkitError("evb backend used before open()")
        t_in, t_out = self.model.input, self.model.output
        x = np.asarray(x, dtype=np.float32)
        if x.shape != _strip_batch(t_in.shape) and x.shape != t_in.shape:
            raise SleepkitError(f"evb: window shape {x.shape} does not match the model input {_strip_batch(t_in.shape)}")
        window = self._window
        self._window += 1
        try:
            result = self.client.run_frame(self._to_wire(x, t_in), t_out.bytes, infer_timeout=self.options.infer_timeout)
        except ProtocolError as exc:
            done = f"windows 0..{window - 1} completed" if window else "no window completed"
            raise SleepkitError(f"evb: window {window} was lost on {self.port_name} and has no output ({exc}); {done}") from None
        if result.attempts > 1:
            logger.warning("evb: window %d needed %d attempts: %s", window, result.attempts, "; ".join(result.log))
        dtype = np.dtype(DTYPE_NAMES[t_out.dtype])
        raw = np.frombuffer(result.output, dtype=dtype).reshape(_strip_batch(t_out.shape)).copy()
        values = raw.astype(np.float32) if dtype.kind == "f" else dequantize(raw, t_out.scale, t_out.zero_point)
        return Inference(raw=raw, values=values, rtt_s=result.rtt_s)

    def close(self) -> None:
        if self._link is not None:
            try:
                self._link.close()
            except Exception:  # noqa: BLE001 - closing a dead port must not mask the real error
                pass
            self._link = None
        self.client = None

"""Run a simulated board: ``python -m sleepkit.devices.simulated --model model.tflite --port 0``.

Prints the URL to pass as ``sleepkit demo --backend evb --port URL`` (``socket://127.0.0.1:NNNN``,
or a ``/dev/pts/N`` path with ``--pty``) and serves until interrupted. The model runs on the host
TFLM runtime, the interpreter the firmware uses, so results match a board running ENGINE=tflm.
"""

from __future__ import annotations

import argparse
import sys
import threading

from ..errors import SleepkitError
from ..protocol.constants import MAX_PAYLOAD, MAX_PAYLOAD_LIMIT
from .protocol_device import DeviceProtocol
from .server import PtyDeviceServer, TcpDeviceServer


def build_device(model: str | None, max_payload: int = MAX_PAYLOAD, echo: bool = False) -> DeviceProtocol:
    from .engines import EchoEngine, TflmEngine

    if echo:
        engine = EchoEngine()
    elif model:
        engine = TflmEngine(model)
    else:
        raise SleepkitError("simulated device: give --model path/to/model.tflite (or --echo for a protocol test engine)")
    return DeviceProtocol(engine, max_payload=max_payload)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sleepkit.devices.simulated", description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="exported int8 .tflite to serve")
    ap.add_argument("--echo", action="store_true", help="serve the echo protocol-test engine instead of a model")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal instead of TCP")
    ap.add_argument("--max-payload", type=int, default=MAX_PAYLOAD, help="device RX buffer payload bytes")
    args = ap.parse_args(argv)
    try:
        if not 16 <= args.max_payload <= MAX_PAYLOAD_LIMIT:
            raise SleepkitError(f"--max-payload must be between 16 and {MAX_PAYLOAD_LIMIT}, got {args.max_payload}")
        device = build_device(args.model, args.max_payload, args.echo)
        server = PtyDeviceServer(device) if args.pty else TcpDeviceServer(device, args.host, args.port)
    except SleepkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot open the device port: {exc}", file=sys.stderr)
        return 2
    server.start()
    print(server.url, flush=True)
    e = device.engine
    print(
        f"serving {e.model_name} (hash 0x{e.model_hash:08x}, input {e.input.shape}, output {e.output.shape}) "
        f"on {server.url}; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

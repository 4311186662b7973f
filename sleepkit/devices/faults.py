"""A man-in-the-middle serial link for fault injection and link-rate emulation.

``FaultyLink`` listens on a loopback port, connects to a device server, and forwards bytes both
ways, dropping, bit-flipping, duplicating and delaying them at the configured per-byte/per-chunk
rates, and calling ``on_reset`` (e.g. ``DeviceProtocol.reset``) to reset the device mid-stream.
With ``byte_rate`` it paces each direction like a UART (baud / 10 bytes per second), which the
throughput benchmark uses. All randomness comes from one seeded generator, so a run is repeatable
up to thread timing.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Faults:
    drop: float = 0.0  # per byte
    flip: float = 0.0  # per byte: one random bit inverted
    duplicate: float = 0.0  # per byte: sent twice
    delay: float = 0.0  # per chunk: held back for delay_s (order is kept)
    delay_s: float = 0.05
    reset: float = 0.0  # per host->device chunk: device reset before the chunk is forwarded
    directions: tuple[str, ...] = ("to_device", "to_host")
    byte_rate: float | None = None  # bytes/s per direction; None: as fast as the sockets go
    seed: int = 0


@dataclass
class FaultCounts:
    dropped: int = 0
    flipped: int = 0
    duplicated: int = 0
    delayed: int = 0
    resets: int = 0
    bytes: dict = field(default_factory=lambda: {"to_device": 0, "to_host": 0})

    @property
    def total(self) -> int:
        return self.dropped + self.flipped + self.duplicated + self.delayed + self.resets


class FaultyLink:
    def __init__(self, target_port: int, faults: Faults | None = None, on_reset: Callable[[], None] | None = None,
                 target_host: str = "127.0.0.1") -> None:
        self.faults = faults or Faults()
        self.on_reset = on_reset
        self.counts = FaultCounts()
        self.enabled = True
        self._target = (target_host, target_port)
        self._rng = np.random.default_rng(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.bind(("127.0.0.1", 0))
        self._listen.listen(1)
        self.port = self._listen.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> "FaultyLink":
        t = threading.Thread(target=self._accept, name="sk-faulty-link", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listen], [], [], 0.1)
            if not ready:
                continue
            try:
                host_side, _ = self._listen.accept()
                device_side = socket.create_connection(self._target)
            except OSError:
                return
            for s in (host_side, device_side):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pumps = [
                threading.Thread(target=self._pump, args=(host_side, device_side, "to_device"), daemon=True),
                threading.Thread(target=self._pump, args=(device_side, host_side, "to_host"), daemon=True),
            ]
            for p in pumps:
                p.start()
            self._threads.extend(pumps)

    def _mangle(self, data: bytes, direction: str) -> tuple[bytes, bool, bool]:
        f = self.faults
        if not self.enabled or direction not in f.directions:
            return data, False, False
        with self._rng_lock:
            u = self._rng.random((len(data), 3))
            bits = self._rng.integers(0, 8, len(data))
            delay = f.delay > 0 and self._rng.random() < f.delay
            reset = direction == "to_device" and f.reset > 0 and self._rng.random() < f.reset
        out = bytearray()
        for i, b in enumerate(data):
            if u[i, 0] < f.drop:
                self.counts.dropped += 1
                continue
            if u[i, 1] < f.flip:
                b ^= 1 << int(bits[i])
                self.counts.flipped += 1
            out.append(b)
            if u[i, 2] < f.duplicate:
                out.append(b)
                self.counts.duplicated += 1
        return bytes(out), delay, reset

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        sent_at = time.perf_counter()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready:
                    continue
                data = src.recv(4096)
                if not data:
                    break
                data, delay, reset = self._mangle(data, direction)
                if delay:
                    self.counts.delayed += 1
                    time.sleep(self.faults.delay_s)
                if reset and self.on_reset is not None:
                    self.counts.resets += 1
                    self.on_reset()
                if self.faults.byte_rate:
                    # pace like a UART: the bytes leave no faster than byte_rate
                    sent_at = max(sent_at, time.perf_counter()) + len(data) / self.faults.byte_rate
                    wait = sent_at - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                self.counts.bytes[direction] += len(data)
                dst.sendall(data)
        except (OSError, ValueError):  # the other direction closed the sockets
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self) -> None:
        self._stop.set()
        for t in list(self._threads):
            t.join(timeout=2)
        self._listen.close()

    def __enter__(self) -> "FaultyLink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Serve a device (anything with ``feed(bytes) -> bytes``) on a loopback TCP socket or a pty.

Like a board on a USB-serial cable, the device keeps its state when the host disconnects; the next
connection talks to the same device.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from typing import Protocol


class Feedable(Protocol):
    def feed(self, data: bytes) -> bytes: ...


class TcpDeviceServer:
    def __init__(self, device: Feedable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(1)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name=f"sk-device-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def start(self) -> "TcpDeviceServer":
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.1)
            if not ready:
                continue
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
            with conn:
                while not self._stop.is_set():
                    ready, _, _ = select.select([conn], [], [], 0.1)
                    if not ready:
                        continue
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    reply = self.device.feed(data)
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            break
            self._conn = None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> "TcpDeviceServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class PtyDeviceServer:
    """The device behind a pseudo-terminal: open ``url`` (e.g. /dev/pts/5) like a USB-serial port."""

    def __init__(self, device: Feedable) -> None:
        self.device = device
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass unchanged
        self.url = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sk-device-pty", daemon=True)

    def start(self) -> "PtyDeviceServer":
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO while no process holds the slave open
                self._stop.wait(0.01)
                continue
            reply = self.device.feed(data)
            view = memoryview(reply)
            while view:
                n = os.write(self._master, view)
                view = view[n:]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> "PtyDeviceServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

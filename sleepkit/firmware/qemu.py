"""Run firmware ELFs under QEMU with the board UART on a loopback TCP port.

The UART is exposed as ``-serial tcp:127.0.0.1:PORT,server=on,wait=on,nodelay=on``: QEMU holds the
guest until a client connects (nothing the firmware prints at boot is lost) and ``nodelay`` turns off
Nagle's algorithm, without which every request/reply round trip costs ~40 ms. Clients connect with
pyserial's ``socket://127.0.0.1:PORT`` URL. ``-semihosting`` hands the firmware's exit code to QEMU's
own exit status, and its debug console (TFLM logs, faults) to QEMU's stderr.

Typical use from a test::

    with QemuRun(elf, "mps2-an386") as run:
        with run.open_serial(timeout=5) as port:     # connecting lets the guest boot
            port.write(b"...")
            reply = port.readline()
        code = run.wait(timeout=30)                  # guest exit code (semihosting)

or, for an app that runs by itself and exits: ``result = run_to_exit(elf, board, timeout=60)``.
Every QEMU started here is stopped (SIGTERM, then SIGKILL) when the ``with`` block ends, on
``stop()``, on garbage collection and at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from ..errors import SleepkitError
from ..log import logger

# Boards QEMU can run, and the machine that models each.
QEMU_MACHINES: dict[str, str] = {"mps2-an386": "mps2-an386", "mps3-an547": "mps3-an547"}
QEMU_BINARY = "qemu-system-arm"
_WAITING = "waiting for connection"
_live: "weakref.WeakSet[QemuRun]" = weakref.WeakSet()


def qemu_unavailable_reason(board: str | None = None) -> str | None:
    """None when QEMU can run ``board``; otherwise one line saying why not (for skips and errors)."""
    if shutil.which(QEMU_BINARY) is None:
        return f"{QEMU_BINARY} not found (Debian package qemu-system-arm)"
    if board is not None and board not in QEMU_MACHINES:
        return f"board '{board}' has no QEMU machine (QEMU boards: {', '.join(QEMU_MACHINES)})"
    return None


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (QEMU binds it next; races are retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class QemuResult:
    exit_code: int | None  # None when the guest was stopped before it exited
    uart: bytes  # everything the firmware wrote to its UART
    debug: str  # semihosting console text (QEMU's stderr without its own notices)
    timed_out: bool = False


class QemuRun:
    """One QEMU process running ``elf`` on ``board``; its UART is at :attr:`url` once started."""

    def __init__(
        self,
        elf: str | os.PathLike,
        board: str,
        *,
        semihosting: bool = True,
        start_timeout: float = 10.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        reason = qemu_unavailable_reason(board)
        if reason:
            raise SleepkitError(reason)
        self.elf = Path(elf)
        if not self.elf.is_file():
            raise SleepkitError(f"firmware ELF {self.elf} does not exist (build it with make -C firmware)")
        self.board = board
        self.semihosting = semihosting
        self.start_timeout = start_timeout
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._tmp: Path | None = None
        self._stderr = None
        self._finalizer = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise SleepkitError("QEMU is not started")
        return f"socket://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        cmd = [
            QEMU_BINARY,
            "-M", QEMU_MACHINES[self.board],
            "-nographic",
            "-monitor", "none",
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
            "-kernel", str(self.elf),
        ]
        if self.semihosting:
            cmd += ["-semihosting-config", "enable=on,target=native"]
        return cmd + list(self.extra_args)

    def start(self) -> str:
        """Start QEMU and return the serial URL once it listens. The guest boots on the first connect."""
        if self.proc is not None:
            return self.url
        self._tmp = Path(tempfile.mkdtemp(prefix="sleepkit-qemu-"))
        last_error = ""
        for _attempt in range(5):
            port = free_loopback_port()
            err_path = self._tmp / f"qemu-{port}.stderr"
            self._stderr = open(err_path, "w+b")
            proc = subprocess.Popen(
                self.command(port), stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                start_new_session=True,
            )
            self.proc, self.port = proc, port
            self._finalizer = weakref.finalize(self, _kill, proc, self._tmp)
            _live.add(self)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                text = err_path.read_text(errors="replace")
                if _WAITING in text:
                    logger.debug("QEMU %s pid %d serves %s", self.board, proc.pid, self.url)
                    return self.url
                if proc.poll() is not None:
                    last_error = text.strip().splitlines()[-1] if text.strip() else f"exit {proc.returncode}"
                    break
                time.sleep(0.02)
            else:
                last_error = f"no listening socket after {self.start_timeout:.0f} s"
            self._reap()
            if "Address already in use" not in last_error:
                break
        self.stop()
        raise SleepkitError(f"QEMU ({self.board}, {self.elf.name}) did not start: {last_error}")

    def open_serial(self, timeout: float = 5.0, **kwargs):
        """A pyserial port on the UART (connecting starts the guest); the caller closes it."""
        import serial  # pyserial; imported here so merely importing this module stays cheap

        self.start()
        return serial.serial_for_url(self.url, timeout=timeout, **kwargs)

    def wait(self, timeout: float) -> int | None:
        """Wait for the guest to exit; return its exit code (None if it is still running at timeout)."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def debug_output(self) -> str:
        """Semihosting console text so far (QEMU's own 'waiting for connection' notice removed)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        self._stderr.seek(0, os.SEEK_END)
        return "".join(line for line in text.splitlines(keepends=True) if _WAITING not in line)

    def _reap(self) -> None:
        """Clean up one failed start attempt (the temporary directory stays for the next attempt)."""
        if self.proc is not None:
            _kill(self.proc, None)
        if self._stderr is not None:
            self._stderr.close()
        if self._finalizer is not None:
            self._finalizer.detach()
        self.proc, self._stderr, self._finalizer = None, None, None

    def stop(self) -> int | None:
        """Stop QEMU (if still running) and remove its temporary files; returns its exit status."""
        code = None
        if self.proc is not None:
            code = self.proc.poll()  # None: still running, so stopped by us rather than exited
            _kill(self.proc, None)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.proc = None
        _live.discard(self)
        return code

    def __enter__(self) -> "QemuRun":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill(proc: subprocess.Popen, tmp: Path | None) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # QEMU was started in its own session: only its group
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


@atexit.register
def _stop_all() -> None:
    for run in list(_live):
        run.stop()


def run_to_exit(
    elf: str | os.PathLike,
    board: str,
    *,
    send: bytes = b"",
    timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
) -> QemuResult:
    """Boot ``elf``, optionally send ``send`` to its UART, collect UART output until the guest exits.

    ``extra_args`` go to QEMU, e.g. ``("-icount", "shift=0")`` to make guest time count instructions."""
    run = QemuRun(elf, board, extra_args=extra_args)
    chunks: list[bytes] = []
    timed_out = False
    try:
        run.start()
        # A plain socket rather than pyserial: pyserial drops bytes it already read when the peer closes
        # (as QEMU does when the guest exits) inside one read() call.
        with socket.create_connection(("127.0.0.1", run.port), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if send:
                sock.sendall(send)
            sock.settimeout(0.2)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    data = None
                except OSError:
                    break
                if data == b"":  # QEMU closed the socket: the guest exited
                    break
                if data:
                    chunks.append(data)
                    continue
                if run.proc is None or run.proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    break
        code = None if timed_out else run.wait(timeout=5)
        return QemuResult(exit_code=code, uart=b"".join(chunks), debug=run.debug_output, timed_out=timed_out)
    finally:
        run.stop()

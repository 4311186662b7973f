"""Build firmware/src/protocol.c with the echo engine and a host fake board into a shared library,
and drive it from Python (ctypes) like a UART would. Used by the protocol tests."""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "firmware/src/protocol.c", ROOT / "firmware/src/engine_echo.c", ROOT / "tests/c/host_board.c"]
INCLUDES = [ROOT / "firmware/src", ROOT / "boards", ROOT / "sleepkit/protocol"]


def have_gcc() -> bool:
    return shutil.which("gcc") is not None


def build_library(max_payload: int = 1024, out_dir: Path | None = None) -> Path:
    """Compile (warnings are errors) and return the .so path; cached by source content."""
    digest = hashlib.sha256()
    for p in SOURCES + [ROOT / "sleepkit/protocol/sk_protocol.h", ROOT / "firmware/src/protocol.h"]:
        digest.update(p.read_bytes())
    digest.update(str(max_payload).encode())
    out_dir = out_dir or Path(tempfile.gettempdir()) / "sleepkit-test-protocol"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / f"libskproto-{digest.hexdigest()[:16]}.so"
    if not lib.exists():
        tmp = lib.with_suffix(".tmp.so")
        cmd = [
            "gcc", "-std=c11", "-O1", "-g", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-Wconversion",
            "-Wno-sign-conversion", f"-DSK_MAX_PAYLOAD={max_payload}",
            *[f"-I{p}" for p in INCLUDES], *map(str, SOURCES), "-o", str(tmp),
        ]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        tmp.replace(lib)
    return lib


class CProtocolDevice:
    """The C device behind ``feed(bytes) -> bytes`` (the interface the Python device servers use)."""

    def __init__(self, max_payload: int = 1024) -> None:
        self.max_payload = max_payload
        # each ctypes.CDLL of the same path shares globals: copy per instance for independent state
        src = build_library(max_payload)
        private = Path(tempfile.mkdtemp(prefix="skproto-")) / src.name
        shutil.copy(src, private)
        self.lib = ctypes.CDLL(str(private))
        self.lib.host_pull.restype = ctypes.c_size_t
        self.lib.host_push.restype = ctypes.c_size_t
        self._lock = threading.Lock()
        self.lib.host_reset()

    def feed(self, data: bytes) -> bytes:
        with self._lock:
            self.lib.host_feed(data, ctypes.c_size_t(len(data)))
            self.lib.sk_protocol_poll()
            return self._pull()

    def _pull(self) -> bytes:
        out = bytearray()
        buf = ctypes.create_string_buffer(65536)
        while True:
            n = self.lib.host_pull(buf, ctypes.c_size_t(len(buf)))
            if not n:
                return bytes(out)
            out += buf.raw[:n]

    def drop_rx(self, n: int) -> None:
        """Simulate an RX ring overrun of ``n`` bytes (counted by the board)."""
        self.lib.host_drop(ctypes.c_size_t(n))

    def reset(self) -> None:
        with self._lock:
            self.lib.host_reset()

    def stats(self) -> dict[str, int]:
        class Stats(ctypes.Structure):
            _fields_ = [(n, ctypes.c_uint32) for n in ("frames_ok", "frames_bad", "frames_large", "rx_overruns")]

        self.lib.sk_protocol_stats.restype = ctypes.POINTER(Stats)
        s = self.lib.sk_protocol_stats().contents
        return {n: getattr(s, n) for n, _ in Stats._fields_}

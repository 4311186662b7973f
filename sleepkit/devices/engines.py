"""Engines a simulated device can run: the host TFLM runtime on an exported model, or an echo engine.

Both mirror firmware/src/engine.h: tensor infos, a model hash, and ``invoke(input bytes) -> output bytes``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..protocol.constants import DTYPE_NAMES, DType
from ..protocol.messages import TensorInfo
from ..protocol.model_file import read_model_file


class Engine:
    model_name: str = ""
    model_hash: int = 0
    arena_bytes: int = 0
    engine_name: str = ""
    input: TensorInfo
    output: TensorInfo

    def invoke(self, data: bytes) -> bytes:
        raise NotImplementedError


class TflmEngine(Engine):
    """The exported .tflite on the host TensorFlow Lite Micro interpreter (what the firmware runs)."""

    engine_name = "tflm-host"

    def __init__(self, model_path: str | Path, arena_bytes: int | None = None) -> None:
        info = read_model_file(model_path)
        data = info.path.read_bytes()
        from tflite_micro.python.tflite_micro import runtime

        # TFLM's host wrapper does not report the arena it used; report the arena it was given.
        self.arena_bytes = int(arena_bytes or max(len(data) * 10, 64 * 1024))
        try:
            self._interp = runtime.Interpreter.from_bytes(data, arena_size=self.arena_bytes)
        except Exception as exc:  # noqa: BLE001 - the TFLM wrapper raises RuntimeError/ValueError variants
            raise SleepkitError(f"TFLM cannot load {info.path}: {exc}") from None
        self.model_name = info.name
        self.model_hash = info.hash
        self.input = info.input
        self.output = info.output
        self._in_dtype = np.dtype(DTYPE_NAMES[info.input.dtype])

    def invoke(self, data: bytes) -> bytes:
        x = np.frombuffer(data, dtype=self._in_dtype).reshape(self.input.shape)
        self._interp.set_input(x, 0)
        self._interp.invoke()
        return np.ascontiguousarray(self._interp.get_output(0)).tobytes()


def echo_output(data: bytes, out_bytes: int) -> bytes:
    """The echo engine's function (same as firmware/src/engine_echo.c): output byte j is the int8
    wrap-around sum of the input bytes whose index is j modulo the output size, plus j."""
    x = np.frombuffer(data, dtype=np.int8).astype(np.int64)
    sums = np.array([x[j::out_bytes].sum() + j for j in range(out_bytes)], dtype=np.int64)
    return ((sums + 128) % 256 - 128).astype(np.int8).tobytes()


class EchoEngine(Engine):
    """A protocol-test engine, not an inference engine: a cheap checkable function of the input."""

    engine_name = "echo"
    model_name = "echo"
    model_hash = 0xEC40EC40

    def __init__(self, input_shape=(1, 64, 4), output_shape=(1, 5), scale=0.05, zero_point=-3, arena_bytes=0) -> None:
        n_in = int(np.prod(input_shape))
        n_out = int(np.prod(output_shape))
        self.input = TensorInfo(DType.INT8, tuple(input_shape), float(np.float32(scale)), int(zero_point), n_in)
        self.output = TensorInfo(DType.INT8, tuple(output_shape), float(np.float32(1 / 128)), 0, n_out)
        self.arena_bytes = arena_bytes

    def invoke(self, data: bytes) -> bytes:
        return echo_output(data, self.output.bytes)

"""The backend contract shared by ``pc`` and ``evb``.

A backend is opened on an exported int8 ``.tflite`` and runs one model input window at a time:
``infer(x)`` takes a float32 window shaped like the model input without the batch axis, quantises it
with the model's own input scale/zero point, and returns the raw int8 output plus its dequantised
values. Parity between backends is checked on ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..params import TaskParams


@dataclass
class Inference:
    raw: np.ndarray  # int8 output as the model produced it (no batch axis)
    values: np.ndarray  # dequantised float32
    rtt_s: float = 0.0  # round trip (evb) or invoke time (pc)


@dataclass
class ModelIO:
    input_shape: tuple[int, ...]  # without batch axis
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    input_dtype: str = "int8"
    output_dtype: str = "int8"
    extra: dict = field(default_factory=dict)


class Backend:
    name = "backend"

    def __init__(self, params: TaskParams, model_path: Path) -> None:
        self.params = params
        self.model_path = Path(model_path)

    def open(self) -> ModelIO:
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> Inference:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Backend":
        self.io = self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

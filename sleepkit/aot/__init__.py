"""Ahead-of-time int8 engine: plain C generated from an int8 .tflite, bit-exact with TFLite Micro.

``generate(tflite_path, out_dir, model_name=..., var_prefix=...)`` reads the flatbuffer, lowers each
operator to a call of the C kernel library in ``firmware/engine/aot``, plans activation memory and
writes ``model_aot.c``/``model_aot.h``. ``kernel_dir()`` is where that library lives.
"""

from __future__ import annotations

from pathlib import Path

from .generate import generate
from .lower import SUPPORTED_OPS


def kernel_dir() -> Path:
    """firmware/engine/aot of this source tree (C sources and sk_aot.h)."""
    return Path(__file__).resolve().parents[2] / "firmware" / "engine" / "aot"


__all__ = ["generate", "kernel_dir", "SUPPORTED_OPS"]

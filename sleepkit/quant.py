"""Affine int8 quantisation as TFLite defines it: q = clip(round(x / scale) + zero_point)."""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    if scale <= 0:
        raise ValueError(f"quantisation scale must be > 0, got {scale}")
    info = np.iinfo(dtype)
    # np.round is round-half-to-even; TFLite's reference QUANTIZE rounds half away from zero.
    q = np.sign(x / scale) * np.floor(np.abs(x / scale) + 0.5) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)

"""Shared fixtures for the evb tests: a tiny int8 model (built once per session) and its windows."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

INPUT_SHAPE = (48, 6)  # 288 input bytes: several SET_INPUT chunks at a small device buffer
NUM_CLASSES = 5


@functools.lru_cache(maxsize=None)
def tiny_model_path(seed: int = 0) -> Path:
    """An int8 .tflite of a small dilated-conv classifier (batch-1 conversion, sleepkit.convert)."""
    import keras

    from sleepkit.convert import convert_int8

    keras.utils.set_random_seed(seed)
    inp = keras.Input(INPUT_SHAPE)
    x = keras.layers.Conv1D(8, 3, dilation_rate=2, padding="causal", activation="relu")(inp)
    x = keras.layers.Conv1D(8, 3, dilation_rate=4, padding="causal", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(NUM_CLASSES)(x)
    model = keras.Model(inp, out)
    rep = np.random.default_rng(seed).normal(size=(16, *INPUT_SHAPE)).astype(np.float32)
    data = convert_int8(model, rep)
    path = Path(tempfile.mkdtemp(prefix="sk-evb-model-")) / f"tiny{seed}.tflite"
    path.write_bytes(data)
    return path


def windows(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *INPUT_SHAPE)).astype(np.float32)

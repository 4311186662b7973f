"""Keras -> int8 TFLite by post-training quantisation.

The graph is traced as a batch-1 concrete function and frozen before conversion: with a free batch
dimension the converter lowers dilated convolutions to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND, which
TensorFlow Lite Micro runs wrongly. With batch 1 each dilated conv stays one DEPTHWISE_CONV_2D.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .errors import SleepkitError
from .log import logger
from .tflm_check import check_ops, op_list

IO_TYPES = ("int8", "float32")


def _frozen_batch1(model):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32, name="features")

    @tf.function(input_signature=[spec])
    def serve(x):
        return model(x, training=False)

    # Freezing turns Keras 3 resource variables into constants; the converter's calibrator cannot
    # read the variables of a live concrete function.
    return convert_variables_to_constants_v2(serve.get_concrete_function())


def convert_int8(model, representative: Iterable[np.ndarray] | np.ndarray, io_type: str = "int8") -> bytes:
    """Full-integer model; ``representative`` holds float windows [N, T, F] for calibration."""
    import tensorflow as tf

    if io_type not in IO_TYPES:
        raise SleepkitError(f"quantization.io_type '{io_type}' is not supported (choose {', '.join(IO_TYPES)})")
    windows = np.asarray(representative, dtype=np.float32)
    if windows.ndim != 3 or len(windows) == 0:
        raise SleepkitError(f"representative windows must be [N, T, F] with N > 0, got {windows.shape}")

    def rep():
        for w in windows:
            yield [w[None]]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([_frozen_batch1(model)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    io = tf.int8 if io_type == "int8" else tf.float32
    converter.inference_input_type = io
    converter.inference_output_type = io
    try:
        data = converter.convert()
    except Exception as exc:  # converter errors are long MLIR dumps; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SleepkitError(f"TFLite int8 conversion failed: {first}") from exc
    ops = op_list(data)
    check_ops(ops, "converted model")
    logger.info("converted to int8 TFLite: %d bytes, %d ops", len(data), len(ops))
    return data

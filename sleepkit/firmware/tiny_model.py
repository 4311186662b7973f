"""A tiny int8 model and host-TFLM references for firmware tests and benchmarks.

The model has the layers sleepkit's TCNs use (dilated DepthwiseConv2D and Conv2D, Dense, Add,
Softmax) and is converted int8 from a batch-1 concrete function: with a free batch dimension the
converter lowers dilated convolutions to SPACE_TO_BATCH_ND, which TFLM runs wrongly.
TensorFlow is imported inside the functions (it costs seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np



def build_tiny_model(path: Path, *, frames: int = 64, channels: int = 4, classes: int = 3, seed: int = 0) -> np.ndarray:
    """Write an int8 .tflite to ``path``; return float32 representative inputs (N, 1, frames, channels)."""
    import tensorflow as tf

    keras = tf.keras
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(1, frames, channels), batch_size=1)
    x = keras.layers.DepthwiseConv2D((1, 5), dilation_rate=(1, 2), padding="same")(inp)
    x = keras.layers.Conv2D(8, (1, 1))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    y = keras.layers.DepthwiseConv2D((1, 3), dilation_rate=(1, 4), padding="same")(x)
    y = keras.layers.Conv2D(8, (1, 1), activation="relu")(y)
    x = keras.layers.Add()([x, y])
    x = keras.layers.Conv2D(8, (1, 3), strides=(1, 2), padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(classes)(x)
    out = keras.layers.Softmax()(x)
    model = keras.Model(inp, out)

    data = rng.normal(size=(64, 1, frames, channels)).astype(np.float32)
    # A few steps so BatchNormalization statistics and weights are not at their initial values.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data, rng.integers(0, classes, size=64), batch_size=1, epochs=1, verbose=0)

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda t: model(t, training=False)).get_concrete_function(
        tf.TensorSpec((1, 1, frames, channels), tf.float32)
    )
    # Frozen: the converter's calibrator cannot read Keras 3 resource variables of a live function.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(fn)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([d[None]] for d in data[:32])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    Path(path).write_bytes(converter.convert())
    return data


def quantized_inputs(tflite_path: Path, inputs: np.ndarray) -> np.ndarray:
    """Quantise float inputs with the model's own input scale/zero point (int8, batch axis dropped)."""
    from ..quant import quantize

    details = _interpreter(Path(tflite_path).read_bytes(), None).get_input_details(0)
    qp = details["quantization_parameters"]
    scale, zero_point = qp["scales"][0], qp["zero_points"][0]
    return np.stack([quantize(x, float(scale), int(zero_point)) for x in inputs])


def _interpreter(model: bytes, arena_size: int | None):
    from tflite_micro.python.tflite_micro import runtime

    if arena_size:
        return runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    return runtime.Interpreter.from_bytes(model)


def host_outputs(tflite_path: Path, qinputs: np.ndarray) -> list[bytes]:
    """Raw output bytes of the host TFLM runtime for each int8 input (batch-1 model)."""
    interp = _interpreter(Path(tflite_path).read_bytes(), None)
    outs = []
    for x in qinputs:
        interp.set_input(x[None], 0)
        interp.invoke()
        outs.append(np.asarray(interp.get_output(0)).tobytes())
    return outs

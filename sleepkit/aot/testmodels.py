"""Small int8 models for checking and benchmarking the AOT engine against TFLite Micro.

``single_op_cases`` draws randomised one-op graphs (shapes, strides, dilations, paddings, fused
activations, weight magnitudes and input ranges, hence quantisation parameters); ``tcn_like_model``
is a miniature of the sleep TCN (dilated depthwise conv, 1x1 conv, squeeze-excite, residual add,
softmax). All are converted like the export does: a batch-1 concrete function (so dilated
convolutions stay DEPTHWISE_CONV_2D instead of SPACE_TO_BATCH_ND), a representative dataset and
int8 input/output. TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class OpCase:
    name: str              # unique, usable as a directory name
    op: str                # the TFLite op this case exercises
    build: Callable[[], bytes]
    input_ranges: list[tuple[float, float]]   # float ranges the random int8 inputs stand for


def convert_int8(fn, input_shapes: list[tuple[int, ...]], ranges: list[tuple[float, float]], seed: int = 0,
                 float_io: bool = False, per_tensor_dense: bool = False, samples: int = 24) -> bytes:
    """Full-integer conversion of a tf.function with fixed (batch-1) input shapes."""
    import tensorflow as tf

    specs = [tf.TensorSpec(s, tf.float32) for s in input_shapes]
    concrete = fn.get_concrete_function(*specs)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(samples):
            yield [rng.uniform(lo, hi, s).astype(np.float32) for s, (lo, hi) in zip(input_shapes, ranges)]

    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def _range(rng: np.random.Generator) -> tuple[float, float]:
    """A random, usually asymmetric, float range (so input zero points vary)."""
    span = float(10 ** rng.uniform(-1.5, 1.5))
    lo = -span * float(rng.uniform(0.0, 1.0))
    return lo, lo + span


def _weights(rng: np.random.Generator, shape: tuple[int, ...], channel_axis: int) -> np.ndarray:
    """Weights whose magnitude differs per output channel (distinct per-channel scales)."""
    w = rng.standard_normal(shape).astype(np.float32)
    mag_shape = [1] * len(shape)
    mag_shape[channel_axis] = shape[channel_axis]
    return w * (10 ** rng.uniform(-2, 0.5, mag_shape)).astype(np.float32)


def single_op_cases(seed: int = 0, per_op: int | None = None) -> list[OpCase]:
    """Randomised single-op cases; ``per_op`` scales how many configurations each op gets."""
    rng = np.random.default_rng(seed)
    cases: list[OpCase] = []
    n = per_op or 1

    def add(op: str, build: Callable[[], bytes], ranges: list[tuple[float, float]]) -> None:
        cases.append(OpCase(f"{op.lower()}_{len(cases)}", op, build, ranges))

    # CONV_2D: kernel sizes, strides or dilations, SAME/VALID, bias, fused activation.
    for _ in range(12 * n):
        h, w = int(rng.integers(1, 13)), int(rng.integers(1, 6))
        kh, kw = int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 3) + 1))
        cin, cout = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        dil = (int(rng.integers(1, 4)), 1) if rng.random() < 0.5 else (1, 1)
        stride = (1, 1) if dil != (1, 1) else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = "SAME" if rng.random() < 0.5 else "VALID"
        if padding == "VALID" and (kh - 1) * dil[0] + 1 > h:
            padding = "SAME"
        r = _range(rng)
        add("CONV_2D", _conv_builder(rng, (1, h, w, cin), (kh, kw, cin, cout), stride, dil, padding, r), [r])

    # DEPTHWISE_CONV_2D: dilations up to 4 along time as the TCN uses them, depth multipliers.
    for _ in range(12 * n):
        h, w = int(rng.integers(2, 17)), int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, min(w, 3) + 1))
        cin, mult = int(rng.integers(1, 9)), int(rng.integers(1, 3))
        dil = (int(rng.integers(1, 5)), 1) if rng.random() < 0.6 else (1, 1)
        stride = (1, 1) if dil != (1, 1) else (int(rng.integers(1, 3)), 1)
        padding = "SAME" if rng.random() < 0.5 else "VALID"
        if (kh - 1) * dil[0] + 1 > h:
            padding = "SAME"
        r = _range(rng)
        add("DEPTHWISE_CONV_2D", _dw_builder(rng, (1, h, w, cin), (kh, kw, cin, mult), stride, dil, padding, r), [r])

    # Wide depthwise layers: more channels than the kernel accumulates at once (32).
    for i in range(2 * n):
        cin, mult = (int(rng.integers(33, 49)), 1) if i % 2 == 0 else (int(rng.integers(17, 25)), 2)
        h, kh = int(rng.integers(3, 9)), int(rng.integers(1, 4))
        r = _range(rng)
        add("DEPTHWISE_CONV_2D", _dw_builder(rng, (1, h, 1, cin), (kh, 1, cin, mult), (1, 1), (2, 1), "SAME", r), [r])

    # FULLY_CONNECTED: per-channel and per-tensor weights, 2-D and keep-dims 3-D inputs.
    for i in range(8 * n):
        k, units = int(rng.integers(1, 41)), int(rng.integers(1, 17))
        shape = (1, k) if rng.random() < 0.6 else (1, int(rng.integers(2, 6)), k)
        r = _range(rng)
        add("FULLY_CONNECTED", _fc_builder(rng, shape, units, r, per_tensor=bool(i % 2)), [r])

    # ADD / MUL: equal shapes, broadcasts, a constant operand, fused activations.
    for op in ("ADD", "MUL"):
        for _ in range(8 * n):
            t, c = int(rng.integers(1, 9)), int(rng.integers(1, 9))
            kind = int(rng.integers(0, 4))
            s1 = (1, t, 1, c)
            s2 = [(1, t, 1, c), (1, 1, 1, c), (1, t, 1, 1), (c,)][kind]
            r1, r2 = _range(rng), _range(rng)
            add(op, _binary_builder(rng, op, s1, s2, r1, r2, const_second=rng.random() < 0.25), [r1, r2])

    # MEAN over several axis sets, keep_dims or not.
    for _ in range(8 * n):
        # Reduced axes longer than 1 (the converter folds a mean over size-1 axes away).
        shape = (1, int(rng.integers(2, 9)), int(rng.integers(2, 5)), int(rng.integers(2, 9)))
        axes = [[1, 2], [1], [2], [3], [1, 2, 3], [-1], [1, 3]][int(rng.integers(0, 7))]
        keep = bool(rng.random() < 0.5)
        r = _range(rng)
        add("MEAN", _unary_builder(rng, shape, r, "mean", axes=axes, keepdims=keep), [r])

    for _ in range(6 * n):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(2, 21)))
        r = _range(rng)
        add("SOFTMAX", _unary_builder(rng, shape, r, "softmax"), [r])

    for _ in range(6 * n):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        r = _range(rng)
        add("LOGISTIC", _unary_builder(rng, shape, r, "logistic"), [r])

    for _ in range(6 * n):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 4)), int(rng.integers(1, 6)))
        pads = [[0, 0], [int(rng.integers(0, 4)), int(rng.integers(0, 4))],
                [int(rng.integers(0, 2)), int(rng.integers(0, 2))], [0, int(rng.integers(0, 2))]]
        pads[1][1] = max(pads[1][1], 1)  # an all-zero PAD would be folded away
        r = _range(rng)
        add("PAD", _unary_builder(rng, shape, r, "pad", pads=pads), [r])

    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        for _ in range(6 * n):
            h, w = int(rng.integers(1, 11)), int(rng.integers(1, 5))
            fh, fw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
            sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
            if fh * fw == 1 and sh * sw == 1:
                sh = 2  # a 1x1, stride-1 pool is an identity the converter removes
            padding = "SAME" if rng.random() < 0.5 else "VALID"
            shape = (1, h, w, int(rng.integers(1, 6)))
            r = _range(rng)
            add(op, _unary_builder(rng, shape, r, "avg_pool" if op.startswith("AVERAGE") else "max_pool",
                                   window=(fh, fw), strides=(sh, sw), padding=padding), [r])

    for _ in range(5 * n):
        axis = int(rng.integers(1, 4))
        s1 = [1, int(rng.integers(1, 7)), int(rng.integers(1, 3)), int(rng.integers(1, 5))]
        s2 = list(s1)
        s2[axis] = int(rng.integers(1, 5))
        r1, r2 = _range(rng), _range(rng)
        add("CONCATENATION", _concat_builder(tuple(s1), tuple(s2), axis, r1, r2), [r1, r2])

    # Float model input/output: QUANTIZE (float -> int8) in front, DEQUANTIZE at the end.
    for _ in range(4 * n):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        r = _range(rng)
        add("QUANTIZE", _unary_builder(rng, shape, r, "logistic", float_io=True), [r])

    # int8 -> int8 QUANTIZE: concatenating a sigmoid (fixed scale 1/256) with its own input forces
    # the converter to requantise one operand.
    for _ in range(3 * n):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        r = _range(rng)
        add("QUANTIZE", _requantize_builder(shape, r), [r])

    # RESHAPE / EXPAND_DIMS / SQUEEZE between two compute ops.
    for i in range(4 * n):
        t, c = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        r = _range(rng)
        if i % 2:
            add("RESHAPE", _reshape_builder(rng, (1, t, c), r), [r])
        else:
            add("SQUEEZE", _reshape_builder(rng, (1, t, c), r, expand_squeeze=True), [r])
    return cases


# ---- builders (each returns a zero-argument function producing .tflite bytes) ----------------

def _conv_builder(rng, in_shape, k_shape, stride, dil, padding, r):
    w = _weights(rng, k_shape, 3)
    b = (rng.standard_normal(k_shape[3]) * rng.uniform(0, 1)).astype(np.float32) if rng.random() < 0.8 else None
    act_i = int(rng.integers(0, 3))
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        act = [lambda y: y, tf.nn.relu, tf.nn.relu6][act_i]

        @tf.function
        def f(x):
            y = tf.nn.conv2d(x, tf.constant(w), strides=[1, *stride, 1], padding=padding, dilations=list(dil))
            if b is not None:
                y = y + tf.constant(b)
            return act(y)

        return convert_int8(f, [in_shape], [r], seed)

    return build


def _dw_builder(rng, in_shape, k_shape, stride, dil, padding, r):
    w = _weights(rng, k_shape, 2)
    b = (rng.standard_normal(k_shape[2] * k_shape[3]) * rng.uniform(0, 1)).astype(np.float32)
    act_i = int(rng.integers(0, 3))
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        act = [lambda y: y, tf.nn.relu, tf.nn.relu6][act_i]

        @tf.function
        def f(x):
            y = tf.nn.depthwise_conv2d(x, tf.constant(w), strides=[1, *stride, 1], padding=padding,
                                       dilations=list(dil))
            return act(y + tf.constant(b))

        return convert_int8(f, [in_shape], [r], seed)

    return build


def _fc_builder(rng, in_shape, units, r, per_tensor: bool):
    w = _weights(rng, (in_shape[-1], units), 1)
    b = (rng.standard_normal(units) * rng.uniform(0, 1)).astype(np.float32)
    act_i = int(rng.integers(0, 3))
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        act = [lambda y: y, tf.nn.relu, tf.nn.relu6][act_i]

        @tf.function
        def f(x):
            return act(tf.matmul(x, tf.constant(w)) + tf.constant(b))

        return convert_int8(f, [in_shape], [r], seed, per_tensor_dense=per_tensor)

    return build


def _binary_builder(rng, op, s1, s2, r1, r2, const_second: bool):
    act_i = int(rng.integers(0, 3))
    const = rng.uniform(*r2, s2).astype(np.float32)
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        act = [lambda y: y, tf.nn.relu, tf.nn.relu6][act_i]
        fn = tf.add if op == "ADD" else tf.multiply
        if const_second:
            @tf.function
            def f1(x):
                return act(fn(x, tf.constant(const)))

            return convert_int8(f1, [s1], [r1], seed)

        @tf.function
        def f2(x, y):
            return act(fn(x, y))

        return convert_int8(f2, [s1, s2], [r1, r2], seed)

    return build


def _unary_builder(rng, shape, r, kind, float_io: bool = False, **kw):
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        ops = {
            "mean": lambda x: tf.reduce_mean(x, axis=kw.get("axes"), keepdims=kw.get("keepdims")),
            "softmax": tf.nn.softmax,
            "logistic": tf.math.sigmoid,
            "pad": lambda x: tf.pad(x, kw.get("pads")),
            "avg_pool": lambda x: tf.nn.avg_pool2d(x, kw.get("window"), kw.get("strides"), kw.get("padding")),
            "max_pool": lambda x: tf.nn.max_pool2d(x, kw.get("window"), kw.get("strides"), kw.get("padding")),
        }
        body = ops[kind]

        @tf.function
        def f(x):
            return body(x)

        return convert_int8(f, [shape], [r], seed, float_io=float_io)

    return build


def _concat_builder(s1, s2, axis, r1, r2):
    def build() -> bytes:
        import tensorflow as tf

        @tf.function
        def f(x, y):
            return tf.concat([x, y], axis=axis)

        return convert_int8(f, [s1, s2], [r1, r2], 0)

    return build


def _requantize_builder(shape, r):
    def build() -> bytes:
        import tensorflow as tf

        @tf.function
        def f(x):
            return tf.concat([tf.math.sigmoid(x), x], axis=-1)

        return convert_int8(f, [shape], [r], 0)

    return build


def _reshape_builder(rng, shape, r, expand_squeeze: bool = False):
    w = _weights(rng, (1, 1, shape[-1], shape[-1]), 3)
    seed = int(rng.integers(1 << 30))

    def build() -> bytes:
        import tensorflow as tf

        @tf.function
        def f(x):
            y = tf.expand_dims(x, 2)                       # [1, T, 1, C]
            y = tf.nn.conv2d(y, tf.constant(w), 1, "VALID")
            y = tf.squeeze(y, axis=2)                      # [1, T, C]
            return tf.nn.softmax(y if expand_squeeze else tf.reshape(y, [1, -1]))

        model = convert_int8(f, [shape], [r], seed)
        return _reshapes_to_expand_squeeze(model) if expand_squeeze else model

    return build


def _reshapes_to_expand_squeeze(model: bytes) -> bytes:
    """Rewrite [1,T,C]->[1,T,1,C] RESHAPEs as EXPAND_DIMS(axis 2) and the inverse as SQUEEZE([2]).

    The converter folds both into RESHAPE; editing the flatbuffer gives real EXPAND_DIMS/SQUEEZE
    operators for TFLM and the generator to run.
    """
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(model, 0))
    sg = m.subgraphs[0]

    def opcode(code: int) -> int:
        for i, oc in enumerate(m.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
                return i
        oc = fb.OperatorCodeT()
        oc.builtinCode = oc.deprecatedBuiltinCode = code
        oc.version = 1
        m.operatorCodes.append(oc)
        return len(m.operatorCodes) - 1

    for op in sg.operators:
        code = m.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != fb.BuiltinOperator.RESHAPE:
            continue
        src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
        if len(src.shape) == 3 and len(dst.shape) == 4 and dst.shape[2] == 1:
            buf = fb.BufferT()
            buf.data = list(np.array([2], "<i4").tobytes())
            m.buffers.append(buf)
            axis = fb.TensorT()
            axis.shape, axis.type, axis.buffer, axis.name = [1], fb.TensorType.INT32, len(m.buffers) - 1, b"axis"
            sg.tensors.append(axis)
            op.opcodeIndex = opcode(fb.BuiltinOperator.EXPAND_DIMS)
            op.inputs = [op.inputs[0], len(sg.tensors) - 1]
            op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.NONE, None
        elif len(src.shape) == 4 and len(dst.shape) == 3 and src.shape[2] == 1:
            op.opcodeIndex = opcode(fb.BuiltinOperator.SQUEEZE)
            op.inputs = [op.inputs[0]]
            opts = fb.SqueezeOptionsT()
            opts.squeezeDims = [2]
            op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.SqueezeOptions, opts
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tcn_like_model(frames: int = 32, feats: int = 6, classes: int = 4, filters: int = 8,
                   dilations: tuple[int, ...] = (1, 2, 4), kernel_size: int = 3, seed: int = 0):
    """A miniature sleep TCN in Keras: the same layer pattern as sleepkit.models.tcn, random weights."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(frames, feats), batch_size=1, name="features")
    x = layers.Reshape((frames, 1, feats))(inputs)
    x = layers.Conv2D(filters, 1, activation="relu")(x)
    for d in dilations:
        span = (kernel_size - 1) * d
        y = layers.ZeroPadding2D(padding=((span // 2, span - span // 2), (0, 0)))(x)
        y = layers.DepthwiseConv2D((kernel_size, 1), dilation_rate=(d, 1), padding="valid", activation="relu")(y)
        y = layers.Conv2D(filters, 1, activation="relu")(y)
        s = layers.GlobalAveragePooling2D(keepdims=True)(y)
        s = layers.Dense(max(1, filters // 4), activation="relu")(s)
        s = layers.Dense(filters, activation="sigmoid")(s)
        y = layers.Multiply()([y, s])
        x = layers.Add()([x, y])
    x = layers.Conv2D(classes, 1)(x)
    x = layers.Reshape((frames, classes))(x)
    x = layers.Softmax()(x)
    model = keras.Model(inputs, x)
    # Random, non-trivial batch-norm-free weights: scale kernels so activations stay in range.
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(w.shape) * (0.6 if w.ndim > 1 else 0.2)).astype(np.float32)
                       for w in model.get_weights()])
    return model


def convert_keras_int8(model, input_range: tuple[float, float] = (-3.0, 3.0), seed: int = 0) -> bytes:
    """Convert a Keras model through a batch-1 concrete function, as the export does."""
    import tensorflow as tf

    shape = (1, *model.input_shape[1:])

    @tf.function
    def f(x):
        return model(x, training=False)

    return convert_int8(f, [shape], [input_range], seed)

"""Quantisation-aware fine-tuning in Keras 3 with TensorFlow fake-quant ops.

TensorFlow Model Optimization (``tfmot``, 0.8.1 the newest) does not work with Keras 3: importing it
sets ``TF_USE_LEGACY_KERAS=1`` and needs the ``tf_keras`` (Keras 2) package, and
``quantize_model`` on a Keras 3 model raises ``ValueError: `to_quantize` can only either be a keras
Sequential or Functional model.`` (it checks against tf_keras classes). So sleepkit implements the
same scheme itself, on the model as built:

1. **Batch norm is folded** into the convolution before it (frozen statistics, as TFLite folds it at
   conversion): ``W' = W * gamma / sqrt(var + eps)``, ``b' = beta + (b - mean) * gamma / sqrt(var + eps)``.
2. **Weights are fake-quantised per output channel**, symmetric int8 (``[-127, 127]``, scale
   ``max|W| / 127``) — exactly what the converter does with them.
3. **Activations are fake-quantised per tensor** (asymmetric int8) wherever the int8 model has a
   quantised tensor: the model input and the output of every op the converter does not fuse into the
   next one (a convolution followed by batch norm / ReLU, or an add followed by ReLU, is one op).
   Ranges are exponential moving averages of the batch min/max during fine-tuning; outputs of sigmoid
   and softmax use TFLite's fixed int8 range (scale 1/256, zero point -128).
4. **Fine-tuning** uses the straight-through estimator of ``tf.quantization.fake_quant_*`` (gradient 1
   inside the range, 0 outside).

The fine-tuned model keeps its fake-quant ops. At export the TFLite converter reads them: activation
scales and zero points come from the learned ranges, not from calibration, and the weights it
quantises are already on the int8 grid, so the Keras model predicts what the int8 model computes
(up to rounding inside integer kernels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SleepkitError
from ..log import logger

# TFLite's fixed int8 output range of LOGISTIC and SOFTMAX: scale 1/256, zero point -128.
SIGMOID_RANGE = (0.0, 255.0 / 256.0)
EMA_MOMENTUM = 0.99
# Keras layer classes whose output the converter keeps as a separate int8 tensor (unless fused).
_PRODUCERS = ("Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Activation", "Add", "Multiply",
              "Subtract", "Concatenate", "GlobalAveragePooling2D", "AveragePooling2D", "Softmax", "Dense")
_FUSABLE_ACTIVATIONS = ("linear", "relu", "relu6")


def _custom_objects() -> dict:
    return {cls.__name__: cls for cls in _layer_classes()}


_CLASSES: list = []


def _layer_classes() -> list:
    """The QAT layer classes, defined on first use so importing this module needs no Keras."""
    if _CLASSES:
        return _CLASSES
    import keras
    import tensorflow as tf
    from keras import ops

    register = keras.saving.register_keras_serializable(package="sleepkit")

    def fake_quant_weights(kernel, depthwise: bool):
        """Per-output-channel symmetric int8 (narrow range) fake quantisation of a conv kernel."""
        shape = tf.shape(kernel)
        k = tf.reshape(kernel, tf.concat([shape[:2], [1, -1]], 0)) if depthwise else kernel
        m = tf.maximum(tf.reduce_max(tf.abs(k), axis=[0, 1, 2]), 1e-8)
        q = tf.quantization.fake_quant_with_min_max_vars_per_channel(k, -m, m, num_bits=8, narrow_range=True)
        return tf.reshape(q, shape) if depthwise else q

    @register
    class FakeQuant(keras.layers.Layer):
        """Per-tensor asymmetric int8 fake quantisation; EMA range or a fixed one."""

        def __init__(self, fixed_range=None, momentum=EMA_MOMENTUM, **kwargs):
            super().__init__(**kwargs)
            self.fixed_range = None if fixed_range is None else (float(fixed_range[0]), float(fixed_range[1]))
            self.momentum = float(momentum)

        def build(self, input_shape):
            self.range_min = self.add_weight(name="range_min", shape=(), initializer="zeros", trainable=False)
            self.range_max = self.add_weight(name="range_max", shape=(), initializer="zeros", trainable=False)
            self.seen = self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)

        def call(self, x, training=None):
            if self.fixed_range is not None:
                lo, hi = self.fixed_range
                return tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=8, narrow_range=False)
            if training:
                bmin, bmax = tf.reduce_min(x), tf.reduce_max(x)
                first = self.seen < 0.5
                m = self.momentum
                self.range_min.assign(tf.where(first, bmin, m * self.range_min + (1 - m) * bmin))
                self.range_max.assign(tf.where(first, bmax, m * self.range_max + (1 - m) * bmax))
                self.seen.assign(1.0)
            lo = tf.minimum(self.range_min, 0.0)
            hi = tf.maximum(self.range_max, lo + 1e-6)
            return tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=8, narrow_range=False)

        def get_config(self):
            return {**super().get_config(), "fixed_range": self.fixed_range, "momentum": self.momentum}

    class _QConvBase(keras.layers.Layer):
        depthwise = False

        def __init__(self, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1), activation="linear", **kwargs):
            super().__init__(**kwargs)
            self.kernel_size = tuple(int(v) for v in kernel_size)
            self.strides = tuple(int(v) for v in strides)
            self.padding = str(padding)
            self.dilation_rate = tuple(int(v) for v in dilation_rate)
            self.activation_name = keras.activations.serialize(keras.activations.get(activation))
            if isinstance(self.activation_name, dict):
                self.activation_name = self.activation_name.get("config", "linear")
            self.activation = keras.activations.get(self.activation_name)
            # A sigmoid is its own int8 op (LOGISTIC): the convolution's output before it is quantised.
            self.pre_activation = None if self.activation_name in _FUSABLE_ACTIVATIONS else FakeQuant(name="pre_activation_fq")

        def _conv(self, x, kernel):
            raise NotImplementedError

        def call(self, x, training=None):
            y = self._conv(x, fake_quant_weights(self.kernel, self.depthwise)) + self.bias
            if self.pre_activation is not None:
                y = self.pre_activation(y, training=training)
            return self.activation(y)

        @property
        def mac_kernel_shape(self):
            return tuple(int(v) for v in self.kernel.shape)

        def get_config(self):
            return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                    "padding": self.padding, "dilation_rate": self.dilation_rate, "activation": self.activation_name}

    @register
    class QConv2D(_QConvBase):
        def __init__(self, filters, kernel_size, **kwargs):
            super().__init__(kernel_size, **kwargs)
            self.filters = int(filters)

        def build(self, input_shape):
            cin = int(input_shape[-1])
            self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, cin, self.filters), initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.pre_activation is not None:
                self.pre_activation.build(None)

        def _conv(self, x, kernel):
            return ops.conv(x, kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

        def compute_output_shape(self, input_shape):
            return keras.layers.Conv2D(self.filters, self.kernel_size, strides=self.strides, padding=self.padding,
                                       dilation_rate=self.dilation_rate).compute_output_shape(input_shape)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters}

    @register
    class QDepthwiseConv2D(_QConvBase):
        depthwise = True

        def __init__(self, kernel_size, depth_multiplier=1, **kwargs):
            super().__init__(kernel_size, **kwargs)
            self.depth_multiplier = int(depth_multiplier)

        def build(self, input_shape):
            cin = int(input_shape[-1])
            self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, cin, self.depth_multiplier), initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(cin * self.depth_multiplier,), initializer="zeros")
            if self.pre_activation is not None:
                self.pre_activation.build(None)

        def _conv(self, x, kernel):
            return ops.depthwise_conv(x, kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

        def compute_output_shape(self, input_shape):
            return keras.layers.DepthwiseConv2D(self.kernel_size, strides=self.strides, padding=self.padding,
                                                depth_multiplier=self.depth_multiplier,
                                                dilation_rate=self.dilation_rate).compute_output_shape(input_shape)

        def get_config(self):
            return {**super().get_config(), "depth_multiplier": self.depth_multiplier}

    _CLASSES.extend([FakeQuant, QConv2D, QDepthwiseConv2D])
    return _CLASSES


def register_layers() -> None:
    """Make the QAT layers known to ``keras.models.load_model`` (call before loading a QAT model)."""
    _layer_classes()


# ---------------------------------------------------------------------------------------------------
# Graph rewrite


@dataclass
class _Plan:
    folded: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # conv name -> (kernel, bias)
    folded_bn: set[str] = field(default_factory=set)
    quantize_output: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # layer -> fixed range or None (EMA)


def _producer(tensor):
    return tensor._keras_history.operation


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {layer.name: [] for layer in model.layers}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for t in node.input_tensors:
                out.setdefault(_producer(t).name, []).append(layer)
    return out


def _activation_name(layer) -> str:
    act = layer.get_config().get("activation", "linear")
    if isinstance(act, dict):
        act = act.get("config", act.get("class_name", "linear"))
    return str(act)


def _fusable_follower(layer) -> bool:
    """A layer the converter fuses into the op before it (so that op's output is not a tensor)."""
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        return True
    if kind == "ReLU":
        return True
    return kind == "Activation" and _activation_name(layer) in ("relu", "relu6")


def _fold(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    kernel = np.asarray(conv.kernel.numpy(), dtype=np.float64)
    bias = np.asarray(conv.bias.numpy(), dtype=np.float64) if conv.use_bias else 0.0
    mean = np.asarray(bn.moving_mean.numpy(), dtype=np.float64)
    var = np.asarray(bn.moving_variance.numpy(), dtype=np.float64)
    gamma = np.asarray(bn.gamma.numpy(), dtype=np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta.numpy(), dtype=np.float64) if bn.center else np.zeros_like(mean)
    s = gamma / np.sqrt(var + bn.epsilon)
    if type(conv).__name__ == "DepthwiseConv2D":
        kernel = kernel * s.reshape(kernel.shape[2], kernel.shape[3])
    else:
        kernel = kernel * s
    new_bias = beta + (bias - mean) * s
    return kernel.astype(np.float32), new_bias.astype(np.float32)


def _plan(model) -> _Plan:
    plan = _Plan()
    consumers = _consumers(model)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            producers = [_producer(t) for node in layer._inbound_nodes for t in node.input_tensors]
            conv = producers[0] if len(producers) == 1 else None
            if (conv is not None and type(conv).__name__ in ("Conv2D", "DepthwiseConv2D")
                    and len(consumers[conv.name]) == 1 and int(layer.axis if isinstance(layer.axis, int) else layer.axis[0]) in (-1, 3)):
                plan.folded[conv.name] = _fold(conv, layer)
                plan.folded_bn.add(layer.name)
            else:
                raise SleepkitError(
                    f"quantization.qat: batch norm '{layer.name}' does not follow a convolution it can be folded into; "
                    "put every BatchNormalization right after a Conv2D/DepthwiseConv2D"
                )
        if kind in ("Dense",):
            raise SleepkitError(
                f"quantization.qat: layer '{layer.name}' is Dense; sleepkit architectures use 1x1 Conv2D instead "
                "(TFLite's per-channel FULLY_CONNECTED is not bit-exact with TFLM)"
            )
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _PRODUCERS:
            continue
        followers = consumers[layer.name]
        act = _activation_name(layer) if kind in ("Conv2D", "DepthwiseConv2D", "Activation") else "linear"
        if kind == "Softmax" or act in ("sigmoid", "softmax"):
            plan.quantize_output[layer.name] = SIGMOID_RANGE
            continue
        if followers and all(_fusable_follower(f) for f in followers) and kind not in ("Concatenate", "GlobalAveragePooling2D", "AveragePooling2D", "ReLU", "Activation"):
            continue  # fused into the next op: not a tensor of the int8 model
        plan.quantize_output[layer.name] = None
    return plan


def quantize_model(model):
    """A fake-quantised copy of ``model`` (batch norm folded; weights copied). Ranges start empty and
    are set by the first training batch (see ``calibrate``)."""
    import keras

    FakeQuant, QConv2D, QDepthwiseConv2D = _layer_classes()
    plan = _plan(model)

    def clone(layer):
        kind = type(layer).__name__
        cfg = layer.get_config()
        if kind == "Conv2D":
            if cfg.get("groups", 1) != 1:
                raise SleepkitError(f"quantization.qat: grouped convolution '{layer.name}' is not supported")
            return QConv2D(cfg["filters"], cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
                           dilation_rate=cfg["dilation_rate"], activation=_activation_name(layer), name=layer.name)
        if kind == "DepthwiseConv2D":
            return QDepthwiseConv2D(cfg["kernel_size"], depth_multiplier=cfg["depth_multiplier"], strides=cfg["strides"],
                                    padding=cfg["padding"], dilation_rate=cfg["dilation_rate"],
                                    activation=_activation_name(layer), name=layer.name)
        if layer.name in plan.folded_bn:
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(cfg)

    input_fq: dict[int, object] = {}

    def quantize_inputs(value):
        if isinstance(value, (list, tuple)):
            return type(value)(quantize_inputs(v) for v in value)
        history = getattr(value, "_keras_history", None)
        if history is not None and isinstance(history.operation, keras.layers.InputLayer):
            key = id(value)
            if key not in input_fq:
                input_fq[key] = FakeQuant(name=f"{history.operation.name}_fq")(value)
            return input_fq[key]
        return value

    def call(layer, *args, **kwargs):
        # Recorded call arguments: a None mask means nothing, and a recorded training=False would pin
        # dropout off; the cloned layer takes both from the model call instead.
        kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
        out = layer(*[quantize_inputs(a) for a in args], **kwargs)
        if layer.name in plan.quantize_output:
            out = FakeQuant(fixed_range=plan.quantize_output[layer.name], name=f"{layer.name}_fq")(out)
        return out

    qmodel = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for layer in model.layers:
        if not layer.weights or layer.name in plan.folded_bn:
            continue
        target = qmodel.get_layer(layer.name)
        if layer.name in plan.folded:
            kernel, bias = plan.folded[layer.name]
            target.kernel.assign(kernel)
            target.bias.assign(bias)
        elif type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"):
            target.kernel.assign(layer.kernel.numpy())
            target.bias.assign(layer.bias.numpy() if layer.use_bias else np.zeros(target.bias.shape, np.float32))
        else:
            target.set_weights(layer.get_weights())
    fq = sum(isinstance(lyr, FakeQuant) for lyr in qmodel.layers)
    logger.info("QAT model: %d batch norms folded, %d convolutions with int8 weights, %d activation fake-quant points",
                len(plan.folded_bn), sum(isinstance(lyr, (QConv2D, QDepthwiseConv2D)) for lyr in qmodel.layers), fq)
    return qmodel


def calibrate(qmodel, windows: np.ndarray, batch_size: int) -> None:
    """Set the activation ranges from ``windows`` (forward passes in training mode; no weight update)."""
    for i in range(0, len(windows), batch_size):
        qmodel(windows[i : i + batch_size], training=True)


def fake_quant_layers(qmodel) -> list:
    FakeQuant = _layer_classes()[0]
    return [lyr for lyr in qmodel.layers if isinstance(lyr, FakeQuant)]


def is_qat_model(model) -> bool:
    return bool(fake_quant_layers(model))

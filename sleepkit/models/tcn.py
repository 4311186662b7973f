"""Temporal convolutional network for sequence-to-sequence sleep staging.

The model maps a window ``[T, F]`` of per-frame features to ``[T, num_classes]`` (one class per frame).
It is built in 2-D form ``[T, 1, C]`` so that every layer lowers to a single TFLite Micro builtin:

* dilated depthwise conv  -> explicit ``ZeroPadding2D`` (PAD) + ``DepthwiseConv2D((k, 1), dilation)``;
  padding by hand keeps the converter from inserting SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND,
* pointwise conv          -> ``Conv2D(1x1)`` (CONV_2D, batch norm and ReLU fused at conversion),
* squeeze-excite          -> ``GlobalAveragePooling2D`` (MEAN) + 1x1 ``Conv2D`` (CONV_2D) +
  sigmoid (LOGISTIC) + ``Multiply`` (MUL),
* residual                -> ``Add`` (ADD).

Only CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, MEAN, RESHAPE, LOGISTIC, plus PAD (causal) and SOFTMAX
(``use_logits=False``), appear after int8 conversion.
"""

from __future__ import annotations

from typing import Any

from ..errors import SleepkitError
from .common import builder_params

# Small enough for a Cortex-M4 (~21 k parameters, ~3 M MACs per 240-frame window with 14 features), a receptive field of
# 1 + (5-1)*(1+2+4+8+16) = 125 frames (about an hour at 30 s frames) so sleep cycles are visible.
DEFAULT_ARCH: dict[str, Any] = {
    "input_filters": 48,
    "filters": 48,
    "kernel_size": 5,
    "dilations": [1, 2, 4, 8, 16],
    "se_ratio": 4,
    "causal": False,
    "dropout": 0.1,
}

def _check_arch(params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    merged, use_logits = builder_params("tcn", params, DEFAULT_ARCH)
    if not merged["dilations"] or any(int(d) < 1 for d in merged["dilations"]):
        raise SleepkitError(f"architecture.params.dilations must be a non-empty list of ints >= 1, got {merged['dilations']}")
    for key in ("input_filters", "filters", "kernel_size", "se_ratio"):
        if int(merged[key]) < 1:
            raise SleepkitError(f"architecture.params.{key} must be >= 1, got {merged[key]}")
    return merged, use_logits


def receptive_field(kernel_size: int, dilations: list[int]) -> int:
    return 1 + (kernel_size - 1) * sum(dilations)


def build_tcn(input_shape: tuple[int, int], num_classes: int, **params: Any):
    """Build the TCN. ``input_shape`` is ``(T, F)``; ``params`` override ``DEFAULT_ARCH``.

    ``use_logits`` (default True) leaves the output as logits; False appends a softmax.
    """
    import keras
    from keras import layers

    arch, use_logits = _check_arch(params)
    frames, num_feats = int(input_shape[0]), int(input_shape[1])
    k = int(arch["kernel_size"])
    filters = int(arch["filters"])
    se_units = max(1, filters // int(arch["se_ratio"]))

    inputs = keras.Input(shape=(frames, num_feats), name="features")
    x = layers.Reshape((frames, 1, num_feats), name="to_2d")(inputs)
    x = layers.Conv2D(int(arch["input_filters"]), 1, use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)

    for i, d in enumerate(int(v) for v in arch["dilations"]):
        name = f"b{i}_d{d}"
        shortcut = x
        span = (k - 1) * d
        pad = (span, 0) if arch["causal"] else (span // 2, span - span // 2)
        y = layers.ZeroPadding2D(padding=(pad, (0, 0)), name=f"{name}_pad")(x)
        y = layers.DepthwiseConv2D((k, 1), dilation_rate=(d, 1), padding="valid", use_bias=False, name=f"{name}_dw")(y)
        y = layers.BatchNormalization(name=f"{name}_dw_bn")(y)
        y = layers.ReLU(name=f"{name}_dw_relu")(y)
        y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(y)
        y = layers.BatchNormalization(name=f"{name}_pw_bn")(y)
        y = layers.ReLU(name=f"{name}_pw_relu")(y)
        # Squeeze-excite: re-weight channels by a summary of the whole window.
        s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(y)
        # 1x1 convolutions rather than Dense: the converter quantises both per channel, and TFLite's
        # reference FULLY_CONNECTED per-channel kernel differs from TFLM's by 1 LSB on some inputs,
        # while CONV_2D is bit-exact between the two.
        s = layers.Conv2D(se_units, 1, activation="relu", name=f"{name}_se_fc1")(s)
        s = layers.Conv2D(filters, 1, activation="sigmoid", name=f"{name}_se_fc2")(s)
        y = layers.Multiply(name=f"{name}_se_scale")([y, s])
        if arch["dropout"]:
            y = layers.Dropout(float(arch["dropout"]), name=f"{name}_drop")(y)
        if shortcut.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(shortcut)
        x = layers.Add(name=f"{name}_add")([shortcut, y])

    x = layers.Conv2D(int(num_classes), 1, name="head")(x)
    x = layers.Reshape((frames, int(num_classes)), name="to_seq")(x)
    if not use_logits:
        x = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name="tcn")

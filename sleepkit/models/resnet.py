"""Small 1-D ResNet with dilated residual blocks, for per-frame outputs.

Each block is two full (not depthwise) convolutions ``Conv2D((k, 1), dilation d)`` with batch norm
and ReLU, plus the identity (or a 1x1 projection when the width changes), added and passed through
ReLU. Full convolutions mix features and time in one step, which suits a small number of features
per frame (FS-W-A-5's 5, FS-W-PA-14's 14); dilations double from block to block so four blocks of
5-tap kernels see 1 + 2·4·(1+2+4+8) = 121 frames.

Built in 2-D form ``[T, 1, C]``; a dilated convolution is padded explicitly (``ZeroPadding2D`` →
PAD) and run ``valid``, so the batch-1 conversion keeps it one CONV_2D with its dilation (no
SPACE_TO_BATCH_ND). Ops after int8 conversion: PAD, CONV_2D, ADD, RESHAPE (+ SOFTMAX).
"""

from __future__ import annotations

from typing import Any

from ..errors import SleepkitError
from .common import builder_params, dropout_rate, int_list, positive_int

# Batch-norm statistics settle within a few hundred steps (Keras' default 0.99 needs thousands): runs on
# a few nights are short, and an unsettled moving mean makes inference-mode outputs collapse to one class.
BN_MOMENTUM = 0.9

# ~17 k parameters, ~4 M MACs per 240-frame window of 5 features.
DEFAULT_ARCH: dict[str, Any] = {
    "filters": [16, 16, 24, 24],
    "dilations": [1, 2, 4, 8],
    "kernel_size": 5,
    "causal": False,
    "dropout": 0.1,
}


def _padded_conv(x, filters: int, k: int, d: int, causal: bool, name: str):
    from keras import layers

    span = (k - 1) * d
    pad = (span, 0) if causal else (span // 2, span - span // 2)
    x = layers.ZeroPadding2D(padding=(pad, (0, 0)), name=f"{name}_pad")(x)
    return layers.Conv2D(filters, (k, 1), dilation_rate=(d, 1), padding="valid", use_bias=False, name=f"{name}_conv")(x)


def build_resnet(input_shape: tuple[int, int], num_classes: int, **params: Any):
    import keras
    from keras import layers

    arch, use_logits = builder_params("resnet", params, DEFAULT_ARCH)
    filters = int_list("resnet", "filters", arch["filters"])
    dilations = int_list("resnet", "dilations", arch["dilations"])
    if len(filters) != len(dilations):
        raise SleepkitError(
            f"architecture.params.filters ({len(filters)} entries) and dilations ({len(dilations)}) for model "
            "'resnet' must have one entry per residual block"
        )
    k = positive_int("resnet", "kernel_size", arch["kernel_size"])
    dropout = dropout_rate("resnet", arch["dropout"])
    causal = bool(arch["causal"])
    frames, num_feats = int(input_shape[0]), int(input_shape[1])

    inputs = keras.Input(shape=(frames, num_feats), name="features")
    x = layers.Reshape((frames, 1, num_feats), name="to_2d")(inputs)
    x = _padded_conv(x, filters[0], k, 1, causal, "stem")
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)

    for i, (f, d) in enumerate(zip(filters, dilations)):
        name = f"b{i}_d{d}"
        shortcut = x
        y = _padded_conv(x, f, k, d, causal, f"{name}_c1")
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_c1_bn")(y)
        y = layers.ReLU(name=f"{name}_c1_relu")(y)
        y = _padded_conv(y, f, k, d, causal, f"{name}_c2")
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_c2_bn")(y)
        if dropout:
            y = layers.Dropout(dropout, name=f"{name}_drop")(y)
        if int(shortcut.shape[-1]) != f:
            shortcut = layers.Conv2D(f, 1, use_bias=False, name=f"{name}_proj")(shortcut)
            shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
        x = layers.Add(name=f"{name}_add")([shortcut, y])
        x = layers.ReLU(name=f"{name}_relu")(x)

    x = layers.Conv2D(int(num_classes), 1, name="head")(x)
    x = layers.Reshape((frames, int(num_classes)), name="to_seq")(x)
    if not use_logits:
        x = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name="resnet")

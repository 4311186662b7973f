"""1-D U-Net: an encoder-decoder with skip connections for per-frame outputs.

The encoder sees the window at 1, 1/2, 1/4 … of its frame rate (max pooling by 2), so deep levels
summarise long stretches cheaply; the decoder brings that context back to every frame and the skip
connections restore the detail (event edges for apnea and arousal, stage transitions).

Built in 2-D form ``[T, 1, C]``. Per level: depthwise-separable convolution blocks
(``DepthwiseConv2D((k, 1), same)`` → BN → ReLU → ``Conv2D(1x1)`` → BN → ReLU). Downsampling is
``MaxPooling2D((2, 1))`` (MAX_POOL_2D). Upsampling repeats every frame twice without any resize op:
``Concatenate(axis=2)([x, x])`` makes ``[T/2, 2, C]`` and ``Reshape((T, 1, C))`` interleaves it
(CONCATENATION + RESHAPE); TRANSPOSE_CONV and RESIZE_* are not in the AOT engine. Skips join by
``Concatenate`` along channels. ``frame_size`` must be divisible by ``2 ** (len(filters) - 1)``.
"""

from __future__ import annotations

from typing import Any

from ..errors import SleepkitError
from .common import builder_params, dropout_rate, int_list, positive_int

# Batch-norm statistics settle within a few hundred steps (Keras' default 0.99 needs thousands): runs on
# a few nights are short, and an unsettled moving mean makes inference-mode outputs collapse to one class.
BN_MOMENTUM = 0.9

# ~5.6 k parameters, ~0.66 M MACs per 240-frame window of 14 features (blocks=2: ~9.7 k, ~1.6 M per
# 360-frame window); the bottleneck sees frames 4x coarser, so its 5-tap kernels span 20 frames.
DEFAULT_ARCH: dict[str, Any] = {
    "filters": [16, 24, 32],
    "kernel_size": 5,
    "blocks": 1,
    "dropout": 0.1,
}


def _separable_block(x, filters: int, k: int, name: str):
    from keras import layers

    x = layers.DepthwiseConv2D((k, 1), padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_pw_relu")(x)


def upsample_repeat(x, name: str):
    """Nearest-neighbour x2 upsampling along time as CONCATENATION + RESHAPE."""
    from keras import layers

    frames, channels = int(x.shape[1]), int(x.shape[3])
    y = layers.Concatenate(axis=2, name=f"{name}_repeat")([x, x])
    return layers.Reshape((2 * frames, 1, channels), name=f"{name}_interleave")(y)


def build_unet(input_shape: tuple[int, int], num_classes: int, **params: Any):
    import keras
    from keras import layers

    arch, use_logits = builder_params("unet", params, DEFAULT_ARCH)
    filters = int_list("unet", "filters", arch["filters"])
    if len(filters) < 2:
        raise SleepkitError("architecture.params.filters for model 'unet' needs at least 2 levels, e.g. [16, 24, 32]")
    k = positive_int("unet", "kernel_size", arch["kernel_size"])
    blocks = positive_int("unet", "blocks", arch["blocks"])
    dropout = dropout_rate("unet", arch["dropout"])
    frames, num_feats = int(input_shape[0]), int(input_shape[1])
    factor = 2 ** (len(filters) - 1)
    if frames % factor:
        raise SleepkitError(
            f"model 'unet' with {len(filters)} levels halves the window {len(filters) - 1} times: frame_size "
            f"({frames}) must be divisible by {factor} (e.g. {max(factor, frames // factor * factor)})"
        )

    inputs = keras.Input(shape=(frames, num_feats), name="features")
    x = layers.Reshape((frames, 1, num_feats), name="to_2d")(inputs)
    x = layers.Conv2D(filters[0], 1, use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)

    skips = []
    for level, f in enumerate(filters[:-1]):
        for b in range(blocks):
            x = _separable_block(x, f, k, f"enc{level}_b{b}")
        skips.append(x)
        x = layers.MaxPooling2D((2, 1), name=f"enc{level}_pool")(x)
    for b in range(blocks):
        x = _separable_block(x, filters[-1], k, f"mid_b{b}")
    if dropout:
        x = layers.Dropout(dropout, name="mid_drop")(x)

    for level in reversed(range(len(filters) - 1)):
        x = upsample_repeat(x, f"dec{level}_up")
        x = layers.Concatenate(axis=-1, name=f"dec{level}_skip")([x, skips[level]])
        for b in range(blocks):
            x = _separable_block(x, filters[level], k, f"dec{level}_b{b}")

    x = layers.Conv2D(int(num_classes), 1, name="head")(x)
    x = layers.Reshape((frames, int(num_classes)), name="to_seq")(x)
    if not use_logits:
        x = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name="unet")

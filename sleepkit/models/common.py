"""What every architecture builder shares: parameter checking and the cost of a built model.

A builder is ``build(input_shape=(T, F), num_classes, use_logits=True, **params) -> keras.Model``
mapping a window of per-frame features ``[T, F]`` to one output per frame ``[T, num_classes]``. The
layers are 2-D (``[T, 1, C]``) and restricted to ones that lower to single TensorFlow Lite Micro
builtins the AOT engine also implements (CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, MEAN, RESHAPE, PAD,
MAX_POOL_2D, AVERAGE_POOL_2D, LOGISTIC, CONCATENATION, SOFTMAX). No Dense: the converter quantises it
per channel and TFLite's per-channel FULLY_CONNECTED differs from TFLM's by 1 LSB; a 1x1 Conv2D is
bit-exact between the two.
"""

from __future__ import annotations

from typing import Any

from ..errors import SleepkitError

# Keys ``architecture.params`` may hold that the training loop reads rather than the builder.
TRAINING_KEYS = ("loss", "focal_gamma", "qat_epochs", "qat_lr_scale")


def builder_params(model: str, params: dict[str, Any], defaults: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(defaults merged with the builder's ``params``, ``use_logits``): the training loop's keys are
    dropped, any other unknown key is an error naming the valid ones."""
    unknown = sorted(set(params) - set(defaults) - {"use_logits"} - set(TRAINING_KEYS))
    if unknown:
        raise SleepkitError(
            f"architecture.params: unknown key(s) {', '.join(unknown)} for model '{model}' "
            f"(valid: {', '.join(sorted(defaults))}, {', '.join(TRAINING_KEYS)})"
        )
    merged = {**defaults, **{k: v for k, v in params.items() if k in defaults}}
    return merged, bool(params.get("use_logits", True))


def positive_int(model: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or int(value) < 1:
        raise SleepkitError(f"architecture.params.{key} for model '{model}' must be an integer >= 1, got {value!r}")
    return int(value)


def int_list(model: str, key: str, value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or not value:
        raise SleepkitError(f"architecture.params.{key} for model '{model}' must be a non-empty list of integers >= 1, got {value!r}")
    return [positive_int(model, key, v) for v in value]


def dropout_rate(model: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= float(value) < 1:
        raise SleepkitError(f"architecture.params.dropout for model '{model}' must be in [0, 1), got {value!r}")
    return float(value)


def model_cost(model) -> dict[str, int]:
    """Parameters and multiply-accumulates per inference (batch 1) of the convolutions and dense layers,
    the same count ``sleepkit.tflm_check.weights_and_macs`` makes on the converted model."""
    import numpy as np
    from keras import layers

    macs = 0
    for layer in model.layers:
        if not isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)) and not hasattr(layer, "mac_kernel_shape"):
            continue
        out = int(np.prod([d for d in layer.output.shape[1:]]))
        kernel = getattr(layer, "mac_kernel_shape", None) or tuple(layer.kernel.shape)
        if isinstance(layer, layers.DepthwiseConv2D) or getattr(layer, "depthwise", False):
            macs += out * int(kernel[0]) * int(kernel[1])
        elif isinstance(layer, layers.Dense):
            macs += out * int(kernel[0])
        else:
            macs += out * int(kernel[0]) * int(kernel[1]) * int(kernel[2])
    return {"params": int(model.count_params()), "macs": int(macs)}

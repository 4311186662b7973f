"""Architectures (tcn, unet, resnet): shapes, parameter and MAC counts, int8 conversion to the ops the
AOT engine implements, and bit-exact TFLite reference vs host TFLM outputs."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit.convert import convert_int8
from sleepkit.errors import SleepkitError
from sleepkit.models.common import model_cost
from sleepkit.registry import ModelFactory
from sleepkit.tflm_check import op_list, tflm_parity, weights_and_macs

# The op set the issue allows (the AOT engine's, without FULLY_CONNECTED).
ALLOWED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "MEAN", "RESHAPE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE",
               "PAD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "LOGISTIC", "CONCATENATION"}
SMALL = {
    "tcn": {"input_filters": 8, "filters": 8, "kernel_size": 3, "dilations": [1, 2, 4], "se_ratio": 4},
    "unet": {"filters": [8, 12, 16], "kernel_size": 3, "blocks": 1},
    "resnet": {"filters": [8, 12], "dilations": [1, 4], "kernel_size": 3},
}
EXPECTED_OPS = {"tcn": {"MEAN", "LOGISTIC", "MUL"}, "unet": {"MAX_POOL_2D", "CONCATENATION"}, "resnet": {"ADD"}}


@pytest.fixture(scope="module", params=sorted(SMALL))
def converted(request):
    import keras

    name = request.param
    keras.utils.set_random_seed(0)
    model = ModelFactory.get(name)((32, 5), 3, use_logits=False, **SMALL[name])
    x = np.random.default_rng(1).normal(size=(24, 32, 5)).astype(np.float32)
    return name, model, x, convert_int8(model, x)


def test_shapes_and_cost_match_the_converted_model(converted):
    name, model, x, tflite = converted
    assert model.input_shape == (None, 32, 5) and model.output_shape == (None, 32, 3)
    probs = np.asarray(model(x[:2], training=False))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)  # use_logits=False: softmax per frame
    cost = model_cost(model)
    weights, macs = weights_and_macs(tflite)
    assert cost["macs"] == macs > 0
    # Keras counts batch-norm parameters the converter folds away.
    assert weights <= cost["params"]


def test_int8_ops_are_engine_ops_and_tflm_is_bit_exact(converted):
    name, model, x, tflite = converted
    ops = set(op_list(tflite))
    assert ops <= ALLOWED_OPS, ops - ALLOWED_OPS
    assert EXPECTED_OPS[name] <= ops and "SOFTMAX" in ops
    assert not {"FULLY_CONNECTED", "TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "SPACE_TO_BATCH_ND"} & ops
    parity = tflm_parity(tflite, x[:6])
    assert parity["max_lsb"] == 0 and parity["windows_differing"] == 0


def test_unet_upsampling_repeats_every_frame():
    import keras

    from sleepkit.models.unet import upsample_repeat

    inp = keras.Input((4, 1, 2))
    model = keras.Model(inp, upsample_repeat(inp, "up"))
    x = np.arange(8, dtype=np.float32).reshape(1, 4, 1, 2)
    y = np.asarray(model(x, training=False))
    assert y.shape == (1, 8, 1, 2)
    np.testing.assert_array_equal(y[0, :, 0], np.repeat(x[0, :, 0], 2, axis=0))


@pytest.mark.parametrize("name, shape, params, match", [
    ("unet", (30, 5), {"filters": [8, 8, 8]}, "frame_size \\(30\\) must be divisible by 4"),
    ("unet", (32, 5), {"filters": [8]}, "at least 2 levels"),
    ("resnet", (32, 5), {"filters": [8, 8], "dilations": [1]}, "one entry per residual block"),
    ("resnet", (32, 5), {"kernel": 3}, "unknown key\\(s\\) kernel for model 'resnet'"),
    ("unet", (32, 5), {"dropout": 1.5}, "dropout for model 'unet' must be in \\[0, 1\\)"),
])
def test_bad_architecture_params(name, shape, params, match):
    with pytest.raises(SleepkitError, match=match):
        ModelFactory.get(name)(shape, 2, **params)


def test_default_sizes_fit_a_microcontroller():
    import keras

    for name, feats in (("tcn", 14), ("unet", 14), ("resnet", 5)):
        keras.utils.set_random_seed(0)
        cost = model_cost(ModelFactory.get(name)((240, feats), 4))
        assert 3_000 < cost["params"] < 40_000 and 100_000 < cost["macs"] < 10_000_000, (name, cost)

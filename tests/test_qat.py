"""Quantisation-aware training layers: batch-norm folding, int8 weight grid, activation ranges, and the
converter taking the learned ranges so the Keras QAT model predicts what the int8 model computes."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit.convert import convert_int8
from sleepkit.registry import ModelFactory
from sleepkit.tflm_check import io_details, op_list, run_reference, quantize_input, tflm_parity
from sleepkit.quant import dequantize

from test_models import ALLOWED_OPS

SMALL_TCN = {"input_filters": 8, "filters": 8, "kernel_size": 3, "dilations": [1, 2], "se_ratio": 4}


def _randomise_batch_norms(model, rng):
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.2, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape))
            layer.beta.assign(rng.normal(0, 0.2, layer.beta.shape))


@pytest.fixture(scope="module")
def qat_tcn():
    import keras

    from sleepkit.training.qat import calibrate, quantize_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = ModelFactory.get("tcn")((32, 5), 3, **SMALL_TCN)
    _randomise_batch_norms(model, rng)
    x = rng.normal(size=(32, 32, 5)).astype(np.float32)
    qmodel = quantize_model(model)
    calibrate(qmodel, x, 16)
    return model, qmodel, x


def test_batch_norm_is_folded_into_the_convolution():
    import keras

    from sleepkit.training.qat import _fold

    rng = np.random.default_rng(1)
    for conv in (keras.layers.Conv2D(4, (3, 1), use_bias=False), keras.layers.DepthwiseConv2D((3, 1), use_bias=False)):
        inp = keras.Input((10, 1, 4))
        bn = keras.layers.BatchNormalization()
        model = keras.Model(inp, bn(conv(inp)))
        _randomise_batch_norms(model, rng)
        kernel, bias = _fold(conv, bn)
        x = rng.normal(size=(2, 10, 1, 4)).astype(np.float32)
        folded = np.asarray(keras.ops.depthwise_conv(x, kernel) if "Depthwise" in type(conv).__name__ else keras.ops.conv(x, kernel)) + bias
        np.testing.assert_allclose(folded, np.asarray(model(x, training=False)), atol=1e-5)


def test_weights_sit_on_the_per_channel_int8_grid(qat_tcn):
    from sleepkit.training.qat import _layer_classes

    _, qmodel, _ = qat_tcn
    _, QConv2D, QDepthwiseConv2D = _layer_classes()
    convs = [layer for layer in qmodel.layers if isinstance(layer, (QConv2D, QDepthwiseConv2D))]
    assert any(isinstance(c, QDepthwiseConv2D) for c in convs) and any(isinstance(c, QConv2D) for c in convs)
    # The 1x1 head applied to one-hot inputs returns its effective (fake-quantised) kernel rows.
    head = qmodel.get_layer("head")
    w, b = head.kernel.numpy(), head.bias.numpy()
    cin = w.shape[2]
    effective = np.asarray(head(np.eye(cin, dtype=np.float32).reshape(cin, 1, 1, cin))).reshape(cin, -1) - b
    scale = np.abs(w).max(axis=(0, 1, 2)) / 127.0  # symmetric int8 per output channel, as TFLite
    np.testing.assert_allclose(effective, np.round(w[0, 0] / scale) * scale, atol=1e-6)
    assert not np.allclose(effective, w[0, 0], atol=1e-6)


def test_qat_model_predicts_what_the_int8_model_computes(qat_tcn):
    from sleepkit.training.qat import fake_quant_layers

    model, qmodel, x = qat_tcn
    fq = fake_quant_layers(qmodel)
    # every BN was folded (none left), and activations are quantised: input, convs, SE and adds
    assert not [layer for layer in qmodel.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(fq) >= 8 and any(f.fixed_range for f in fq)  # the sigmoid's fixed range
    yq = np.asarray(qmodel(x, training=False))
    assert np.abs(yq - np.asarray(model(x, training=False))).max() < 0.5  # close to float, not equal
    tflite = convert_int8(qmodel, x)
    assert set(op_list(tflite)) <= ALLOWED_OPS
    qin, qout = io_details(tflite)
    # The converter took the input range the fake-quant layer learned instead of calibrating its own.
    f_in = qmodel.get_layer("features_fq")
    lo, hi = min(float(f_in.range_min.numpy()), 0.0), float(f_in.range_max.numpy())
    assert qin.scale == pytest.approx((hi - lo) / 255, rel=1e-3)
    raw = run_reference(tflite, quantize_input(x, qin))
    deq = dequantize(raw, qout.scale, qout.zero_point)
    assert np.abs(deq - yq).max() <= 3 * qout.scale + 1e-6  # a few LSB of integer rounding at most
    assert np.mean(deq.argmax(-1) == yq.argmax(-1)) > 0.97
    assert tflm_parity(tflite, x[:4])["max_lsb"] == 0


def test_finetune_updates_weights_and_ranges_and_model_reloads(qat_tcn, tmp_path):
    import keras

    from sleepkit.training.qat import fake_quant_layers

    import tensorflow as tf

    _, qmodel, x = qat_tcn
    q2 = keras.models.clone_model(qmodel)
    q2.set_weights(qmodel.get_weights())
    y = np.eye(3, dtype=np.float32)[np.random.default_rng(2).integers(0, 3, (32, 32))]
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-2)
    before_w = q2.get_layer("head").kernel.numpy().copy()
    before_r = [float(f.range_max.numpy()) for f in fake_quant_layers(q2) if not f.fixed_range]
    # One eager training step (what model.fit runs, without tracing it): straight-through gradients
    # reach every weight, and the fake-quant ranges follow the batch.
    with tf.GradientTape() as tape:
        loss = loss_fn(y, q2(x * 3.0, training=True))
    grads = tape.gradient(loss, q2.trainable_variables)
    assert all(g is not None for g in grads) and np.isfinite(float(loss))
    optimizer.apply_gradients(zip(grads, q2.trainable_variables))
    assert not np.allclose(q2.get_layer("head").kernel.numpy(), before_w)
    after_r = [float(f.range_max.numpy()) for f in fake_quant_layers(q2) if not f.fixed_range]
    assert after_r[0] > before_r[0]  # the input range followed the wider (x3) data
    path = tmp_path / "qat.keras"
    q2.save(path)
    from sleepkit.training.model_io import load_model
    from sleepkit.params import TaskParams

    params = TaskParams(frame_size=32, num_classes=3)
    loaded = load_model(params, path)
    np.testing.assert_allclose(np.asarray(loaded(x[:2], training=False)), np.asarray(q2(x[:2], training=False)), atol=1e-6)


def test_dense_layers_are_refused():
    import keras

    from sleepkit.errors import SleepkitError
    from sleepkit.training.qat import quantize_model

    inp = keras.Input((8, 3))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(SleepkitError, match="Dense"):
        quantize_model(model)

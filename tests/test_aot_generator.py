"""The AOT generator: TFLM's multiplier arithmetic, refusals with file/op names, emitted artefacts."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from sleepkit.aot import SUPPORTED_OPS, generate, testmodels
from sleepkit.aot import quantmath as qm
from sleepkit.errors import SleepkitError


def test_quantize_multiplier_matches_tflm_definition():
    rng = np.random.default_rng(0)
    for real in np.concatenate([10 ** rng.uniform(-9, 3, 2000), [1.0, 0.5, 0.75, 2.0 ** -31, 3.0]]):
        m, s = qm.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        # real == m * 2^(s - 31) up to half a unit of the 31-bit significand
        assert abs(m * 2.0 ** (s - 31) - real) <= 2.0 ** (s - 32) * (1 + 1e-12)
    assert qm.quantize_multiplier(0.0) == (0, 0)
    assert qm.quantize_multiplier(0.5) == (1 << 30, 0)
    assert qm.quantize_multiplier(1.0) == (1 << 30, 1)
    # A significand that rounds up to 2^31 is renormalised, as TFLM does.
    assert qm.quantize_multiplier(1.0 - 2.0 ** -34) == (1 << 30, 1)
    # Below 2^-31 TFLM flushes to zero.
    assert qm.quantize_multiplier(2.0 ** -33) == (0, 0)


def test_round_half_away_from_zero_like_std_round():
    assert [qm.round_half_away(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999)] == [1, 2, 3, -1, -3, 2]
    f = np.float32
    assert [qm.round_half_away_f32(f(v)) for v in (0.5, -0.5, 2.5, 0.49999997)] == [1, -1, 3, 0]


def test_activation_ranges_follow_the_output_quantisation():
    assert qm.activation_range("NONE", 0.1, 5) == (-128, 127)
    assert qm.activation_range("RELU", 0.1, -20) == (-20, 127)
    assert qm.activation_range("RELU6", 0.1, -128) == (-128, -68)
    assert qm.activation_range("RELU_N1_TO_1", 0.05, 0) == (-20, 20)


def test_mean_multiplier_folds_the_element_count():
    for n in (1, 2, 3, 7, 24, 1000):
        m, s = qm.mean_multiplier(0.02, 0.01, n)
        assert m * 2.0 ** (s - 31) == pytest.approx(2.0 / n, rel=1e-6)


def test_same_padding_splits_like_tflm():
    # 5 taps, dilation 2 over 10 samples: effective 9, total padding 8 -> 4 before
    assert qm.out_size("SAME", 10, 5, 1, 2) == 10
    assert qm.padding_before(1, 2, 10, 5, 10) == 4
    # odd total padding puts the extra sample after the input
    assert qm.padding_before(2, 1, 7, 4, qm.out_size("SAME", 7, 4, 2, 1)) == 1
    assert qm.out_size("VALID", 7, 3, 2, 1) == 3


@pytest.fixture(scope="module")
def tanh_model(tmp_path_factory):
    import tensorflow as tf

    @tf.function
    def f(x):
        return tf.math.tanh(x) + 1.0

    path = tmp_path_factory.mktemp("tanh") / "tanh.tflite"
    path.write_bytes(testmodels.convert_int8(f, [(1, 4, 3)], [(-2.0, 2.0)]))
    return path


def test_unsupported_op_is_refused_by_name(tanh_model, tmp_path):
    with pytest.raises(SleepkitError) as err:
        generate(tanh_model, tmp_path / "out")
    msg = str(err.value)
    assert "TANH" in msg and str(tanh_model) in msg and "operator #" in msg
    assert "CONV_2D" in msg  # the message lists what is supported
    assert not (tmp_path / "out" / "model_aot.c").exists()


def test_malformed_or_missing_files_raise_sleepkit_error(tanh_model, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(SleepkitError, match="bad.tflite"):
        generate(bad, tmp_path / "out")
    good = tanh_model.read_bytes()
    for cut in (12, 100, len(good) // 2):
        bad.write_bytes(good[:cut])
        with pytest.raises(SleepkitError, match="bad.tflite"):
            generate(bad, tmp_path / "out")
    with pytest.raises(SleepkitError, match="missing.tflite"):
        generate(tmp_path / "missing.tflite", tmp_path / "out")


def test_bad_var_prefix_is_refused(tanh_model, tmp_path):
    with pytest.raises(SleepkitError, match="var_prefix"):
        generate(tanh_model, tmp_path, var_prefix="9bad-prefix")


def test_generated_sources_are_self_describing(tmp_path):
    import tensorflow as tf

    w = np.random.default_rng(1).standard_normal((3, 1, 4, 5)).astype(np.float32)

    @tf.function
    def f(x):
        return tf.nn.relu(tf.nn.conv2d(x, tf.constant(w), 1, "SAME", dilations=[2, 1]))

    src = tmp_path / "conv.tflite"
    model_bytes = testmodels.convert_int8(f, [(1, 9, 1, 4)], [(-1.0, 3.0)])
    src.write_bytes(model_bytes)
    out = tmp_path / "gen"
    summary = generate(src, out, model_name='conv "test"', var_prefix="cv_")
    c_text = (out / "model_aot.c").read_text()
    h_text = (out / "model_aot.h").read_text()
    assert summary["ops"] == 1 and summary["op_counts"] == {"CONV_2D": 1}
    assert summary["weights_bytes"] == 3 * 4 * 5 + 5 * 4  # int8 filter + int32 bias
    # input 9x4 and output 9x5 int8 are live together: two 16-byte aligned buffers
    assert summary["peak_bytes"] == 48 + 48
    assert "int cv_invoke(void)" in c_text and "sk_aot_conv_s8(&cv_p0" in c_text
    assert re.search(r"\.dil_h = 2,", c_text) and re.search(r"\.pad_h = 2,", c_text)
    assert '"conv \\"test\\""' in c_text  # the name is a valid, escaped C string
    assert "#define SK_AOT_MODEL cv_info" in h_text and "CV_ARENA_BYTES 96u" in h_text
    assert f"0x{summary['model_hash']:08x}u" in c_text
    assert set(SUPPORTED_OPS) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX", "EXPAND_DIMS", "SQUEEZE"}
    assert math.isclose(summary["inputs"][0]["scale"], float(np.float32(summary["inputs"][0]["scale"])))

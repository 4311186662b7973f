"""TFLite Micro's Prepare-time quantisation arithmetic, restated in Python.

The generator computes every multiplier, shift, activation bound and padding at generate time and
emits them as constants. To stay bit-exact with TFLM these functions reproduce its arithmetic
exactly: scales are the float32 values stored in the model, widened to double where TFLM widens
them (and multiplied in float32 where TFLM does), ``std::frexp`` is ``math.frexp`` and
``TfLiteRound``/``std::round`` rounds halves away from zero.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """std::round on a double (exact for the magnitudes used here)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def round_half_away_f32(x: np.float32) -> int:
    """std::round on a float: the fractional part of a float is exact, so decide on it."""
    x = np.float32(x)
    t = np.trunc(x)
    frac = np.float32(x - t)
    r = int(t)
    if frac >= np.float32(0.5):
        r += 1
    elif frac <= np.float32(-0.5):
        r -= 1
    return r


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * float(1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"quantize_multiplier({real}) overflowed")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:  # TFLM flushes multipliers below 2^-31 to zero
        shift = 0
        q_fixed = 0
    return int(q_fixed), int(shift)


def conv_channel_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                             num_channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams (per-channel, per-tensor broadcast along channels)."""
    per_channel = len(filter_scales) > 1
    mults, shifts = [], []
    for c in range(num_channels):
        fs = float(np.float32(filter_scales[c] if per_channel else filter_scales[0]))
        m, s = quantize_multiplier(float(input_scale) * fs / float(output_scale))
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def per_tensor_conv_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32, then widened."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(output_scale))


def quantize_value(scale: float, zero_point: int, value: float) -> int:
    """kernel_util Quantize(): zero_point + round(value / scale) in float32."""
    return int(zero_point) + round_half_away_f32(np.float32(value) / np.float32(scale))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize_value(scale, zero_point, 0.0)), INT8_MAX
    if activation == "RELU6":
        return (max(INT8_MIN, quantize_value(scale, zero_point, 0.0)),
                min(INT8_MAX, quantize_value(scale, zero_point, 6.0)))
    if activation == "RELU_N1_TO_1":
        return (max(INT8_MIN, quantize_value(scale, zero_point, -1.0)),
                min(INT8_MAX, quantize_value(scale, zero_point, 1.0)))
    raise ValueError(f"fused activation {activation}")


def out_size(padding: str, image: int, filter_size: int, stride: int, dilation: int) -> int:
    eff = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (image + stride - 1) // stride
    return (image + stride - eff) // stride


def padding_before(stride: int, dilation: int, in_size: int, filter_size: int, out: int) -> int:
    """ComputePaddingWithOffset: the (floor) half of the total padding goes before the input."""
    eff = (filter_size - 1) * dilation + 1
    total = max(0, (out - 1) * stride + eff - in_size)
    return total // 2


def add_params(s1: float, s2: float, so: float) -> dict:
    """CalculateOpDataAdd for int8 (left_shift 20, inputs rescaled to twice the larger scale)."""
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier(float(s2) / twice_max)
    mo, sho = quantize_multiplier(twice_max / (float(1 << left_shift) * float(so)))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": sh1,
            "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo, "output_shift": sho}


def count_leading_zeros_u64(x: int) -> int:
    return 64 - x.bit_length()


def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """QuantizedMeanOrSum: fold 1/num_elements into the input/output rescale as TFLM does."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    if num_elements <= 0:
        return multiplier, shift
    s = 63 - count_leading_zeros_u64(num_elements)
    s = min(s, 32)
    s = min(s, 31 + shift)
    multiplier = int((multiplier << s) // num_elements) if s >= 0 else int((multiplier >> -s) // num_elements)
    # static_cast<int32_t> of the int64 quotient (fits: multiplier < 2^31 and 2^s <= num_elements).
    multiplier = ((multiplier + (1 << 31)) % (1 << 32)) - (1 << 31)
    return multiplier, shift - s


def softmax_params(input_scale: float, beta: float) -> dict:
    """CalculateSoftmaxParams for int8: PreprocessSoftmaxScaling + CalculateInputRadius."""
    scaled_diff_integer_bits = 5
    max_real = float((1 << 31) - 1)
    real = min(float(beta) * float(input_scale) * float(1 << (31 - scaled_diff_integer_bits)), max_real)
    if not real > 1.0:
        raise ValueError(f"softmax input multiplier {real} must exceed 1 (QuantizeMultiplierGreaterThanOne)")
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError("softmax input shift must be >= 0")
    radius = input_radius(scaled_diff_integer_bits, left_shift, 31)
    return {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": -radius}


def input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int) -> int:
    """CalculateInputRadius (floating-point variant)."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * float(1 << (total_signed_bits - input_integer_bits))
                          / float(1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def logistic_params(input_scale: float, input_zero_point: int) -> dict:
    """CalculateArithmeticOpDataLogistic for int8 (raw frexp, no 2^31 renormalisation)."""
    input_integer_bits = 4
    real = float(input_scale) * float(1 << (31 - input_integer_bits))
    q, left_shift = math.frexp(real)
    mult = round_half_away(q * float(1 << 31))
    if mult >= (1 << 31):
        # static_cast<int32_t>(2^31) in TFLM: wraps on the host build.
        mult -= 1 << 32
    return {"input_zero_point": int(input_zero_point), "input_multiplier": int(mult),
            "input_left_shift": int(left_shift),
            "input_range_radius": input_radius(input_integer_bits, left_shift, 31)}

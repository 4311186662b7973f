/* Fixed-point arithmetic of TFLite Micro's int8 reference kernels, restated in C99.
 *
 * Every function here reproduces the integer result of the TFLM/gemmlowp routine of the same
 * name bit for bit (double-rounding requantisation: SaturatingRoundingDoublingHighMul followed by
 * RoundingDivideByPOT, the variant the TFLM build uses unless TFLITE_SINGLE_ROUNDING is set).
 * Signed overflow that TFLM relies on wrapping for is done through uint32_t so it is defined in C.
 * Internal to the kernel library.
 */
#ifndef SK_AOT_FIXEDPOINT_H
#define SK_AOT_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t sk_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t sk_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t sk_shl(int32_t x, int s) { return (int32_t)((uint32_t)x << s); }

static inline int32_t sk_min32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t sk_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t sk_clamp32(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* ARM VQRDMULH semantics: round(a * b / 2^31), saturating the single overflow case. */
static inline int32_t sk_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* Rounding arithmetic right shift, ties away from zero (0 <= exponent <= 31). */
static inline int32_t sk_rdbpot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: x * multiplier * 2^shift with the multiplier in Q0.31. */
static inline int32_t sk_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return sk_rdbpot(sk_srdhm(sk_shl(x, left), multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static inline int32_t sk_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int32_t shift) {
    return sk_rdbpot(sk_srdhm(x, multiplier), -shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne (shift >= 0). */
static inline int32_t sk_mbqm_greater_than_one(int32_t x, int32_t multiplier, int32_t shift) {
    return sk_srdhm(sk_shl(x, shift), multiplier);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on int32 raw values. */
static inline int32_t sk_srmbpot(int32_t x, int exponent) {
    if (exponent > 0) {
        const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return sk_shl(x, exponent);
    }
    if (exponent < 0) {
        return sk_rdbpot(x, -exponent);
    }
    return x;
}

/* gemmlowp RoundingHalfSum for int32. */
static inline int32_t sk_rounding_half_sum(int32_t a, int32_t b) {
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static inline int sk_clz32(uint32_t x) {
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x);
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* Shared by SOFTMAX and LOGISTIC (sk_aot_fixedpoint.c). Raw values of gemmlowp FixedPoint<int32_t, N>. */
int32_t sk_fp_exp_on_negative_values(int32_t a, int integer_bits);   /* FixedPoint<.., integer_bits> -> Q0.31 */
int32_t sk_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a);          /* Q0.31 -> Q0.31 */
int32_t sk_fp_logistic(int32_t a, int integer_bits);                 /* FixedPoint<.., integer_bits> -> Q0.31 */

#endif /* SK_AOT_FIXEDPOINT_H */

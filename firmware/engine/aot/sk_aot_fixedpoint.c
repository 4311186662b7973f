/* gemmlowp's fixed-point transcendental approximations (exp on negative values, 1/(1+x), logistic)
 * as TFLM's int8 SOFTMAX and LOGISTIC use them. Values are raw int32 of FixedPoint<int32_t, N>:
 * a Q(N).(31-N) number. Q0.31 "one" is INT32_MAX, as in gemmlowp.
 */
#include "sk_aot_fixedpoint.h"

#define SK_FP_ONE_Q0 INT32_MAX

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = sk_wrap_add(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = sk_srdhm(x, x);
    const int32_t x3 = sk_srdhm(x2, x);
    const int32_t x4 = sk_srdhm(x2, x2);
    const int32_t x4_over_4 = sk_srmbpot(x4, -2);
    const int32_t poly = sk_srmbpot(sk_wrap_add(sk_srdhm(sk_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
    return sk_wrap_add(constant_term, sk_srdhm(constant_term, sk_wrap_add(x, poly)));
}

int32_t sk_fp_exp_on_negative_values(int32_t a, int integer_bits) {
    /* Q0.31 multipliers exp(-2^k) for k = -2..4, applied for each set bit of the integer part. */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = sk_wrap_sub(a & mask, one_quarter);
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        sk_srmbpot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = sk_wrap_sub(a_mod_quarter_minus_one_quarter, a);
    int k;
    for (k = 0; k < 7; k++) {
        const int exponent = k - 2;
        if (integer_bits > exponent) {
            const int shift_amount = fractional_bits + exponent;
            if (remainder & ((int32_t)1 << shift_amount)) {
                result = sk_srdhm(result, barrel[k]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = SK_FP_ONE_Q0;
    }
    return result;
}

int32_t sk_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    /* Newton-Raphson division in Q2.29 with the 48/17 - 32/17 * d initial estimate. */
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = (int32_t)1 << 29;
    const int32_t half_denominator = sk_rounding_half_sum(a, SK_FP_ONE_Q0);
    int32_t x = sk_wrap_add(constant_48_over_17, sk_srdhm(half_denominator, constant_neg_32_over_17));
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = sk_srdhm(half_denominator, x);
        const int32_t one_minus = sk_wrap_sub(one_q2, half_denominator_times_x);
        x = sk_wrap_add(x, sk_srmbpot(sk_srdhm(x, one_minus), 2));
    }
    return sk_srmbpot(x, 1);
}

int32_t sk_fp_logistic(int32_t a, int integer_bits) {
    int32_t abs_input;
    int32_t result_if_positive;
    if (a == 0) {
        return (int32_t)1 << 30; /* 0.5 */
    }
    abs_input = a > 0 ? a : sk_wrap_sub(0, a);
    result_if_positive = sk_fp_one_over_one_plus_x_for_x_in_0_1(
        sk_fp_exp_on_negative_values(sk_wrap_sub(0, abs_input), integer_bits));
    return a > 0 ? result_if_positive : sk_wrap_sub(SK_FP_ONE_Q0, result_if_positive);
}

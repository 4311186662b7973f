/* SOFTMAX (int8 in, int8 out with scale 1/256 and zero point -128) and LOGISTIC (int8) exactly as
 * TFLM's reference kernels: gemmlowp fixed-point exp / reciprocal / logistic, no lookup tables.
 */
#include "sk_aot.h"
#include "sk_aot_fixedpoint.h"

#define SK_SOFTMAX_SCALED_DIFF_INTEGER_BITS 5
#define SK_SOFTMAX_ACCUMULATION_INTEGER_BITS 12
#define SK_LOGISTIC_INPUT_INTEGER_BITS 4

void sk_aot_softmax_s8(const sk_aot_softmax_params_t *p, const int8_t *input, int8_t *output) {
    int32_t i, c;
    for (i = 0; i < p->outer; i++) {
        const int8_t *in = input + (size_t)i * p->depth;
        int8_t *out = output + (size_t)i * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int32_t headroom_plus_one, num_bits_over_unit, shifted_sum_minus_one, shifted_scale, exponent;
        for (c = 0; c < p->depth; c++) {
            max_in_row = sk_max32(max_in_row, in[c]);
        }
        for (c = 0; c < p->depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = sk_mbqm_greater_than_one(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = sk_fp_exp_on_negative_values(scaled, SK_SOFTMAX_SCALED_DIFF_INTEGER_BITS);
                sum_of_exps = sk_wrap_add(sum_of_exps, sk_srmbpot(e, -SK_SOFTMAX_ACCUMULATION_INTEGER_BITS));
            }
        }
        /* GetReciprocal: normalise the sum to [1, 2) and take 1/x in Q0.31. */
        headroom_plus_one = sk_clz32((uint32_t)sum_of_exps);
        num_bits_over_unit = SK_SOFTMAX_ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        shifted_sum_minus_one = (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
        shifted_scale = sk_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = sk_mbqm_greater_than_one(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = sk_fp_exp_on_negative_values(scaled, SK_SOFTMAX_SCALED_DIFF_INTEGER_BITS);
                const int32_t unsat = sk_rdbpot(sk_srdhm(shifted_scale, e), exponent);
                out[c] = (int8_t)sk_clamp32(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}

void sk_aot_logistic_s8(const sk_aot_logistic_params_t *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = -128;
        } else if (x >= p->input_range_radius) {
            output[i] = 127;
        } else {
            const int32_t x_q4 = sk_mbqm(x, p->input_multiplier, p->input_left_shift);
            const int32_t y_q0 = sk_fp_logistic(x_q4, SK_LOGISTIC_INPUT_INTEGER_BITS);
            const int32_t y = sk_rdbpot(y_q0, 31 - 8) - 128;
            output[i] = (int8_t)sk_clamp32(y, -128, 127);
        }
    }
}

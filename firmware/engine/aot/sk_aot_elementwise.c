/* ADD and MUL (with numpy-style broadcasting), QUANTIZE (int8 -> int8 requantisation, float -> int8)
 * and DEQUANTIZE (int8 -> float), as TFLM's int8 reference kernels compute them.
 */
#include <string.h>

#include "sk_aot.h"
#include "sk_aot_fixedpoint.h"

static inline int8_t add_one(const sk_aot_add_params_t *p, int8_t x, int8_t y) {
    const int32_t shifted1 = sk_shl(p->input1_offset + x, p->left_shift);
    const int32_t shifted2 = sk_shl(p->input2_offset + y, p->left_shift);
    const int32_t scaled1 = sk_mbqm_smaller_than_one(shifted1, p->input1_multiplier, p->input1_shift);
    const int32_t scaled2 = sk_mbqm_smaller_than_one(shifted2, p->input2_multiplier, p->input2_shift);
    const int32_t raw = sk_mbqm_smaller_than_one(sk_wrap_add(scaled1, scaled2), p->output_multiplier,
                                                 p->output_shift) + p->output_offset;
    return (int8_t)sk_clamp32(raw, p->act_min, p->act_max);
}

static inline int8_t mul_one(const sk_aot_mul_params_t *p, int8_t x, int8_t y) {
    const int32_t product = (p->input1_offset + x) * (p->input2_offset + y);
    const int32_t raw = p->output_offset + sk_mbqm(product, p->output_multiplier, p->output_shift);
    return (int8_t)sk_clamp32(raw, p->act_min, p->act_max);
}

/* Walks the output in row-major order, keeping both input offsets in step with it. The op is a pure
 * function of the two elements, so the visiting order cannot change any result. */
#define SK_BROADCAST_LOOP(shape, in1, in2, out, ELEMENT)                                         \
    do {                                                                                         \
        int32_t idx_[SK_AOT_MAX_DIMS] = {0};                                                     \
        int32_t off1_ = 0, off2_ = 0, i_, d_;                                                    \
        for (i_ = 0; i_ < (shape)->flat_size; i_++) {                                            \
            (out)[i_] = ELEMENT((in1)[off1_], (in2)[off2_]);                                     \
            for (d_ = SK_AOT_MAX_DIMS - 1; d_ >= 0; d_--) {                                      \
                idx_[d_]++;                                                                      \
                off1_ += (shape)->in1_strides[d_];                                               \
                off2_ += (shape)->in2_strides[d_];                                               \
                if (idx_[d_] < (shape)->out_dims[d_]) {                                          \
                    break;                                                                       \
                }                                                                                \
                off1_ -= (shape)->in1_strides[d_] * idx_[d_];                                    \
                off2_ -= (shape)->in2_strides[d_] * idx_[d_];                                    \
                idx_[d_] = 0;                                                                    \
            }                                                                                    \
        }                                                                                        \
    } while (0)

void sk_aot_add_s8(const sk_aot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *output) {
    if (!p->shape.broadcast) {
        int32_t i;
        for (i = 0; i < p->shape.flat_size; i++) {
            output[i] = add_one(p, in1[i], in2[i]);
        }
        return;
    }
#define SK_ADD_ELEMENT(x, y) add_one(p, (x), (y))
    SK_BROADCAST_LOOP(&p->shape, in1, in2, output, SK_ADD_ELEMENT);
#undef SK_ADD_ELEMENT
}

void sk_aot_mul_s8(const sk_aot_mul_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *output) {
    if (!p->shape.broadcast) {
        int32_t i;
        for (i = 0; i < p->shape.flat_size; i++) {
            output[i] = mul_one(p, in1[i], in2[i]);
        }
        return;
    }
#define SK_MUL_ELEMENT(x, y) mul_one(p, (x), (y))
    SK_BROADCAST_LOOP(&p->shape, in1, in2, output, SK_MUL_ELEMENT);
#undef SK_MUL_ELEMENT
}

void sk_aot_requantize_s8(const sk_aot_requantize_params_t *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        const int32_t v = sk_mbqm((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift) +
                          p->output_zero_point;
        output[i] = (int8_t)sk_clamp32(v, -128, 127);
    }
}

/* std::round on float: halves away from zero. Exact for every float: below 2^23 the fractional
 * part x - trunc(x) is computed without error, above it x is already an integer. */
static int32_t round_half_away_f32(float x) {
    int32_t t;
    float frac;
    if (x >= 8388608.0f || x <= -8388608.0f) {
        /* Integral already; saturate so the int conversion is defined (results clamp to int8). */
        return x > 0 ? INT32_MAX / 2 : INT32_MIN / 2;
    }
    t = (int32_t)x;
    frac = x - (float)t;
    if (frac >= 0.5f) {
        t++;
    } else if (frac <= -0.5f) {
        t--;
    }
    return t;
}

void sk_aot_quantize_f32_s8(const sk_aot_quantize_params_t *p, const float *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        const int32_t v = round_half_away_f32(input[i] / p->scale) + p->zero_point;
        output[i] = (int8_t)sk_clamp32(v, -128, 127);
    }
}

void sk_aot_dequantize_s8_f32(const sk_aot_dequantize_params_t *p, const int8_t *input, float *output) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        output[i] = (float)(p->scale * (double)((int32_t)input[i] - p->zero_point));
    }
}

void sk_aot_copy(const void *input, void *output, size_t bytes) {
    if (input != output) {
        memmove(output, input, bytes);
    }
}

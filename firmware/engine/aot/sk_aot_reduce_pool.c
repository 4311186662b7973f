/* MEAN (int8, any axes), AVERAGE_POOL_2D and MAX_POOL_2D (int8), as TFLM's reference kernels.
 * MEAN sums in int32, removes the input zero point and requantises with the multiplier the
 * generator already folded with 1/num_elements (TFLM's QuantizedMeanOrSum does the same fold).
 */
#include "sk_aot.h"
#include "sk_aot_fixedpoint.h"

/* Input offset of the element at multi-index idx over the given dims/strides. */
static int32_t walk_offset(int32_t n, const int32_t *idx, const int32_t *strides) {
    int32_t off = 0, d;
    for (d = 0; d < n; d++) {
        off += idx[d] * strides[d];
    }
    return off;
}

/* Advance a row-major multi-index; returns 0 after the last one. */
static int next_index(int32_t n, const int32_t *dims, int32_t *idx) {
    int32_t d;
    for (d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) {
            return 1;
        }
        idx[d] = 0;
    }
    return 0;
}

void sk_aot_mean_s8(const sk_aot_mean_params_t *p, const int8_t *input, int8_t *output) {
    int32_t kept[SK_AOT_MAX_DIMS] = {0};
    int32_t out_i = 0;
    do {
        const int32_t base = walk_offset(p->num_kept, kept, p->kept_strides);
        int32_t red[SK_AOT_MAX_DIMS] = {0};
        int32_t sum = 0, v;
        do {
            sum += input[base + walk_offset(p->num_reduced, red, p->red_strides)];
        } while (next_index(p->num_reduced, p->red_dims, red));
        sum = (int32_t)((int64_t)sum - (int64_t)p->input_zero_point * p->num_elements);
        v = sk_mbqm(sum, p->multiplier, p->shift) + p->output_zero_point;
        output[out_i++] = (int8_t)sk_clamp32(v, -128, 127);
    } while (next_index(p->num_kept, p->kept_dims, kept));
}

typedef enum { SK_POOL_AVG, SK_POOL_MAX } sk_pool_kind_t;

static void pool_s8(const sk_aot_pool_params_t *p, const int8_t *input, int8_t *output, sk_pool_kind_t kind) {
    int32_t b, oy, ox, c, fy, fx;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = sk_max32(0, -iy0);
            const int32_t fy1 = sk_min32(p->filter_h, p->in_h - iy0);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = sk_max32(0, -ix0);
                const int32_t fx1 = sk_min32(p->filter_w, p->in_w - ix0);
                int8_t *out_px = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; c++) {
                    int32_t acc = kind == SK_POOL_AVG ? 0 : -128;
                    int32_t count = 0;
                    for (fy = fy0; fy < fy1; fy++) {
                        for (fx = fx0; fx < fx1; fx++) {
                            const int32_t v = in_b[((size_t)(iy0 + fy) * p->in_w + (ix0 + fx)) * p->channels + c];
                            if (kind == SK_POOL_AVG) {
                                acc += v;
                            } else {
                                acc = sk_max32(acc, v);
                            }
                            count++;
                        }
                    }
                    if (kind == SK_POOL_AVG) {
                        /* The generator rejects windows that can be empty (TFLM fails those). */
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out_px[c] = (int8_t)sk_clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void sk_aot_avg_pool_s8(const sk_aot_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool_s8(p, input, output, SK_POOL_AVG);
}

void sk_aot_max_pool_s8(const sk_aot_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool_s8(p, input, output, SK_POOL_MAX);
}

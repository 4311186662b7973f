/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, int8 with per-channel (or per-tensor)
 * requantisation, as TFLM's reference_integer_ops ConvPerChannel / DepthwiseConvPerChannel /
 * FullyConnected(PerChannel). Padding taps outside the input contribute nothing (they are skipped,
 * not fed the zero point), exactly like the reference kernels.
 */
#include "sk_aot.h"
#include "sk_aot_fixedpoint.h"

static inline int8_t requantize_acc(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                    int32_t act_min, int32_t act_max) {
    acc = sk_mbqm(acc, multiplier, shift);
    acc += output_offset;
    return (int8_t)sk_clamp32(acc, act_min, act_max);
}

void sk_aot_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t filters_per_group = p->out_c / groups;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                for (oc = 0; oc < p->out_c; oc++) {
                    const int32_t group = oc / filters_per_group;
                    const int8_t *filter_oc = p->filter + (size_t)oc * p->k_h * p->k_w * p->filter_in_c;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ky++) {
                        const int32_t iy = iy0 + p->dil_h * ky;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < p->k_w; kx++) {
                            const int32_t ix = ix0 + p->dil_w * kx;
                            const int8_t *in_px;
                            const int8_t *f_px;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            in_px = in_b + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)group * p->filter_in_c;
                            f_px = filter_oc + ((size_t)ky * p->k_w + kx) * p->filter_in_c;
                            for (ic = 0; ic < p->filter_in_c; ic++) {
                                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + p->input_offset);
                            }
                        }
                    }
                    if (p->bias) {
                        acc += p->bias[oc];
                    }
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = requantize_acc(
                        acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

void sk_aot_depthwise_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output) {
    int32_t b, oy, ox, ic, m, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int8_t *out_px = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (ic = 0; ic < p->in_c; ic++) {
                    for (m = 0; m < p->depth_multiplier; m++) {
                        const int32_t oc = m + ic * p->depth_multiplier;
                        int32_t acc = 0;
                        for (ky = 0; ky < p->k_h; ky++) {
                            const int32_t iy = iy0 + p->dil_h * ky;
                            if (iy < 0 || iy >= p->in_h) {
                                continue;
                            }
                            for (kx = 0; kx < p->k_w; kx++) {
                                const int32_t ix = ix0 + p->dil_w * kx;
                                if (ix < 0 || ix >= p->in_w) {
                                    continue;
                                }
                                acc += (int32_t)p->filter[((size_t)ky * p->k_w + kx) * p->out_c + oc] *
                                       ((int32_t)in_b[((size_t)iy * p->in_w + ix) * p->in_c + ic] + p->input_offset);
                            }
                        }
                        if (p->bias) {
                            acc += p->bias[oc];
                        }
                        out_px[oc] = requantize_acc(acc, p->multiplier[oc], p->shift[oc], p->output_offset,
                                                    p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void sk_aot_fully_connected_s8(const sk_aot_fc_params_t *p, const int8_t *input, int8_t *output) {
    int32_t b, oc, d;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->accum_depth;
        for (oc = 0; oc < p->out_depth; oc++) {
            const int8_t *f = p->filter + (size_t)oc * p->accum_depth;
            const int32_t q = p->per_channel ? oc : 0;
            int32_t acc = 0;
            for (d = 0; d < p->accum_depth; d++) {
                acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in_b[d] + p->input_offset);
            }
            if (p->bias) {
                acc += p->bias[oc];
            }
            output[(size_t)b * p->out_depth + oc] = requantize_acc(acc, p->multiplier[q], p->shift[q],
                                                                   p->output_offset, p->act_min, p->act_max);
        }
    }
}

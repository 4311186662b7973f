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

/* Taps k in [*first, *last) with origin + dilation * k inside [0, size): the window's valid part, so
 * the inner loops need no bounds checks. Skipping the rest is what the reference kernels do. */
static void valid_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *first, int32_t *last) {
    int32_t k0 = 0, k1 = taps;
    if (origin < 0) {
        k0 = (-origin + dilation - 1) / dilation;
    }
    if (origin + dilation * (taps - 1) >= size) {
        k1 = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    }
    *first = k0;
    *last = k1 > k0 ? k1 : k0;
}

void sk_aot_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t filters_per_group = p->out_c / groups;
    const size_t filter_oc_stride = (size_t)p->k_h * p->k_w * p->filter_in_c;
    int32_t b, oy, ox, oc, ky, kx, ic, ky0, ky1, kx0, kx1;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            valid_taps(iy0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int8_t *out_px = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                valid_taps(ix0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                for (oc = 0; oc < p->out_c; oc++) {
                    const int8_t *filter_oc = p->filter + (size_t)oc * filter_oc_stride;
                    const size_t group_off = groups == 1 ? 0 : (size_t)(oc / filters_per_group) * p->filter_in_c;
                    int32_t acc = 0;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *in_row = in_b + (size_t)(iy0 + p->dil_h * ky) * p->in_w * p->in_c + group_off;
                        for (kx = kx0; kx < kx1; kx++) {
                            const int8_t *in_px = in_row + (size_t)(ix0 + p->dil_w * kx) * p->in_c;
                            const int8_t *f_px = filter_oc + ((size_t)ky * p->k_w + kx) * p->filter_in_c;
                            if (p->input_offset == 0) { /* offset folded into the bias by the generator */
                                for (ic = 0; ic < p->filter_in_c; ic++) {
                                    acc += (int32_t)f_px[ic] * (int32_t)in_px[ic];
                                }
                            } else {
                                for (ic = 0; ic < p->filter_in_c; ic++) {
                                    acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + p->input_offset);
                                }
                            }
                        }
                    }
                    if (p->bias) {
                        acc += p->bias[oc];
                    }
                    out_px[oc] = requantize_acc(acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min,
                                                p->act_max);
                }
            }
        }
    }
}

/* Channels accumulated together per output pixel: contiguous input/filter rows, small stack. */
#define SK_DW_CHUNK 32

void sk_aot_depthwise_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t dm = p->depth_multiplier;
    int32_t acc[SK_DW_CHUNK];
    int32_t b, oy, ox, ky, kx, c0, c, n, ky0, ky1, kx0, kx1;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            valid_taps(iy0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int8_t *out_px = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                valid_taps(ix0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                /* Output channel oc reads input channel oc / depth_multiplier. */
                for (c0 = 0; c0 < p->out_c; c0 += SK_DW_CHUNK) {
                    n = p->out_c - c0 < SK_DW_CHUNK ? p->out_c - c0 : SK_DW_CHUNK;
                    for (c = 0; c < n; c++) {
                        acc[c] = 0;
                    }
                    for (ky = ky0; ky < ky1; ky++) {
                        const int32_t iy = iy0 + p->dil_h * ky;
                        for (kx = kx0; kx < kx1; kx++) {
                            const int8_t *in_px = in_b + ((size_t)iy * p->in_w + (ix0 + p->dil_w * kx)) * p->in_c;
                            const int8_t *f_px = p->filter + ((size_t)ky * p->k_w + kx) * p->out_c + c0;
                            if (dm == 1 && p->input_offset == 0) { /* offset folded into the bias */
                                for (c = 0; c < n; c++) {
                                    acc[c] += (int32_t)f_px[c] * (int32_t)in_px[c0 + c];
                                }
                            } else if (dm == 1) {
                                for (c = 0; c < n; c++) {
                                    acc[c] += (int32_t)f_px[c] * ((int32_t)in_px[c0 + c] + p->input_offset);
                                }
                            } else {
                                for (c = 0; c < n; c++) {
                                    acc[c] += (int32_t)f_px[c] * ((int32_t)in_px[(c0 + c) / dm] + p->input_offset);
                                }
                            }
                        }
                    }
                    for (c = 0; c < n; c++) {
                        const int32_t oc = c0 + c;
                        int32_t a = acc[c];
                        if (p->bias) {
                            a += p->bias[oc];
                        }
                        out_px[oc] = requantize_acc(a, p->multiplier[oc], p->shift[oc], p->output_offset,
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
            if (p->input_offset == 0 && p->filter_offset == 0) { /* offset folded into the bias */
                for (d = 0; d < p->accum_depth; d++) {
                    acc += (int32_t)f[d] * (int32_t)in_b[d];
                }
            } else {
                for (d = 0; d < p->accum_depth; d++) {
                    acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in_b[d] + p->input_offset);
                }
            }
            if (p->bias) {
                acc += p->bias[oc];
            }
            output[(size_t)b * p->out_depth + oc] = requantize_acc(acc, p->multiplier[q], p->shift[q],
                                                                   p->output_offset, p->act_min, p->act_max);
        }
    }
}

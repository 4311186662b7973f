/* sleepkit ahead-of-time int8 kernel library.
 *
 * `sleepkit.aot.generate` turns an int8 .tflite into model_aot.c: constant weights, one constant
 * parameter block per operator and a fixed sequence of calls to the kernels below over a statically
 * planned activation arena. Each kernel computes exactly what TFLite Micro's int8 reference kernel
 * computes (same accumulation, same fixed-point requantisation, same rounding), so outputs are
 * bit-identical to TFLM. All quantisation constants (multipliers, shifts, activation bounds,
 * padding) are computed by the generator the way TFLM computes them in Prepare().
 *
 * C99, no heap, no libc beyond string.h/stdint.h/stddef.h.
 */
#ifndef SK_AOT_H
#define SK_AOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_AOT_MAX_DIMS 6          /* broadcast / pad / reduce rank limit */
#define SK_AOT_MAX_IO_DIMS 5       /* model input/output rank limit (engine.h) */

/* Same codes as the serial protocol's SK_DTYPE_* (sleepkit/protocol/sk_protocol.h). */
#define SK_AOT_DTYPE_FLOAT32 5
#define SK_AOT_DTYPE_INT8 1

/* The generated arena goes to the section the board's linker script gives its largest RAM (the same
 * one TFLM's arena uses). Not zeroed at boot: every kernel writes its output before it is read. */
#if defined(__GNUC__) && defined(__arm__)
#define SK_AOT_ARENA_ATTR __attribute__((section(".sk_arena"), aligned(16)))
#else
#define SK_AOT_ARENA_ATTR
#endif

/* ---- model descriptor (one per generated model) ---- */

typedef struct {
    uint8_t dtype;
    uint8_t ndims;
    int32_t dims[SK_AOT_MAX_IO_DIMS];
    float scale;
    int32_t zero_point;
    uint32_t bytes;
    void *data;                    /* inside the model's arena */
} sk_aot_io_t;

typedef struct {
    const char *name;
    uint32_t hash;                 /* CRC-32 of the .tflite bytes */
    uint32_t arena_bytes;          /* planned activation peak */
    uint32_t weights_bytes;        /* constant tensor bytes */
    uint32_t num_ops;              /* kernel calls per inference */
    uint32_t num_inputs;
    uint32_t num_outputs;
    const sk_aot_io_t *inputs;
    const sk_aot_io_t *outputs;
    int (*invoke)(void);
} sk_aot_model_t;

/* ---- kernel parameter blocks (generated as const data) ---- */

typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, filter_in_c;  /* filter_in_c < in_c: grouped convolution */
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t depth_multiplier;       /* depthwise only */
    int32_t input_offset, output_offset, act_min, act_max;
    const int8_t *filter;           /* conv [out_c, k_h, k_w, filter_in_c]; depthwise [1, k_h, k_w, out_c] */
    const int32_t *bias;            /* out_c values or NULL */
    const int32_t *multiplier;      /* per output channel */
    const int32_t *shift;
} sk_aot_conv_params_t;

typedef struct {
    int32_t batches, accum_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset, act_min, act_max;
    int32_t per_channel;            /* 1: multiplier/shift have out_depth entries */
    const int8_t *filter;           /* [out_depth, accum_depth] */
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
} sk_aot_fc_params_t;

/* Operand layout of a broadcasting binary op, right-aligned to SK_AOT_MAX_DIMS. */
typedef struct {
    int32_t flat_size;              /* output elements */
    int32_t broadcast;              /* 0: plain element-wise over flat_size */
    int32_t out_dims[SK_AOT_MAX_DIMS];
    int32_t in1_strides[SK_AOT_MAX_DIMS];   /* 0 on broadcast axes */
    int32_t in2_strides[SK_AOT_MAX_DIMS];
} sk_aot_broadcast_t;

typedef struct {
    sk_aot_broadcast_t shape;
    int32_t input1_offset, input2_offset, left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift, output_offset, act_min, act_max;
} sk_aot_add_params_t;

typedef struct {
    sk_aot_broadcast_t shape;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift, act_min, act_max;
} sk_aot_mul_params_t;

/* Reduction split into kept axes (output order) and reduced axes, each with input strides. */
typedef struct {
    int32_t num_kept, num_reduced;
    int32_t kept_dims[SK_AOT_MAX_DIMS], kept_strides[SK_AOT_MAX_DIMS];
    int32_t red_dims[SK_AOT_MAX_DIMS], red_strides[SK_AOT_MAX_DIMS];
    int32_t num_elements;           /* product of red_dims */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;      /* already folded with 1/num_elements as TFLM does */
} sk_aot_mean_params_t;

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} sk_aot_softmax_params_t;

typedef struct {
    int32_t size, input_zero_point, input_range_radius, input_multiplier, input_left_shift;
} sk_aot_logistic_params_t;

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t filter_h, filter_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} sk_aot_pool_params_t;

typedef struct {
    int32_t ndims;
    int32_t in_dims[SK_AOT_MAX_DIMS];
    int32_t out_dims[SK_AOT_MAX_DIMS];
    int32_t before[SK_AOT_MAX_DIMS];
    int32_t pad_value;
} sk_aot_pad_params_t;

typedef struct {
    int32_t outer, num_inputs;      /* outer = product of output dims before the axis */
    const int32_t *copy_sizes;      /* per input: its axis dim * product of dims after the axis */
} sk_aot_concat_params_t;

typedef struct {
    int32_t size, input_zero_point, output_zero_point, multiplier, shift;
} sk_aot_requantize_params_t;

typedef struct {
    int32_t size, zero_point;
    float scale;
} sk_aot_quantize_params_t;

typedef struct {
    int32_t size, zero_point;
    double scale;                   /* TFLM dequantises in double */
} sk_aot_dequantize_params_t;

/* ---- kernels ---- */

void sk_aot_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_depthwise_conv_s8(const sk_aot_conv_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_fully_connected_s8(const sk_aot_fc_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_add_s8(const sk_aot_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *output);
void sk_aot_mul_s8(const sk_aot_mul_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *output);
void sk_aot_mean_s8(const sk_aot_mean_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_softmax_s8(const sk_aot_softmax_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_logistic_s8(const sk_aot_logistic_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_avg_pool_s8(const sk_aot_pool_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_max_pool_s8(const sk_aot_pool_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_pad_s8(const sk_aot_pad_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_concat_s8(const sk_aot_concat_params_t *p, const int8_t *const *inputs, int8_t *output);
void sk_aot_requantize_s8(const sk_aot_requantize_params_t *p, const int8_t *input, int8_t *output);
void sk_aot_quantize_f32_s8(const sk_aot_quantize_params_t *p, const float *input, int8_t *output);
void sk_aot_dequantize_s8_f32(const sk_aot_dequantize_params_t *p, const int8_t *input, float *output);
void sk_aot_copy(const void *input, void *output, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* SK_AOT_H */

/* PAD (constant value) and CONCATENATION for int8: pure data movement, no requantisation (TFLM
 * requires equal input/output quantisation for both, and the generator checks it).
 */
#include <string.h>

#include "sk_aot.h"

void sk_aot_pad_s8(const sk_aot_pad_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t n = p->ndims;
    const int32_t row = p->in_dims[n - 1];
    int32_t out_strides[SK_AOT_MAX_DIMS];
    int32_t idx[SK_AOT_MAX_DIMS] = {0};
    int32_t out_size = 1, in_off = 0, d;
    for (d = n - 1; d >= 0; d--) {
        out_strides[d] = out_size;
        out_size *= p->out_dims[d];
    }
    memset(output, (int8_t)p->pad_value, (size_t)out_size);
    for (d = 0; d < n; d++) {
        if (p->in_dims[d] == 0) {
            return;
        }
    }
    /* Copy the input one innermost row at a time to its place inside the padded output. */
    for (;;) {
        int32_t out_off = 0;
        for (d = 0; d < n; d++) {
            out_off += (idx[d] + p->before[d]) * out_strides[d];
        }
        memcpy(output + out_off, input + in_off, (size_t)row);
        in_off += row;
        for (d = n - 2; d >= 0; d--) {
            if (++idx[d] < p->in_dims[d]) {
                break;
            }
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

void sk_aot_concat_s8(const sk_aot_concat_params_t *p, const int8_t *const *inputs, int8_t *output) {
    int32_t k, i;
    for (k = 0; k < p->outer; k++) {
        for (i = 0; i < p->num_inputs; i++) {
            const size_t n = (size_t)p->copy_sizes[i];
            memcpy(output, inputs[i] + (size_t)k * n, n);
            output += n;
        }
    }
}

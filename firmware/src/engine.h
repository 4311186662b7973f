/* Inference engine interface used by the firmware app and the serial protocol.
 *
 * Two engines implement it: ENGINE=tflm (TensorFlow Lite Micro, needs a TFLM tree) and ENGINE=aot
 * (sleepkit's generated C, no external code). The protocol code talks only to this interface, so
 * both engines serve the same wire protocol.
 */
#ifndef SK_ENGINE_H
#define SK_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_ENGINE_MAX_DIMS 5

typedef struct {
    uint8_t dtype;                    /* SK_DTYPE_* from the protocol constants (int8 = 1) */
    uint8_t ndims;
    int32_t dims[SK_ENGINE_MAX_DIMS];
    float scale;
    int32_t zero_point;
    uint32_t bytes;
} sk_tensor_info_t;

typedef struct {
    const char *model_name;           /* NUL-terminated, from the export */
    uint32_t model_hash;              /* CRC-32 of the .tflite bytes, from the export */
    uint32_t arena_bytes;             /* activation memory actually used */
    const char *engine_name;          /* "tflm" or "aot" */
    sk_tensor_info_t input;
    sk_tensor_info_t output;
} sk_engine_info_t;

/* Returns 0 on success, a negative SK_ERR_* code otherwise. */
int sk_engine_init(void);
const sk_engine_info_t *sk_engine_info(void);
uint8_t *sk_engine_input(void);          /* input.bytes writable bytes */
int sk_engine_invoke(void);
const uint8_t *sk_engine_output(void);   /* output.bytes readable bytes */

#ifdef __cplusplus
}
#endif

#endif /* SK_ENGINE_H */

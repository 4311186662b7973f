/* Protocol-test engine (ENGINE=echo): NOT an inference engine.
 *
 * Implements engine.h with a cheap function the host can check: output byte j is the int8
 * wrap-around sum of the input bytes whose index is j modulo the output size, plus j. It lets the
 * serial protocol be tested on the host and in QEMU without a model; sleepkit/devices/engines.py
 * (EchoEngine) computes the same function and reports the same info by default.
 */
#include <stdint.h>

#include "engine.h"
#include "sk_protocol.h"

#ifndef SK_ECHO_IN_ROWS
#define SK_ECHO_IN_ROWS 64
#endif
#ifndef SK_ECHO_IN_COLS
#define SK_ECHO_IN_COLS 4
#endif
#ifndef SK_ECHO_OUT
#define SK_ECHO_OUT 5
#endif

#define ECHO_IN_BYTES (SK_ECHO_IN_ROWS * SK_ECHO_IN_COLS)

static int8_t s_input[ECHO_IN_BYTES];
static int8_t s_output[SK_ECHO_OUT];

static const sk_engine_info_t s_info = {
    .model_name = "echo",
    .model_hash = 0xEC40EC40u,
    .arena_bytes = 0,
    .engine_name = "echo",
    .input = {SK_DTYPE_INT8, 3, {1, SK_ECHO_IN_ROWS, SK_ECHO_IN_COLS, 0, 0}, 0.05f, -3, ECHO_IN_BYTES},
    .output = {SK_DTYPE_INT8, 2, {1, SK_ECHO_OUT, 0, 0, 0}, 1.0f / 128.0f, 0, SK_ECHO_OUT},
};

int sk_engine_init(void) { return 0; }

const sk_engine_info_t *sk_engine_info(void) { return &s_info; }

uint8_t *sk_engine_input(void) { return (uint8_t *)s_input; }

int sk_engine_invoke(void) {
    for (int j = 0; j < SK_ECHO_OUT; j++) {
        int32_t sum = j;
        for (int i = j; i < ECHO_IN_BYTES; i += SK_ECHO_OUT) sum += s_input[i];
        s_output[j] = (int8_t)(uint8_t)(sum & 0xFF); /* wrap like the host's int8 arithmetic */
    }
    return 0;
}

const uint8_t *sk_engine_output(void) { return (const uint8_t *)s_output; }

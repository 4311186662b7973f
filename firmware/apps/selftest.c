/* Engine self-test (APP=selftest): a test harness, not the product firmware.
 *
 * Runs every input in $(MODEL_DIR)/test_vectors.h through the engine and prints one line per frame
 * over the board UART, then exits (semihosting under QEMU) so a host test can compare the raw output
 * bytes with the host runtime:
 *   SELFTEST <engine> <init status> <arena used> <input bytes> <output bytes> <reps>
 *   OUT <index> <invoke status> <ms for reps invokes> <output bytes as hex>
 *   DONE <count>
 * SK_SELFTEST_REPS (default 1) repeats each invoke for timing; the output printed is the last one's.
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "engine.h"
#include "test_vectors.h"

#ifndef SK_SELFTEST_REPS
#define SK_SELFTEST_REPS 1
#endif

static void put(const char *text) { board_uart_write((const uint8_t *)text, strlen(text)); }

static void put_hex(const uint8_t *bytes, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[64];
    uint32_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        chunk[used++] = digits[bytes[i] >> 4];
        chunk[used++] = digits[bytes[i] & 0xF];
        if (used == sizeof chunk) {
            board_uart_write((const uint8_t *)chunk, used);
            used = 0;
        }
    }
    board_uart_write((const uint8_t *)chunk, used);
}

int main(void)
{
    char line[160];
    board_init();
    int rc = sk_engine_init();
    const sk_engine_info_t *info = sk_engine_info();
    snprintf(line, sizeof line, "SELFTEST %s %d %lu %lu %lu %u\n", info ? info->engine_name : "none", rc,
             info ? (unsigned long)info->arena_bytes : 0ul, info ? (unsigned long)info->input.bytes : 0ul,
             info ? (unsigned long)info->output.bytes : 0ul, (unsigned)SK_SELFTEST_REPS);
    put(line);
    if (rc != 0 || info == NULL) {
        board_exit(2);
    }
    if (info->input.bytes != SK_TEST_INPUT_BYTES) {
        put("ERROR test vectors do not match the model input size\n");
        board_exit(3);
    }
    for (unsigned i = 0; i < SK_TEST_COUNT; i++) {
        int status = 0;
        uint32_t start = board_millis();
        for (unsigned r = 0; r < SK_SELFTEST_REPS && status == 0; r++) {
            memcpy(sk_engine_input(), sk_test_inputs[i], SK_TEST_INPUT_BYTES);
            status = sk_engine_invoke();
        }
        uint32_t elapsed = board_millis() - start;
        snprintf(line, sizeof line, "OUT %u %d %lu ", i, status, (unsigned long)elapsed);
        put(line);
        put_hex(sk_engine_output(), info->output.bytes);
        put("\n");
    }
    snprintf(line, sizeof line, "DONE %u\n", (unsigned)SK_TEST_COUNT);
    put(line);
    board_exit(0);
    return 0;
}

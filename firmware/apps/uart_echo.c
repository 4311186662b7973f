/* Board bring-up app (APP=uart_echo): exercises startup, SysTick, the interrupt-driven UART and the
 * semihosting exit without any inference engine, so it builds and runs in CI with only the toolchain
 * and QEMU. It is a test harness, not the product firmware.
 *
 * Line commands from the host (each ends with '\n'):
 *   D<payload>  add the payload bytes to a running byte count and CRC-32
 *   S           reply "STAT <bytes> <crc32 hex> <overruns>"
 *   B<ms>       stay busy for <ms> without reading the UART (like an inference), reply "BUSY <elapsed>"
 *   L           write a line to the debug console (semihosting), reply "LOGGED"
 *   X<code>     exit with <code>
 *   F           execute an undefined instruction (the board's fault path must end the run)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

#ifndef BOARD_LABEL
#define BOARD_LABEL "unknown"
#endif

static uint32_t crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static void reply(const char *text) { board_uart_write((const uint8_t *)text, strlen(text)); }

int main(void)
{
    board_init();
    char line[512];
    size_t used = 0;
    uint32_t total = 0, crc = 0;

    snprintf(line, sizeof line, "READY %s\n", BOARD_LABEL);
    reply(line);
    used = 0;
    for (;;) {
        uint8_t chunk[64];
        size_t n = board_uart_read(chunk, sizeof chunk);
        if (n == 0) {
            board_wait_for_interrupt();
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (chunk[i] != '\n') {
                if (used < sizeof line - 1) {
                    line[used++] = (char)chunk[i];
                }
                continue;
            }
            line[used] = '\0';
            char out[96];
            switch (line[0]) {
            case 'D':
                total += (uint32_t)(used - 1);
                crc = crc32_update(crc, (const uint8_t *)line + 1, used - 1);
                break;
            case 'S':
                snprintf(out, sizeof out, "STAT %lu %08lx %lu\n", (unsigned long)total, (unsigned long)crc,
                         (unsigned long)board_uart_overruns());
                reply(out);
                break;
            case 'B': {
                uint32_t ms = (uint32_t)strtoul(line + 1, NULL, 10);
                uint32_t start = board_millis();
                while (board_millis() - start < ms) {
                    /* busy, not reading the UART: the ISR must keep every incoming byte */
                }
                snprintf(out, sizeof out, "BUSY %lu\n", (unsigned long)(board_millis() - start));
                reply(out);
                break;
            }
            case 'L': {
                static const char msg[] = "uart_echo: debug console on " BOARD_LABEL "\n";
                board_debug_write(msg, sizeof msg - 1);
                reply("LOGGED\n");
                break;
            }
            case 'X':
                board_exit((int)strtol(line + 1, NULL, 10));
                break;
            case 'F':
                __builtin_trap();
                break;
            default:
                reply("ERR\n");
                break;
            }
            used = 0;
        }
    }
}

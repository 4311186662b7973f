/* A host (x86) stand-in for boards/board.h, so firmware/src/protocol.c runs in a shared library
 * driven from Python via ctypes: host_push() plays the UART RX interrupt filling the ring,
 * host_pull() collects what the firmware wrote. The ring is small on purpose (like a board's) and
 * counts overruns the way an interrupt handler would.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "protocol.h"

#define RX_RING 256
#define TX_BUF (1u << 20)

static uint8_t s_rx[RX_RING];
static size_t s_rx_head, s_rx_tail; /* head: next write, tail: next read; one slot kept empty */
static uint32_t s_overruns;
static uint8_t s_tx[TX_BUF];
static size_t s_tx_len;
static uint32_t s_millis;

void board_init(void) {}

size_t board_uart_read(uint8_t *buf, size_t max) {
    size_t n = 0;
    while (n < max && s_rx_tail != s_rx_head) {
        buf[n++] = s_rx[s_rx_tail];
        s_rx_tail = (s_rx_tail + 1) % RX_RING;
    }
    return n;
}

void board_uart_write(const uint8_t *buf, size_t len) {
    if (len > TX_BUF - s_tx_len) len = TX_BUF - s_tx_len;
    memcpy(s_tx + s_tx_len, buf, len);
    s_tx_len += len;
}

uint32_t board_uart_overruns(void) { return s_overruns; }
uint32_t board_millis(void) { return s_millis++; }
void board_wait_for_interrupt(void) {}
void board_exit(int code) { (void)code; }

/* ---- test hooks ---- */

/* Like the RX interrupt: store bytes while the ring has room; returns how many were stored. */
size_t host_push(const uint8_t *buf, size_t len) {
    size_t n = 0;
    while (n < len && (s_rx_head + 1) % RX_RING != s_rx_tail) {
        s_rx[s_rx_head] = buf[n++];
        s_rx_head = (s_rx_head + 1) % RX_RING;
    }
    return n;
}

/* Push everything, polling the protocol whenever the ring is full (the main loop keeping up). */
void host_feed(const uint8_t *buf, size_t len) {
    while (len) {
        size_t n = host_push(buf, len);
        buf += n;
        len -= n;
        sk_protocol_poll();
    }
}

/* An RX overrun: the interrupt had to drop bytes. */
void host_drop(size_t len) { s_overruns += (uint32_t)len; }

size_t host_pull(uint8_t *buf, size_t max) {
    size_t n = s_tx_len < max ? s_tx_len : max;
    memcpy(buf, s_tx, n);
    memmove(s_tx, s_tx + n, s_tx_len - n);
    s_tx_len -= n;
    return n;
}

void host_reset(void) {
    s_rx_head = s_rx_tail = 0;
    s_tx_len = 0;
    s_overruns = 0;
    sk_protocol_init();
}

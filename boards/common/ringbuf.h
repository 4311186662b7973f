/* Single-producer (UART ISR) / single-consumer (main loop) byte ring.
 *
 * A real board keeps receiving while an inference runs for 20-400 ms, so RX bytes are moved into this
 * ring by the interrupt handler; a polled UART would overrun its small hardware FIFO. Indices only grow
 * (wrapping at 2^32) and the capacity is a power of two, so no lock is needed between ISR and reader. */
#ifndef SK_RINGBUF_H
#define SK_RINGBUF_H

#include <stddef.h>
#include <stdint.h>

#ifndef SK_UART_RX_RING_BYTES
#define SK_UART_RX_RING_BYTES 8192u
#endif
#if (SK_UART_RX_RING_BYTES & (SK_UART_RX_RING_BYTES - 1u)) != 0
#error "SK_UART_RX_RING_BYTES must be a power of two"
#endif

typedef struct {
    volatile uint32_t head;     /* written by the producer only */
    volatile uint32_t tail;     /* written by the consumer only */
    volatile uint32_t overruns; /* bytes dropped because the ring was full (or the FIFO overran) */
    uint8_t data[SK_UART_RX_RING_BYTES];
} sk_ring_t;

static inline void sk_ring_push(sk_ring_t *r, uint8_t byte)
{
    uint32_t head = r->head;
    if (head - r->tail >= SK_UART_RX_RING_BYTES) {
        r->overruns++;
        return;
    }
    r->data[head & (SK_UART_RX_RING_BYTES - 1u)] = byte;
    __asm volatile("dmb 0xF" ::: "memory"); /* data visible before the index that publishes it */
    r->head = head + 1u;
}

static inline size_t sk_ring_pop(sk_ring_t *r, uint8_t *buf, size_t max)
{
    uint32_t tail = r->tail;
    uint32_t avail = r->head - tail;
    size_t n = avail < max ? avail : max;
    for (size_t i = 0; i < n; i++) {
        buf[i] = r->data[(tail + i) & (SK_UART_RX_RING_BYTES - 1u)];
    }
    __asm volatile("dmb 0xF" ::: "memory");
    r->tail = tail + (uint32_t)n;
    return n;
}

#endif /* SK_RINGBUF_H */

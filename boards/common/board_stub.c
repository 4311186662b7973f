/* Link-only board (BUDGET_ONLY=1): measures flash/RAM of the real app, engine and model against a
 * board's memory map when its SDK (AmbiqSuite) is absent. The resulting ELF is not runnable. */
#include <stdint.h>

#include "board.h"
#include "ringbuf.h"
#include "vectors_common.h"

#ifndef BOARD_NUM_IRQS
#error "BOARD_NUM_IRQS must come from the board's board.mk"
#endif

volatile uint32_t g_board_millis;
static sk_ring_t g_stub_ring; /* the real drivers' RX ring, so RAM is counted alike */

/* Stands in for the real UART ISR (kept alive by the vector table) so the RX ring is counted. */
static void stub_uart_irq_handler(void) { sk_ring_push(&g_stub_ring, 0); }

__attribute__((section(".isr_vector"), used)) const sk_vector_t g_vectors[16 + BOARD_NUM_IRQS] = {
    SK_CORE_VECTORS,
    [16] = stub_uart_irq_handler,
};

void board_init(void) {}
size_t board_uart_read(uint8_t *buf, size_t max) { return sk_ring_pop(&g_stub_ring, buf, max); }
void board_uart_write(const uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
}
uint32_t board_uart_overruns(void) { return 0; }
uint32_t board_millis(void) { return g_board_millis; }
void board_systick_handler(void) { g_board_millis++; }
void board_wait_for_interrupt(void) {}
void board_exit(int code)
{
    (void)code;
    for (;;) {
    }
}
void board_debug_write(const char *buf, size_t len)
{
    (void)buf;
    (void)len;
}
void board_fault(uint32_t exception, uint32_t cfsr)
{
    (void)exception;
    (void)cfsr;
    for (;;) {
    }
}

#include "cmsdk_uart.h"

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define STATE_RX_OVERRUN (1u << 3)
#define CTRL_TX_EN (1u << 0)
#define CTRL_RX_EN (1u << 1)
#define CTRL_RX_INT_EN (1u << 3)
#define CTRL_RX_OVR_INT_EN (1u << 5)
#define INT_RX (1u << 1)
#define INT_RX_OVERRUN (1u << 3)

void cmsdk_uart_init(cmsdk_uart_t *uart, uint32_t pclk_hz, uint32_t baud)
{
    uint32_t div = pclk_hz / baud;
    uart->CTRL = 0;
    uart->BAUDDIV = div < 16u ? 16u : div;
    uart->STATE = STATE_RX_OVERRUN;           /* clear a stale overrun flag */
    uart->INTSTATUS = INT_RX | INT_RX_OVERRUN;
    /* TX interrupts stay off: writes poll the TX-full flag, so the combined IRQ means "RX happened". */
    uart->CTRL = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN | CTRL_RX_OVR_INT_EN;
}

void cmsdk_uart_irq(cmsdk_uart_t *uart, sk_ring_t *ring)
{
    /* Clear first, then drain: a byte landing after the drain re-raises the interrupt. */
    uart->INTSTATUS = INT_RX | INT_RX_OVERRUN;
    if (uart->STATE & STATE_RX_OVERRUN) {
        uart->STATE = STATE_RX_OVERRUN;
        ring->overruns++;
    }
    while (uart->STATE & STATE_RX_FULL) {
        sk_ring_push(ring, (uint8_t)uart->DATA);
    }
}

void cmsdk_uart_write(cmsdk_uart_t *uart, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (uart->STATE & STATE_TX_FULL) {
        }
        uart->DATA = buf[i];
    }
}

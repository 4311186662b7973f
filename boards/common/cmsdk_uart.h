/* ARM CMSDK APB UART (MPS2/MPS3 FPGA images): interrupt-driven RX into a ring, blocking TX. */
#ifndef SK_CMSDK_UART_H
#define SK_CMSDK_UART_H

#include <stddef.h>
#include <stdint.h>

#include "ringbuf.h"

typedef struct {
    volatile uint32_t DATA;      /* 0x000 */
    volatile uint32_t STATE;     /* 0x004: bit0 TX full, bit1 RX full, bit2 TX overrun, bit3 RX overrun */
    volatile uint32_t CTRL;      /* 0x008: TX/RX enable, TX/RX int enable, TX/RX overrun int enable */
    volatile uint32_t INTSTATUS; /* 0x00C: read status / write 1 to clear */
    volatile uint32_t BAUDDIV;   /* 0x010: >= 16 */
} cmsdk_uart_t;

void cmsdk_uart_init(cmsdk_uart_t *uart, uint32_t pclk_hz, uint32_t baud);
void cmsdk_uart_irq(cmsdk_uart_t *uart, sk_ring_t *ring);   /* call from the UART RX (or combined) IRQ */
void cmsdk_uart_write(cmsdk_uart_t *uart, const uint8_t *buf, size_t len);

#endif /* SK_CMSDK_UART_H */

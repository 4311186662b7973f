/* Vector table of the MPS3 AN547 (128 interrupt lines); UART0 RX is IRQ 33. */
#include <stdint.h>

#include "board_config.h"
#include "vectors_common.h"

void board_uart_irq_handler(void);

#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used)) const sk_vector_t g_vectors[16 + BOARD_NUM_IRQS] = {
    SK_CORE_VECTORS,
    [16 ... 16 + BOARD_NUM_IRQS - 1] = Default_Handler,
    [16 + BOARD_UART_RX_IRQ] = board_uart_irq_handler,
};

/* Vector table for the Apollo EVBs. The UART's slot comes from the device header's UART0_IRQn, so the
 * table follows the part AmbiqSuite is configured for. */
#include <stdint.h>

#include "am_bsp.h"
#include "am_mcu_apollo.h"
#include "board_config.h"
#include "vectors_common.h"

void board_uart_irq_handler(void);

#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used)) const sk_vector_t g_vectors[16 + BOARD_NUM_IRQS] = {
    SK_CORE_VECTORS,
    [16 ... 16 + BOARD_NUM_IRQS - 1] = Default_Handler,
    [16 + UART0_IRQn + AM_BSP_UART_PRINT_INST] = board_uart_irq_handler,
};

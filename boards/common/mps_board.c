/* board.h for the QEMU-emulated ARM MPS2/MPS3 FPGA boards (CMSDK UART, SysTick, semihosting).
 * The per-board facts (UART base, IRQ, clocks) come from that board's board_config.h. */
#include "board.h"

#include "board_config.h"
#include "board_internal.h"
#include "cmsdk_uart.h"
#include "cortex_m.h"
#include "semihost.h"

#define UART ((cmsdk_uart_t *)BOARD_UART_BASE)

static sk_ring_t g_rx_ring;
volatile uint32_t g_board_millis;

void board_init(void)
{
    sk_systick_start_1khz(BOARD_CORE_HZ);
    cmsdk_uart_init(UART, BOARD_UART_PCLK_HZ, BOARD_UART_BAUD);
    sk_nvic_enable(BOARD_UART_RX_IRQ, 0x40);
    sk_irq_enable();
}

void board_uart_irq_handler(void) { cmsdk_uart_irq(UART, &g_rx_ring); }

void board_systick_handler(void) { g_board_millis++; }

size_t board_uart_read(uint8_t *buf, size_t max) { return sk_ring_pop(&g_rx_ring, buf, max); }

void board_uart_write(const uint8_t *buf, size_t len) { cmsdk_uart_write(UART, buf, len); }

uint32_t board_uart_overruns(void) { return g_rx_ring.overruns; }

uint32_t board_millis(void) { return g_board_millis; }

void board_wait_for_interrupt(void)
{
    /* A byte that lands between the caller's last poll and this WFI is still picked up at the next
     * interrupt; the 1 kHz SysTick bounds that delay to 1 ms. */
    sk_wfi();
}

void board_exit(int code) { sk_semihost_exit(code); }

void board_debug_write(const char *buf, size_t len)
{
#if BOARD_SEMIHOSTING
    sk_semihost_write(buf, len);
#else
    (void)buf;
    (void)len;
#endif
}

void board_fault(uint32_t exception, uint32_t cfsr)
{
    static const char msg[] = "sleepkit: fault, exiting with code 0x7F\n";
    (void)exception;
    (void)cfsr;
    board_debug_write(msg, sizeof msg - 1);
    sk_semihost_exit(0x7F);
}

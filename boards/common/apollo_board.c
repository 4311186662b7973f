/* board.h for Ambiq Apollo EVBs on AmbiqSuite's HAL/BSP (AMBIQSUITE_DIR).
 *
 * The EVB's COM UART (bridged to USB by the on-board J-Link) carries the protocol. RX is interrupt
 * driven: the HAL's RX and RX-timeout interrupts move every byte from the 32-byte hardware FIFO into
 * the ring, so a 20-400 ms inference never overruns it. Written against AmbiqSuite's public HAL API
 * (am_hal_uart_*); this tree is not compiled without AmbiqSuite. */
#include "board.h"

#include "am_bsp.h"
#include "am_mcu_apollo.h"
#include "board_config.h"
#include "board_internal.h"
#include "ringbuf.h"

static void *g_uart;
static sk_ring_t g_rx_ring;
volatile uint32_t g_board_millis;
extern const sk_vector_t g_vectors[];

void board_early_init(void)
{
    /* The secure bootloader jumps here from its own vector table; point VTOR at ours. */
    SCB->VTOR = (uint32_t)g_vectors;
}

void board_init(void)
{
    am_bsp_low_power_init();
    const am_hal_uart_config_t config = {
        .ui32BaudRate = BOARD_UART_BAUD,
        .eDataBits = AM_HAL_UART_DATA_BITS_8,
        .eParity = AM_HAL_UART_PARITY_NONE,
        .eStopBits = AM_HAL_UART_ONE_STOP_BIT,
        .eFlowControl = AM_HAL_UART_FLOW_CTRL_NONE,
        .eTXFifoLevel = AM_HAL_UART_FIFO_LEVEL_16,
        .eRXFifoLevel = AM_HAL_UART_FIFO_LEVEL_16,
    };
    am_hal_uart_initialize(AM_BSP_UART_PRINT_INST, &g_uart);
    am_hal_uart_power_control(g_uart, AM_HAL_SYSCTRL_WAKE, false);
    am_hal_uart_configure(g_uart, &config);
    am_hal_gpio_pinconfig(AM_BSP_GPIO_COM_UART_TX, g_AM_BSP_GPIO_COM_UART_TX);
    am_hal_gpio_pinconfig(AM_BSP_GPIO_COM_UART_RX, g_AM_BSP_GPIO_COM_UART_RX);
    am_hal_uart_interrupt_clear(g_uart, 0xFFFFFFFFu);
    am_hal_uart_interrupt_enable(g_uart, AM_HAL_UART_INT_RX | AM_HAL_UART_INT_RX_TMOUT | AM_HAL_UART_INT_OVER_RUN);
    NVIC_SetPriority((IRQn_Type)(UART0_IRQn + AM_BSP_UART_PRINT_INST), 2);
    NVIC_EnableIRQ((IRQn_Type)(UART0_IRQn + AM_BSP_UART_PRINT_INST));
    SysTick_Config(SystemCoreClock / 1000u);
    am_hal_interrupt_master_enable();
}

void board_uart_irq_handler(void)
{
    uint32_t status = 0;
    am_hal_uart_interrupt_status_get(g_uart, &status, true);
    am_hal_uart_interrupt_clear(g_uart, status);
    if (status & AM_HAL_UART_INT_OVER_RUN) {
        g_rx_ring.overruns++;
    }
    for (;;) {
        uint8_t byte;
        uint32_t n = 0;
        am_hal_uart_fifo_read(g_uart, &byte, 1, &n);
        if (n == 0) {
            break;
        }
        sk_ring_push(&g_rx_ring, byte);
    }
}

void board_systick_handler(void) { g_board_millis++; }

size_t board_uart_read(uint8_t *buf, size_t max) { return sk_ring_pop(&g_rx_ring, buf, max); }

void board_uart_write(const uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint32_t written = 0;
        am_hal_uart_fifo_write(g_uart, (uint8_t *)buf, (uint32_t)len, &written);
        buf += written;
        len -= written;
    }
}

uint32_t board_uart_overruns(void) { return g_rx_ring.overruns; }

uint32_t board_millis(void) { return g_board_millis; }

void board_wait_for_interrupt(void) { am_hal_sysctrl_sleep(AM_HAL_SYSCTRL_SLEEP_NORMAL); }

void board_exit(int code)
{
    /* No host to report to on hardware: stop the UART and wait for a reset. */
    (void)code;
    for (;;) {
        am_hal_sysctrl_sleep(AM_HAL_SYSCTRL_SLEEP_NORMAL);
    }
}

void board_debug_write(const char *buf, size_t len)
{
    (void)buf; /* the COM UART carries the protocol; diagnostics would corrupt it */
    (void)len;
}

void board_fault(uint32_t exception, uint32_t cfsr)
{
    (void)exception;
    (void)cfsr;
    NVIC_SystemReset();
}

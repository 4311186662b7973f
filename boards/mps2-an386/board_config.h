/* ARM MPS2+ with the AN386 FPGA image (Cortex-M4F), as QEMU's "mps2-an386" models it:
 *   0x00000000  4 MiB ZBT SSRAM1 (code)      0x20000000  4 MiB ZBT SSRAM2&3 (data)
 *   0x21000000 16 MiB PSRAM                  0x40004000  CMSDK APB UART0, RX IRQ 0, TX IRQ 1
 *   SYSCLK 25 MHz (core and APB). */
#ifndef SK_BOARD_CONFIG_H
#define SK_BOARD_CONFIG_H

#define BOARD_NAME "mps2-an386"
#define BOARD_CORE_HZ 25000000u
#define BOARD_UART_BASE 0x40004000u
#define BOARD_UART_PCLK_HZ 25000000u
#define BOARD_UART_RX_IRQ 0u
#define BOARD_UART_BAUD 115200u
#define BOARD_NUM_IRQS 32u
#define BOARD_SEMIHOSTING 1

#endif /* SK_BOARD_CONFIG_H */

/* ARM MPS3 with the AN547 FPGA image (Corstone SSE-300, Cortex-M55 with FPU+MVE), as QEMU's
 * "mps3-an547" models it. The core boots Secure with the SAU off, so every access is Secure and the
 * Secure aliases (bit 28 set) are used throughout:
 *   0x10000000 512 KiB ITCM (vector table at 0x0 alias; INITSVTOR = 0)
 *   0x11000000   2 MiB FPGA SRAM            0x30000000 512 KiB DTCM
 *   0x31000000   4 MiB ISRAM0/1             0x59303000 CMSDK UART0 (Secure alias of 0x49303000)
 *   UART0 IRQs: RX 33, TX 34, combined 43 (RX checked under QEMU); SYSCLK 32 MHz, APB 25 MHz. */
#ifndef SK_BOARD_CONFIG_H
#define SK_BOARD_CONFIG_H

#define BOARD_NAME "mps3-an547"
#define BOARD_CORE_HZ 32000000u
#define BOARD_UART_BASE 0x59303000u
#define BOARD_UART_PCLK_HZ 25000000u
#define BOARD_UART_RX_IRQ 33u
#define BOARD_UART_BAUD 115200u
#define BOARD_NUM_IRQS 128u /* 32 SSE-300 internal + 96 expansion */
#define BOARD_SEMIHOSTING 1

#endif /* SK_BOARD_CONFIG_H */

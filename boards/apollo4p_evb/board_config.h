/* Ambiq Apollo4 Plus EVB (Cortex-M4F, up to 192 MHz). Memory map from the Apollo4 Plus datasheet:
 *   0x00000000 2 MiB MRAM; the first 96 KiB (to 0x00018000) belong to the secure bootloader
 *   0x10000000 384 KiB TCM        0x10060000 1 MiB shared SRAM (+ 384 KiB extended, 1 MiB SRAM2)
 * The UART is the EVB's COM port (AM_BSP_UART_PRINT_INST, bridged to USB by the J-Link). */
#ifndef SK_BOARD_CONFIG_H
#define SK_BOARD_CONFIG_H

#define BOARD_NAME "apollo4p_evb"
#define BOARD_UART_BAUD 115200u

#endif /* SK_BOARD_CONFIG_H */

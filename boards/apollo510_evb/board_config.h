/* Ambiq Apollo510 EVB (Cortex-M55 with MVE, up to 250 MHz). Memory map from the Apollo510 datasheet:
 *   0x00000000 256 KiB ITCM       0x00400000 4 MiB MRAM; apps start at 0x00410000 after the bootloader
 *   0x20000000 512 KiB DTCM (the last 16 KiB reserved) 0x20080000 3 MiB shared SRAM
 * The UART is the EVB's COM port (AM_BSP_UART_PRINT_INST, bridged to USB by the J-Link). */
#ifndef SK_BOARD_CONFIG_H
#define SK_BOARD_CONFIG_H

#define BOARD_NAME "apollo510_evb"
#define BOARD_UART_BAUD 115200u

#endif /* SK_BOARD_CONFIG_H */

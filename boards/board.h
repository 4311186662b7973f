/* What the firmware app needs from a board. Each boards/<board>/ implements it. */
#ifndef SK_BOARD_H
#define SK_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void board_init(void);                                  /* clocks, FPU, UART (interrupt-driven RX) */
size_t board_uart_read(uint8_t *buf, size_t max);       /* non-blocking: bytes already in the RX ring */
void board_uart_write(const uint8_t *buf, size_t len);  /* blocking until queued/sent */
uint32_t board_uart_overruns(void);                     /* RX bytes lost because the ring was full */
uint32_t board_millis(void);                            /* monotonic milliseconds */
void board_wait_for_interrupt(void);                    /* sleep until the next interrupt */
void board_exit(int code);                              /* semihosting exit under QEMU; reset/hang on hardware */
void board_debug_write(const char *buf, size_t len);    /* diagnostics kept off the protocol UART: semihosting
                                                           console under QEMU, dropped on hardware */

#ifdef __cplusplus
}
#endif

#endif /* SK_BOARD_H */

/* sleepkit serial protocol, device side (spec: firmware/protocol.md).
 *
 * sk_protocol_init() initialises the engine and the frame decoder; sk_protocol_poll() drains the
 * bytes the board's interrupt-fed RX ring holds, answers every complete frame, and returns. The
 * app calls it in its main loop and sleeps (board_wait_for_interrupt) in between.
 */
#ifndef SK_PROTOCOL_H
#define SK_PROTOCOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t frames_ok;      /* valid frames handled */
    uint32_t frames_bad;     /* CRC, length or stuffing errors */
    uint32_t frames_large;   /* frames longer than the RX buffer */
    uint32_t rx_overruns;    /* bytes the board's RX ring dropped (board_uart_overruns) */
} sk_protocol_stats_t;

void sk_protocol_init(void);
void sk_protocol_poll(void);
const sk_protocol_stats_t *sk_protocol_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* SK_PROTOCOL_H */

/* sleepkit firmware: receive frames over the board UART, run the model, send the results back.
 * The wire protocol (protocol.c) sits on boards/board.h and engine.h; this loop only drives it. */
#include "board.h"
#include "engine.h"
#include "protocol.h"

int main(void)
{
    board_init();
    /* A failed init is not fatal here: the protocol answers every request with SK_ERR_NOT_READY
     * (sk_engine_init() returns the boot-time status again when asked). */
    (void)sk_engine_init();
    sk_protocol_init();
    for (;;) {
        sk_protocol_poll();
        board_wait_for_interrupt();
    }
}

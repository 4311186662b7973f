/* The platform hooks TFLM leaves to the application: where log text goes and what a tick is.
 * Logs go to board_debug_write, never to the protocol UART, so they cannot corrupt the wire protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "board.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_time.h"

extern "C" void DebugLog(const char *format, va_list args)
{
    char line[192];
    int n = vsnprintf(line, sizeof line, format, args);
    if (n > 0) {
        board_debug_write(line, static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1);
    }
}

extern "C" int DebugVsnprintf(char *buffer, size_t buf_size, const char *format, va_list vlist)
{
    return vsnprintf(buffer, buf_size, format, vlist);
}

namespace tflite {
uint32_t ticks_per_second() { return 1000u; }
uint32_t GetCurrentTimeTicks() { return board_millis(); }
}  // namespace tflite

// TFLM's classes have virtual destructors, whose deleting variants reference operator delete even
// though nothing is ever heap-allocated; these keep newlib's malloc/free out of the image.
void operator delete(void *) noexcept {}
void operator delete(void *, size_t) noexcept {}

extern "C" void __cxa_pure_virtual(void)
{
    static const char msg[] = "pure virtual call\n";
    board_debug_write(msg, sizeof msg - 1);
    board_exit(0x7E);
    for (;;) {
    }
}

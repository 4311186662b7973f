#include "semihost.h"

#include <stdint.h>

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sk_semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED carries the status code on 32-bit targets (plain SYS_EXIT only has "ok"). */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    semihost_call(SYS_EXIT_EXTENDED, block);
    semihost_call(SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_APPLICATION_EXIT);
    for (;;) {
    }
}

void sk_semihost_write(const char *buf, size_t len)
{
    /* SYS_WRITE0 needs no open handle (the debug console always exists) but wants NUL-terminated text. */
    char chunk[65];
    while (len > 0) {
        size_t n = len < sizeof chunk - 1 ? len : sizeof chunk - 1;
        for (size_t i = 0; i < n; i++) {
            chunk[i] = buf[i] ? buf[i] : ' ';
        }
        chunk[n] = '\0';
        semihost_call(SYS_WRITE0, chunk);
        buf += n;
        len -= n;
    }
}

/* ARM semihosting calls used on emulated boards (QEMU -semihosting): exit code and a debug console.
 * Only call these where a semihosting host is attached; on a bare board they trap. */
#ifndef SK_SEMIHOST_H
#define SK_SEMIHOST_H

#include <stddef.h>

__attribute__((noreturn)) void sk_semihost_exit(int code);
void sk_semihost_write(const char *buf, size_t len);

#endif /* SK_SEMIHOST_H */

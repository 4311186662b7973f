/* Reset and fault entry shared by every board; each board's vector table points here.
 *
 * The FPU (and, on Cortex-M55, MVE) is enabled before any C code that the compiler might vectorise,
 * then .data is copied from its load address, .bss is cleared and C/C++ constructors run. */
#include <stdint.h>

#include "board.h"
#include "board_internal.h"
#include "cortex_m.h"

extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;
extern void __libc_init_array(void);
extern int main(void);

/* Kept out of line and un-vectorised: it runs before the FPU/MVE is usable, and a memcpy/memset call
 * (which the compiler likes to substitute for these loops) may use FP/MVE registers. */
__attribute__((noinline, optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize")))
static void sk_crt_init(void)
{
    uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0u;
    }
}

__attribute__((noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= (0xFu << 20); /* CP10 + CP11 full access: FPU and MVE */
    sk_dsb();
    sk_isb();
#endif
    sk_crt_init();
    board_early_init();
    __libc_init_array();
    int rc = main();
    board_exit(rc);
    for (;;) {
        sk_wfi();
    }
}

/* Any fault or unexpected interrupt ends up here: the board decides what a crash means
 * (QEMU: exit with a distinct code so a test fails fast instead of hanging). */
void Default_Handler(void)
{
    board_fault(SCB_ICSR & 0x1FFu, SCB_CFSR);
}

__attribute__((weak)) void board_early_init(void) {}

/* Architectural Cortex-M registers the boards use (ARMv7-M / ARMv8.1-M System Control Space).
 * Kept here instead of pulling CMSIS-Core so the QEMU boards build with the toolchain alone. */
#ifndef SK_CORTEX_M_H
#define SK_CORTEX_M_H

#include <stdint.h>

#define SK_REG32(addr) (*(volatile uint32_t *)(addr))

#define SCB_ICSR   SK_REG32(0xE000ED04u)
#define SCB_VTOR   SK_REG32(0xE000ED08u)
#define SCB_AIRCR  SK_REG32(0xE000ED0Cu)
#define SCB_SCR    SK_REG32(0xE000ED10u)
#define SCB_CCR    SK_REG32(0xE000ED14u)
#define SCB_SHCSR  SK_REG32(0xE000ED24u)
#define SCB_CFSR   SK_REG32(0xE000ED28u)
#define SCB_CPACR  SK_REG32(0xE000ED88u)

#define SYST_CSR   SK_REG32(0xE000E010u)
#define SYST_RVR   SK_REG32(0xE000E014u)
#define SYST_CVR   SK_REG32(0xE000E018u)

#define NVIC_ISER(n) SK_REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) SK_REG32(0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) SK_REG32(0xE000E280u + 4u * (n))
#define NVIC_IPR8(irq) (*(volatile uint8_t *)(0xE000E400u + (irq)))

static inline void sk_nvic_enable(unsigned irq, uint8_t priority)
{
    NVIC_IPR8(irq) = priority;
    NVIC_ICPR(irq >> 5) = 1u << (irq & 31u);
    NVIC_ISER(irq >> 5) = 1u << (irq & 31u);
}

static inline void sk_dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
static inline void sk_isb(void) { __asm volatile("isb 0xF" ::: "memory"); }
static inline void sk_wfi(void) { __asm volatile("wfi"); }
static inline void sk_irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline uint32_t sk_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void sk_irq_restore(uint32_t primask) { __asm volatile("msr primask, %0" ::"r"(primask) : "memory"); }

/* SysTick from the core clock: a 1 kHz tick for board_millis(). */
static inline void sk_systick_start_1khz(uint32_t core_hz)
{
    SYST_RVR = core_hz / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* CLKSOURCE=core, TICKINT, ENABLE */
}

#endif /* SK_CORTEX_M_H */

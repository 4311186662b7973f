/* Hooks between the shared startup code and a board's own file (not part of the app interface). */
#ifndef SK_BOARD_INTERNAL_H
#define SK_BOARD_INTERNAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*sk_vector_t)(void);

void Reset_Handler(void);
void Default_Handler(void);
void board_early_init(void);                                  /* before constructors; weak, optional */
__attribute__((noreturn)) void board_fault(uint32_t exception, uint32_t cfsr);
extern volatile uint32_t g_board_millis;
void board_systick_handler(void);

extern uint32_t __stack_top__;

#ifdef __cplusplus
}
#endif

#endif /* SK_BOARD_INTERNAL_H */

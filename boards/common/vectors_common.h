/* The 16 architectural entries every board's vector table starts with. */
#ifndef SK_VECTORS_COMMON_H
#define SK_VECTORS_COMMON_H

#include "board_internal.h"

#define SK_CORE_VECTORS                                                                            \
    [0] = (sk_vector_t)(uintptr_t)&__stack_top__, [1] = Reset_Handler, [2 ... 15] = Default_Handler, \
    [15] = board_systick_handler

#endif /* SK_VECTORS_COMMON_H */

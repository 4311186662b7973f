# ARM MPS3 AN547: Cortex-M55 with FPU and MVE (the Apollo5 core), emulated by QEMU.
BOARD_CPU_FLAGS := -mcpu=cortex-m55 -mfloat-abi=hard -mthumb
BOARD_SRCS := $(BOARDS_DIR)/mps3-an547/vectors.c $(BOARDS_DIR)/common/mps_board.c \
              $(BOARDS_DIR)/common/cmsdk_uart.c $(BOARDS_DIR)/common/semihost.c
BOARD_LDSCRIPT := $(BOARDS_DIR)/mps3-an547/linker.ld
BOARD_QEMU_MACHINE := mps3-an547

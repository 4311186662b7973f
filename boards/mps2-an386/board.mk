# ARM MPS2+ AN386: Cortex-M4 with single-precision FPU (the Apollo4 core), emulated by QEMU.
BOARD_CPU_FLAGS := -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb
BOARD_SRCS := $(BOARDS_DIR)/mps2-an386/vectors.c $(BOARDS_DIR)/common/mps_board.c \
              $(BOARDS_DIR)/common/cmsdk_uart.c $(BOARDS_DIR)/common/semihost.c
BOARD_LDSCRIPT := $(BOARDS_DIR)/mps2-an386/linker.ld
BOARD_QEMU_MACHINE := mps2-an386

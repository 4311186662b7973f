# Ambiq Apollo510 EVB: Cortex-M55 (FPU + MVE). UART driver built on AmbiqSuite (R5.x) from AMBIQSUITE_DIR.
BOARD_CPU_FLAGS := -mcpu=cortex-m55 -mfloat-abi=hard -mthumb
BOARD_LDSCRIPT := $(BOARDS_DIR)/apollo510_evb/linker.ld
BOARD_NUM_IRQS := 128
BOARD_MAKE_BIN := 1
BOARD_REQUIRES := AMBIQSUITE_DIR
BOARD_REQUIRES_HINT := point it at an AmbiqSuite R5.x tree (Apollo510 HAL and apollo510_evb BSP); without it only BUDGET_ONLY=1 links
AMBIQ_PART := apollo510
AMBIQ_BSP := apollo510_evb
BOARD_DEFS := -DBOARD_NUM_IRQS=$(BOARD_NUM_IRQS)
ifneq ($(AMBIQSUITE_DIR),)
  include $(BOARDS_DIR)/common/ambiqsuite.mk
endif

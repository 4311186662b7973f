# Ambiq Apollo4 Plus EVB: Cortex-M4F. UART driver built on AmbiqSuite (R4.x) from AMBIQSUITE_DIR.
BOARD_CPU_FLAGS := -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb
BOARD_LDSCRIPT := $(BOARDS_DIR)/apollo4p_evb/linker.ld
BOARD_NUM_IRQS := 96
BOARD_MAKE_BIN := 1
BOARD_REQUIRES := AMBIQSUITE_DIR
BOARD_REQUIRES_HINT := point it at an AmbiqSuite R4.x tree (Apollo4 Plus HAL and apollo4p_evb BSP); without it only BUDGET_ONLY=1 links
AMBIQ_PART := apollo4p
AMBIQ_BSP := apollo4p_evb
BOARD_DEFS := -DBOARD_NUM_IRQS=$(BOARD_NUM_IRQS)
ifneq ($(AMBIQSUITE_DIR),)
  include $(BOARDS_DIR)/common/ambiqsuite.mk
endif

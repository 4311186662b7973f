# AmbiqSuite HAL/BSP for the Apollo boards (included by their board.mk when AMBIQSUITE_DIR is set).
# The prebuilt HAL and BSP libraries are used where AmbiqSuite ships them; override AMBIQ_HAL_LIB /
# AMBIQ_BSP_LIB for another layout.
AMBIQSUITE_DIR := $(abspath $(AMBIQSUITE_DIR))
AMBIQ_HAL_LIB ?= $(AMBIQSUITE_DIR)/mcu/$(AMBIQ_PART)/hal/mcu/gcc/bin/libam_hal.a
AMBIQ_BSP_LIB ?= $(AMBIQSUITE_DIR)/boards/$(AMBIQ_BSP)/bsp/gcc/bin/libam_bsp.a
AMBIQ_SYSTEM_SRC ?= $(firstword $(wildcard $(AMBIQSUITE_DIR)/CMSIS/AmbiqMicro/Source/system_$(AMBIQ_PART).c) \
                                 $(wildcard $(AMBIQSUITE_DIR)/boards/$(AMBIQ_BSP)/bsp/system_$(AMBIQ_PART).c))
ifneq ($(BUDGET_ONLY),1)
  $(foreach f,$(AMBIQ_HAL_LIB) $(AMBIQ_BSP_LIB),$(if $(wildcard $(f)),,$(error AmbiqSuite file $(f) not found: check AMBIQSUITE_DIR or set AMBIQ_HAL_LIB/AMBIQ_BSP_LIB)))
  ifeq ($(AMBIQ_SYSTEM_SRC),)
    $(error system_$(AMBIQ_PART).c not found under AMBIQSUITE_DIR=$(AMBIQSUITE_DIR): set AMBIQ_SYSTEM_SRC)
  endif
endif
BOARD_SRCS := $(BOARDS_DIR)/common/apollo_board.c $(BOARDS_DIR)/common/apollo_vectors.c $(AMBIQ_SYSTEM_SRC)
BOARD_INCLUDES := -I$(AMBIQSUITE_DIR)/mcu/$(AMBIQ_PART) -I$(AMBIQSUITE_DIR)/mcu/$(AMBIQ_PART)/hal \
                  -I$(AMBIQSUITE_DIR)/mcu/$(AMBIQ_PART)/hal/mcu -I$(AMBIQSUITE_DIR)/CMSIS/AmbiqMicro/Include \
                  -I$(AMBIQSUITE_DIR)/CMSIS/ARM/Include -I$(AMBIQSUITE_DIR)/utils -I$(AMBIQSUITE_DIR)/devices \
                  -I$(AMBIQSUITE_DIR)/boards/$(AMBIQ_BSP)/bsp
BOARD_DEFS += -DAM_PART_$(shell echo $(AMBIQ_PART) | tr a-z A-Z) -DAM_PACKAGE_BGA -Dgcc
BOARD_LIBS := $(AMBIQ_BSP_LIB) $(AMBIQ_HAL_LIB)

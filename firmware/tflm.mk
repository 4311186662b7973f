# TensorFlow Lite Micro for ENGINE=tflm, from outside the repository:
#   TFLM_DIR=<tflite-micro source tree>   its third-party code is expected where TFLM's own Makefile
#                                         downloads it (override with TFLM_THIRD_PARTY=<dir>)
#   TFLM_LIB=<libtensorflow-microlite.a> TFLM_INCLUDE="<header dirs>"   a prebuilt library
# Only the kernels the model uses are compiled: model_ops.mk (written at export) lists them.
# Core and kernels are compiled at -O2 (CORE_OPT, KERNEL_OPT): reference kernels are slower at -Os
# (benchmarks/bench_firmware.py measures the difference).

TFLM_DEFINES := -DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON
TFLM_OBJS :=

ifneq ($(TFLM_LIB),)
  ifeq ($(wildcard $(TFLM_LIB)),)
    $(error TFLM_LIB=$(TFLM_LIB) does not exist)
  endif
  ifeq ($(TFLM_INCLUDE),)
    $(error TFLM_LIB needs TFLM_INCLUDE="<tflite-micro root> <flatbuffers/include> <gemmlowp> <ruy>")
  endif
  TFLM_INCLUDES := $(addprefix -I,$(abspath $(TFLM_INCLUDE)))
  TFLM_LINK := $(abspath $(TFLM_LIB))
  ifeq ($(OPTIMIZED),cmsis_nn)
    TFLM_DEFINES += -DCMSIS_NN
  endif
else ifneq ($(TFLM_DIR),)
  TFLM_DIR := $(abspath $(TFLM_DIR))
  ifeq ($(wildcard $(TFLM_DIR)/tensorflow/lite/micro/micro_interpreter.h),)
    $(error TFLM_DIR=$(TFLM_DIR) is not a tflite-micro source tree (no tensorflow/lite/micro/micro_interpreter.h))
  endif
  TFLM_THIRD_PARTY ?= $(TFLM_DIR)/tensorflow/lite/micro/tools/make/downloads
  TFLM_THIRD_PARTY := $(abspath $(TFLM_THIRD_PARTY))
  FLATBUFFERS_BASE_H := $(TFLM_THIRD_PARTY)/flatbuffers/include/flatbuffers/base.h
  ifeq ($(wildcard $(FLATBUFFERS_BASE_H)),)
    $(error flatbuffers headers not found at $(TFLM_THIRD_PARTY)/flatbuffers/include (README: "TensorFlow Lite Micro"))
  endif
  # TFLM's generated schema static_asserts one exact flatbuffers release; say so before a compile error does.
  FLATBUFFERS_HAVE := $(shell sed -n 's/^\#define FLATBUFFERS_VERSION_\(MAJOR\|MINOR\|REVISION\) \([0-9]*\).*/\2/p' $(FLATBUFFERS_BASE_H) | paste -sd. -)
  FLATBUFFERS_NEED := $(shell sed -n '/static_assert.FLATBUFFERS_VERSION_MAJOR/,/;/p' $(TFLM_DIR)/tensorflow/lite/schema/schema_generated.h 2>/dev/null | grep -o '== *[0-9]*' | tr -dc '0-9\n' | paste -sd. -)
  ifneq ($(FLATBUFFERS_NEED),)
    ifneq ($(FLATBUFFERS_HAVE),$(FLATBUFFERS_NEED))
      $(error flatbuffers $(FLATBUFFERS_HAVE) found in $(TFLM_THIRD_PARTY)/flatbuffers but this TFLM tree needs exactly $(FLATBUFFERS_NEED))
    endif
  endif
  ifeq ($(wildcard $(TFLM_THIRD_PARTY)/gemmlowp/fixedpoint/fixedpoint.h),)
    $(error gemmlowp not found at $(TFLM_THIRD_PARTY)/gemmlowp (README: "TensorFlow Lite Micro"))
  endif
  ifeq ($(wildcard $(TFLM_THIRD_PARTY)/ruy/ruy/profiler/instrumentation.h),)
    $(error ruy not found at $(TFLM_THIRD_PARTY)/ruy (README: "TensorFlow Lite Micro"))
  endif
  TFLM_INCLUDES := -I$(TFLM_DIR) -I$(TFLM_THIRD_PARTY) -I$(TFLM_THIRD_PARTY)/flatbuffers/include \
                   -I$(TFLM_THIRD_PARTY)/gemmlowp -I$(TFLM_THIRD_PARTY)/ruy -I$(TFLM_THIRD_PARTY)/kissfft

  MICRO := $(TFLM_DIR)/tensorflow/lite/micro
  # Runtime core. Platform hooks (DebugLog, timing) come from firmware/src/tflm_platform.cc instead of
  # TFLM's host defaults; test helpers are not part of an application.
  TFLM_CORE_EXCLUDE := %_test.cc %/debug_log.cc %/micro_time.cc %/system_setup.cc %/test_helpers.cc \
                       %/test_helper_custom_ops.cc %/fake_micro_context.cc %/mock_micro_graph.cc
  TFLM_CORE_SRCS := $(filter-out $(TFLM_CORE_EXCLUDE), \
      $(wildcard $(MICRO)/*.cc) $(wildcard $(MICRO)/arena_allocator/*.cc) \
      $(wildcard $(MICRO)/memory_planner/*.cc) $(wildcard $(MICRO)/tflite_bridge/*.cc))
  # Shared TFLite sources, selected the way TFLM's sources.inc does (everything outside lite/micro and
  # lite/experimental, without lite/array.cc under TF_LITE_STATIC_MEMORY).
  TFLM_TFL_SRCS := $(filter-out %/tensorflow/lite/array.cc, $(shell cd $(TFLM_DIR) && find tensorflow -type d \
      \( -path tensorflow/lite/experimental -o -path tensorflow/lite/micro \) -prune -false -o \
      \( -name '*.cc' -o -name '*.c' \) -print | grep -v '_test\.cc$$' | sed 's|^|$(TFLM_DIR)/|'))

  # Kernels: kernel_util plus what the model's ops need (SK_TFLM_KERNELS from model_ops.mk).
  TFLM_KERNEL_NAMES := kernel_util $(SK_TFLM_KERNELS)
  TFLM_KERNEL_SRCS := $(foreach k,$(sort $(TFLM_KERNEL_NAMES)),$(MICRO)/kernels/$(k).cc)
  ifeq ($(OPTIMIZED),cmsis_nn)
    CMSIS_PATH ?= $(TFLM_THIRD_PARTY)/cmsis
    CMSIS_NN_PATH ?= $(TFLM_THIRD_PARTY)/cmsis_nn
    ifeq ($(wildcard $(CMSIS_NN_PATH)/Include/arm_nnfunctions.h),)
      $(error OPTIMIZED=cmsis_nn needs CMSIS-NN at $(CMSIS_NN_PATH) (README: "TensorFlow Lite Micro"))
    endif
    ifeq ($(wildcard $(CMSIS_PATH)/CMSIS/Core/Include/cmsis_compiler.h),)
      $(error OPTIMIZED=cmsis_nn needs CMSIS-Core at $(CMSIS_PATH) (README: "TensorFlow Lite Micro"))
    endif
    # TFLM's specialisation rule: kernels/cmsis_nn/<name>.cc replaces kernels/<name>.cc when present.
    TFLM_KERNEL_SRCS := $(foreach s,$(TFLM_KERNEL_SRCS),$(if $(wildcard $(MICRO)/kernels/cmsis_nn/$(notdir $(s))),$(MICRO)/kernels/cmsis_nn/$(notdir $(s)),$(s)))
    CMSIS_NN_SRCS := $(filter-out %_f16.c %_f32.c %/arm_nntables_flt.c,$(shell find $(CMSIS_NN_PATH)/Source -name '*.c'))
    TFLM_DEFINES += -DCMSIS_NN -DARM_NN_ENABLE_F16=0 -DARM_NN_ENABLE_F32=0
    TFLM_INCLUDES += -I$(CMSIS_PATH) -I$(CMSIS_NN_PATH) -I$(CMSIS_PATH)/CMSIS/Core/Include -I$(CMSIS_NN_PATH)/Include
  endif

  tflm_obj = $(TFLM_OBJ_DIR)/$(patsubst $(TFLM_DIR)/%,%,$(patsubst $(TFLM_THIRD_PARTY)/%,third_party/%,$(1))).o
  TFLM_CORE_OBJS := $(foreach s,$(TFLM_CORE_SRCS) $(filter %.cc,$(TFLM_TFL_SRCS)),$(call tflm_obj,$(s)))
  TFLM_C_OBJS := $(foreach s,$(filter %.c,$(TFLM_TFL_SRCS)) $(CMSIS_NN_SRCS),$(call tflm_obj,$(s)))
  TFLM_KERNEL_OBJS := $(foreach s,$(TFLM_KERNEL_SRCS),$(call tflm_obj,$(s)))
  TFLM_OBJS := $(TFLM_CORE_OBJS) $(TFLM_C_OBJS) $(TFLM_KERNEL_OBJS)
  TFLM_FLAGS_FILE := $(TFLM_OBJ_DIR)/flags.txt

  define tflm_rule
  $(call tflm_obj,$(1)): $(1) $(TFLM_FLAGS_FILE)
	@mkdir -p $$(dir $$@)
	@echo "  $(3)  $$(patsubst $(TFLM_DIR)/%,%,$(1))"
	@$$($(2)) $$($(2)FLAGS_TFLM) $(4) -MMD -MP -c $(1) -o $$@
  endef
  # Board-independent flags only (CPU flags, no BOARD_* defines), so boards sharing a CPU can share
  # TFLM_OBJ_DIR.
  TFLM_BASE_FLAGS = $(BOARD_CPU_FLAGS) -ffunction-sections -fdata-sections -fno-common -g
  CXXFLAGS_TFLM = $(TFLM_BASE_FLAGS) -std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics \
                  -fno-use-cxa-atexit -Wno-unused-parameter $(TFLM_DEFINES) $(TFLM_INCLUDES)
  CCFLAGS_TFLM = $(TFLM_BASE_FLAGS) -std=c11 $(TFLM_DEFINES) $(TFLM_INCLUDES)
  $(foreach s,$(TFLM_CORE_SRCS) $(filter %.cc,$(TFLM_TFL_SRCS)),$(eval $(call tflm_rule,$(s),CXX,CXX ,$(CORE_OPT))))
  $(foreach s,$(filter %.c,$(TFLM_TFL_SRCS)) $(CMSIS_NN_SRCS),$(eval $(call tflm_rule,$(s),CC,CC  ,$(KERNEL_OPT))))
  $(foreach s,$(TFLM_KERNEL_SRCS),$(eval $(call tflm_rule,$(s),CXX,CXX ,$(KERNEL_OPT))))

  $(TFLM_FLAGS_FILE): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CXXFLAGS_TFLM) $(CCFLAGS_TFLM) $(CORE_OPT) $(KERNEL_OPT)' | cmp -s - $@ || \
	  echo '$(CXXFLAGS_TFLM) $(CCFLAGS_TFLM) $(CORE_OPT) $(KERNEL_OPT)' > $@
else
  $(error TensorFlow Lite Micro not found: set TFLM_DIR=<tflite-micro source tree with its third-party downloads> or TFLM_LIB=<libtensorflow-microlite.a> TFLM_INCLUDE="<header dirs>" (README: "TensorFlow Lite Micro"), or build ENGINE=aot)
endif

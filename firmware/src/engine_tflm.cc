/* engine.h on TensorFlow Lite Micro.
 *
 * Everything model-specific comes from the export (MODEL_DIR): the flatbuffer (model_buffer.h), its
 * identity (model_info.h), the arena size (model_arena.h) and an op resolver holding exactly the
 * model's ops (model_ops.h). Quantisation parameters and shapes are read from the model at init, never
 * hard-coded. No heap: the resolver and interpreter live in static storage. */
#include <stdint.h>
#include <string.h>

#include <new>

#include "engine.h"
#include "model_arena.h"
#include "model_buffer.h"
#include "model_info.h"
#include "model_ops.h"
#include "sk_protocol.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

using Resolver = tflite::MicroMutableOpResolver<SK_MODEL_OP_COUNT>;

// The arena gets its own section so each board's linker script decides which RAM holds it.
alignas(16) __attribute__((section(".sk_arena"))) uint8_t g_arena[SK_ARENA_BYTES];
alignas(Resolver) uint8_t g_resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t g_interpreter_storage[sizeof(tflite::MicroInterpreter)];

tflite::MicroInterpreter *g_interpreter = nullptr;
sk_engine_info_t g_info;
bool g_tried = false;
int g_status = -SK_ERR_NOT_READY;

uint8_t dtype_code(TfLiteType type)
{
    switch (type) {
    case kTfLiteInt8: return SK_DTYPE_INT8;
    case kTfLiteUInt8: return SK_DTYPE_UINT8;
    case kTfLiteInt16: return SK_DTYPE_INT16;
    case kTfLiteInt32: return SK_DTYPE_INT32;
    case kTfLiteFloat32: return SK_DTYPE_FLOAT32;
    default: return 0;
    }
}

bool describe(const TfLiteTensor *tensor, sk_tensor_info_t *info)
{
    if (tensor == nullptr || tensor->dims == nullptr || tensor->dims->size > SK_ENGINE_MAX_DIMS) {
        return false;
    }
    memset(info, 0, sizeof *info);
    info->dtype = dtype_code(tensor->type);
    info->ndims = static_cast<uint8_t>(tensor->dims->size);
    for (int i = 0; i < tensor->dims->size; i++) {
        info->dims[i] = tensor->dims->data[i];
    }
    info->scale = tensor->params.scale;
    info->zero_point = tensor->params.zero_point;
    info->bytes = static_cast<uint32_t>(tensor->bytes);
    return info->dtype != 0;
}

int init_once()
{
    const tflite::Model *model = tflite::GetModel(SK_MODEL_DATA);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        MicroPrintf("model schema %d, runtime expects %d", static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
        return -SK_ERR_ENGINE;
    }
    Resolver *resolver = new (g_resolver_storage) Resolver();
    if (sk_model_register_ops(*resolver) != kTfLiteOk) {
        return -SK_ERR_ENGINE;
    }
    tflite::MicroInterpreter *interpreter =
        new (g_interpreter_storage) tflite::MicroInterpreter(model, *resolver, g_arena, sizeof g_arena);
    if (interpreter->AllocateTensors() != kTfLiteOk) {
        MicroPrintf("AllocateTensors failed with a %u-byte arena", static_cast<unsigned>(sizeof g_arena));
        return -SK_ERR_ENGINE;
    }
    if (interpreter->inputs_size() != 1 || interpreter->outputs_size() != 1) {
        MicroPrintf("model has %u inputs and %u outputs; sleepkit firmware serves one of each",
                    static_cast<unsigned>(interpreter->inputs_size()), static_cast<unsigned>(interpreter->outputs_size()));
        return -SK_ERR_ENGINE;
    }
    if (!describe(interpreter->input(0), &g_info.input) || !describe(interpreter->output(0), &g_info.output)) {
        return -SK_ERR_ENGINE;
    }
    g_info.model_name = SK_MODEL_NAME;
    g_info.model_hash = SK_MODEL_HASH;
    g_info.arena_bytes = static_cast<uint32_t>(interpreter->arena_used_bytes());
    g_info.engine_name = "tflm";
    g_interpreter = interpreter;
    return 0;
}

}  // namespace

extern "C" int sk_engine_init(void)
{
    // Idempotent: the protocol may ask again and gets the boot-time result.
    if (!g_tried) {
        g_tried = true;
        g_status = init_once();
    }
    return g_status;
}

extern "C" const sk_engine_info_t *sk_engine_info(void) { return g_interpreter ? &g_info : nullptr; }

extern "C" uint8_t *sk_engine_input(void)
{
    return g_interpreter ? static_cast<uint8_t *>(g_interpreter->input(0)->data.data) : nullptr;
}

extern "C" int sk_engine_invoke(void)
{
    if (g_interpreter == nullptr) {
        return -SK_ERR_NOT_READY;
    }
    return g_interpreter->Invoke() == kTfLiteOk ? 0 : -SK_ERR_ENGINE;
}

extern "C" const uint8_t *sk_engine_output(void)
{
    return g_interpreter ? static_cast<const uint8_t *>(g_interpreter->output(0)->data.data) : nullptr;
}

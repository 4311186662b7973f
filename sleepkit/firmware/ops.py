"""Op-resolver generation: the model's own op list -> ``MicroMutableOpResolver<N>`` with exactly those ops.

``model_ops.h`` registers each op with its own checked ``Add…`` call. Chaining the calls with ``&&``
(a pattern seen in public examples) registers only the first op: ``kTfLiteOk`` is 0, so ``&&`` stops
at the first success. ``model_ops.mk`` lists the TFLM kernel sources those ops need, so the firmware
build compiles nothing else.

The table maps each TFLite builtin operator to the TFLM resolver method and kernel sources (paths
under ``tensorflow/lite/micro/kernels/`` without ``.cc``), as found in TFLM's
``micro_mutable_op_resolver.h`` and ``kernels/`` for the TFLM tree the README describes; every entry
was linked on its own (one op per resolver, Cortex-M4) with only these sources plus ``kernel_util``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SleepkitError

# builtin operator name -> (MicroMutableOpResolver method, kernel sources)
TFLM_OPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ABS": ("AddAbs", ("elementwise",)),
    "ADD": ("AddAdd", ("add", "add_common")),
    "ADD_N": ("AddAddN", ("add_n",)),
    "ARG_MAX": ("AddArgMax", ("arg_min_max",)),
    "ARG_MIN": ("AddArgMin", ("arg_min_max",)),
    "ASSIGN_VARIABLE": ("AddAssignVariable", ("assign_variable",)),
    "AVERAGE_POOL_2D": ("AddAveragePool2D", ("pooling", "pooling_common")),
    "BATCH_MATMUL": ("AddBatchMatMul", ("batch_matmul", "batch_matmul_common")),
    "BATCH_TO_SPACE_ND": ("AddBatchToSpaceNd", ("batch_to_space_nd",)),
    "BROADCAST_ARGS": ("AddBroadcastArgs", ("broadcast_args",)),
    "BROADCAST_TO": ("AddBroadcastTo", ("broadcast_to",)),
    "CALL_ONCE": ("AddCallOnce", ("call_once",)),
    "CAST": ("AddCast", ("cast",)),
    "CEIL": ("AddCeil", ("ceil",)),
    "CONCATENATION": ("AddConcatenation", ("concatenation",)),
    "CONV_2D": ("AddConv2D", ("conv", "conv_common")),
    "COS": ("AddCos", ("elementwise",)),
    "CUMSUM": ("AddCumSum", ("cumsum",)),
    "DEPTH_TO_SPACE": ("AddDepthToSpace", ("depth_to_space",)),
    "DEPTHWISE_CONV_2D": ("AddDepthwiseConv2D", ("depthwise_conv", "depthwise_conv_common", "conv_common")),
    "DEQUANTIZE": ("AddDequantize", ("dequantize", "dequantize_common")),
    "DIV": ("AddDiv", ("div",)),
    "DYNAMIC_UPDATE_SLICE": ("AddDynamicUpdateSlice", ("dynamic_update_slice",)),
    "EMBEDDING_LOOKUP": ("AddEmbeddingLookup", ("embedding_lookup",)),
    "ELU": ("AddElu", ("elu",)),
    "EQUAL": ("AddEqual", ("comparisons",)),
    "EXP": ("AddExp", ("exp",)),
    "EXPAND_DIMS": ("AddExpandDims", ("expand_dims",)),
    "FILL": ("AddFill", ("fill",)),
    "FLOOR": ("AddFloor", ("floor",)),
    "FLOOR_DIV": ("AddFloorDiv", ("floor_div",)),
    "FLOOR_MOD": ("AddFloorMod", ("floor_mod",)),
    "FULLY_CONNECTED": ("AddFullyConnected", ("fully_connected", "fully_connected_common")),
    "GATHER": ("AddGather", ("gather",)),
    "GATHER_ND": ("AddGatherNd", ("gather_nd",)),
    "GREATER": ("AddGreater", ("comparisons",)),
    "GREATER_EQUAL": ("AddGreaterEqual", ("comparisons",)),
    "HARD_SWISH": ("AddHardSwish", ("hard_swish", "hard_swish_common")),
    "IF": ("AddIf", ("if",)),
    "L2_NORMALIZATION": ("AddL2Normalization", ("l2norm",)),
    "L2_POOL_2D": ("AddL2Pool2D", ("l2_pool_2d",)),
    "LEAKY_RELU": ("AddLeakyRelu", ("leaky_relu", "leaky_relu_common")),
    "LESS": ("AddLess", ("comparisons",)),
    "LESS_EQUAL": ("AddLessEqual", ("comparisons",)),
    "LOG": ("AddLog", ("elementwise",)),
    "LOGICAL_AND": ("AddLogicalAnd", ("logical", "logical_common")),
    "LOGICAL_NOT": ("AddLogicalNot", ("elementwise",)),
    "LOGICAL_OR": ("AddLogicalOr", ("logical", "logical_common")),
    "LOGISTIC": ("AddLogistic", ("logistic", "logistic_common")),
    "LOG_SOFTMAX": ("AddLogSoftmax", ("log_softmax",)),
    "MAXIMUM": ("AddMaximum", ("maximum_minimum",)),
    "MAX_POOL_2D": ("AddMaxPool2D", ("pooling", "pooling_common")),
    "MIRROR_PAD": ("AddMirrorPad", ("mirror_pad",)),
    "MEAN": ("AddMean", ("reduce", "reduce_common")),
    "MINIMUM": ("AddMinimum", ("maximum_minimum",)),
    "MUL": ("AddMul", ("mul", "mul_common")),
    "NEG": ("AddNeg", ("neg",)),
    "NOT_EQUAL": ("AddNotEqual", ("comparisons",)),
    "PACK": ("AddPack", ("pack",)),
    "PAD": ("AddPad", ("pad", "pad_common")),
    "PADV2": ("AddPadV2", ("pad", "pad_common")),
    "PRELU": ("AddPrelu", ("prelu", "prelu_common")),
    "QUANTIZE": ("AddQuantize", ("quantize", "quantize_common")),
    "READ_VARIABLE": ("AddReadVariable", ("read_variable",)),
    "REDUCE_ALL": ("AddReduceAll", ("reduce", "reduce_common")),
    "REDUCE_MAX": ("AddReduceMax", ("reduce", "reduce_common")),
    "REDUCE_MIN": ("AddReduceMin", ("reduce", "reduce_common")),
    "RELU": ("AddRelu", ("activations", "activations_common")),
    "RELU6": ("AddRelu6", ("activations", "activations_common")),
    "RESHAPE": ("AddReshape", ("reshape", "reshape_common")),
    "RESIZE_BILINEAR": ("AddResizeBilinear", ("resize_bilinear",)),
    "RESIZE_NEAREST_NEIGHBOR": ("AddResizeNearestNeighbor", ("resize_nearest_neighbor",)),
    "REVERSE_V2": ("AddReverseV2", ("reverse",)),
    "ROUND": ("AddRound", ("round",)),
    "RSQRT": ("AddRsqrt", ("elementwise",)),
    "SELECT_V2": ("AddSelectV2", ("select",)),
    "SHAPE": ("AddShape", ("shape",)),
    "SIN": ("AddSin", ("elementwise",)),
    "SLICE": ("AddSlice", ("slice",)),
    "SOFTMAX": ("AddSoftmax", ("softmax", "softmax_common")),
    "SPACE_TO_BATCH_ND": ("AddSpaceToBatchNd", ("space_to_batch_nd",)),
    "SPACE_TO_DEPTH": ("AddSpaceToDepth", ("space_to_depth",)),
    "SPLIT": ("AddSplit", ("split",)),
    "SPLIT_V": ("AddSplitV", ("split_v",)),
    "SQUEEZE": ("AddSqueeze", ("squeeze",)),
    "SQRT": ("AddSqrt", ("elementwise",)),
    "SQUARE": ("AddSquare", ("elementwise",)),
    "SQUARED_DIFFERENCE": ("AddSquaredDifference", ("squared_difference",)),
    "STRIDED_SLICE": ("AddStridedSlice", ("strided_slice", "strided_slice_common")),
    "SUB": ("AddSub", ("sub", "sub_common")),
    "SUM": ("AddSum", ("reduce", "reduce_common")),
    "SVDF": ("AddSvdf", ("svdf", "svdf_common")),
    "TANH": ("AddTanh", ("tanh",)),
    "TRANSPOSE_CONV": ("AddTransposeConv", ("transpose_conv",)),
    "TRANSPOSE": ("AddTranspose", ("transpose", "transpose_common")),
    "UNPACK": ("AddUnpack", ("unpack",)),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (
        "AddUnidirectionalSequenceLSTM",
        ("unidirectional_sequence_lstm", "lstm_eval", "lstm_eval_common", "micro_tensor_utils",
         "fully_connected_common"),
    ),
    "VAR_HANDLE": ("AddVarHandle", ("var_handle",)),
    "WHILE": ("AddWhile", ("while",)),
    "ZEROS_LIKE": ("AddZerosLike", ("zeros_like",)),
}


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def model_ops(tflite_path: str | Path) -> list[str]:
    """Builtin operator names the model uses (sorted, unique). Raises SleepkitError on custom ops."""
    import tflite

    path = Path(tflite_path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise SleepkitError(f"cannot read model {path}: {exc}") from None
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        used = {
            model.Subgraphs(s).Operators(o).OpcodeIndex()
            for s in range(model.SubgraphsLength())
            for o in range(model.Subgraphs(s).OperatorsLength())
        }
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct/IndexError
        raise SleepkitError(f"{path} is not a readable .tflite flatbuffer ({type(exc).__name__}: {exc})") from None
    names = _builtin_names()
    ops: set[str] = set()
    for index in sorted(used):
        code = codes[index]
        # Builtin codes above 127 live in builtin_code; older files only fill deprecated_builtin_code.
        value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(value, f"#{value}")
        if name == "CUSTOM":
            custom = code.CustomCode().decode(errors="replace") if code.CustomCode() else "?"
            raise SleepkitError(f"{path}: custom op '{custom}' has no built-in TFLM kernel; the firmware cannot resolve it")
        ops.add(name)
    return sorted(ops)


def _check(ops: list[str], source: str) -> None:
    unknown = [op for op in ops if op not in TFLM_OPS]
    if unknown:
        raise SleepkitError(f"{source}: op(s) {', '.join(unknown)} have no TFLM kernel in sleepkit's op table")


def kernel_sources(ops: list[str]) -> list[str]:
    """TFLM kernel sources (under tensorflow/lite/micro/kernels, no suffix) the ops need, sorted."""
    _check(ops, "op list")
    return sorted({src for op in ops for src in TFLM_OPS[op][1]})


def resolver_header(ops: list[str], source: str) -> str:
    """model_ops.h: SK_MODEL_OP_COUNT and sk_model_register_ops() for exactly ``ops``."""
    _check(ops, source)
    lines = [
        f"/* Generated by sleepkit export from {source}: the op resolver for exactly this model's ops. */",
        "#ifndef SK_MODEL_OPS_H",
        "#define SK_MODEL_OPS_H",
        "",
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        "",
        f"#define SK_MODEL_OP_COUNT {len(ops)}",
        "",
        "/* One checked call per op: chaining Add calls with && would stop after the first success,",
        " * because kTfLiteOk is 0. */",
        "static inline TfLiteStatus sk_model_register_ops(tflite::MicroMutableOpResolver<SK_MODEL_OP_COUNT> &resolver)",
        "{",
    ]
    for op in ops:
        method = TFLM_OPS[op][0]
        lines.append(f"    if (resolver.{method}() != kTfLiteOk) {{  /* {op} */")
        lines.append("        return kTfLiteError;")
        lines.append("    }")
    lines += ["    return kTfLiteOk;", "}", "", "#endif /* SK_MODEL_OPS_H */", ""]
    return "\n".join(lines)


def ops_makefile(ops: list[str], source: str) -> str:
    """model_ops.mk: the kernel sources the firmware build compiles for these ops."""
    kernels = kernel_sources(ops)
    return (
        f"# Generated by sleepkit export from {source}: TFLM kernels for ops {' '.join(ops)}\n"
        f"SK_TFLM_KERNELS := {' '.join(kernels)}\n"
    )

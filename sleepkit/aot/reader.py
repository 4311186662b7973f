"""Read an int8 ``.tflite`` flatbuffer into a small graph description.

Parsing uses the ``tflite`` package (the flatbuffer accessors generated from TensorFlow Lite's
schema). Only what the ahead-of-time generator needs is kept: static tensor shapes, dtypes, affine
quantisation, constant data and each operator's builtin options. Anything the generator cannot
honour (several subgraphs, sparse or variable tensors, unknown ops) is refused with a
``SleepkitError`` naming the file and the offending operator or tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SleepkitError

# TensorType enum of the TFLite schema -> numpy dtype (only types an int8 graph can carry).
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    2: np.dtype("<i4"),
    3: np.dtype("u1"),
    4: np.dtype("<i8"),
    7: np.dtype("<i2"),
    9: np.dtype("i1"),
}
_TYPE_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
               7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 17: "INT4", 18: "BFLOAT16"}

ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type_name: str
    dtype: np.dtype | None
    scales: np.ndarray | None = None          # float32, one per channel or a single value
    zero_points: np.ndarray | None = None     # int64
    quantized_dimension: int = 0
    data: np.ndarray | None = None            # constant tensors only, already shaped

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def scale(self) -> float:
        """Per-tensor scale as the float32 TFLM stores in TfLiteQuantizationParams."""
        if self.scales is None or len(self.scales) == 0:
            return 0.0
        return float(np.float32(self.scales[0]))

    @property
    def zero_point(self) -> int:
        if self.zero_points is None or len(self.zero_points) == 0:
            return 0
        return int(self.zero_points[0])

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * (self.dtype.itemsize if self.dtype is not None else 1)


@dataclass
class Operator:
    index: int
    opname: str
    inputs: list[int]            # -1 marks an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    path: Path
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    model_bytes: bytes

    def where(self, op: Operator) -> str:
        return f"{self.path}: operator #{op.index} ({op.opname})"


def _options(op, cls_name: str):
    """Instantiate the builtin-options table of an operator, or None if the model omits it."""
    import tflite

    table = op.BuiltinOptions()
    if table is None:
        return None
    opts = getattr(tflite, cls_name)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _read_options(opname: str, op) -> dict:
    if opname in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = "Conv2DOptions" if opname == "CONV_2D" else "DepthwiseConv2DOptions"
        o = _options(op, cls)
        if o is None:
            return {}
        d = {
            "padding": PADDINGS.get(o.Padding(), str(o.Padding())),
            "stride_w": o.StrideW(), "stride_h": o.StrideH(),
            "dilation_w": o.DilationWFactor(), "dilation_h": o.DilationHFactor(),
            "activation": ACTIVATIONS.get(o.FusedActivationFunction(), str(o.FusedActivationFunction())),
        }
        if opname == "DEPTHWISE_CONV_2D":
            d["depth_multiplier"] = o.DepthMultiplier()
        return d
    if opname == "FULLY_CONNECTED":
        o = _options(op, "FullyConnectedOptions")
        if o is None:
            return {"activation": "NONE", "weights_format": 0, "keep_num_dims": False}
        return {"activation": ACTIVATIONS.get(o.FusedActivationFunction(), str(o.FusedActivationFunction())),
                "weights_format": o.WeightsFormat(), "keep_num_dims": bool(o.KeepNumDims())}
    if opname in ("ADD", "MUL"):
        o = _options(op, "AddOptions" if opname == "ADD" else "MulOptions")
        act = 0 if o is None else o.FusedActivationFunction()
        return {"activation": ACTIVATIONS.get(act, str(act))}
    if opname in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = _options(op, "Pool2DOptions")
        if o is None:
            return {}
        return {"padding": PADDINGS.get(o.Padding(), str(o.Padding())),
                "stride_w": o.StrideW(), "stride_h": o.StrideH(),
                "filter_w": o.FilterWidth(), "filter_h": o.FilterHeight(),
                "activation": ACTIVATIONS.get(o.FusedActivationFunction(), str(o.FusedActivationFunction()))}
    if opname == "SOFTMAX":
        o = _options(op, "SoftmaxOptions")
        return {"beta": 1.0 if o is None else float(np.float32(o.Beta()))}
    if opname == "MEAN":
        o = _options(op, "ReducerOptions")
        return {"keep_dims": False if o is None else bool(o.KeepDims())}
    if opname == "CONCATENATION":
        o = _options(op, "ConcatenationOptions")
        if o is None:
            return {"axis": 0, "activation": "NONE"}
        return {"axis": o.Axis(),
                "activation": ACTIVATIONS.get(o.FusedActivationFunction(), str(o.FusedActivationFunction()))}
    return {}


def _buffer_bytes(model, model_bytes: bytes, index: int) -> bytes | None:
    if index <= 0 or index >= model.BuffersLength():
        return None
    buf = model.Buffers(index)
    if buf.Offset() > 1:  # large models keep tensor data after the flatbuffer
        return model_bytes[buf.Offset(): buf.Offset() + buf.Size()]
    if buf.DataLength() == 0:
        return None
    return buf.DataAsNumpy().tobytes()


def read_tflite(path: str | Path) -> Graph:
    path = Path(path)
    try:
        model_bytes = path.read_bytes()
    except OSError as exc:
        raise SleepkitError(f"{path}: cannot read the TFLite model ({exc.strerror})") from exc
    if len(model_bytes) < 8 or model_bytes[4:8] != b"TFL3":
        raise SleepkitError(f"{path}: not a TFLite flatbuffer (file identifier 'TFL3' missing)")
    try:
        return _parse(path, model_bytes)
    except SleepkitError:
        raise
    except Exception as exc:  # flatbuffer accessors raise assorted errors on corrupt offsets
        raise SleepkitError(f"{path}: malformed TFLite flatbuffer ({type(exc).__name__}: {exc})") from exc


def _parse(path: Path, model_bytes: bytes) -> Graph:
    import tflite
    from tflite.utils import opcode2name

    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    n_subgraphs = model.SubgraphsLength()
    if n_subgraphs != 1:
        raise SleepkitError(f"{path}: subgraphs: the AOT generator supports exactly 1 subgraph, found {n_subgraphs}")
    sg = model.Subgraphs(0)

    tensors: list[Tensor] = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        name = (t.Name() or b"").decode("utf-8", "replace")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        type_code = t.Type()
        type_name = _TYPE_NAMES.get(type_code, f"type {type_code}")
        if t.IsVariable():
            raise SleepkitError(f"{path}: tensor #{i} '{name}' is a variable tensor; stateful models are not supported")
        if t.Sparsity() is not None:
            raise SleepkitError(f"{path}: tensor #{i} '{name}' is sparse; sparse weights are not supported")
        if any(d < 0 for d in shape):
            raise SleepkitError(f"{path}: tensor #{i} '{name}' has a dynamic shape {shape}; convert with a fixed batch-1 signature")
        dtype = _DTYPES.get(type_code)
        scales = zero_points = None
        qdim = 0
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            scales = q.ScaleAsNumpy().astype(np.float32)
            zero_points = (q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() > 0
                           else np.zeros(len(scales), np.int64))
            qdim = int(q.QuantizedDimension())
        raw = _buffer_bytes(model, model_bytes, t.Buffer())
        data = None
        if raw is not None:
            if dtype is None:
                raise SleepkitError(f"{path}: tensor #{i} '{name}' holds {type_name} constants, which are not supported")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if len(raw) != count * dtype.itemsize:
                raise SleepkitError(
                    f"{path}: tensor #{i} '{name}' buffer holds {len(raw)} bytes, shape {shape} needs {count * dtype.itemsize}")
            data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        tensors.append(Tensor(i, name, shape, type_name, dtype, scales, zero_points, qdim, data))

    operators: list[Operator] = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        if not 0 <= op.OpcodeIndex() < model.OperatorCodesLength():
            raise SleepkitError(f"{path}: operator #{i} refers to operator code {op.OpcodeIndex()}, which does not exist")
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == 32:  # CUSTOM
            custom = (code.CustomCode() or b"?").decode("utf-8", "replace")
            opname = f"CUSTOM({custom})"
        else:
            try:
                opname = opcode2name(builtin)
            except ValueError:
                opname = f"BUILTIN_{builtin}"
        inputs = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
        outputs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
        if any(not -1 <= t < len(tensors) for t in inputs) or any(not 0 <= t < len(tensors) for t in outputs):
            raise SleepkitError(f"{path}: operator #{i} ({opname}) refers to a tensor index outside 0..{len(tensors) - 1}")
        operators.append(Operator(i, opname, inputs, outputs, _read_options(opname, op)))

    graph_inputs = [int(x) for x in sg.InputsAsNumpy()] if sg.InputsLength() else []
    graph_outputs = [int(x) for x in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    if not graph_inputs or not graph_outputs:
        raise SleepkitError(f"{path}: subgraph 0 declares no inputs or no outputs")
    if any(not 0 <= t < len(tensors) for t in graph_inputs + graph_outputs):
        raise SleepkitError(f"{path}: subgraph 0 inputs/outputs refer to a tensor index outside 0..{len(tensors) - 1}")
    return Graph(path, tensors, operators, graph_inputs, graph_outputs, model_bytes)

"""What the protocol needs to know about an exported .tflite: tensor layouts, quantisation, hash.

Read with the ``tflite`` flatbuffer package (no interpreter, no TensorFlow), so the EVB backend can
check a device against the model in milliseconds. The model hash is CRC-32 of the file's bytes, the
value the firmware reports as ``model_hash`` (engine.h).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from .constants import DTYPE_CODES
from .framing import crc32
from .messages import TensorInfo

_TFLITE_DTYPES = {"INT8": "int8", "UINT8": "uint8", "INT16": "int16", "INT32": "int32", "FLOAT32": "float32"}


@dataclass(frozen=True)
class ModelFileInfo:
    path: Path
    name: str
    hash: int
    input: TensorInfo
    output: TensorInfo


def model_hash(data: bytes) -> int:
    return crc32(data)


def _tensor(model, sg, index: int, path: Path, role: str) -> TensorInfo:
    import tflite

    t = sg.Tensors(index)
    type_names = {getattr(tflite.TensorType, k): k for k in dir(tflite.TensorType) if not k.startswith("_")}
    tname = type_names.get(t.Type(), str(t.Type()))
    if tname not in _TFLITE_DTYPES:
        raise SleepkitError(f"{path}: model {role} tensor has dtype {tname}, which the serial protocol cannot carry")
    dtype = _TFLITE_DTYPES[tname]
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    scale, zero_point = 0.0, 0
    q = t.Quantization()
    if q is not None and q.ScaleLength() > 0:
        if q.ScaleLength() != 1:
            raise SleepkitError(f"{path}: model {role} tensor is per-axis quantised; one scale per tensor is required")
        scale = float(np.float32(q.ScaleAsNumpy()[0]))
        zero_point = int(q.ZeroPointAsNumpy()[0]) if q.ZeroPointLength() else 0
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return TensorInfo(DTYPE_CODES[dtype], shape, scale, zero_point, nbytes)


def read_model_file(path: str | Path) -> ModelFileInfo:
    import tflite

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SleepkitError(f"cannot read model {path}: {exc.strerror or exc}") from None
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraph")
        sg = model.Subgraphs(0)
        if sg.InputsLength() != 1 or sg.OutputsLength() != 1:
            raise SleepkitError(
                f"{path}: the serial protocol serves models with one input and one output, this one has "
                f"{sg.InputsLength()} inputs and {sg.OutputsLength()} outputs"
            )
        tin = _tensor(model, sg, sg.Inputs(0), path, "input")
        tout = _tensor(model, sg, sg.Outputs(0), path, "output")
    except SleepkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - flatbuffers raise assorted errors on garbage
        raise SleepkitError(f"{path} is not a readable .tflite model ({type(exc).__name__}: {exc})") from None
    return ModelFileInfo(path, path.stem, model_hash(data), tin, tout)

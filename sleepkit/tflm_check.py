"""Inspect and verify an int8 ``.tflite``: op list, weights and MACs, TFLM arena size, and parity of
TFLite's reference kernels with the host TensorFlow Lite Micro runtime (the interpreter the firmware
runs). Reference kernels, not the optimised ones, are the bit-exact contract TFLM follows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from .errors import SleepkitError
from .log import logger
from .quant import quantize

# The converter lowers dilated convolutions of a free-batch graph to these; TFLM runs them wrongly.
FORBIDDEN_OPS = frozenset({"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"})
# Ops the firmware's generated C engine implements.
ENGINE_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MEAN", "RESHAPE", "SOFTMAX", "QUANTIZE",
    "DEQUANTIZE", "PAD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "LOGISTIC", "CONCATENATION",
})
# Host TFLM needs an arena at least this large to record what the model actually uses.
_PROBE_ARENA = 8 * 1024 * 1024


def _op_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _model(data: bytes):
    import tflite

    try:
        return tflite.Model.GetRootAsModel(data, 0)
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise SleepkitError(f"not a TFLite flatbuffer: {exc}") from None


def op_list(data: bytes) -> list[str]:
    """Builtin op names of the main subgraph in execution order."""
    model = _model(data)
    names = _op_names()
    sg = model.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        code = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
        # Codes >= 127 live in BuiltinCode; older ones in the deprecated int8 field.
        ops.append(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
    return ops


def check_ops(ops: list[str], where: str) -> None:
    bad = sorted(set(ops) & FORBIDDEN_OPS)
    if bad:
        raise SleepkitError(
            f"{where} contains {', '.join(bad)}: a dilated convolution was lowered for a free batch dimension, "
            f"which TFLite Micro runs wrongly; convert a batch-1 concrete function"
        )
    outside = sorted(set(ops) - ENGINE_OPS)
    if outside:
        logger.warning("%s uses ops the generated C engine does not implement: %s (TFLM can still run it)", where, ", ".join(outside))


def weights_and_macs(data: bytes) -> tuple[int, int]:
    """(constant weight/bias elements, multiply-accumulates per inference) over conv and FC layers."""
    model = _model(data)
    names = _op_names()
    sg = model.Subgraphs(0)

    def shape(t: int) -> list[int]:
        return [int(v) for v in sg.Tensors(t).ShapeAsNumpy()] if sg.Tensors(t).ShapeLength() else []

    weights = macs = 0
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        inputs = [int(t) for t in op.InputsAsNumpy()]
        w = shape(inputs[1])
        out = int(np.prod(shape(int(op.OutputsAsNumpy()[0]))))
        weights += int(np.prod(w)) + (int(np.prod(shape(inputs[2]))) if len(inputs) > 2 and inputs[2] >= 0 else 0)
        if name == "CONV_2D":  # filter [Cout, kh, kw, Cin]
            macs += out * w[1] * w[2] * w[3]
        elif name == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, Cout]
            macs += out * w[1] * w[2]
        else:  # weights [units, in]
            macs += out * w[1]
    return weights, macs


@contextlib.contextmanager
def _capture_fd2():
    """TFLM prints its allocation record from C++ to file descriptor 2; capture it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        buf: list[str] = []
        try:
            yield buf
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            buf.append(tmp.read().decode(errors="replace"))


def _tflm(data: bytes, arena_size: int = _PROBE_ARENA):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena_size)


def _fits(data: bytes, arena: int) -> bool:
    try:
        with _capture_fd2():
            _tflm(data, arena)
        return True
    except RuntimeError:
        return False


def tflm_arena_bytes(data: bytes) -> int:
    """Smallest tensor arena the host TFLM runtime needs for this model (recorded by its
    RecordingMicroAllocator, then confirmed by allocating exactly that much). Host pointers are 64-bit,
    so a 32-bit MCU needs slightly less."""
    interp = _tflm(data)
    with _capture_fd2() as out:
        interp.print_allocations()
    m = re.search(r"Arena allocation total (\d+) bytes", "".join(out))
    if m and _fits(data, int(m.group(1))):
        return int(m.group(1))
    if m:
        # The record can fall short (seen with MEAN: it leaves out some scratch space). Search upwards
        # only: TFLM can crash the process when an arena is far too small, but never above the record.
        recorded = lo = int(m.group(1))
        hi = lo + 256
        while hi < _PROBE_ARENA and not _fits(data, hi):
            lo, hi = hi, hi + max(256, hi // 8)
        if hi < _PROBE_ARENA:
            while hi - lo > 16:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if _fits(data, mid) else (mid, hi)
            logger.info("TFLM recorded %d arena bytes but needs %d; using the measured size", recorded, hi)
            return hi
    logger.info("TFLM allocation record unavailable; finding the arena size by bisection")
    lo, hi = 0, _PROBE_ARENA
    if not _fits(data, hi):
        raise SleepkitError(f"the model does not fit a {hi}-byte TFLM arena")
    while hi - lo > 16:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(data, mid) else (mid, hi)
    return hi


@dataclass
class TensorQ:
    shape: tuple[int, ...]
    dtype: type
    scale: float
    zero_point: int


def _litert(data: bytes, **kwargs):
    """A TFLite interpreter on ``data``; a file that is not a TFLite model is a user error, not a crash."""
    from ai_edge_litert.interpreter import Interpreter

    if not data:
        raise SleepkitError("the .tflite file is empty; re-run `sleepkit export`")
    try:
        interp = Interpreter(model_content=data, **kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise SleepkitError(f"not a usable TFLite model ({str(exc).splitlines()[0]}); re-run `sleepkit export`") from None
    return interp


def io_details(data: bytes) -> tuple[TensorQ, TensorQ]:
    # Reference kernels, as everywhere here: the default resolver's XNNPACK delegate refuses to prepare
    # some valid int8 graphs (seen with fake-quant-trained squeeze-excite blocks).
    interp = reference_interpreter(data)
    res = []
    for d in (interp.get_input_details()[0], interp.get_output_details()[0]):
        scale, zp = d["quantization"]
        res.append(TensorQ(tuple(int(v) for v in d["shape"]), d["dtype"], float(scale), int(zp)))
    return res[0], res[1]


def quantize_input(x: np.ndarray, q: TensorQ) -> np.ndarray:
    if q.dtype == np.float32:
        return x.astype(np.float32)
    if q.scale == 0:
        raise SleepkitError("model input is integer but has no quantisation scale")
    return quantize(x, q.scale, q.zero_point, q.dtype)


def reference_interpreter(data: bytes):
    from ai_edge_litert.interpreter import OpResolverType

    return _litert(data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)


def run_reference(data: bytes, xq: np.ndarray) -> np.ndarray:
    """Raw outputs of TFLite reference kernels for windows ``xq`` [N, ...] (already quantised)."""
    interp = reference_interpreter(data)
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    outs = []
    for w in xq:
        interp.set_tensor(i, w[None])
        interp.invoke()
        outs.append(interp.get_tensor(o)[0].copy())
    return np.stack(outs)


def run_tflm(data: bytes, xq: np.ndarray, arena_size: int = _PROBE_ARENA) -> np.ndarray:
    interp = _tflm(data, arena_size)
    outs = []
    for w in xq:
        interp.set_input(w[None], 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0))[0])
    return np.stack(outs)


def tflm_parity(data: bytes, x: np.ndarray) -> dict:
    """Reference kernels vs host TFLM on float windows ``x``: the largest difference in output LSBs
    (0 is required) and how many windows differed at all."""
    qin, _ = io_details(data)
    xq = quantize_input(x, qin)
    ref = run_reference(data, xq)
    micro = run_tflm(data, xq)
    diff = np.abs(ref.astype(np.int64) - micro.astype(np.int64)) if ref.dtype != np.float32 else np.abs(ref - micro)
    per_window = diff.reshape(len(x), -1).max(axis=1)
    return {
        "windows": int(len(x)),
        "max_lsb": (float(diff.max()) if ref.dtype == np.float32 else int(diff.max())) if diff.size else 0,
        "windows_differing": int(np.count_nonzero(per_window)),
        "reference_outputs": ref,
    }

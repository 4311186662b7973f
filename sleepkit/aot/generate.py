"""``generate``: int8 .tflite -> model_aot.c / model_aot.h for the firmware's ENGINE=aot."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path

from .. import fsutil
from ..errors import SleepkitError
from ..log import logger
from .emit import emit
from .lower import lower_graph
from .planner import check_plan, plan_memory
from .reader import read_tflite

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def generate(tflite_path: str | Path, out_dir: str | Path, model_name: str | None = None,
             var_prefix: str = "sk_model_") -> dict:
    """Generate plain C for an int8 TFLite model.

    Writes ``out_dir/model_aot.c`` and ``out_dir/model_aot.h`` (atomically). The code needs the
    kernel library in firmware/engine/aot on the include path and in the build. Returns a summary:
    ``peak_bytes`` (planned activation arena), ``ops`` (TFLite operators), ``kernel_calls``,
    ``op_counts``, ``weights_bytes``, ``params_bytes``, ``naive_arena_bytes`` (without reuse),
    ``model_hash`` (CRC-32 of the .tflite), ``inputs``/``outputs`` (shape, dtype, scale, zero point)
    and the written paths ``c_path``/``h_path``.
    """
    tflite_path = Path(tflite_path)
    out_dir = Path(out_dir)
    if not _IDENT.match(var_prefix):
        raise SleepkitError(f"var_prefix '{var_prefix}' is not a valid C identifier prefix")
    graph = read_tflite(tflite_path)
    # Same form as the export's model_info.h (ASCII, at most 31 characters: the protocol's SK_MAX_NAME),
    # so both engines report one name for one model.
    model_name = (model_name or tflite_path.stem).encode("ascii", "replace").decode()[:31]
    for kind, ids in (("input", graph.inputs), ("output", graph.outputs)):
        for t in ids:
            tensor = graph.tensors[t]
            if tensor.type_name not in ("INT8", "FLOAT32"):
                raise SleepkitError(f"{tflite_path}: model {kind} '{tensor.name}' is {tensor.type_name}; "
                                    "only int8 or float32 model inputs/outputs are supported")
            if len(tensor.shape) > 5:
                raise SleepkitError(f"{tflite_path}: model {kind} '{tensor.name}' has rank {len(tensor.shape)} (max 5)")
    steps = lower_graph(graph)
    plan = plan_memory(graph, steps)
    check_plan(plan)
    model_hash = zlib.crc32(graph.model_bytes) & 0xFFFFFFFF
    emitted = emit(graph, steps, plan, model_name, model_hash, var_prefix)
    c_path = fsutil.write_text(out_dir / "model_aot.c", emitted.c_source)
    h_path = fsutil.write_text(out_dir / "model_aot.h", emitted.h_source)

    def io(ids: list[int]) -> list[dict]:
        return [{"name": graph.tensors[t].name, "shape": list(graph.tensors[t].shape),
                 "dtype": graph.tensors[t].type_name.lower(), "scale": graph.tensors[t].scale,
                 "zero_point": graph.tensors[t].zero_point} for t in ids]

    summary = {
        "peak_bytes": plan.peak_bytes,
        "naive_arena_bytes": plan.naive_bytes,
        "ops": len(graph.operators),
        "kernel_calls": emitted.kernel_calls,
        "op_counts": dict(Counter(op.opname for op in graph.operators)),
        "weights_bytes": emitted.weights_bytes,
        "params_bytes": emitted.params_bytes,
        "model_hash": model_hash,
        "model_name": model_name,
        "var_prefix": var_prefix,
        "inputs": io(graph.inputs),
        "outputs": io(graph.outputs),
        "c_path": str(c_path),
        "h_path": str(h_path),
    }
    logger.info("AOT: %s -> %s (%d ops, weights %d B, activation arena %d B)", tflite_path.name, out_dir,
                summary["ops"], summary["weights_bytes"], summary["peak_bytes"])
    return summary

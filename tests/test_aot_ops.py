"""Every op of the AOT engine is bit-exact with the host TFLite Micro runtime.

Randomised single-op int8 models (shapes, strides, dilations, paddings, fused activations, weight
magnitudes and input ranges, hence quantisation parameters) are converted with TensorFlow's
converter, turned into C by ``sleepkit.aot.generate``, compiled together into one host library and
run on random and edge-case inputs next to TFLM. Any difference, even 1 LSB, fails.
"""

from __future__ import annotations

import shutil
from collections import defaultdict

import numpy as np
import pytest

from sleepkit.aot import generate, host, testmodels

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not found (needed to build the generated C)")

RANDOM_INPUTS = 16
OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MEAN", "SOFTMAX", "LOGISTIC", "PAD",
       "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION", "QUANTIZE", "RESHAPE", "SQUEEZE"]


def _inputs(model: host.HostModel, case: testmodels.OpCase, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Random inputs plus edge cases: all -128, all 127, and (for float inputs) exact rounding ties."""
    specs = []
    for j in range(model.info.num_inputs):
        io = model.info.inputs[j]
        specs.append((tuple(io.dims[k] for k in range(io.ndims)), io.dtype, float(io.scale), int(io.zero_point)))
    sets = []
    for k in range(RANDOM_INPUTS + 2):
        xs = []
        for j, (shape, dtype, scale, zp) in enumerate(specs):
            if dtype == 1:  # int8
                x = rng.integers(-128, 128, shape, dtype=np.int8)
                if k >= RANDOM_INPUTS:
                    x[...] = -128 if k == RANDOM_INPUTS else 127
            else:  # float32 input in front of a QUANTIZE
                lo, hi = case.input_ranges[j]
                x = rng.uniform(lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo), shape).astype(np.float32)
                if k >= RANDOM_INPUTS:
                    # Values on the half-way points between quantisation steps (rounding ties).
                    steps = rng.integers(-140, 140, shape)
                    x = ((steps + 0.5) * np.float32(scale)).astype(np.float32)
            xs.append(x)
        sets.append(xs)
    return sets


@pytest.fixture(scope="module")
def op_results(tmp_path_factory):
    from tflite_micro.python.tflite_micro import runtime

    root = tmp_path_factory.mktemp("aot_ops")
    cases = testmodels.single_op_cases(seed=20240601)
    generated = []
    for i, case in enumerate(cases):
        d = root / case.name
        d.mkdir()
        (d / "model.tflite").write_bytes(case.build())
        summary = generate(d / "model.tflite", d, var_prefix=f"m{i}_")
        generated.append((i, case, d, summary))
    lib = host.load(host.build_shared_library([d for _, _, d, _ in generated], root / "ops.so"))

    rng = np.random.default_rng(7)
    results: dict[str, list[dict]] = defaultdict(list)
    for i, case, d, summary in generated:
        model = host.HostModel(lib, f"m{i}_")
        interp = runtime.Interpreter.from_bytes((d / "model.tflite").read_bytes(), arena_size=1 << 20)
        mismatches, worst = 0, 0.0
        sets = _inputs(model, case, rng)
        for xs in sets:
            for j, x in enumerate(xs):
                interp.set_input(x, j)
            interp.invoke()
            ref = interp.get_output(0)
            got = model.run(*xs)[0]
            if ref.dtype == np.float32:  # DEQUANTIZE output: compare the bits
                same = np.array_equal(ref.view(np.int32), got.view(np.int32))
            else:
                same = np.array_equal(ref, got)
            if not same:
                mismatches += 1
                worst = max(worst, float(np.abs(ref.astype(np.float64) - got.astype(np.float64)).max()))
        results[case.op].append({"name": case.name, "ops": summary["op_counts"], "runs": len(sets),
                                 "mismatches": mismatches, "max_diff": worst})
    return results


@pytest.mark.parametrize("op", OPS)
def test_op_matches_tflm_bit_exactly(op_results, op):
    cases = op_results[op]
    assert len(cases) >= 2, f"too few {op} cases were generated"
    # The converter must really have produced the op under test (e.g. a dilated depthwise conv must not
    # have become SPACE_TO_BATCH_ND + conv + BATCH_TO_SPACE_ND).
    for c in cases:
        assert op in c["ops"], f"{c['name']}: converted model has {c['ops']}, not {op}"
    bad = [c for c in cases if c["mismatches"]]
    assert not bad, f"{op}: outputs differ from TFLM: " + "; ".join(
        f"{c['name']} {c['mismatches']}/{c['runs']} runs, max |diff| {c['max_diff']}" for c in bad)
    assert sum(c["runs"] for c in cases) >= 2 * (RANDOM_INPUTS + 2)


def test_int8_requantize_and_float_io_kernels_are_exercised(op_results):
    """QUANTIZE cases cover both kernels: float -> int8 at a float model input and int8 -> int8."""
    quantize_cases = op_results["QUANTIZE"]
    assert any("DEQUANTIZE" in c["ops"] for c in quantize_cases)          # float in/out models
    assert any("LOGISTIC" in c["ops"] and "CONCATENATION" in c["ops"] for c in quantize_cases)

"""Op-resolver generation from a model's own op list (no TFLM, no TensorFlow needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import flatbuffers
import pytest
import tflite
from tflite.BuiltinOperator import BuiltinOperator as B

from sleepkit.errors import SleepkitError
from sleepkit.firmware import ops


def make_tflite(path: Path, op_codes: list[tuple[int, str | None]], use: list[int]) -> Path:
    """A structurally valid .tflite: operator codes (builtin, custom name) and operators using them.

    Builtin codes above 127 go to builtin_code with deprecated_builtin_code = 127, as the converter
    writes them."""
    b = flatbuffers.Builder(256)
    customs = [b.CreateString(c) if c else None for _, c in op_codes]
    codes = []
    for (code, _), custom in zip(op_codes, customs):
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        tflite.OperatorCodeAddVersion(b, 1)
        codes.append(tflite.OperatorCodeEnd(b))
    operators = []
    for index in use:
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, index)
        operators.append(tflite.OperatorEnd(b))
    tflite.SubGraphStartOperatorsVector(b, len(operators))
    for o in reversed(operators):
        b.PrependUOffsetTRelative(o)
    ops_vec = b.EndVector()
    tflite.SubGraphStart(b)
    tflite.SubGraphAddOperators(b, ops_vec)
    subgraph = tflite.SubGraphEnd(b)
    tflite.ModelStartOperatorCodesVector(b, len(codes))
    for c in reversed(codes):
        b.PrependUOffsetTRelative(c)
    codes_vec = b.EndVector()
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs_vec = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


def test_model_ops_reads_used_ops_including_extended_codes(tmp_path):
    # CUMSUM (128) only fits builtin_code; an unused opcode entry must not be registered.
    model = make_tflite(
        tmp_path / "m.tflite",
        [(B.CONV_2D, None), (B.FULLY_CONNECTED, None), (B.CUMSUM, None), (B.SOFTMAX, None)],
        use=[0, 2, 0, 1, 2],
    )
    assert ops.model_ops(model) == ["CONV_2D", "CUMSUM", "FULLY_CONNECTED"]


def test_custom_op_unknown_op_and_garbage_are_reported(tmp_path):
    custom = make_tflite(tmp_path / "c.tflite", [(B.CUSTOM, "MyOp")], use=[0])
    with pytest.raises(SleepkitError, match="custom op 'MyOp'"):
        ops.model_ops(custom)
    gelu = make_tflite(tmp_path / "g.tflite", [(B.GELU, None)], use=[0])
    assert ops.model_ops(gelu) == ["GELU"]
    with pytest.raises(SleepkitError, match="GELU"):
        ops.resolver_header(["GELU"], "g.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x01\x02 not a flatbuffer")
    with pytest.raises(SleepkitError, match="bad.tflite"):
        ops.model_ops(bad)
    with pytest.raises(SleepkitError, match="missing.tflite"):
        ops.model_ops(tmp_path / "missing.tflite")


def test_header_checks_every_add_call_separately():
    chosen = ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "SOFTMAX"]
    header = ops.resolver_header(chosen, "model.tflite")
    assert "#define SK_MODEL_OP_COUNT 6" in header
    calls = re.findall(r"if \(resolver\.(Add\w+)\(\) != kTfLiteOk\)", header)
    assert calls == ["AddAdd", "AddConv2D", "AddDepthwiseConv2D", "AddFullyConnected", "AddMean", "AddSoftmax"]
    assert "&& resolver" not in header and ") &&" not in header


def test_kernel_list_and_makefile_fragment():
    kernels = ops.kernel_sources(["CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX"])
    assert kernels == ["conv", "conv_common", "pooling", "pooling_common", "softmax", "softmax_common"]
    mk = ops.ops_makefile(["CONV_2D", "SOFTMAX"], "m.tflite")
    assert "SK_TFLM_KERNELS := conv conv_common softmax softmax_common\n" in mk


MOCK_RESOLVER = r"""
#include <cstdio>
#include <string>
#include <vector>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
static std::vector<std::string> g_calls;
namespace tflite {
template <unsigned N> struct MicroMutableOpResolver {
  unsigned registered = 0;
  TfLiteStatus add(const char *name) {
    if (registered == N) return kTfLiteError;  /* like TFLM: capacity is exactly N */
    registered++; g_calls.push_back(name); return kTfLiteOk;
  }
%METHODS%
};
}
#include "model_ops.h"
int main() {
  tflite::MicroMutableOpResolver<SK_MODEL_OP_COUNT> r;
  if (sk_model_register_ops(r) != kTfLiteOk) return 2;
  for (auto &c : g_calls) std::printf("%s\n", c.c_str());
  return r.registered == SK_MODEL_OP_COUNT ? 0 : 3;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="host g++ not installed")
def test_generated_header_registers_every_op(tmp_path):
    """Compile model_ops.h against a stand-in resolver: all ops get registered, in order."""
    chosen = ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "SOFTMAX"]
    (tmp_path / "model_ops.h").write_text(ops.resolver_header(chosen, "m.tflite"))
    shim = tmp_path / "tensorflow/lite/micro/micro_mutable_op_resolver.h"
    shim.parent.mkdir(parents=True)
    shim.write_text("/* provided by the test */\n")
    methods = "\n".join(f'  TfLiteStatus {ops.TFLM_OPS[o][0]}() {{ return add("{o}"); }}' for o in chosen)
    (tmp_path / "main.cc").write_text(MOCK_RESOLVER.replace("%METHODS%", methods))
    exe = tmp_path / "resolver_test"
    subprocess.run(["g++", "-std=c++17", f"-I{tmp_path}", str(tmp_path / "main.cc"), "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run
    assert run.stdout.split() == chosen


def test_table_matches_tflm_tree():
    """Every table entry names a real resolver method for its op and real kernel sources."""
    tflm = os.environ.get("TFLM_DIR")
    if not tflm:
        pytest.skip("TFLM_DIR not set: no TFLM tree to check the op table against")
    micro = Path(tflm) / "tensorflow/lite/micro"
    header = (micro / "micro_mutable_op_resolver.h").read_text()
    methods = dict(re.findall(r"TfLiteStatus (Add\w+)\([^{]*\{\s*return AddBuiltin\(BuiltinOperator_(\w+)", header))
    for op, (method, kernels) in ops.TFLM_OPS.items():
        assert methods.get(method) == op, (op, method)
        for k in kernels:
            assert (micro / "kernels" / f"{k}.cc").is_file(), (op, k)

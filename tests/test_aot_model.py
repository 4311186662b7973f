"""Whole models through the AOT engine: host library, engine.h on the host, and the firmware in QEMU.

A TCN-like Keras model (dilated depthwise conv on [1,T,1,F], 1x1 conv, squeeze-excite with
mean + dense + sigmoid + multiply, residual add, softmax) and the project's own TCN
(sleepkit.models.tcn, tiny settings) are int8-converted; every output must equal the host TFLM
runtime's bit for bit.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from sleepkit.aot import generate, host, kernel_dir, testmodels
from sleepkit.aot.planner import check_plan, plan_memory
from sleepkit.aot.lower import lower_graph
from sleepkit.aot.reader import read_tflite

REPO = Path(__file__).resolve().parents[1]
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not found (needed to build the generated C)")


def _tflm(model_bytes: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)


def _tflm_outputs(model_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interp = _tflm(model_bytes)
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(interp.get_output(0))
    return outs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{name: directory with model.tflite and its generated model_aot.c/.h}."""
    from sleepkit.models.tcn import build_tcn

    root = tmp_path_factory.mktemp("aot_models")
    built = {}
    tcn_like = testmodels.tcn_like_model(frames=24, feats=5, classes=4, filters=8, dilations=(1, 2, 4), seed=3)
    project_tcn = build_tcn((20, 6), 3, input_filters=8, filters=8, kernel_size=3, dilations=[1, 2, 4],
                            se_ratio=4, dropout=0.0, use_logits=False)
    for name, model in (("tcn_like", tcn_like), ("project_tcn", project_tcn)):
        d = root / name
        d.mkdir()
        (d / "model.tflite").write_bytes(testmodels.convert_keras_int8(model, seed=1))
        built[name] = (d, generate(d / "model.tflite", d, model_name=name, var_prefix=f"{name}_"))
    return built


def _random_inputs(shape, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n)]
    # A smooth input as real features look, not only white noise.
    t = np.linspace(0, 6 * np.pi, int(np.prod(shape))).reshape(shape)
    xs.append(np.clip(np.round(90 * np.sin(t)), -128, 127).astype(np.int8))
    return xs


@needs_gcc
@pytest.mark.parametrize("name", ["tcn_like", "project_tcn"])
def test_whole_model_bit_exact_with_tflm(models, tmp_path, name):
    d, summary = models[name]
    ops = summary["op_counts"]
    expected = {"DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "LOGISTIC", "MUL", "ADD", "SOFTMAX"}
    if name == "tcn_like":  # its squeeze-excite uses Dense layers (the project TCN uses 1x1 convs)
        expected.add("FULLY_CONNECTED")
    assert expected <= set(ops), f"{name}: converted model has {ops}"
    lib = host.load(host.build_shared_library([d], tmp_path / "model.so"))
    model = host.HostModel(lib, f"{name}_")
    model_bytes = (d / "model.tflite").read_bytes()
    assert model.info.hash == zlib.crc32(model_bytes)
    assert model.info.name.decode() == name
    xs = _random_inputs(tuple(summary["inputs"][0]["shape"]), 24, seed=11)
    refs = _tflm_outputs(model_bytes, xs)
    diffs = [int(np.abs(r.astype(np.int32) - model.run(x)[0].astype(np.int32)).max()) for x, r in zip(xs, refs)]
    assert diffs == [0] * len(xs)
    # The outputs are not degenerate (a constant output would make the comparison meaningless).
    assert len({r.tobytes() for r in refs}) > len(refs) // 2


def test_memory_plan_reuses_buffers_safely(models):
    d, summary = models["tcn_like"]
    graph = read_tflite(d / "model.tflite")
    plan = plan_memory(graph, lower_graph(graph))
    check_plan(plan)  # no two simultaneously live tensors overlap
    assert plan.peak_bytes == summary["peak_bytes"]
    # Reuse must pay off on a deep chain: far below one buffer per tensor, and at least the largest
    # pair of tensors that are live together (an op's input and output).
    assert plan.peak_bytes < plan.naive_bytes / 2
    largest_pair = max(
        sum(graph.tensors[t].nbytes for t in (s.inputs[0], s.output))
        for s in lower_graph(graph) if s.kernel and not graph.tensors[s.inputs[0]].is_constant)
    assert plan.peak_bytes >= largest_pair


class _TensorInfo(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_uint8), ("ndims", ctypes.c_uint8), ("dims", ctypes.c_int32 * 5),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32), ("bytes", ctypes.c_uint32)]


class _EngineInfo(ctypes.Structure):
    _fields_ = [("model_name", ctypes.c_char_p), ("model_hash", ctypes.c_uint32), ("arena_bytes", ctypes.c_uint32),
                ("engine_name", ctypes.c_char_p), ("input", _TensorInfo), ("output", _TensorInfo)]


@needs_gcc
def test_engine_aot_implements_engine_h_on_host(models, tmp_path):
    """firmware/src/engine_aot.c compiled for the host serves the model through engine.h."""
    d, summary = models["tcn_like"]
    lib_path = host.build_shared_library(
        [d], tmp_path / "engine.so", extra_sources=[REPO / "firmware" / "src" / "engine_aot.c"],
        extra_flags=[f"-I{REPO / 'firmware' / 'src'}", f"-I{REPO / 'sleepkit' / 'protocol'}", f"-I{d}"])
    lib = host.load(lib_path)
    lib.sk_engine_info.restype = ctypes.POINTER(_EngineInfo)
    lib.sk_engine_input.restype = ctypes.c_void_p
    lib.sk_engine_output.restype = ctypes.c_void_p
    assert not lib.sk_engine_info()  # NULL before init
    assert lib.sk_engine_init() == 0
    assert lib.sk_engine_init() == 0  # idempotent
    info = lib.sk_engine_info().contents
    model_bytes = (d / "model.tflite").read_bytes()
    assert info.engine_name == b"aot"
    assert info.model_name == b"tcn_like"
    assert info.model_hash == zlib.crc32(model_bytes)
    assert info.arena_bytes == summary["peak_bytes"]
    assert info.input.dtype == 1 and info.output.dtype == 1
    in_shape = tuple(info.input.dims[i] for i in range(info.input.ndims))
    out_shape = tuple(info.output.dims[i] for i in range(info.output.ndims))
    assert list(in_shape) == summary["inputs"][0]["shape"] and list(out_shape) == summary["outputs"][0]["shape"]
    assert np.float32(info.output.scale) == np.float32(summary["outputs"][0]["scale"])
    assert info.output.zero_point == summary["outputs"][0]["zero_point"]
    xs = _random_inputs(in_shape, 6, seed=5)
    for x, ref in zip(xs, _tflm_outputs(model_bytes, xs)):
        ctypes.memmove(lib.sk_engine_input(), x.tobytes(), info.input.bytes)
        assert lib.sk_engine_invoke() == 0
        out = ctypes.string_at(lib.sk_engine_output(), info.output.bytes)
        assert out == ref.tobytes()


def _firmware_unavailable() -> str | None:
    from sleepkit.firmware.qemu import qemu_unavailable_reason

    if shutil.which("arm-none-eabi-gcc") is None:
        return "arm-none-eabi-gcc not found (Debian gcc-arm-none-eabi)"
    return qemu_unavailable_reason("mps2-an386")


def test_firmware_aot_in_qemu_matches_tflm(models, tmp_path):
    """make -C firmware BOARD=mps2-an386 ENGINE=aot boots in QEMU and answers the serial protocol
    with exactly the host TFLM outputs."""
    reason = _firmware_unavailable()
    if reason:
        pytest.skip(reason)
    from sleepkit.firmware.qemu import QemuRun
    from sleepkit.protocol.client import ProtocolClient

    d, summary = models["project_tcn"]
    build_dir = tmp_path / "fw"
    cmd = ["make", "-C", str(REPO / "firmware"), "-j2", "BOARD=mps2-an386", "ENGINE=aot", "APP=main",
           f"MODEL_DIR={d}", f"BUILD_DIR={build_dir}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    elf = build_dir / "sleepkit-mps2-an386.elf"
    model_bytes = (d / "model.tflite").read_bytes()
    xs = _random_inputs(tuple(summary["inputs"][0]["shape"]), 8, seed=21)
    refs = _tflm_outputs(model_bytes, xs)
    with QemuRun(elf, "mps2-an386") as run:
        with run.open_serial(timeout=5) as port:
            client = ProtocolClient(port, timeout=5)
            client.hello(timeout=10)
            info = client.info()
            assert info.engine_name == "aot"
            assert info.model_hash == zlib.crc32(model_bytes)
            assert info.arena_bytes == summary["peak_bytes"]
            assert list(info.input.shape) == summary["inputs"][0]["shape"]
            for x, ref in zip(xs, refs):
                result = client.run_frame(x.tobytes(), info.output.bytes)
                assert result.output == ref.tobytes()


def test_kernel_library_cross_compiles_for_cortex_m4_without_libc(tmp_path):
    """C99, warning-free, only string.h/stdint.h/stddef.h, and no heap."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not found (Debian gcc-arm-none-eabi)")
    sources = sorted(kernel_dir().glob("*.c"))
    headers = sorted(kernel_dir().glob("*.h"))
    allowed = {"<stdint.h>", "<stddef.h>", "<string.h>"}
    for path in sources + headers:
        text = path.read_text()
        system_includes = {line.split()[1] for line in text.splitlines() if line.startswith("#include <")}
        assert system_includes <= allowed, f"{path.name} includes {system_includes - allowed}"
        for banned in ("malloc", "calloc", "realloc", "free(", "printf", "math.h"):
            assert banned not in text, f"{path.name} uses {banned}"
    for src in sources:
        res = subprocess.run(
            ["arm-none-eabi-gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-mcpu=cortex-m4",
             "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-ffreestanding", "-c", str(src),
             "-o", str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr

"""ENGINE=tflm end to end: a small int8 model (dilated depthwise/conv, dense, add, softmax) is exported,
built with TFLM for the QEMU boards, run in QEMU, and its raw outputs must equal the host TFLM
runtime's on every test frame. Budgets are measured for all four boards.

Needs TFLM_DIR (a tflite-micro tree with its third-party downloads); TFLM objects are cached under
``$SLEEPKIT_FW_CACHE`` (default: <tmp>/sleepkit-firmware-cache) because compiling them is slow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sleepkit.c_header import write_model_header
from sleepkit.tflm_check import tflm_arena_bytes
from sleepkit.firmware import build, headers, integrate, qemu, tiny_model

pytestmark = pytest.mark.tflm

_reason = (
    "TFLM_DIR not set: no TensorFlow Lite Micro tree to build with" if not os.environ.get("TFLM_DIR")
    else build.toolchain_missing() or build.tflm_missing() or qemu.qemu_unavailable_reason()
)
if _reason:
    pytest.skip(_reason, allow_module_level=True)

CACHE = Path(os.environ.get("SLEEPKIT_FW_CACHE", Path(tempfile.gettempdir()) / "sleepkit-firmware-cache"))
FRAMES = 6


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    tfl = d / "model.tflite"
    data = tiny_model.build_tiny_model(tfl)
    q = tiny_model.quantized_inputs(tfl, data[:FRAMES])
    write_model_header(tfl.read_bytes(), d / "model_buffer.h", "g_model", "tiny")
    summary = integrate.on_export(SimpleNamespace(name="tiny", tflm_var_name="g_model", tflm_file=None),
                                  d, tfl, tflm_arena_bytes(tfl.read_bytes()), None)
    (d / "test_vectors.h").write_text(headers.test_vectors_header(q, "test"))
    np.save(d / "inputs.npy", q)
    return d, summary, tiny_model.host_outputs(tfl, q)


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_firmware_outputs_match_host_tflm_bit_exactly(exported, board):
    d, summary, host = exported
    assert summary["ops"] == ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "SOFTMAX"]
    r = build.build(board, model_dir=d, build_root=CACHE, app="selftest", model_bytes=summary["model_bytes"])
    assert r.ok, (r.reason, r.log_tail)
    result = qemu.run_to_exit(r.elf, board, timeout=120)
    assert result.exit_code == 0, (result.uart[-500:], result.debug)
    out = headers.parse_selftest_output(result.uart.decode())
    assert out["engine"] == "tflm" and out["init"] == 0 and out["done"] == FRAMES
    assert out["status"] == [0] * FRAMES
    assert out["outputs"] == host  # raw int8 bytes, every frame
    assert len(set(out["outputs"])) > 1  # the frames really differ
    # The arena sized at export (host measurement + margin) holds what the target actually used.
    assert 0 < out["arena"] <= r.budget.arena_bytes == summary["arena_bytes"]


def test_budget_table_for_all_boards(exported):
    d, summary, _ = exported
    env = {k: v for k, v in os.environ.items() if k != "AMBIQSUITE_DIR"}
    results = build.build_boards(list(build.BOARDS), model_dir=d, build_root=CACHE, app="selftest",
                                 model_bytes=summary["model_bytes"], env=env)
    assert [r.status for r in results] == ["built", "built", "link-only", "link-only"]
    for r in results:
        b = r.budget
        assert b.fits and b.arena_bytes == summary["arena_bytes"] and b.model_bytes == summary["model_bytes"]
        assert b.flash_bytes > summary["model_bytes"]  # the model is stored in the image
        assert b.ram_bytes >= b.arena_bytes + b.stack_bytes
    table = build.budget_mod.budget_table([r.to_dict() for r in results])
    assert table.row_count == 4


def test_export_hook_builds_the_protocol_firmware(exported, monkeypatch):
    """on_export(build_board=...) builds APP=main for every board; the QEMU image answers the serial
    protocol with the host TFLM outputs."""
    pytest.importorskip("sleepkit.protocol.client", reason="serial protocol client not in this tree")
    from sleepkit.protocol.client import ProtocolClient

    d, summary, host = exported
    monkeypatch.setenv("SLEEPKIT_FW_CACHE", str(CACHE))
    monkeypatch.delenv("AMBIQSUITE_DIR", raising=False)
    params = SimpleNamespace(name="tiny", tflm_var_name="g_model", tflm_file=None)
    report = integrate.on_export(params, d, d / "model.tflite", summary["arena_measured_bytes"], "mps2-an386")
    fb = report["firmware_build"]
    assert fb["ok"], fb["reason"]
    assert [b["board"] for b in fb["boards"]] == list(build.BOARDS)
    assert (d / "firmware_build.json").is_file()
    elf = fb["boards"][0]["elf"]
    q = np.load(d / "inputs.npy")
    with qemu.QemuRun(elf, "mps2-an386") as run, run.open_serial(timeout=10) as port:
        client = ProtocolClient(port, timeout=10)
        client.hello(timeout=10)
        info = client.info()
        assert (info.engine_name, info.model_name) == ("tflm", "tiny")
        assert info.input.bytes == q[0].size
        outputs = [client.run_frame(x.tobytes(), info.output.bytes).output for x in q]
    assert outputs == host

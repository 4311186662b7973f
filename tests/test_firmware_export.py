"""Export integration: generated headers, placement into the firmware model dir, build skips."""

from __future__ import annotations

import json
import re
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from tflite.BuiltinOperator import BuiltinOperator as B

from sleepkit.errors import SleepkitError
from sleepkit.firmware import headers, integrate
from test_firmware_ops import make_tflite


@pytest.fixture
def export_dir(tmp_path):
    d = tmp_path / "export"
    d.mkdir()
    make_tflite(d / "model.tflite", [(B.DEPTHWISE_CONV_2D, None), (B.CONV_2D, None), (B.FULLY_CONNECTED, None),
                                     (B.SOFTMAX, None)], use=[0, 1, 0, 1, 2, 3])
    data = (d / "model.tflite").read_bytes()
    (d / "model_buffer.h").write_text(
        "alignas(16) const unsigned char g_sleep[] = {" + ", ".join(str(b) for b in data) + "};\n"
        f"const unsigned int g_sleep_len = {len(data)};\n"
    )
    return d


def params(**kw):
    base = dict(name="stage-4", tflm_var_name="g_sleep", tflm_file=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_arena_margin_and_alignment():
    assert headers.arena_size(4576) == (4576 + 572 + 1024 + 15) // 16 * 16
    for measured in (1, 17, 4096, 123457):
        size = headers.arena_size(measured)
        assert size % 16 == 0 and size >= measured * 1.125 + 1024
    with pytest.raises(SleepkitError):
        headers.arena_size(0)


def test_on_export_writes_headers(export_dir):
    summary = integrate.on_export(params(), export_dir, export_dir / "model.tflite", 5000, None)
    model = (export_dir / "model.tflite").read_bytes()
    assert summary["ops"] == ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert summary["arena_bytes"] == headers.arena_size(5000)
    assert summary["model_crc32"] == f"0x{zlib.crc32(model):08x}"
    ops_h = (export_dir / "model_ops.h").read_text()
    assert "#define SK_MODEL_OP_COUNT 4" in ops_h and ops_h.count("!= kTfLiteOk") == 4
    assert "SK_TFLM_KERNELS := conv conv_common depthwise_conv depthwise_conv_common fully_connected " in (
        export_dir / "model_ops.mk").read_text()
    arena_h = (export_dir / "model_arena.h").read_text()
    assert f"#define SK_ARENA_BYTES {headers.arena_size(5000)}u" in arena_h
    info_h = (export_dir / "model_info.h").read_text()
    assert '#define SK_MODEL_NAME "stage-4"' in info_h
    assert f"#define SK_MODEL_HASH 0x{zlib.crc32(model):08x}u" in info_h
    assert f"#define SK_MODEL_BYTES {len(model)}u" in info_h
    assert re.search(r"#define SK_MODEL_DATA g_sleep\b", info_h)
    assert "firmware_build" not in summary


def test_tflm_file_places_everything_in_the_firmware_model_dir(export_dir, tmp_path):
    target = tmp_path / "fw" / "model" / "model_buffer.h"
    summary = integrate.on_export(params(tflm_file=target), export_dir, export_dir / "model.tflite", 5000, None)
    assert summary["firmware_model_dir"] == str(target.parent)
    for name in ("model_buffer.h", *integrate.GENERATED):
        assert (target.parent / name).read_bytes() == (export_dir / name).read_bytes()


def test_bad_inputs_name_the_file_or_field(export_dir):
    with pytest.raises(SleepkitError, match="tflm_var_name"):
        integrate.on_export(params(tflm_var_name="g_model"), export_dir, export_dir / "model.tflite", 5000, None)
    with pytest.raises(SleepkitError, match="not a valid C identifier"):
        integrate.on_export(params(tflm_var_name="1bad"), export_dir, export_dir / "model.tflite", 5000, None)
    (export_dir / "model_buffer.h").unlink()
    with pytest.raises(SleepkitError, match="model_buffer.h"):
        integrate.on_export(params(), export_dir, export_dir / "model.tflite", 5000, None)


def test_build_without_tflm_is_a_reason_not_a_crash(export_dir, monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    monkeypatch.delenv("TFLM_LIB", raising=False)
    summary = integrate.on_export(params(), export_dir, export_dir / "model.tflite", 5000, "mps2-an386")
    fb = summary["firmware_build"]
    assert fb["ok"] is False and fb["status"] == "skipped"
    assert len(fb["reason"].splitlines()) == 1
    assert json.loads((export_dir / "firmware_build.json").read_text()) == fb
    with pytest.raises(SleepkitError, match="unknown firmware board"):
        integrate.on_export(params(), export_dir, export_dir / "model.tflite", 5000, "apollo9")


def test_test_vectors_and_selftest_parsing():
    x = np.arange(-6, 6, dtype=np.int8).reshape(3, 1, 4)
    text = headers.test_vectors_header(x, "unit")
    assert "#define SK_TEST_COUNT 3u" in text and "#define SK_TEST_INPUT_BYTES 4u" in text
    assert "0xfa, 0xfb, 0xfc, 0xfd" in text  # -6..-3 as two's complement bytes
    with pytest.raises(SleepkitError):
        headers.test_vectors_header(x.astype(np.float32), "unit")
    uart = "SELFTEST tflm 0 3380 256 3 5\nOUT 0 0 9 d1d4db\nOUT 1 0 1 00ff7f\nDONE 2\n"
    parsed = headers.parse_selftest_output(uart)
    assert parsed["init"] == 0 and parsed["arena"] == 3380 and parsed["done"] == 2 and parsed["reps"] == 5
    assert parsed["outputs"] == [bytes.fromhex("d1d4db"), bytes.fromhex("00ff7f")]

"""model_buffer.h: bytes round-trip, valid C11 and C++ with a 16-byte-aligned array."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sleepkit.c_header import parse_model_header, render_model_header, write_model_header
from sleepkit.errors import SleepkitError

DATA = bytes(range(256)) * 3 + b"\x00\xff\x7f"  # every byte value, length not a multiple of 16


def test_round_trip_and_length(tmp_path):
    path = write_model_header(DATA, tmp_path / "model_buffer.h", "g_model", "toy")
    text = path.read_text()
    assert parse_model_header(text, "g_model") == DATA
    assert f"const unsigned int g_model_len = {len(DATA)};" in text
    assert text.count("#ifndef G_MODEL_MODEL_BUFFER_H") == 1 and "#endif /* G_MODEL_MODEL_BUFFER_H */" in text


def test_parse_rejects_length_mismatch_and_missing_array():
    text = render_model_header(DATA, "g_model").replace(f"= {len(DATA)};", f"= {len(DATA) + 1};")
    with pytest.raises(SleepkitError, match="g_model_len"):
        parse_model_header(text, "g_model")
    with pytest.raises(SleepkitError, match="no array 'other'"):
        parse_model_header(text, "other")


@pytest.mark.parametrize("name", ["1model", "g-model", "", "g model"])
def test_var_name_must_be_a_c_identifier(name):
    with pytest.raises(SleepkitError, match="tflm_var_name"):
        render_model_header(DATA, name)


PROGRAM = """
#include <stdint.h>
#include <stdio.h>
#include "model_buffer.h"
#include "model_buffer.h" /* include guard */
int main(void) {
    unsigned sum = 0;
    for (unsigned i = 0; i < g_model_len; ++i) sum += g_model[i];
    printf("%u %u %u\\n", (unsigned)sizeof(g_model), (unsigned)((uintptr_t)g_model % 16u), sum);
    return 0;
}
"""


@pytest.mark.parametrize("compiler, std, suffix", [("gcc", "-std=c11", "c"), ("g++", "-std=c++11", "cpp")])
def test_header_compiles_and_is_aligned(tmp_path, compiler, std, suffix):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    write_model_header(DATA, tmp_path / "model_buffer.h", "g_model")
    src = tmp_path / f"main.{suffix}"
    src.write_text(PROGRAM)
    exe = tmp_path / "main"
    subprocess.run([compiler, std, "-Wall", "-Werror", "-o", str(exe), str(src)], check=True, cwd=tmp_path)
    size, misalign, total = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    assert (int(size), int(misalign), int(total)) == (len(DATA), 0, sum(DATA))


def test_header_compiles_for_cortex_m(tmp_path):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    write_model_header(DATA, tmp_path / "model_buffer.h", "g_model")
    src = tmp_path / "use.c"
    src.write_text('#include "model_buffer.h"\n'
                   '_Static_assert(sizeof(g_model) == %d, "size");\n'
                   '_Static_assert(__alignof__(g_model) == 16, "alignment");\n'
                   'const unsigned char *model(void) { return g_model; }\n' % len(DATA))
    subprocess.run(["arm-none-eabi-gcc", "-std=c11", "-mcpu=cortex-m4", "-mthumb", "-Wall", "-Werror", "-c",
                    "-o", str(tmp_path / "use.o"), str(src)], check=True, cwd=tmp_path)

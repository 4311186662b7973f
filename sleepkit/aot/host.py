"""Build generated models for the host (gcc, shared library) and run them through ctypes.

Used to check the AOT engine against the host TFLM runtime and to benchmark it. Several models
generated with different ``var_prefix`` values can be linked into one library, so a test session
compiles once for many models.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import SleepkitError
from . import kernel_dir

_NP_DTYPES = {5: np.float32, 1: np.int8}  # SK_AOT_DTYPE_* (= the protocol's SK_DTYPE_*)


class _IO(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_uint8), ("ndims", ctypes.c_uint8), ("dims", ctypes.c_int32 * 5),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32), ("bytes", ctypes.c_uint32),
                ("data", ctypes.c_void_p)]


class _Model(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("hash", ctypes.c_uint32), ("arena_bytes", ctypes.c_uint32),
                ("weights_bytes", ctypes.c_uint32), ("num_ops", ctypes.c_uint32),
                ("num_inputs", ctypes.c_uint32), ("num_outputs", ctypes.c_uint32),
                ("inputs", ctypes.POINTER(_IO)), ("outputs", ctypes.POINTER(_IO)),
                ("invoke", ctypes.c_void_p)]


def kernel_sources() -> list[Path]:
    return sorted(kernel_dir().glob("*.c"))


def build_shared_library(model_dirs: Sequence[str | Path], out_path: str | Path, cc: str = "gcc",
                         opt: str = "-O2", extra_flags: Sequence[str] = (),
                         extra_sources: Sequence[str | Path] = ()) -> Path:
    """Compile the kernel library and every ``model_dir/model_aot.c`` into one shared library.

    Each model_aot.c includes its own model_aot.h from its directory (quoted includes search the
    including file's directory first), so the models must have distinct var_prefix values.
    """
    if shutil.which(cc) is None:
        raise SleepkitError(f"C compiler '{cc}' not found on PATH (needed to build the AOT model for the host)")
    out_path = Path(out_path)
    obj_dir = out_path.parent / (out_path.name + ".obj")
    obj_dir.mkdir(parents=True, exist_ok=True)
    sources = list(kernel_sources()) + [Path(d) / "model_aot.c" for d in model_dirs] + [Path(p) for p in extra_sources]
    flags = ["-std=c99", opt, "-fPIC", "-Wall", "-Wextra", "-Werror", f"-I{kernel_dir()}", *extra_flags]

    def compile_one(job: tuple[int, Path]) -> Path:
        i, src = job
        obj = obj_dir / f"{i:04d}_{src.stem}.o"
        res = subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        if res.returncode != 0:
            raise SleepkitError(f"host build of {src} failed:\n{res.stderr[-4000:]}")
        return obj

    # Generated models are independent translation units: compile them on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        objects = list(pool.map(compile_one, enumerate(sources)))
    res = subprocess.run([cc, "-shared", "-o", str(out_path), *map(str, objects)], capture_output=True, text=True)
    if res.returncode != 0:
        raise SleepkitError(f"linking {out_path} failed:\n{res.stderr[-4000:]}")
    return out_path


class HostModel:
    """A generated model inside a loaded host library."""

    def __init__(self, lib: ctypes.CDLL, var_prefix: str = "sk_model_") -> None:
        self._lib = lib
        self.info = _Model.in_dll(lib, var_prefix + "info")
        self._invoke = getattr(lib, var_prefix + "invoke")
        self._invoke.restype = ctypes.c_int
        self._invoke.argtypes = []

    @property
    def arena_bytes(self) -> int:
        return int(self.info.arena_bytes)

    def _io(self, which: str, i: int) -> _IO:
        return getattr(self.info, which)[i]

    def _view(self, io: _IO) -> np.ndarray:
        dtype = _NP_DTYPES[io.dtype]
        shape = tuple(io.dims[k] for k in range(io.ndims))
        buf = (ctypes.c_char * io.bytes).from_address(io.data)
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != self.info.num_inputs:
            raise ValueError(f"model takes {self.info.num_inputs} inputs, got {len(inputs)}")
        for i, x in enumerate(inputs):
            view = self._view(self._io("inputs", i))
            view[...] = np.asarray(x, dtype=view.dtype).reshape(view.shape)
        rc = self._invoke()
        if rc != 0:
            raise RuntimeError(f"invoke returned {rc}")
        return [self._view(self._io("outputs", i)).copy() for i in range(self.info.num_outputs)]


def load(lib_path: str | Path) -> ctypes.CDLL:
    return ctypes.CDLL(str(Path(lib_path).resolve()))

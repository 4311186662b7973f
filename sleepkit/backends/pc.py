"""``pc`` backend: the exported int8 model on this computer with TFLite's reference kernels.

Reference kernels are what TensorFlow Lite Micro implements bit for bit (export checks 0 LSB), so the
raw outputs here are the ones a correct ``evb`` device returns.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import SleepkitError
from ..quant import dequantize
from ..tflm_check import TensorQ, quantize_input, reference_interpreter
from .base import Backend, Inference, ModelIO


class PcBackend(Backend):
    name = "pc"

    def open(self) -> ModelIO:
        if not self.model_path.is_file():
            raise SleepkitError(f"exported model {self.model_path} does not exist; run `sleepkit export` first")
        try:
            self._interp = reference_interpreter(self.model_path.read_bytes())
        except SleepkitError as exc:
            raise SleepkitError(f"{self.model_path}: {exc}") from None
        din = self._interp.get_input_details()[0]
        dout = self._interp.get_output_details()[0]
        self._in_index, self._out_index = din["index"], dout["index"]
        (in_scale, in_zp), (out_scale, out_zp) = din["quantization"], dout["quantization"]
        self._qin = TensorQ(tuple(int(v) for v in din["shape"][1:]), din["dtype"], float(in_scale), int(in_zp))
        self._qout = TensorQ(tuple(int(v) for v in dout["shape"][1:]), dout["dtype"], float(out_scale), int(out_zp))
        self.io = ModelIO(
            input_shape=self._qin.shape, output_shape=self._qout.shape,
            input_scale=self._qin.scale, input_zero_point=self._qin.zero_point,
            output_scale=self._qout.scale, output_zero_point=self._qout.zero_point,
            input_dtype=np.dtype(din["dtype"]).name, output_dtype=np.dtype(dout["dtype"]).name,
            extra={"kernels": "tflite-reference"},
        )
        return self.io

    def infer(self, x: np.ndarray) -> Inference:
        x = np.asarray(x, dtype=np.float32)
        if x.shape != self._qin.shape:
            raise SleepkitError(f"pc backend: window shape {x.shape} does not match the model input {self._qin.shape}")
        self._interp.set_tensor(self._in_index, quantize_input(x, self._qin)[None])
        t0 = time.perf_counter()
        self._interp.invoke()
        dt = time.perf_counter() - t0
        raw = self._interp.get_tensor(self._out_index)[0].copy()
        if self._qout.dtype == np.float32:
            values = raw.astype(np.float32)
        else:
            values = dequantize(raw, self._qout.scale, self._qout.zero_point)
        return Inference(raw=raw, values=values, rtt_s=dt)

    def close(self) -> None:
        self._interp = None

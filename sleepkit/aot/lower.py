"""Lower each TFLite operator to one call of the C kernel library (firmware/engine/aot/sk_aot.h).

The checks TFLM's Prepare() makes that decide an op's arithmetic (shapes, padding, quantisation
constraints) are repeated here, so a model the kernels could not reproduce is refused at generate
time, naming the file, operator index and reason, instead of producing code that silently differs.
The quantisation constants follow ``quantmath``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SleepkitError
from . import quantmath as qm
from .reader import Graph, Operator, Tensor

SUPPORTED_OPS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MEAN", "RESHAPE", "SOFTMAX",
    "QUANTIZE", "DEQUANTIZE", "PAD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "LOGISTIC", "CONCATENATION",
    "EXPAND_DIMS", "SQUEEZE",
)
MAX_DIMS = 6
_MIN_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "MUL": 2, "MEAN": 2,
               "PAD": 2}


@dataclass(frozen=True)
class ConstRef:
    """A pointer to a constant array emitted by the generator (weights or per-op tables)."""

    key: str


@dataclass
class ConstArray:
    key: str
    ctype: str           # int8_t / int32_t
    values: np.ndarray


@dataclass
class Step:
    op: Operator
    kernel: str | None                    # None: RESHAPE-like alias, no code
    params_type: str | None = None
    params: dict = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)   # tensor ids passed as input pointers
    output: int = -1
    input_ctype: str = "int8_t"
    output_ctype: str = "int8_t"
    multi_input: bool = False             # CONCATENATION: inputs passed as a pointer array
    arrays: list[ConstArray] = field(default_factory=list)


class _Lowerer:
    def __init__(self, graph: Graph) -> None:
        self.g = graph

    # ---- helpers -------------------------------------------------------------------------
    def fail(self, op: Operator, msg: str) -> SleepkitError:
        return SleepkitError(f"{self.g.where(op)}: {msg}")

    def t(self, idx: int) -> Tensor:
        return self.g.tensors[idx]

    def int8_activation(self, op: Operator, idx: int, role: str) -> Tensor:
        if idx < 0:
            raise self.fail(op, f"{role} tensor is missing")
        t = self.t(idx)
        if t.type_name != "INT8":
            raise self.fail(op, f"{role} tensor '{t.name}' is {t.type_name}; the AOT engine runs int8 graphs only")
        if t.scales is None:
            raise self.fail(op, f"{role} tensor '{t.name}' has no quantisation parameters")
        return t

    def const(self, op: Operator, idx: int, role: str, type_name: str) -> Tensor:
        if idx < 0:
            raise self.fail(op, f"{role} tensor is missing")
        t = self.t(idx)
        if not t.is_constant:
            raise self.fail(op, f"{role} tensor '{t.name}' must be a constant")
        if t.type_name != type_name:
            raise self.fail(op, f"{role} tensor '{t.name}' is {t.type_name}, expected {type_name}")
        return t

    def activation(self, op: Operator, out: Tensor) -> tuple[int, int]:
        act = op.options.get("activation", "NONE")
        if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
            raise self.fail(op, f"fused activation {act} is not supported")
        return qm.activation_range(act, out.scale, out.zero_point)

    def _fold_input_offset(self, key: str, foldable: bool, input_offset: int, filter_sums: np.ndarray,
                           bias: Tensor | None, arrays: list[ConstArray]) -> tuple[int, ConstRef | None]:
        """Move ``input_offset * sum(filter)`` into a per-op bias so the kernel's MAC loop skips the add.

        Integer sums are exact and wrap identically, so the requantised result is unchanged. Only
        valid when every tap of every window is inside the input (padding taps are skipped by the
        reference kernels, which would make the folded sum wrong at the borders).
        """
        bias_ref = ConstRef(f"t{bias.index}") if bias is not None else None
        if not foldable or input_offset == 0:
            return input_offset, bias_ref
        base = bias.data.astype(np.int64).reshape(-1) if bias is not None else np.zeros(len(filter_sums), np.int64)
        folded = base + input_offset * filter_sums
        if folded.min() < -(1 << 31) or folded.max() >= (1 << 31):
            return input_offset, bias_ref
        arrays.append(ConstArray(f"{key}_bias", "int32_t", folded))
        return 0, ConstRef(f"{key}_bias")

    def optional_input(self, op: Operator, pos: int) -> int:
        return op.inputs[pos] if len(op.inputs) > pos else -1

    # ---- ops -----------------------------------------------------------------------------
    def lower(self, op: Operator) -> Step:
        if op.opname not in SUPPORTED_OPS:
            raise SleepkitError(
                f"{self.g.where(op)}: op {op.opname} is not supported by the AOT engine "
                f"(supported: {', '.join(SUPPORTED_OPS)})")
        if len(op.outputs) != 1:
            raise self.fail(op, f"expected 1 output, found {len(op.outputs)}")
        needed = _MIN_INPUTS.get(op.opname, 1)
        if len(op.inputs) < needed:
            raise self.fail(op, f"expected at least {needed} inputs, found {len(op.inputs)}")
        return getattr(self, "op_" + op.opname.lower())(op)

    def _conv_common(self, op: Operator, depthwise: bool) -> Step:
        o = op.options
        if not o:
            raise self.fail(op, "builtin options are missing")
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        flt = self.const(op, op.inputs[1], "filter", "INT8")
        bias_idx = self.optional_input(op, 2)
        bias = self.const(op, bias_idx, "bias", "INT32") if bias_idx >= 0 else None
        if len(inp.shape) != 4 or len(out.shape) != 4 or len(flt.shape) != 4:
            raise self.fail(op, f"expects 4-D input/filter/output, got {inp.shape}/{flt.shape}/{out.shape}")
        b, ih, iw, ic = inp.shape
        _, oh, ow, oc = out.shape
        if depthwise:
            _, kh, kw, foc = flt.shape
            fic = 1
            dm = int(o.get("depth_multiplier", 1))
            if foc != oc or ic * dm != oc:
                raise self.fail(op, f"depthwise shapes disagree: input channels {ic} x depth_multiplier {dm} != output channels {oc}")
        else:
            foc, kh, kw, fic = flt.shape
            dm = 1
            if foc != oc or ic % fic != 0 or oc % (ic // fic) != 0:
                raise self.fail(op, f"filter {flt.shape} does not match input channels {ic} / output channels {oc}")
        if bias is not None and bias.size != oc:
            raise self.fail(op, f"bias has {bias.size} values for {oc} output channels")
        if out.shape[0] != b:
            raise self.fail(op, "input and output batch differ")
        sh, sw, dh, dw = o["stride_h"], o["stride_w"], o["dilation_h"], o["dilation_w"]
        if min(sh, sw, dh, dw) < 1 or o["padding"] not in ("SAME", "VALID"):
            raise self.fail(op, f"invalid stride/dilation/padding {sh},{sw}/{dh},{dw}/{o['padding']}")
        exp_h = qm.out_size(o["padding"], ih, kh, sh, dh)
        exp_w = qm.out_size(o["padding"], iw, kw, sw, dw)
        if (exp_h, exp_w) != (oh, ow):
            raise self.fail(op, f"output {oh}x{ow} does not match the {o['padding']} padding result {exp_h}x{exp_w}")
        pad_h = qm.padding_before(sh, dh, ih, kh, oh)
        pad_w = qm.padding_before(sw, dw, iw, kw, ow)
        nscales = len(flt.scales) if flt.scales is not None else 0
        if nscales not in (1, oc):
            raise self.fail(op, f"filter has {nscales} scales for {oc} output channels")
        mults, shifts = qm.conv_channel_multipliers(inp.scale, flt.scales, out.scale, oc)
        act_min, act_max = self.activation(op, out)
        k = f"op{op.index}"
        arrays = [ConstArray(f"{k}_mult", "int32_t", np.array(mults, np.int64)),
                  ConstArray(f"{k}_shift", "int32_t", np.array(shifts, np.int64))]
        # Every window lies inside the input (no padding taps are skipped): the input offset can be
        # folded into the bias, as sum(f * (x + off)) == sum(f * x) + off * sum(f) exactly.
        inside = (pad_h == 0 and pad_w == 0 and (oh - 1) * sh + (kh - 1) * dh < ih
                  and (ow - 1) * sw + (kw - 1) * dw < iw)
        filter_sums = flt.data.astype(np.int64).sum(axis=(0, 1, 2) if depthwise else (1, 2, 3))
        input_offset, bias_ref = self._fold_input_offset(k, inside, -inp.zero_point, filter_sums, bias, arrays)
        params = dict(
            batches=b, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
            filter_in_c=fic, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_h=pad_h, pad_w=pad_w,
            depth_multiplier=dm, input_offset=input_offset, output_offset=out.zero_point,
            act_min=act_min, act_max=act_max, filter=ConstRef(f"t{flt.index}"), bias=bias_ref,
            multiplier=ConstRef(f"{k}_mult"), shift=ConstRef(f"{k}_shift"))
        kernel = "sk_aot_depthwise_conv_s8" if depthwise else "sk_aot_conv_s8"
        return Step(op, kernel, "sk_aot_conv_params_t", params, [inp.index], out.index, arrays=arrays)

    def op_conv_2d(self, op: Operator) -> Step:
        return self._conv_common(op, depthwise=False)

    def op_depthwise_conv_2d(self, op: Operator) -> Step:
        return self._conv_common(op, depthwise=True)

    def op_fully_connected(self, op: Operator) -> Step:
        o = op.options
        if o.get("weights_format", 0) != 0:
            raise self.fail(op, "shuffled FULLY_CONNECTED weights are not supported")
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        flt = self.const(op, op.inputs[1], "filter", "INT8")
        bias_idx = self.optional_input(op, 2)
        bias = self.const(op, bias_idx, "bias", "INT32") if bias_idx >= 0 else None
        if len(flt.shape) < 2 or not out.shape:
            raise self.fail(op, f"unexpected filter {flt.shape} / output {out.shape}")
        out_depth = out.shape[-1]
        accum = flt.shape[-1]
        batches = out.size // out_depth
        if flt.shape[-2] < out_depth or inp.size != batches * accum:
            raise self.fail(op, f"input {inp.shape}, filter {flt.shape} and output {out.shape} disagree")
        if bias is not None and bias.size != out_depth:
            raise self.fail(op, f"bias has {bias.size} values for {out_depth} outputs")
        per_channel = flt.scales is not None and len(flt.scales) > 1
        k = f"op{op.index}"
        if per_channel:
            if len(flt.scales) != out_depth:
                raise self.fail(op, f"filter has {len(flt.scales)} scales for {out_depth} outputs")
            mults, shifts = qm.conv_channel_multipliers(inp.scale, flt.scales, out.scale, out_depth)
            filter_offset = 0  # TFLM's per-channel kernel assumes symmetric weights
        else:
            m, s = qm.per_tensor_conv_multiplier(inp.scale, flt.scale, out.scale)
            mults, shifts = [m], [s]
            filter_offset = -flt.zero_point
        act_min, act_max = self.activation(op, out)
        arrays = [ConstArray(f"{k}_mult", "int32_t", np.array(mults, np.int64)),
                  ConstArray(f"{k}_shift", "int32_t", np.array(shifts, np.int64))]
        # With symmetric weights the input offset folds into the bias (see _fold_input_offset).
        filter_sums = flt.data.reshape(-1, accum)[:out_depth].astype(np.int64).sum(axis=1)
        input_offset, bias_ref = self._fold_input_offset(k, filter_offset == 0, -inp.zero_point, filter_sums,
                                                         bias, arrays)
        params = dict(
            batches=batches, accum_depth=accum, out_depth=out_depth, input_offset=input_offset,
            filter_offset=filter_offset, output_offset=out.zero_point, act_min=act_min, act_max=act_max,
            per_channel=int(per_channel), filter=ConstRef(f"t{flt.index}"), bias=bias_ref,
            multiplier=ConstRef(f"{k}_mult"), shift=ConstRef(f"{k}_shift"))
        return Step(op, "sk_aot_fully_connected_s8", "sk_aot_fc_params_t", params, [inp.index], out.index,
                    arrays=arrays)

    def _broadcast(self, op: Operator, s1: tuple, s2: tuple, so: tuple) -> dict:
        n = max(len(s1), len(s2))
        if n > MAX_DIMS or len(so) > MAX_DIMS:
            raise self.fail(op, f"broadcast rank above {MAX_DIMS}")
        e1 = (1,) * (MAX_DIMS - len(s1)) + tuple(s1)
        e2 = (1,) * (MAX_DIMS - len(s2)) + tuple(s2)
        eo = tuple(max(a, b) for a, b in zip(e1, e2))
        if any(a not in (1, c) or b not in (1, c) for a, b, c in zip(e1, e2, eo)):
            raise self.fail(op, f"shapes {s1} and {s2} do not broadcast")
        if int(np.prod(eo)) != (int(np.prod(so)) if so else 1):
            raise self.fail(op, f"output shape {so} does not match the broadcast of {s1} and {s2}")

        def strides(e: tuple) -> list[int]:
            st, acc = [0] * MAX_DIMS, 1
            for d in range(MAX_DIMS - 1, -1, -1):
                st[d] = 0 if (e[d] == 1 and eo[d] > 1) else acc
                acc *= e[d]
            return st

        return dict(flat_size=int(np.prod(eo)), broadcast=int(e1 != e2), out_dims=list(eo),
                    in1_strides=strides(e1), in2_strides=strides(e2))

    def _binary_operands(self, op: Operator) -> tuple[Tensor, Tensor, Tensor]:
        if len(op.inputs) != 2:
            raise self.fail(op, f"expected 2 inputs, found {len(op.inputs)}")
        a = self.int8_activation(op, op.inputs[0], "input 1")
        b = self.int8_activation(op, op.inputs[1], "input 2")
        out = self.int8_activation(op, op.outputs[0], "output")
        return a, b, out

    def op_add(self, op: Operator) -> Step:
        a, b, out = self._binary_operands(op)
        act_min, act_max = self.activation(op, out)
        params = dict(shape=self._broadcast(op, a.shape, b.shape, out.shape),
                      input1_offset=-a.zero_point, input2_offset=-b.zero_point,
                      **qm.add_params(a.scale, b.scale, out.scale),
                      output_offset=out.zero_point, act_min=act_min, act_max=act_max)
        return Step(op, "sk_aot_add_s8", "sk_aot_add_params_t", params, [a.index, b.index], out.index)

    def op_mul(self, op: Operator) -> Step:
        a, b, out = self._binary_operands(op)
        act_min, act_max = self.activation(op, out)
        m, s = qm.quantize_multiplier(float(a.scale) * float(b.scale) / float(out.scale))
        params = dict(shape=self._broadcast(op, a.shape, b.shape, out.shape),
                      input1_offset=-a.zero_point, input2_offset=-b.zero_point, output_offset=out.zero_point,
                      output_multiplier=m, output_shift=s, act_min=act_min, act_max=act_max)
        return Step(op, "sk_aot_mul_s8", "sk_aot_mul_params_t", params, [a.index, b.index], out.index)

    def op_mean(self, op: Operator) -> Step:
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        axis_t = self.const(op, op.inputs[1], "axis", "INT32")
        n = len(inp.shape)
        if n > MAX_DIMS:
            raise self.fail(op, f"input rank {n} above {MAX_DIMS}")
        axes: list[int] = []
        for a in axis_t.data.reshape(-1).tolist():
            a = a + n if a < 0 else a
            if not 0 <= a < n:
                raise self.fail(op, f"axis {a} out of range for rank {n}")
            if a not in axes:
                axes.append(a)
        strides = [int(np.prod(inp.shape[d + 1:])) for d in range(n)]
        kept = [d for d in range(n) if d not in axes]
        red = sorted(axes)
        num = int(np.prod([inp.shape[d] for d in red])) if red else 1
        if int(np.prod([inp.shape[d] for d in kept])) != out.size or num == 0:
            raise self.fail(op, f"output {out.shape} does not match reducing {inp.shape} over axes {axes}")
        m, s = qm.mean_multiplier(inp.scale, out.scale, num)

        def pad(v: list[int]) -> list[int]:
            return v + [0] * (MAX_DIMS - len(v))

        params = dict(num_kept=len(kept), num_reduced=len(red),
                      kept_dims=pad([inp.shape[d] for d in kept]), kept_strides=pad([strides[d] for d in kept]),
                      red_dims=pad([inp.shape[d] for d in red]), red_strides=pad([strides[d] for d in red]),
                      num_elements=num, input_zero_point=inp.zero_point, output_zero_point=out.zero_point,
                      multiplier=m, shift=s)
        return Step(op, "sk_aot_mean_s8", "sk_aot_mean_params_t", params, [inp.index], out.index)

    def op_softmax(self, op: Operator) -> Step:
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        if out.zero_point != -128 or np.float32(out.scale) != np.float32(1.0 / 256):
            raise self.fail(op, f"int8 output must have scale 1/256 and zero point -128 (has {out.scale}, {out.zero_point})")
        if not inp.shape:
            raise self.fail(op, "input must have at least 1 dimension")
        try:
            sp = qm.softmax_params(inp.scale, op.options.get("beta", 1.0))
        except ValueError as exc:
            raise self.fail(op, str(exc)) from exc
        depth = inp.shape[-1]
        params = dict(outer=inp.size // depth, depth=depth, **sp)
        return Step(op, "sk_aot_softmax_s8", "sk_aot_softmax_params_t", params, [inp.index], out.index)

    def op_logistic(self, op: Operator) -> Step:
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        if out.zero_point != -128:
            raise self.fail(op, f"int8 output zero point must be -128 (has {out.zero_point})")
        lp = qm.logistic_params(inp.scale, inp.zero_point)
        if lp["input_left_shift"] < 0:
            raise self.fail(op, f"input scale {inp.scale} is too small for TFLM's int8 LOGISTIC")
        params = dict(size=inp.size, **lp)
        return Step(op, "sk_aot_logistic_s8", "sk_aot_logistic_params_t", params, [inp.index], out.index)

    def _pool(self, op: Operator, kernel: str) -> Step:
        o = op.options
        if not o:
            raise self.fail(op, "builtin options are missing")
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        if len(inp.shape) != 4 or len(out.shape) != 4:
            raise self.fail(op, "expects 4-D input and output")
        if abs(np.float32(inp.scale) - np.float32(out.scale)) > 1e-6 or inp.zero_point != out.zero_point:
            raise self.fail(op, "input and output quantisation must match")
        b, ih, iw, c = inp.shape
        _, oh, ow, _ = out.shape
        fh, fw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]
        if (qm.out_size(o["padding"], ih, fh, sh, 1), qm.out_size(o["padding"], iw, fw, sw, 1)) != (oh, ow):
            raise self.fail(op, f"output {oh}x{ow} does not match the {o['padding']} padding result")
        ph = qm.padding_before(sh, 1, ih, fh, oh)
        pw = qm.padding_before(sw, 1, iw, fw, ow)
        for y in range(oh):
            for x in range(ow):
                ys, xs = y * sh - ph, x * sw - pw
                if min(fh, ih - ys) <= max(0, -ys) or min(fw, iw - xs) <= max(0, -xs):
                    raise self.fail(op, "a pooling window lies entirely in the padding (TFLM fails this)")
        act_min, act_max = self.activation(op, out)
        params = dict(batches=b, in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, filter_h=fh, filter_w=fw,
                      stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw, act_min=act_min, act_max=act_max)
        return Step(op, kernel, "sk_aot_pool_params_t", params, [inp.index], out.index)

    def op_average_pool_2d(self, op: Operator) -> Step:
        return self._pool(op, "sk_aot_avg_pool_s8")

    def op_max_pool_2d(self, op: Operator) -> Step:
        return self._pool(op, "sk_aot_max_pool_s8")

    def op_pad(self, op: Operator) -> Step:
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.int8_activation(op, op.outputs[0], "output")
        if len(op.inputs) != 2:
            raise self.fail(op, "PAD with a constant value input is PADV2-style and not supported")
        pads_t = self.t(op.inputs[1])
        if not pads_t.is_constant or pads_t.type_name not in ("INT32", "INT64"):
            raise self.fail(op, "paddings must be a constant INT32 tensor")
        pads = pads_t.data.reshape(-1, 2).astype(np.int64)
        n = len(inp.shape)
        if n > 5 or pads.shape[0] != n or len(out.shape) != n:
            raise self.fail(op, f"paddings {pads.tolist()} do not fit input rank {n} (TFLM allows up to 5)")
        for d in range(n):
            if pads[d].min() < 0 or inp.shape[d] + pads[d].sum() != out.shape[d]:
                raise self.fail(op, f"dimension {d}: {inp.shape[d]} + paddings {pads[d].tolist()} != {out.shape[d]}")
        fill = MAX_DIMS - n

        def ext(v: list[int], one: int) -> list[int]:
            return [one] * fill + list(v)

        params = dict(ndims=MAX_DIMS, in_dims=ext(inp.shape, 1), out_dims=ext(out.shape, 1),
                      before=ext([int(p) for p in pads[:, 0]], 0), pad_value=out.zero_point)
        return Step(op, "sk_aot_pad_s8", "sk_aot_pad_params_t", params, [inp.index], out.index)

    def op_concatenation(self, op: Operator) -> Step:
        out = self.int8_activation(op, op.outputs[0], "output")
        if op.options.get("activation", "NONE") != "NONE":
            raise self.fail(op, "fused activation on CONCATENATION is not supported (TFLM neither)")
        ins = [self.int8_activation(op, i, f"input {k}") for k, i in enumerate(op.inputs)]
        n = len(out.shape)
        axis = op.options.get("axis", 0)
        axis = axis + n if axis < 0 else axis
        if not 0 <= axis < n:
            raise self.fail(op, f"axis {op.options.get('axis')} out of range for rank {n}")
        for t in ins:
            if np.float32(t.scale) != np.float32(out.scale) or t.zero_point != out.zero_point:
                raise self.fail(op, f"input '{t.name}' quantisation differs from the output (TFLM requires equal)")
            if len(t.shape) != n or any(t.shape[d] != out.shape[d] for d in range(n) if d != axis):
                raise self.fail(op, f"input '{t.name}' shape {t.shape} does not fit output {out.shape}")
        if sum(t.shape[axis] for t in ins) != out.shape[axis]:
            raise self.fail(op, "input sizes along the axis do not add up to the output")
        inner = int(np.prod(out.shape[axis + 1:]))
        outer = int(np.prod(out.shape[:axis]))
        k = f"op{op.index}"
        sizes = np.array([t.shape[axis] * inner for t in ins], np.int64)
        params = dict(outer=outer, num_inputs=len(ins), copy_sizes=ConstRef(f"{k}_sizes"))
        return Step(op, "sk_aot_concat_s8", "sk_aot_concat_params_t", params, [t.index for t in ins], out.index,
                    multi_input=True, arrays=[ConstArray(f"{k}_sizes", "int32_t", sizes)])

    def op_quantize(self, op: Operator) -> Step:
        inp = self.t(op.inputs[0])
        out = self.int8_activation(op, op.outputs[0], "output")
        if out.scales is None or len(out.scales) != 1:
            raise self.fail(op, "output must be per-tensor quantised")
        if inp.type_name == "FLOAT32":
            params = dict(size=inp.size, zero_point=out.zero_point, scale=np.float32(out.scale))
            return Step(op, "sk_aot_quantize_f32_s8", "sk_aot_quantize_params_t", params, [inp.index], out.index,
                        input_ctype="float")
        self.int8_activation(op, inp.index, "input")
        m, s = qm.quantize_multiplier(float(inp.scale) / float(out.scale))
        params = dict(size=inp.size, input_zero_point=inp.zero_point, output_zero_point=out.zero_point,
                      multiplier=m, shift=s)
        return Step(op, "sk_aot_requantize_s8", "sk_aot_requantize_params_t", params, [inp.index], out.index)

    def op_dequantize(self, op: Operator) -> Step:
        inp = self.int8_activation(op, op.inputs[0], "input")
        out = self.t(op.outputs[0])
        if out.type_name != "FLOAT32":
            raise self.fail(op, f"output is {out.type_name}; only int8 -> float32 is supported")
        params = dict(size=inp.size, zero_point=inp.zero_point, scale=float(inp.scale))
        return Step(op, "sk_aot_dequantize_s8_f32", "sk_aot_dequantize_params_t", params, [inp.index], out.index,
                    output_ctype="float")

    def _alias(self, op: Operator) -> Step:
        inp, out = self.t(op.inputs[0]), self.t(op.outputs[0])
        if inp.nbytes != out.nbytes or inp.type_name != out.type_name:
            raise self.fail(op, f"input {inp.shape} {inp.type_name} and output {out.shape} {out.type_name} differ in size")
        return Step(op, None, inputs=[inp.index], output=out.index)

    op_reshape = op_expand_dims = op_squeeze = _alias


def lower_graph(graph: Graph) -> list[Step]:
    lw = _Lowerer(graph)
    unsupported = sorted({op.opname for op in graph.operators if op.opname not in SUPPORTED_OPS})
    if unsupported:
        first = next(op for op in graph.operators if op.opname in unsupported)
        raise SleepkitError(
            f"{graph.where(first)}: op(s) {', '.join(unsupported)} not supported by the AOT engine "
            f"(supported: {', '.join(SUPPORTED_OPS)})")
    return [lw.lower(op) for op in graph.operators]

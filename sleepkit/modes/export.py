"""Export mode: int8 TFLite for TensorFlow Lite Micro, verified before anything leaves job_dir.

Writes ``job_dir/export/``: ``model.tflite``, ``model_buffer.h`` (C array) and ``export.json`` (ops,
weights, MACs, TFLM arena, parity). Verification on the held-out test windows:

* Keras vs TFLite: share of frames whose predicted class agrees >= ``test_metric_threshold``;
* TFLite reference kernels vs host TFLM: identical int8 outputs (0 LSB) on every window.

A failed check raises ``VerificationError`` (exit 3) with both numbers and leaves the last verified
export untouched (the rejected model and its report go to ``export/rejected/``); ``tflm_file`` is only
written and the firmware hook only runs for a verified model.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from .. import data
from ..c_header import check_var_name, write_model_header
from ..errors import SleepkitError, VerificationError
from ..fsutil import write_bytes, write_text
from ..log import logger
from ..params import TaskParams
from ..tasks.base import Task
from ..tflm_check import io_details, op_list, tflm_arena_bytes, tflm_parity, weights_and_macs
from ..training.model_io import load_model

# Set by the CLI's ``--build BOARD``: the firmware hook then also builds for that board.
BUILD_BOARD: str | None = None

# Calibration windows drawn from the training subjects (enough to see each stage's feature range).
REPRESENTATIVE_WINDOWS = 200


def representative_windows(subjects: list[data.SubjectData], params: TaskParams, count: int) -> np.ndarray:
    bank = data.WindowBank(subjects, params.frame_size, params.num_classes)
    rng = np.random.default_rng(0 if params.seed is None else params.seed)
    sel = rng.integers(0, len(subjects), count)
    return bank.gather(sel, bank.random_starts(sel, rng))[0]


def _firmware_hook(params: TaskParams, export_dir: Path, tflite_path: Path, arena_bytes: int) -> dict:
    """Hand the verified model to the firmware integration (and build for BUILD_BOARD when set)."""
    from ..firmware.integrate import on_export

    summary = _aot_engine(params, export_dir, tflite_path)
    summary.update(on_export(params, export_dir, tflite_path, arena_bytes, BUILD_BOARD))
    return summary


def _aot_engine(params: TaskParams, export_dir: Path, tflite_path: Path) -> dict:
    """Generate sleepkit's own engine (model_aot.c/.h) so `make ENGINE=aot MODEL_DIR=<export dir>` builds
    without TFLM. Its kernels are bit-exact with TFLM's int8 reference kernels (tests/test_aot_*)."""
    from ..aot import generate

    # Same model name as model_info.h, so both engines report the same identity over the protocol.
    info = generate(tflite_path, export_dir, model_name=params.name)
    logger.info("aot engine: %s (activation peak %d B, %d kernel calls)", info["c_path"], info["peak_bytes"], info["kernel_calls"])
    return {"aot_source": str(info["c_path"]), "aot_activation_bytes": info["peak_bytes"]}


def run(params: TaskParams, task: Task) -> dict:
    from ..convert import convert_int8

    q = params.quantization
    if q.format != "int8":
        raise SleepkitError(f"quantization.format '{q.format}' is not supported for TFLite Micro export; use 'int8'")
    if not q.enabled:
        logger.info("quantization.enabled is false; export still applies int8 PTQ (the firmware runs int8 only)")
    var_name = check_var_name(params.tflm_var_name)
    if params.tflm_file is not None and not params.tflm_file.parent.is_dir():
        raise SleepkitError(f"tflm_file {params.tflm_file}: directory {params.tflm_file.parent} does not exist")
    split = data.subject_split(params)
    label_key = task.label_key_for(params)
    train_s = data.load_subjects(split.train, params, label_key)
    test_s = data.load_subjects(split.test, params, label_key)
    model = load_model(params, num_features=train_s[0].x.shape[1])
    from ..training.qat import is_qat_model

    qat = is_qat_model(model)
    if qat:
        logger.info("model_file is quantization-aware: activation ranges come from its fake-quant layers")

    tflite = convert_int8(model, representative_windows(train_s, params, REPRESENTATIVE_WINDOWS), q.io_type)
    export_dir = params.job_dir / "export"

    x_test, _ = data.eval_windows(test_s, params)
    parity = tflm_parity(tflite, x_test)
    ref_out = parity.pop("reference_outputs")
    keras_out = model.predict(x_test, batch_size=params.batch_size, verbose=0)
    agreement = float(np.mean(keras_out.argmax(-1) == ref_out.argmax(-1)))
    qin, qout = io_details(tflite)
    deq = ref_out.astype(np.float32) if qout.dtype == np.float32 else (ref_out.astype(np.float32) - qout.zero_point) * qout.scale
    arena = tflm_arena_bytes(tflite)
    weights, macs = weights_and_macs(tflite)
    ops = op_list(tflite)

    threshold = params.test_metric_threshold
    failures = []
    if parity["max_lsb"] != 0:
        failures.append(
            f"TFLite reference vs TFLM differ by up to {parity['max_lsb']} LSB on "
            f"{parity['windows_differing']} of {parity['windows']} windows (required: 0)"
        )
    if threshold is not None and agreement < threshold:
        failures.append(f"Keras vs TFLite class agreement {agreement:.4f} < test_metric_threshold {threshold}")
    # Only a verified model replaces the export: a rejected one goes to export/rejected/ for
    # inspection, and the last good model.tflite / headers stay as they were.
    out_dir = export_dir / "rejected" if failures else export_dir
    tflite_path = write_bytes(out_dir / "model.tflite", tflite)
    header_path = write_model_header(tflite, out_dir / "model_buffer.h", var_name, params.name)
    report = {
        "model_file": str(params.model_file or params.job_dir / "model.keras"),
        "tflite": str(tflite_path),
        "header": str(header_path),
        "tflite_bytes": len(tflite),
        "tflite_crc32": f"0x{zlib.crc32(tflite):08x}",
        "tflm_var_name": var_name,
        "io_type": q.io_type,
        "quantization_aware": qat,
        "input": {"shape": list(qin.shape), "scale": qin.scale, "zero_point": qin.zero_point},
        "output": {"shape": list(qout.shape), "scale": qout.scale, "zero_point": qout.zero_point},
        "ops": ops,
        "op_counts": {k: ops.count(k) for k in sorted(set(ops))},
        "keras_params": int(model.count_params()),
        "tflite_weights": weights,
        "macs": macs,
        "tflm_arena_bytes": arena,
        "parity": {
            "test_windows": parity["windows"],
            "tflite_vs_tflm_max_lsb": parity["max_lsb"],
            "tflite_vs_tflm_windows_differing": parity["windows_differing"],
            "keras_vs_tflite_agreement": agreement,
            "keras_vs_tflite_max_abs_error": float(np.max(np.abs(keras_out - deq))),
            "agreement_threshold": threshold,
        },
        "verified": not failures,
    }
    write_text(out_dir / "export.json", json.dumps(report, indent=2))
    if failures:
        kept = " (the previous verified export is unchanged)" if (export_dir / "model.tflite").is_file() else ""
        raise VerificationError(
            "export verification failed: " + "; ".join(failures) + f"; rejected model and report in {out_dir}{kept}"
        )
    if (export_dir / "rejected").is_dir():
        import shutil

        shutil.rmtree(export_dir / "rejected")
    logger.info(
        "verified: TFLM parity 0 LSB on %d windows, Keras agreement %.4f; arena %d B, %d MACs",
        parity["windows"], agreement, arena, macs,
    )

    summary = {
        "tflite": str(tflite_path),
        "tflite_bytes": len(tflite),
        "quantization_aware": qat,
        "ops": ", ".join(f"{k}x{v}" for k, v in report["op_counts"].items()),
        "params": report["keras_params"],
        "macs": macs,
        "tflm_arena_bytes": arena,
        "tflm_parity_max_lsb": parity["max_lsb"],
        "keras_tflite_agreement": round(agreement, 4),
    }
    if params.tflm_file is not None:
        write_bytes(params.tflm_file, header_path.read_bytes())
        summary["tflm_file"] = str(params.tflm_file)
    summary.update(_firmware_hook(params, export_dir, tflite_path, arena))
    return summary

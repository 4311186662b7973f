"""Export -> firmware: the hook the export mode calls after writing model.tflite and model_buffer.h.

``on_export`` writes, next to model_buffer.h in the export directory:

- ``model_ops.h``   MicroMutableOpResolver registration for exactly the model's ops (each Add checked)
- ``model_ops.mk``  the TFLM kernel sources those ops need (the firmware build compiles only these)
- ``model_arena.h`` the static arena size: host measurement + stated margin, 16-byte aligned
- ``model_info.h``  model name, CRC-32 and size, and the C array holding it (``tflm_var_name``)

With ``params.tflm_file`` set, the headers are also placed in the firmware's model directory
(model_buffer.h at ``tflm_file``, the others beside it). With ``build_board`` set ("all" or a board
name), the firmware is built when the toolchain and TFLM are available, and the flash/RAM budget of all
four boards is measured, printed and written to ``firmware_build.json``; a missing tool is reported
as a one-line reason, never a crash.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

from ..errors import SleepkitError
from ..fsutil import write_bytes, write_text
from ..log import logger
from . import headers, ops

GENERATED = ("model_ops.h", "model_ops.mk", "model_arena.h", "model_info.h")


def write_model_headers(
    export_dir: Path, tflite_path: Path, arena_bytes: int, model_name: str, var_name: str
) -> dict:
    """Write the generated headers into ``export_dir`` (beside model_buffer.h); return what was written."""
    export_dir, tflite_path = Path(export_dir), Path(tflite_path)
    buffer_header = export_dir / "model_buffer.h"
    if not buffer_header.is_file():
        raise SleepkitError(f"{buffer_header} not found: the export writes it before the firmware headers")
    try:
        model = tflite_path.read_bytes()
    except OSError as exc:
        raise SleepkitError(f"cannot read model {tflite_path}: {exc}") from None
    headers.check_model_buffer(buffer_header, var_name)
    op_list = ops.model_ops(tflite_path)
    source = tflite_path.name
    write_text(export_dir / "model_ops.h", ops.resolver_header(op_list, source))
    write_text(export_dir / "model_ops.mk", ops.ops_makefile(op_list, source))
    write_text(export_dir / "model_arena.h", headers.arena_header(arena_bytes, source))
    write_text(export_dir / "model_info.h", headers.info_header(model, model_name, var_name, source))
    return {
        "ops": op_list,
        "kernels": ops.kernel_sources(op_list),
        "arena_measured_bytes": int(arena_bytes),
        "arena_bytes": headers.arena_size(arena_bytes),
        "model_bytes": len(model),
        "model_crc32": f"0x{zlib.crc32(model) & 0xFFFFFFFF:08x}",
        "headers": [str(export_dir / name) for name in ("model_buffer.h", *GENERATED)],
    }


def place_in_firmware(export_dir: Path, tflm_file: Path) -> Path:
    """Copy model_buffer.h to ``tflm_file`` and the generated files beside it; return that directory."""
    export_dir, tflm_file = Path(export_dir), Path(tflm_file)
    dest = tflm_file.parent
    pairs = [(export_dir / "model_buffer.h", tflm_file)] + [(export_dir / n, dest / n) for n in GENERATED]
    for src, dst in pairs:
        if dst.resolve() == src.resolve():
            continue
        write_bytes(dst, src.read_bytes())
    logger.info("firmware model files placed in %s", dest)
    return dest


def on_export(params: Any, export_dir: Path, tflite_path: Path, arena_bytes: int, build_board: str | None) -> dict:
    # Absolute: make runs in firmware/, where a relative job_dir would point somewhere else.
    export_dir = Path(export_dir).resolve()
    var_name = getattr(params, "tflm_var_name", "g_model")
    name = getattr(params, "name", "model")
    summary = write_model_headers(export_dir, Path(tflite_path), arena_bytes, name, var_name)
    logger.info(
        "firmware: %d ops (%s), arena %d B (measured %d B)",
        len(summary["ops"]), " ".join(summary["ops"]), summary["arena_bytes"], summary["arena_measured_bytes"],
    )
    tflm_file = getattr(params, "tflm_file", None)
    if tflm_file:
        summary["firmware_model_dir"] = str(place_in_firmware(export_dir, Path(tflm_file)))
    if build_board:
        summary["firmware_build"] = _build(export_dir, build_board, summary["model_bytes"])
    return summary


def _build(export_dir: Path, build_board: str, model_bytes: int) -> dict:
    from . import build

    if build_board != "all" and build_board not in build.BOARDS:
        raise SleepkitError(f"unknown firmware board '{build_board}' (boards: all, {', '.join(build.BOARDS)})")
    missing = build.toolchain_missing() or build.tflm_missing()
    if missing:
        logger.warning("firmware build skipped: %s", missing)
        report = {"ok": False, "status": "skipped", "reason": missing, "boards": []}
        build.write_json(export_dir / "firmware_build.json", report)
        return report
    if not (build.FIRMWARE_DIR / "src" / "protocol.c").is_file():
        reason = "firmware/src/protocol.c is not in this tree: the protocol firmware cannot be built"
        logger.warning("firmware build skipped: %s", reason)
        report = {"ok": False, "status": "skipped", "reason": reason, "boards": []}
        build.write_json(export_dir / "firmware_build.json", report)
        return report
    # The requested board first; the budget table always covers every board.
    order = [build_board] + [b for b in build.BOARDS if b != build_board] if build_board != "all" else list(build.BOARDS)
    # SLEEPKIT_FW_CACHE lets exports share the compiled TFLM objects (they depend only on CPU and tree).
    cache = os.environ.get("SLEEPKIT_FW_CACHE")
    results = build.build_boards(order, model_dir=export_dir, build_root=export_dir / "firmware-build",
                                 model_bytes=model_bytes, tflm_cache=Path(cache) if cache else None)
    build.print_budget_table(results)
    requested = results if build_board == "all" else results[:1]
    ok = all(r.ok for r in requested)
    for r in results:
        if not r.ok:
            (logger.error if r in requested else logger.warning)("firmware %s: %s", r.board, r.reason)
    report = {
        "ok": ok,
        "status": "built" if ok else "failed",
        "reason": "; ".join(f"{r.board}: {r.reason}" for r in requested if not r.ok),
        "requested": build_board,
        "boards": [r.to_dict() for r in results],
    }
    build.write_json(export_dir / "firmware_build.json", report)
    if not ok:
        # The model itself is exported and verified; the requested firmware is not usable, so say so
        # with a non-zero exit rather than a summary line that is easy to miss.
        raise SleepkitError(f"firmware build for {build_board} failed: {report['reason']} (see {export_dir / 'firmware_build.json'})")
    return report


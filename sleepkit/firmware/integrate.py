"""Called by the export mode after it wrote model.tflite and model_buffer.h (placeholder, being filled in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_export(params: Any, export_dir: Path, tflite_path: Path, arena_bytes: int, build_board: str | None) -> dict:
    return {"firmware": "integration pending"}

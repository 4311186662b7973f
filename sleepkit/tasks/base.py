"""The task contract: what a task adds to the shared modes.

A task names the label array it trains on, how labels become classes (``class_map``), and any extra
metrics or report views. The modes themselves (``sleepkit.modes.*``) are shared by every task.
"""

from __future__ import annotations

import importlib

from ..params import TaskParams


class Task:
    name: str = "task"
    label_key: str = "stage"  # label array in the feature store

    def run(self, mode: str, params: TaskParams) -> dict:
        module = importlib.import_module(f"sleepkit.modes.{mode}")
        return module.run(params, self)

"""Sleep staging: 2, 3, 4 or 5 classes chosen by ``class_map`` over the base stage coding."""

from __future__ import annotations

from .base import Task


class StageTask(Task):
    name = "stage"
    label_key = "stage"

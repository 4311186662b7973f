"""The task contract: what a task adds to the shared modes.

A task names the label array it trains on, checks that ``class_map`` makes sense for it, and adds
task metrics (evaluate) and report views (demo). The modes themselves (``sleepkit.modes.*``) are
shared by every task; a task is configuration plus the few hooks below, never a copy of a mode.

Label key: ``feature.label_key`` selects the label array of the feature store when it is set to
anything but its default ``"labels"``; otherwise the task's own ``label_key`` is used (``stage``,
``apnea``, ``arousal``). CMIDSS nights, for instance, carry a ``sleep`` track:
``--set feature.label_key=sleep``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..params import TaskParams

if TYPE_CHECKING:  # data imports numpy only, but keep the import graph of the CLI small
    from ..data import SubjectData, Split

DEFAULT_LABEL_KEY = "labels"  # FeatureParams.label_key's default: "use the task's own key"

# Modes that read labels through the task (download and feature do not).
LABELLED_MODES = ("train", "evaluate", "export", "demo")


@dataclass
class SubjectResult:
    """One held-out night after inference: what the task metrics are computed from."""

    subject: "SubjectData"
    probs: np.ndarray  # [N, C] per-frame probabilities (stitched windows)
    pred: np.ndarray  # [N] predicted class per frame
    scored: np.ndarray  # [N] bool: frame has a label and a model output (valid & covered)

    @property
    def true(self) -> np.ndarray:
        return self.subject.y


@dataclass
class DemoView:
    """What a task adds to the demo report: a view name for ``sleepkit.report`` plus its data."""

    view: str = "stage"
    data: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


class Task:
    name: str = "task"
    label_key: str = "stage"  # label array in the feature store

    def label_key_for(self, params: TaskParams) -> str:
        key = params.feature.label_key
        return self.label_key if key in (None, "", DEFAULT_LABEL_KEY) else key

    def check(self, params: TaskParams) -> None:
        """Reject a configuration that cannot work for this task (raise SleepkitError)."""

    def run(self, mode: str, params: TaskParams) -> dict:
        if mode in LABELLED_MODES:
            self.check(params)
        module = importlib.import_module(f"sleepkit.modes.{mode}")
        return module.run(params, self)

    # --- evaluate -----------------------------------------------------------------------------------

    def subject_metrics(self, result: SubjectResult, params: TaskParams) -> dict:
        """Per-subject entries of metrics.json (true vs predicted), beyond accuracy."""
        return {}

    def summary_metrics(self, results: list[SubjectResult], per_subject: list[dict], params: TaskParams) -> dict:
        """Task sections of metrics.json computed from every test subject (e.g. ``"ahi"``)."""
        return {}

    def headline_metrics(self, scored: dict) -> dict:
        """A few task numbers (from ``summary_metrics``' sections) for the float vs int8 comparison."""
        return {}

    def baseline_metrics(self, results: list[SubjectResult], split: "Split", params: TaskParams) -> dict:
        """Sections comparing the model with a non-learned method on the same frames (e.g. ``"classic"``)."""
        return {}

    # --- demo ---------------------------------------------------------------------------------------

    def demo_view(self, night: "SubjectData", pred: np.ndarray, params: TaskParams) -> DemoView:
        return DemoView()

"""Name → class registries for datasets, feature sets, models, tasks and backends.

Built-ins are registered as ``"module:attribute"`` strings so that listing or selecting them does not
import heavy modules (TensorFlow costs seconds); the target is imported on first ``get``.

Users add their own::

    import sleepkit as sk
    sk.DatasetFactory.register("custom", CustomDataset)
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Generic, TypeVar

from .errors import SleepkitError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named registry. ``kind`` is used in messages ("unknown dataset 'x'")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str, target: Any, *, replace: bool = False) -> None:
        """Register ``target`` (a class/callable or a ``"module:attr"`` string) under ``name``."""
        key = name.lower()
        if key in self._items and not replace:
            existing = self._items[key]
            if existing is target or existing == target:
                return
            raise SleepkitError(f"{self.kind} '{name}' is already registered (pass replace=True to override)")
        self._items[key] = target

    def unregister(self, name: str) -> None:
        self._items.pop(name.lower(), None)

    def has(self, name: str) -> bool:
        return name.lower() in self._items

    def list(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str) -> T:
        key = name.lower()
        if key not in self._items:
            close = difflib.get_close_matches(key, self._items, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SleepkitError(
                f"unknown {self.kind} '{name}'.{hint} Available: {', '.join(self.list()) or '(none)'}"
            )
        target = self._items[key]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._items[key] = target
        return target


DatasetFactory: Registry = Registry("dataset")
FeatureFactory: Registry = Registry("feature set")
ModelFactory: Registry = Registry("model architecture")
TaskFactory: Registry = Registry("task")
BackendFactory: Registry = Registry("backend")

# Built-ins: module paths only, imported lazily.
for _name, _target in {
    "synthetic": "sleepkit.datasets.synthetic:SyntheticDataset",
    "byod": "sleepkit.datasets.byod:ByodDataset",
    "mesa": "sleepkit.datasets.mesa:MesaDataset",
    "stages": "sleepkit.datasets.stages:StagesDataset",
    "cmidss": "sleepkit.datasets.cmidss:CmidssDataset",
    "ysyw": "sleepkit.datasets.ysyw:YsywDataset",
    "apnea-ecg": "sleepkit.datasets.apnea_ecg:ApneaEcgDataset",
    "walch": "sleepkit.datasets.walch:WalchDataset",
}.items():
    DatasetFactory.register(_name, _target)

FeatureFactory.register("FS-W-PA-14", "sleepkit.features.fs_w_pa_14:FS_W_PA_14")
FeatureFactory.register("FS-W-A-5", "sleepkit.features.fs_w_a_5:FS_W_A_5")
FeatureFactory.register("FS-W-P-5", "sleepkit.features.fs_w_p_5:FS_W_P_5")
FeatureFactory.register("FS-W-P-40", "sleepkit.features.fs_w_p_40:FS_W_P_40")
FeatureFactory.register("FS-C-EAR-9", "sleepkit.features.fs_c_ear_9:FS_C_EAR_9")
FeatureFactory.register("FS-H-E-10", "sleepkit.features.fs_h_e_10:FS_H_E_10")
FeatureFactory.register("FS-RR-12", "sleepkit.features.fs_rr_12:FS_RR_12")
FeatureFactory.register("table", "sleepkit.features.table_import:TableFeatureSet")
FeatureFactory.register("WALCH-5", "sleepkit.features.table_import:WALCH_5")

ModelFactory.register("tcn", "sleepkit.models.tcn:build_tcn")
ModelFactory.register("unet", "sleepkit.models.unet:build_unet")
ModelFactory.register("resnet", "sleepkit.models.resnet:build_resnet")

TaskFactory.register("stage", "sleepkit.tasks.stage:StageTask")
TaskFactory.register("detect", "sleepkit.tasks.detect:DetectTask")
TaskFactory.register("apnea", "sleepkit.tasks.apnea:ApneaTask")
TaskFactory.register("arousal", "sleepkit.tasks.arousal:ArousalTask")

BackendFactory.register("pc", "sleepkit.backends.pc:PcBackend")
BackendFactory.register("evb", "sleepkit.backends.evb:EvbBackend")

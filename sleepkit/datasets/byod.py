"""``byod`` ("bring your own data"): EDF/EDF+ recordings with a user-given channel → role mapping.

Config example::

    {"name": "byod", "params": {"path": "recordings/",
                                "channels": {"ppg": "Pulse Waveform", "acc_x": "X Axis",
                                             "acc_y": "Y Axis", "acc_z": "Z Axis", "spo2": "Saturation"}}}

``path`` is one ``.edf`` file or a folder of them (subject id = file stem; ``.edf``/``.bdf`` in any
case). Each channel is read at its own rate in physical units; labels may hold non-ASCII text and match
exactly first, then ignoring case and spacing. Label import (``labels``) is not available yet:
recordings come without label tracks, which is enough for feature extraction and the demo.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SleepkitError
from ..log import logger
from .base import Dataset, Recording
from .edf import read_edf

EDF_SUFFIXES = (".edf", ".bdf")


class ByodDataset(Dataset):
    name = "byod"

    def __init__(self, path: str | Path | None = None, channels: dict[str, str] | None = None, labels: dict | None = None) -> None:
        where = "datasets[byod].params"
        if path is None:
            raise SleepkitError(f"{where}.path is required: an EDF file or a folder of EDF files")
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise SleepkitError(f"{where}.path: {self.path} does not exist")
        if not channels or not isinstance(channels, dict):
            raise SleepkitError(
                f"{where}.channels is required: a mapping role → EDF channel label, e.g. "
                '{"ppg": "Pulse Waveform", "spo2": "Saturation"}'
            )
        bad = {k: v for k, v in channels.items() if not isinstance(v, str) or not v.strip()}
        if bad:
            raise SleepkitError(f"{where}.channels: every role needs a channel label string (bad: {bad})")
        if labels:
            raise SleepkitError(
                f"{where}.labels: importing labels into byod recordings is not supported yet; remove 'labels'"
            )
        self.channels = dict(channels)
        if self.path.is_file():
            self._files = {self.path.stem: self.path}
        else:
            files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in EDF_SUFFIXES)
            if not files:
                raise SleepkitError(f"{where}.path: no .edf files in folder {self.path}")
            self._files = {}
            for f in files:
                if f.stem in self._files:
                    raise SleepkitError(f"{where}.path: two files give subject id '{f.stem}': {self._files[f.stem].name}, {f.name}")
                self._files[f.stem] = f

    def subject_ids(self) -> list[str]:
        return sorted(self._files)

    def load(self, subject_id: str) -> Recording:
        if subject_id not in self._files:
            raise SleepkitError(f"byod dataset at {self.path} has no subject '{subject_id}'")
        path = self._files[subject_id]
        roles = list(self.channels)
        header, signals = read_edf(path, [self.channels[r] for r in roles])
        logger.debug("%s: read %d channels with %s", path, len(signals), header["reader"])
        return Recording(
            subject_id=subject_id,
            signals={role: signals[self.channels[role]] for role in roles},
            labels={},
            source=str(path),
            meta={"reader": header["reader"], "fallback_reason": header.get("fallback_reason", "")},
        )

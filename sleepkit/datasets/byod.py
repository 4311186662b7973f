"""``byod`` ("bring your own data"): EDF/EDF+ recordings with a user-given channel → role mapping.

Config example::

    {"name": "byod", "params": {"path": "recordings/",
                                "channels": {"ppg": "Pulse Waveform", "acc_x": "X Axis",
                                             "acc_y": "Y Axis", "acc_z": "Z Axis", "spo2": "Saturation"}}}

``path`` is one ``.edf`` file or a folder of them (subject id = file stem; ``.edf``/``.bdf`` in any
case). Each channel is read at its own rate in physical units; labels may hold non-ASCII text and match
exactly first, then ignoring case and spacing.

``labels`` (optional) attaches scorings: a mapping from label track (``stage``, ``apnea``,
``arousal``) to a file path, or to ``{"path": ..., "format": ..., "mapping": {...}, "epoch": 30}``.
``{subject}`` in a path is replaced by the subject id, so a folder of recordings pairs with a folder
of scorings, e.g. ``{"stage": "scoring/{subject}-Hypnogram.edf"}``. Formats are those of
``sleepkit.datasets.hypnogram.load_hypnogram`` (EDF+ annotations, NSRR XML, CSV onset/duration/label,
one label per line); ``mapping`` maps the file's own labels to base codes (e.g. ``{"4": "REM"}`` for a
0-4 integer scoring). Labels are trimmed/padded to the signal length, and both are logged. Without
``labels`` recordings have no label tracks, which is enough for feature extraction and the demo.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SleepkitError
from ..log import logger
from .base import Dataset, LabelTrack, Recording
from .edf import read_edf
from .hypnogram import load_hypnogram

LABEL_TRACKS = ("stage", "apnea", "arousal")

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
        self.labels = self._check_labels(labels or {}, where)
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

    @staticmethod
    def _check_labels(labels: dict, where: str) -> dict[str, dict]:
        if not isinstance(labels, dict):
            raise SleepkitError(f"{where}.labels must be a mapping track -> file, got {type(labels).__name__}")
        out: dict[str, dict] = {}
        for track, spec in labels.items():
            if track not in LABEL_TRACKS:
                raise SleepkitError(f"{where}.labels: unknown track '{track}'; use one of {', '.join(LABEL_TRACKS)}")
            spec = {"path": spec} if isinstance(spec, str) else dict(spec) if isinstance(spec, dict) else None
            if not spec or not isinstance(spec.get("path"), str):
                raise SleepkitError(f"{where}.labels.{track}: give a file path or {{\"path\": ..., \"format\": ...}}")
            unknown = set(spec) - {"path", "format", "mapping", "epoch"}
            if unknown:
                raise SleepkitError(f"{where}.labels.{track}: unknown keys {sorted(unknown)}; allowed: path, format, mapping, epoch")
            out[track] = spec
        return out

    def _load_labels(self, subject_id: str, duration: float) -> dict[str, LabelTrack]:
        tracks: dict[str, LabelTrack] = {}
        for track, spec in self.labels.items():
            path = Path(spec["path"].replace("{subject}", subject_id)).expanduser()
            if not path.is_absolute() and not path.exists() and self.path.is_dir():
                path = self.path / path
            if not path.exists():
                raise SleepkitError(f"byod subject '{subject_id}': {track} scoring file {path} does not exist")
            tracks[track] = load_hypnogram(
                path, fmt=spec.get("format"), mapping=spec.get("mapping"), epoch=float(spec.get("epoch", 30.0)),
                kind=track, duration=duration,
            )
        return tracks

    def subject_ids(self) -> list[str]:
        return sorted(self._files)

    def load(self, subject_id: str) -> Recording:
        if subject_id not in self._files:
            raise SleepkitError(f"byod dataset at {self.path} has no subject '{subject_id}'")
        path = self._files[subject_id]
        roles = list(self.channels)
        header, signals = read_edf(path, [self.channels[r] for r in roles])
        logger.debug("%s: read %d channels with %s", path, len(signals), header["reader"])
        by_role = {role: signals[self.channels[role]] for role in roles}
        duration = min(sig.duration for sig in by_role.values())
        return Recording(
            subject_id=subject_id,
            signals=by_role,
            labels=self._load_labels(subject_id, duration),
            source=str(path),
            meta={"reader": header["reader"], "fallback_reason": header.get("fallback_reason", "")},
        )

"""MESA Sleep (NSRR ``mesa``): overnight PSG, NSRR XML scoring and wrist actigraphy.

Layout under ``path`` (as on sleepdata.org)::

    polysomnography/edfs/mesa-sleep-0001.edf
    polysomnography/annotations-events-nsrr/mesa-sleep-0001-nsrr.xml
    actigraphy/mesa-sleep-0001.csv             (30-s epochs: mesaid,line,linetime,offwrist,activity,...)
    overlap/mesa-actigraphy-psg-overlap.csv    (mesaid,line,...: the actigraphy line at PSG start)

Subjects are ``mesa-sleep-NNNN`` (``subjects`` also accepts ``NNNN``); an EDF without its XML is
skipped with a log line. Signals (roles): ``ecg`` (EKG), ``ppg`` (Pleth), ``spo2``, ``hr``, ``eeg``
(C4-M1), ``eog``, ``emg``, ``resp`` (Flow), ``resp_thor``, ``resp_abd``, ``position`` from the EDF;
``activity`` (Actiwatch counts per 30-s epoch, fs = 1/30, NaN where off-wrist or missing) aligned so
that the overlap file's line is PSG time 0. Labels: ``stage`` (30-s epochs), ``apnea`` and
``arousal`` (1 Hz), see ``nsrr.nsrr_label_tracks``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..log import logger
from .base import LabelTrack, Signal
from .nsrr import NsrrPsgDataset, nsrr_label_tracks, read_nsrr_xml

EDF_DIR = "polysomnography/edfs"
XML_DIR = "polysomnography/annotations-events-nsrr"
ACT_DIR = "actigraphy"
OVERLAP = "overlap/mesa-actigraphy-psg-overlap.csv"
_SUBJECT = re.compile(r"^mesa-sleep-(\d+)$")


def _mesa_id(subject: str) -> str:
    s = str(subject).strip()
    return f"mesa-sleep-{int(s):04d}" if s.isdigit() else s


def read_overlap(path: Path) -> dict[int, int]:
    """mesaid -> actigraphy line at the start of the PSG."""
    out: dict[int, int] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for n, row in enumerate(reader, start=2):
                try:
                    out[int(row["mesaid"])] = int(float(row["line"]))
                except (KeyError, TypeError, ValueError):
                    raise SleepkitError(f"{path}: row {n} needs integer 'mesaid' and 'line' (got {row})") from None
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    return out


def read_actigraphy(path: Path, first_line: int, duration: float) -> Signal:
    """Activity counts from line ``first_line`` on, one per 30-s epoch, covering ``duration`` seconds.
    Off-wrist epochs, missing lines and empty cells are NaN (the feature set masks them)."""
    n = max(math.ceil(duration / 30.0 - 1e-9), 0)
    values = np.full(n, np.nan, dtype=np.float32)
    offwrist = missing = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for col in ("line", "activity"):
                if col not in (reader.fieldnames or []):
                    raise SleepkitError(f"{path}: no '{col}' column (columns: {reader.fieldnames})")
            for row_no, row in enumerate(reader, start=2):
                try:
                    i = int(float(row["line"])) - first_line
                except (TypeError, ValueError):
                    raise SleepkitError(f"{path}: row {row_no}: 'line' is {row.get('line')!r}") from None
                if not 0 <= i < n:
                    continue
                if str(row.get("offwrist", "0")).strip() in ("1", "1.0"):
                    offwrist += 1
                    continue
                text = (row.get("activity") or "").strip()
                try:
                    values[i] = float(text)
                except ValueError:
                    missing += 1
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    absent = int(np.isnan(values).sum()) - offwrist - missing
    logger.info("%s: %d actigraphy epochs from line %d; NaN: %d off-wrist, %d empty, %d absent",
                path.name, n, first_line, offwrist, missing, absent)
    return Signal(values, 1.0 / 30.0, "counts/epoch")


class MesaDataset(NsrrPsgDataset):
    name = "mesa"
    slug = "mesa"
    CHANNELS = {
        "ecg": ["EKG", "ECG"],
        "ppg": ["Pleth"],
        "spo2": ["SpO2", "SaO2"],
        "hr": ["HR"],
        "eeg": ["EEG3", "C4-M1", "EEG1", "EEG2"],
        "eog": ["EOG-L", "E1", "EOG-R", "E2"],
        "emg": ["EMG", "Chin"],
        "resp": ["Flow", "Pres"],
        "resp_thor": ["Thor"],
        "resp_abd": ["Abdo"],
        "position": ["Pos"],
    }
    EXTRA_ROLES = ("activity",)

    def __init__(self, *args, actigraphy: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.subjects is not None:
            self.subjects = [_mesa_id(s) for s in self.subjects]
        self.actigraphy = bool(actigraphy)
        self._overlap: dict[int, int] | None = None

    def _all_subjects(self) -> list[str]:
        edf_dir = self.path / EDF_DIR
        if not edf_dir.is_dir():
            raise SleepkitError(f"mesa: no {EDF_DIR} folder under {self.path}")
        out = []
        no_xml = []
        for edf in sorted(edf_dir.glob("mesa-sleep-*.edf")):
            if not _SUBJECT.match(edf.stem):
                continue
            (out if self.xml_path(edf.stem).is_file() else no_xml).append(edf.stem)
        if no_xml:
            logger.warning("mesa: %d EDFs have no NSRR XML scoring and are skipped (e.g. %s)", len(no_xml), no_xml[0])
        return out

    def edf_path(self, subject_id: str) -> Path:
        return self.path / EDF_DIR / f"{subject_id}.edf"

    def xml_path(self, subject_id: str) -> Path:
        return self.path / XML_DIR / f"{subject_id}-nsrr.xml"

    def label_tracks(self, subject_id: str, duration: float) -> dict[str, LabelTrack]:
        xml = read_nsrr_xml(self.xml_path(subject_id))
        return nsrr_label_tracks(xml, self.epoch, self.event_fs, duration, self.mapping)

    def extra_signals(self, subject_id: str, duration: float) -> dict[str, Signal]:
        if not self.actigraphy or (self.signals is not None and "activity" not in self.signals):
            return {}
        act = self.path / ACT_DIR / f"{subject_id}.csv"
        overlap_path = self.path / OVERLAP
        if not act.is_file() or not overlap_path.is_file():
            logger.info("mesa: %s has no actigraphy (%s or %s missing)", subject_id, act.name, OVERLAP)
            return {}
        if self._overlap is None:
            self._overlap = read_overlap(overlap_path)
        mesaid = int(_SUBJECT.match(subject_id).group(1))
        if mesaid not in self._overlap:
            logger.info("mesa: %s is not in %s; no actigraphy", subject_id, OVERLAP)
            return {}
        return {"activity": read_actigraphy(act, self._overlap[mesaid], duration)}

    def download(self, dest: Path | None = None, force: bool = False, num_workers: int = 4, progress: bool = True) -> dict:
        from ..download.http import download_files
        from ..download.nsrr import NsrrClient

        dest = Path(dest or self.path)
        client = NsrrClient(self.slug, self.nsrr_url, self.token_env)
        wanted = set(self.subjects) if self.subjects is not None else None

        def keep(full_path: str) -> bool:
            if wanted is None or full_path == OVERLAP:
                return True
            stem = Path(full_path).name.split(".")[0].removesuffix("-nsrr")
            return stem in wanted

        folders = [EDF_DIR, XML_DIR] + ([ACT_DIR, "overlap"] if self.actigraphy else [])
        files = client.remote_files(folders, keep=keep)
        if wanted is not None:
            listed = {Path(f.path).stem for f in files if f.path.startswith(EDF_DIR + "/")}
            if wanted - listed:
                raise SleepkitError(f"mesa: no EDF on sleepdata.org for subject(s) {sorted(wanted - listed)[:10]}")
        return download_files(files, dest, client.source, force=force, num_workers=num_workers,
                              progress=progress).as_dict()

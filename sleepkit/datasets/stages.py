"""STAGES (NSRR ``stages``): clinical PSGs from 20 sites, scored in per-subject CSV files.

Layout under ``path`` (as on sleepdata.org; ``path`` may also be the ``STAGES PSGs`` folder)::

    original/STAGES PSGs/<SITE>/<SUBJECT>.edf      e.g. original/STAGES PSGs/BOGN/BOGN00004.edf
    original/STAGES PSGs/<SITE>/<SUBJECT>.csv      Start Time,Duration (seconds),Event

STAGES is *not* laid out like MESA (no ``polysomnography/edfs``, no NSRR XML): the scoring is a CSV of
clock times (HH:MM:SS, resolved against the EDF start time, wrapping past midnight) with stage rows
(Wake/Awake, Stage1-3, REM, UnknownStage) mixed with events (ObstructiveApnea, Hypopnea, Arousal,
Desaturation, LightsOff, ...). Files with '_' in the name are MSLT naps and are skipped.

Quirks handled (each logged with a count): stage rows with an empty or zero duration last one epoch
(or until the next stage row if that is sooner); stage durations that overrun the next stage row
(e.g. 2592000 s) are cut there; a gap between stage rows stays unscored; extra commas inside the event
name are kept in the name.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import datetime
from pathlib import Path

from ..errors import SleepkitError
from ..log import logger
from .base import LabelTrack
from .hypnogram import Annotation, align_track, edf_start, mask_where_unscored, rasterize_events, rasterize_stages
from .label_maps import compact_key, looks_like_stage
from .nsrr import NsrrPsgDataset

PSG_DIR = "original/STAGES PSGs"
# The stage names STAGES scorers use; every other row is an event (a 'Movement' event is not a stage).
STAGE_ROWS = {"wake", "awake", "stage1", "stage2", "stage3", "stage4", "rem", "unknownstage"}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*$")


def _clock_seconds(text: str) -> float | None:
    m = _CLOCK.match(text)
    if not m:
        return None
    h, mi, s, frac = m.groups()
    return int(h) * 3600 + int(mi) * 60 + int(s) + (float("0." + frac) if frac else 0.0)


def read_stages_csv(path: str | Path, start: datetime | None, epoch: float = 30.0,
                    mapping=None) -> list[Annotation]:
    """STAGES scoring rows as annotations in seconds from the EDF start (``start``; None = first row).
    Stage rows get ``type='stage'``, all other rows ``type='event'``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    rows = [r for r in csv.reader(io.StringIO(text), skipinitialspace=True) if any(c.strip() for c in r)]
    if not rows:
        raise SleepkitError(f"{path}: empty scoring file")
    head = [h.strip().lower() for h in rows[0]]
    if not head or not head[0].startswith("start"):
        raise SleepkitError(f"{path}: expected header 'Start Time,Duration (seconds),Event', got {rows[0]}")
    raw: list[tuple[float, float, str]] = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) < 3:
            raise SleepkitError(f"{path}: row {n} has {len(row)} fields, expected 3: {row}")
        clock = _clock_seconds(row[0])
        if clock is None:
            raise SleepkitError(f"{path}: row {n}, column 'Start Time': {row[0]!r} is not HH:MM:SS")
        dur_text = row[1].strip()
        try:
            duration = float(dur_text) if dur_text else math.nan
        except ValueError:
            raise SleepkitError(f"{path}: row {n}, column 'Duration (seconds)': {dur_text!r} is not a number") from None
        raw.append((clock, duration, ", ".join(c.strip() for c in row[2:])))
    origin = (start.hour * 3600 + start.minute * 60 + start.second) if start else raw[0][0]
    if start is None:
        logger.warning("%s: EDF start time unknown; times are relative to the first row", path.name)
    # clock times wrap at midnight: seconds since the EDF start, in [-1 h, 23 h)
    user = {compact_key(k) for k in (mapping or {}) if k != "*"}

    def kind(label: str) -> str:
        key = compact_key(label)
        return "stage" if key in STAGE_ROWS or key in user or looks_like_stage(label) else "event"

    out = [Annotation(((c - origin + 3600) % 86400) - 3600, d, e, kind(e)) for c, d, e in raw]
    return _fix_stage_durations(out, path.name, epoch)


def _fix_stage_durations(annotations: list[Annotation], source: str, epoch: float) -> list[Annotation]:
    idx = [i for i, a in enumerate(annotations) if a.type == "stage"]
    idx.sort(key=lambda i: annotations[i].onset)
    out = list(annotations)
    empty = overrun = 0
    for k, i in enumerate(idx):
        a = annotations[i]
        gap = annotations[idx[k + 1]].onset - a.onset if k + 1 < len(idx) else math.inf
        dur = a.duration
        if not (dur > 0):
            dur = min(epoch, gap)
            empty += 1
        elif dur > gap:
            dur = gap
            overrun += 1
        out[i] = Annotation(a.onset, float(dur), a.label, a.type)
    if empty or overrun:
        logger.info("%s: %d stage rows without a duration set to one epoch, %d overrunning rows cut at the next "
                    "stage row", source, empty, overrun)
    return out


def stages_label_tracks(csv_path: Path, start: datetime | None, duration: float, epoch: float = 30.0,
                        event_fs: float = 1.0, mapping=None) -> dict[str, LabelTrack]:
    anns = read_stages_csv(csv_path, start, epoch, mapping)
    src = csv_path.name
    stage = rasterize_stages(anns, epoch, src, mapping, strict=True)  # event rows are skipped by type
    stage = align_track(stage, duration, src, what="stage labels")
    apnea = rasterize_events(anns, event_fs, src, "apnea", duration, mapping)
    arousal = rasterize_events(anns, event_fs, src, "arousal", duration, mapping)
    return {"stage": stage, "apnea": mask_where_unscored(apnea, stage), "arousal": mask_where_unscored(arousal, stage)}


class StagesDataset(NsrrPsgDataset):
    name = "stages"
    slug = "stages"
    CHANNELS = {
        "ecg": ["ECG", "EKG", "ECG1", "EKG1", "ECG I", "ECG II", "ECG_I", "ECG_II", "EKG #1", "ECG 1"],
        "ppg": ["Pleth", "PLETH", "Plethysmogram", "PlethWV", "Pulse Waveform"],
        "spo2": ["SpO2", "SaO2", "SPO2", "SAO2", "Nonin sat", "Sat", "Saturation"],
        "hr": ["Pulse", "PulseRate", "HR", "Pulse Rate"],
        "eeg": ["C4-M1", "C4M1", "C4-A1", "EEG C4-A1", "C3-M2", "C3M2", "C3-A2", "EEG C3-A2", "C4", "C3"],
        "eog": ["E1-M2", "E1M2", "E1", "LOC", "EOG LOC-A2", "L-EOG", "E1 (LEOG)", "E2-M1", "E2", "ROC"],
        "emg": ["Chin", "CHIN", "Chin1-Chin2", "EMG", "EMG Chin", "Chin EMG", "CHIN1"],
        "resp": ["Nasal Pressure", "NASAL PRESSURE", "Airflow", "Flow", "Pressure", "Nasal", "Therm"],
        "resp_thor": ["Chest", "CHEST", "THOR", "Thorax", "Effort THO"],
        "resp_abd": ["Abdomen", "ABD", "ABDM", "Abd", "Effort ABD"],
    }

    def _psg_root(self) -> Path:
        nested = self.path / PSG_DIR
        return nested if nested.is_dir() else self.path

    def _all_subjects(self) -> list[str]:
        root = self._psg_root()
        found, no_csv, mslt = [], [], 0
        for edf in sorted(root.glob("*/*.edf")) + sorted(root.glob("*.edf")):
            if "_" in edf.stem:
                mslt += 1
                continue
            (found if edf.with_suffix(".csv").is_file() else no_csv).append(edf.stem)
        if mslt:
            logger.info("stages: %d files with '_' in the name (MSLT naps) skipped", mslt)
        if no_csv:
            logger.warning("stages: %d EDFs have no scoring CSV and are skipped (e.g. %s)", len(no_csv), no_csv[0])
        if not found and not no_csv:
            raise SleepkitError(f"stages: no '<SITE>/<SUBJECT>.edf' files under {root} (expected {PSG_DIR}/...)")
        return sorted(found)

    def edf_path(self, subject_id: str) -> Path:
        root = self._psg_root()
        site = re.match(r"^[A-Za-z]+", subject_id)
        direct = root / (site.group(0) if site else "") / f"{subject_id}.edf"
        if direct.is_file():
            return direct
        hits = sorted(root.glob(f"*/{subject_id}.edf")) + sorted(root.glob(f"{subject_id}.edf"))
        return hits[0] if hits else direct

    def label_tracks(self, subject_id: str, duration: float) -> dict[str, LabelTrack]:
        edf = self.edf_path(subject_id)
        csv_path = edf.with_suffix(".csv")
        if not csv_path.is_file():
            raise SleepkitError(f"stages: scoring file for '{subject_id}' not found: {csv_path}")
        return stages_label_tracks(csv_path, edf_start(edf), duration, self.epoch, self.event_fs, self.mapping)

    def download(self, dest: Path | None = None, force: bool = False, num_workers: int = 4, progress: bool = True) -> dict:
        from ..download.http import download_files
        from ..download.nsrr import NsrrClient

        dest = Path(dest or self.path)
        client = NsrrClient(self.slug, self.nsrr_url, self.token_env)
        wanted = set(self.subjects) if self.subjects is not None else None

        def keep(full_path: str) -> bool:
            name = Path(full_path).name
            stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
            if suffix.lower() not in ("edf", "csv") or "_" in stem:
                return False
            return wanted is None or stem in wanted

        files = client.remote_files([PSG_DIR], keep=keep)
        if wanted is not None:
            listed = {Path(f.path).stem for f in files if f.path.lower().endswith(".edf")}
            if wanted - listed:
                raise SleepkitError(f"stages: no EDF on sleepdata.org for subject(s) {sorted(wanted - listed)[:10]}")
        return download_files(files, dest, client.source, force=force, num_workers=num_workers,
                              progress=progress).as_dict()


"""NSRR (sleepdata.org) building blocks: the NSRR XML annotation reader and the EDF + annotation
dataset base shared by MESA and STAGES.

NSRR XML (``*-nsrr.xml``)::

    <PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents>
      <ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept>
                   <Start>0</Start><Duration>37350.0</Duration><ClockTime>00.00.00 20.36.05</ClockTime>
      <ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 2 sleep|2</EventConcept>
                   <Start>600</Start><Duration>90</Duration></ScoredEvent>   (may span several epochs)
      <ScoredEvent><EventType>Respiratory|Respiratory</EventType>
                   <EventConcept>Obstructive apnea|Obstructive Apnea</EventConcept> ...
      <ScoredEvent><EventType>Arousals|Arousals</EventType><EventConcept>Arousal|Arousal ()</EventConcept> ...

Start and Duration are seconds from the start of the EDF. 'Respiratory|Respiratory' also holds SpO2
desaturations and artefacts: only the airflow events in ``label_maps.APNEA_VOCAB`` become apnea labels.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import SleepkitError
from ..log import logger
from .base import Dataset, LabelTrack, Recording, Signal, channel_candidates
from .hypnogram import Annotation, align_track, mask_where_unscored, rasterize_events, rasterize_stages
from .label_maps import LabelMapper, is_arousal_label, label_key


def _type_key(event_type: str) -> str:
    return label_key(event_type).split("|", 1)[0]


@dataclass
class NsrrXml:
    path: Path
    epoch_length: float
    annotations: list[Annotation]  # label = EventConcept, type = EventType
    duration: float | None  # of the recording, from the 'Recording Start Time' event
    clock_time: str | None

    def stage_annotations(self) -> list[Annotation]:
        stage_mapper = LabelMapper("stage", self.path.name)
        return [
            a for a in self.annotations
            if _type_key(a.type) == "stages" or (not a.type and stage_mapper.knows(a.label))
        ]

    def selector(self, kind: str):
        if kind == "apnea":
            return lambda a: _type_key(a.type) == "respiratory"
        if kind == "arousal":
            return lambda a: _type_key(a.type) == "arousals" or is_arousal_label(a.label)
        raise SleepkitError(f"{self.path}: no NSRR event type for label kind {kind!r}")


def _text(elem: ET.Element, tag: str) -> str | None:
    child = elem.find(tag)
    return child.text.strip() if child is not None and child.text is not None else None


def read_nsrr_xml(path: str | Path) -> NsrrXml:
    """Parse an NSRR XML annotation file; every malformed field is a SleepkitError naming it."""
    path = Path(path)
    if not path.is_file():
        raise SleepkitError(f"NSRR annotation file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SleepkitError(f"{path}: not valid XML ({exc})") from None
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    epoch_text = _text(root, "EpochLength")
    try:
        epoch_length = float(epoch_text) if epoch_text else 30.0
    except ValueError:
        raise SleepkitError(f"{path}: EpochLength is {epoch_text!r}, not a number of seconds") from None
    events = root.findall("./ScoredEvents/ScoredEvent")
    if not events:
        raise SleepkitError(f"{path}: no ScoredEvents/ScoredEvent elements (is this an NSRR XML file?)")
    annotations: list[Annotation] = []
    duration = clock = None
    for i, ev in enumerate(events):
        concept = _text(ev, "EventConcept") or ""
        etype = _text(ev, "EventType") or ""
        values = {}
        for tag in ("Start", "Duration"):
            raw = _text(ev, tag)
            try:
                values[tag] = float(raw) if raw not in (None, "") else math.nan
            except ValueError:
                raise SleepkitError(
                    f"{path}: ScoredEvent #{i + 1} ({concept!r}) field {tag} is {raw!r}, not a number of seconds"
                ) from None
        if math.isnan(values["Start"]):
            raise SleepkitError(f"{path}: ScoredEvent #{i + 1} ({concept!r}) has no Start")
        if label_key(concept) == "recording start time":
            duration = values["Duration"] if values["Duration"] > 0 else None
            clock = _text(ev, "ClockTime")
            continue
        annotations.append(Annotation(values["Start"], values["Duration"], concept, etype))
    return NsrrXml(path, epoch_length, annotations, duration, clock)


def nsrr_label_tracks(
    xml: NsrrXml,
    epoch: float = 30.0,
    event_fs: float = 1.0,
    duration: float | None = None,
    mapping: Mapping[str, object] | None = None,
) -> dict[str, LabelTrack]:
    """``stage`` (per epoch), ``apnea`` and ``arousal`` (``event_fs`` Hz) tracks from one NSRR XML;
    aligned to ``duration`` seconds of signal when given, events masked where stage is unscored."""
    src = xml.path.name
    stage = rasterize_stages(xml.stage_annotations(), epoch, src, mapping, strict=True)
    span = duration if duration is not None else (xml.duration or len(stage.values) * epoch)
    apnea = rasterize_events(xml.annotations, event_fs, src, "apnea", span, mapping, select=xml.selector("apnea"))
    arousal = rasterize_events(xml.annotations, event_fs, src, "arousal", span, mapping,
                               select=xml.selector("arousal"))
    if duration is not None:
        stage = align_track(stage, duration, src, what="stage labels")
    return {"stage": stage, "apnea": mask_where_unscored(apnea, stage),
            "arousal": mask_where_unscored(arousal, stage)}


# ---------------------------------------------------------------------------------------------
# EDF channel roles


def _chan_key(label: str) -> str:
    return re.sub(r"[^a-z0-9]", "", label.casefold())


def resolve_channels(
    available: list[str], candidates: Mapping[str, list[str]], source: str, wanted: list[str] | None = None
) -> dict[str, str]:
    """Role -> EDF label: the first candidate label present (ignoring case, spaces and punctuation).

    Roles in ``wanted`` must resolve (SleepkitError listing the file's labels); other roles are
    optional and skipped with a log line."""
    keys = {_chan_key(lbl): lbl for lbl in reversed(available)}
    roles = list(wanted) if wanted is not None else list(candidates)
    out: dict[str, str] = {}
    missing: list[str] = []
    for role in roles:
        if role not in candidates:
            raise SleepkitError(f"{source}: unknown signal role {role!r}; known roles: {', '.join(candidates)}")
        hit = next((keys[_chan_key(c)] for c in candidates[role] if _chan_key(c) in keys), None)
        if hit is None:
            missing.append(role)
        else:
            out[role] = hit
    if missing and wanted is not None:
        role = missing[0]
        raise SleepkitError(
            f"{source}: no channel for signal role {role!r} (looked for {', '.join(candidates[role])}). "
            f"Channels in the file: {', '.join(available)}. Add the right label with channels={{'{role}': ['<label>']}}"
        )
    if missing:
        logger.info("%s: no channel for optional role(s) %s", source, ", ".join(missing))
    return out


class NsrrPsgDataset(Dataset):
    """EDF polysomnography + scoring file per subject, laid out as on sleepdata.org.

    Params (all datasets built on it): ``path`` (dataset root), ``subjects`` (ids to use; default all),
    ``signals`` (roles to load; default every role found), ``channels`` ({role: [EDF labels]} tried
    before the built-in candidates), ``epoch`` (stage epoch, s), ``event_fs`` (apnea/arousal labels
    per second), ``mapping`` (extra label -> code entries), ``nsrr_url`` and ``token_env`` (download).
    """

    name = "nsrr"
    slug = ""  # sleepdata.org dataset slug
    CHANNELS: dict[str, list[str]] = {}

    def __init__(
        self,
        path: str | Path = "datasets",
        subjects: list[str] | None = None,
        signals: list[str] | None = None,
        channels: dict[str, list[str]] | None = None,
        epoch: float = 30.0,
        event_fs: float = 1.0,
        mapping: dict[str, object] | None = None,
        nsrr_url: str = "https://sleepdata.org",
        token_env: str = "NSRR_TOKEN",
    ) -> None:
        self.path = Path(path)
        self.subjects = [str(s) for s in subjects] if subjects is not None else None
        self.signals = list(signals) if signals is not None else None
        self.channels = channel_candidates(channels, self.CHANNELS)
        self.epoch = float(epoch)
        self.event_fs = float(event_fs)
        self.mapping = mapping
        self.nsrr_url = nsrr_url
        self.token_env = token_env

    # subclasses -------------------------------------------------------------------------------
    def _all_subjects(self) -> list[str]:
        raise NotImplementedError

    def edf_path(self, subject_id: str) -> Path:
        raise NotImplementedError

    def label_tracks(self, subject_id: str, duration: float) -> dict[str, LabelTrack]:
        raise NotImplementedError

    def extra_signals(self, subject_id: str, duration: float) -> dict[str, Signal]:
        return {}

    # shared -----------------------------------------------------------------------------------
    def _require_root(self) -> None:
        if not self.path.is_dir():
            raise SleepkitError(
                f"{self.name}: dataset folder {self.path} does not exist; set the dataset's 'path' param "
                f"or run 'sleepkit download' first"
            )

    def subject_ids(self) -> list[str]:
        self._require_root()
        found = self._all_subjects()
        if self.subjects is None:
            return found
        absent = sorted(set(self.subjects) - set(found))
        if absent:
            raise SleepkitError(f"{self.name}: subjects not found under {self.path}: {', '.join(absent[:10])}")
        return sorted(self.subjects)

    def load(self, subject_id: str) -> Recording:
        from .edf import ANNOTATION_LABELS, read_edf, read_edf_header

        edf = self.edf_path(subject_id)
        if not edf.is_file():
            raise SleepkitError(f"{self.name}: EDF for subject '{subject_id}' not found: {edf}")
        hdr = read_edf_header(edf)
        labels = [lbl for lbl in hdr["labels"] if lbl not in ANNOTATION_LABELS]
        duration = float(hdr["n_records"] * hdr["record_duration"])
        if self.signals is None:  # every role the file has
            role_to_label = resolve_channels(labels, self.channels, edf.name)
        else:
            wanted = [r for r in self.signals if r in self.channels]
            role_to_label = resolve_channels(labels, self.channels, edf.name, wanted)
        signals: dict[str, Signal] = {}
        if role_to_label:
            info, by_label = read_edf(edf, labels=sorted(set(role_to_label.values())))
            duration = float(info["n_records"] * info["record_duration"]) or duration
            signals = {role: by_label[lbl] for role, lbl in role_to_label.items()}
        extra = self.extra_signals(subject_id, duration)
        if self.signals is not None:
            missing = [r for r in self.signals if r not in signals and r not in extra]
            if missing:
                raise SleepkitError(f"{self.name}: subject '{subject_id}' has no signal for role(s) {missing}")
            extra = {k: v for k, v in extra.items() if k in self.signals}
        signals.update(extra)
        tracks = self.label_tracks(subject_id, duration)
        return Recording(
            subject_id=subject_id,
            signals=signals,
            labels=tracks,
            source=str(edf),
            meta={"dataset": self.name, "channels": role_to_label, "edf_duration_s": duration},
        )

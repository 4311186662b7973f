"""Hypnogram and event-annotation readers, plus the trim/pad policy that aligns labels to signals.

Readers (``fmt``):

* ``edf``   EDF+ annotation files (Sleep-EDF ``*-Hypnogram.edf``, HMC ``*_sleepscoring.edf``) and the
  annotation channel of an EDF+ recording. pyedflib reads them; a file pyedflib refuses (e.g. UTF-8
  bytes in a channel label) is read by the built-in TAL parser instead, and the log says so.
* ``nsrr``  NSRR XML (``*-nsrr.xml``; ``ScoredEvent`` with ``EventType`` 'Stages|Stages' ...).
* ``csv``   a table with ``onset`` (s), ``duration`` (s) and ``label`` columns (common aliases
  accepted), or with only a ``label`` column (one row per epoch).
* ``txt``   one label per line, one line per epoch (``#`` comments skipped).
* ``wfdb``  WFDB annotation files (``.apn`` Apnea-ECG minute labels, ``.arousal`` stage changes and
  paired ``(event`` / ``event)`` markers).

Rasterising (``epoch`` seconds per label): epoch *i* covers [i*epoch, (i+1)*epoch) and takes the
label of the annotation covering its midpoint; epochs no stage annotation covers are ``UNSCORED``.
Zero-length annotations are markers (e.g. 'Lights off@@EEG F4-A1'): ignored and counted.
Stage annotations without a duration last until the next stage annotation.

Alignment (``align_track``): labels that run past the signal are trimmed, labels that stop before
it are padded with ``UNSCORED``; both are logged with the seconds and epochs involved. A partial
last epoch (signal ends inside it) keeps its label for the samples it covers, and
``track_to_samples`` expands per-epoch labels to per-sample labels with the same ``floor`` rule as
``LabelTrack.at`` (no off-by-one at the last epoch).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..errors import SleepkitError
from ..labels import UNSCORED
from ..log import logger
from .base import LabelTrack
from .label_maps import LabelMapper, code_counts, is_non_stage_marker, looks_like_stage


@dataclass(frozen=True)
class Annotation:
    onset: float  # seconds from the start of the recording
    duration: float  # seconds; 0 = marker; NaN = not given
    label: str
    type: str = ""  # source event type (NSRR EventType; "event" for paired WFDB markers)


# ---------------------------------------------------------------------------------------------
# EDF / EDF+ header and TAL annotations


def _parse_edf_datetime(date: str, time: str) -> datetime | None:
    m_d = re.match(r"^\s*(\d{1,2})\D(\d{1,2})\D(\d{2})\s*$", date)
    m_t = re.match(r"^\s*(\d{1,2})\D(\d{1,2})\D(\d{1,2})\s*$", time)
    if not (m_d and m_t):
        return None
    dd, mm, yy = (int(x) for x in m_d.groups())
    year = 1900 + yy if yy >= 85 else 2000 + yy  # the EDF clipping-date convention
    try:
        return datetime(year, mm, dd, *(int(x) for x in m_t.groups()))
    except ValueError:
        return None


def edf_start(path: str | Path) -> datetime | None:
    """Start date and time from the EDF header (None if the fields are unreadable)."""
    from .edf import read_edf_header

    hdr = read_edf_header(path)
    return _parse_edf_datetime(hdr["startdate"], hdr["starttime"])


_TAL_HEAD = re.compile(rb"^([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?)?)?$")


def _parse_tals(chunk: bytes, path: Path, record: int) -> Iterable[Annotation]:
    for tal in chunk.split(b"\x00"):
        if not tal:
            continue
        fields = tal.split(b"\x14")
        m = _TAL_HEAD.match(fields[0])
        if m is None:
            raise SleepkitError(f"{path}: malformed EDF+ annotation in data record {record}: {tal[:40]!r}")
        onset = float(m.group(1))
        duration = float(m.group(2)) if m.group(2) else math.nan
        for text in fields[1:]:
            if text:
                yield Annotation(onset, duration, text.decode("utf-8", "replace"))


def parse_tal_annotations(path: str | Path) -> list[Annotation]:
    """Annotations from the 'EDF Annotations' channels, by the EDF+ TAL grammar (no pyedflib)."""
    from .edf import ANNOTATION_LABELS, read_edf_header

    path = Path(path)
    hdr = read_edf_header(path)
    chans = [i for i, lbl in enumerate(hdr["labels"]) if lbl in ANNOTATION_LABELS]
    if not chans:
        return []
    spr = [int(n) for n in hdr["samples_per_record"]]
    width = 3 if hdr["format"] == "BDF" else 2
    record_bytes = width * sum(spr)
    starts = np.concatenate([[0], np.cumsum(spr)]) * width
    try:
        body = path.stat().st_size - hdr["header_bytes"]
        full = body // max(record_bytes, 1)
        n_records = hdr["n_records"]
        if n_records < 0 or n_records > full:
            if n_records >= 0:
                logger.warning("%s: header declares %d data records, the file holds %d; reading those",
                               path, n_records, full)
            n_records = full
        out: list[Annotation] = []
        with open(path, "rb") as fh:  # seek to the annotation bytes only: PSG files are gigabytes
            for r in range(n_records):
                for c in chans:
                    fh.seek(hdr["header_bytes"] + r * record_bytes + int(starts[c]))
                    out.extend(_parse_tals(fh.read(int(starts[c + 1] - starts[c])), path, r))
    except OSError as exc:
        raise SleepkitError(f"cannot read EDF file {path}: {exc}") from None
    return out


def read_edf_annotations(path: str | Path) -> list[Annotation]:
    """EDF+ annotations via pyedflib, or via the TAL parser when pyedflib refuses the file."""
    path = Path(path)
    if not path.is_file():
        raise SleepkitError(f"hypnogram file not found: {path}")
    try:
        import pyedflib

        reader = pyedflib.EdfReader(str(path))
    except (OSError, ValueError) as exc:  # pyedflib's ways of refusing a file
        logger.info("%s: pyedflib refused the file (%s); reading its annotations with the EDF+ TAL parser",
                    path.name, str(exc).strip())
        return parse_tal_annotations(path)
    try:
        onsets, durations, texts = reader.readAnnotations()
    finally:
        reader.close()
    return [
        Annotation(float(o), float(d) if d >= 0 else math.nan, str(t))
        for o, d, t in zip(onsets, durations, texts)
    ]


# ---------------------------------------------------------------------------------------------
# CSV / text / WFDB readers

_ONSET_COLS = ("onset", "start", "start_sec", "start_s", "onset_s", "begin", "time", "start time")
_DUR_COLS = ("duration", "dur", "duration_sec", "duration_s", "duration (seconds)", "length")
_LABEL_COLS = ("label", "stage", "description", "event", "annotation", "name", "sleep_stage", "sleepstage")


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    keys = [h.strip().lower() for h in header]
    for name in names:
        if name in keys:
            return keys.index(name)
    return None


def read_csv_annotations(path: str | Path, epoch: float = 30.0) -> list[Annotation]:
    """Rows of onset/duration/label (seconds), or a single label column with one row per epoch."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SleepkitError(f"cannot read hypnogram CSV {path}: {exc}") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise SleepkitError(f"{path}: empty hypnogram CSV")
    header = rows[0]
    i_on, i_dur, i_lbl = _pick(header, _ONSET_COLS), _pick(header, _DUR_COLS), _pick(header, _LABEL_COLS)
    if i_lbl is None:
        raise SleepkitError(
            f"{path}: no label column in header {header} (expected one of: {', '.join(_LABEL_COLS)})"
        )
    out: list[Annotation] = []
    for n, row in enumerate(rows[1:], start=2):
        def cell(i):
            return row[i].strip() if i is not None and i < len(row) else ""

        label = cell(i_lbl)
        if i_on is None:
            out.append(Annotation((n - 2) * epoch, epoch, label))
            continue
        try:
            onset = float(cell(i_on))
        except ValueError:
            raise SleepkitError(
                f"{path}: row {n}, column '{header[i_on]}': onset {cell(i_on)!r} is not a number of seconds"
            ) from None
        dur_text = cell(i_dur)
        try:
            duration = float(dur_text) if dur_text else math.nan
        except ValueError:
            raise SleepkitError(f"{path}: row {n}, column '{header[i_dur]}': duration {dur_text!r} is not a number") from None
        out.append(Annotation(onset, duration, label))
    return out


def read_epoch_labels(path: str | Path, epoch: float = 30.0) -> list[Annotation]:
    """One label per line, one line per epoch; '#' lines are comments."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SleepkitError(f"cannot read hypnogram {path}: {exc}") from None
    labels = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return [Annotation(i * epoch, epoch, lbl) for i, lbl in enumerate(labels)]


def read_wfdb_annotations(path: str | Path) -> list[Annotation]:
    """WFDB annotations: paired '(name' / 'name)' markers become events with a duration; other labels
    last until the next unpaired label (the last one: one regular interval, else to the record end)."""
    import wfdb

    path = Path(path)
    if not path.is_file():
        raise SleepkitError(f"annotation file not found: {path}")
    record, ext = str(path.with_suffix("")), path.suffix.lstrip(".")
    try:
        ann = wfdb.rdann(record, ext)
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on damaged files
        raise SleepkitError(f"{path}: not a readable WFDB annotation file ({exc})") from None
    fs = float(ann.fs) if ann.fs else None
    record_end = None
    if Path(record + ".hea").is_file():
        try:
            hdr = wfdb.rdheader(record)
            fs = fs or float(hdr.fs)
            if hdr.sig_len:
                record_end = hdr.sig_len / float(hdr.fs)
        except Exception as exc:
            logger.warning("%s: header unreadable (%s); last label ends with its interval", record + ".hea", exc)
    if not fs:
        raise SleepkitError(f"{path}: no sampling frequency in the annotation file or a .hea header")
    times = np.asarray(ann.sample, dtype=np.float64) / fs
    texts = [(a or "").strip() or (s or "").strip() for a, s in zip(ann.aux_note, ann.symbol)]
    events: list[Annotation] = []
    states: list[tuple[float, str]] = []
    open_: dict[str, float] = {}
    unmatched = 0
    for t, txt in zip(times, texts):
        if txt.startswith("(") and len(txt) > 1:
            if txt[1:] in open_:
                unmatched += 1
            open_[txt[1:]] = t
        elif txt.endswith(")") and len(txt) > 1:
            start = open_.pop(txt[:-1], None)
            if start is None:
                unmatched += 1
            else:
                events.append(Annotation(start, t - start, txt[:-1], "event"))
        else:
            states.append((t, txt))
    unmatched += len(open_)
    if unmatched:
        logger.warning("%s: %d unpaired event markers dropped", path.name, unmatched)
    if states:
        onsets = np.array([s[0] for s in states])
        gaps = np.diff(onsets)
        regular = len(gaps) > 0 and np.allclose(gaps, gaps[0])
        for i, (t, txt) in enumerate(states):
            if i + 1 < len(states):
                dur = onsets[i + 1] - t
            elif regular:
                dur = float(gaps[0])
            elif record_end is not None:
                dur = max(record_end - t, 0.0)
            else:
                dur = math.nan
            events.append(Annotation(float(t), float(dur), txt))
    return sorted(events, key=lambda a: a.onset)


# ---------------------------------------------------------------------------------------------
# rasterising


def fill_missing_durations(stages: list[Annotation], source: str) -> list[Annotation]:
    """Stage annotations without a duration last until the next stage annotation (the last one:
    the median spacing). Logged, never silent."""
    missing = [i for i, a in enumerate(stages) if not (a.duration > 0)]
    if not missing:
        return stages
    onsets = np.array([a.onset for a in stages])
    gaps = np.diff(onsets)
    typical = float(np.median(gaps[gaps > 0])) if np.any(gaps > 0) else 30.0
    out = list(stages)
    for i in missing:
        dur = onsets[i + 1] - onsets[i] if i + 1 < len(stages) else typical
        out[i] = Annotation(stages[i].onset, float(dur), stages[i].label)
    logger.info("%s: %d stage annotations had no duration; each lasts until the next one", source, len(missing))
    return out


def _midpoint_range(onset: float, duration: float, fs: float) -> tuple[int, int]:
    """Indices i whose midpoint (i + 0.5) / fs lies in [onset, onset + duration)."""
    lo = math.ceil(onset * fs - 0.5 - 1e-9)
    hi = math.ceil((onset + duration) * fs - 0.5 - 1e-9)
    return max(lo, 0), hi


def rasterize_stages(
    annotations: list[Annotation],
    epoch: float,
    source: str,
    mapping: Mapping[str, object] | None = None,
    kind: str = "stage",
    strict: bool = True,
) -> LabelTrack:
    """Per-epoch labels from stage annotations; gaps are UNSCORED.

    ``strict``: every annotation with a duration must be a known label (hypnogram files). When False
    (files that mix stages with many other events), only labels that claim to be stages must be known.
    """
    if epoch <= 0:
        raise SleepkitError(f"{source}: epoch must be > 0 seconds, got {epoch}")
    mapper = LabelMapper(kind, source, mapping)
    stages: list[tuple[Annotation, int]] = []
    markers = 0
    unknown: dict[str, int] = {}
    for a in annotations:
        if a.type == "event":  # a paired WFDB event marker (apnea, arousal ...), not a stage
            markers += 1
            continue
        if mapper.knows(a.label):
            code = mapper.map(a.label)
            if code is not None:
                stages.append((a, code))
            continue
        if a.duration == 0 or is_non_stage_marker(a.label) or (not strict and not looks_like_stage(a.label)):
            markers += 1
            continue
        unknown[a.label] = unknown.get(a.label, 0) + 1
    if unknown:
        label, n = max(unknown.items(), key=lambda kv: kv[1])
        raise mapper.unknown(label, n)
    if not stages:
        raise SleepkitError(f"{source}: no {kind} annotations found ({len(annotations)} annotations read)")
    filled = fill_missing_durations([a for a, _ in stages], source)
    codes = [c for _, c in stages]
    end = max(a.onset + a.duration for a in filled)
    n = max(math.ceil(end / epoch - 0.5 - 1e-9), 0)
    values = np.full(n, UNSCORED, dtype=np.int32)
    painted = np.zeros(n, dtype=bool)
    conflicts = off_grid = 0
    for a, code in zip(filled, codes):
        if abs(a.onset / epoch - round(a.onset / epoch)) > 1e-6:
            off_grid += 1
        lo, hi = _midpoint_range(a.onset, a.duration, 1.0 / epoch)
        hi = min(hi, n)
        if hi <= lo:
            continue
        clash = painted[lo:hi] & (values[lo:hi] != code)
        conflicts += int(clash.sum())
        values[lo:hi] = code
        painted[lo:hi] = True
    if off_grid:
        logger.warning("%s: %d %s annotations do not start on the %g-s epoch grid; each epoch takes the label "
                       "at its midpoint", source, off_grid, kind, epoch)
    if conflicts:
        logger.warning("%s: %d epochs had overlapping %s annotations; the later one wins", source, conflicts, kind)
    logger.info("%s: %d %s labels of %g s (%s); %d unscored (masked); annotations: %s; %d markers ignored",
                source, n, kind, epoch, code_counts(values, kind), int((values == UNSCORED).sum()),
                mapper.summary(), markers)
    return LabelTrack(values=values, fs=1.0 / epoch)


def rasterize_events(
    annotations: list[Annotation],
    fs: float,
    source: str,
    kind: str = "apnea",
    duration: float | None = None,
    mapping: Mapping[str, object] | None = None,
    select=None,
) -> LabelTrack:
    """An event track at ``fs`` labels per second: 0 where no event, the event code where one covers
    the label's midpoint (a shorter event still marks the label holding its onset); overlapping
    events resolve as UNSCORED < HYPOPNEA < APNEA. ``select`` filters annotations first."""
    mapper = LabelMapper(kind, source, mapping)
    items: list[tuple[Annotation, int]] = []
    for a in annotations:
        if select is not None and not select(a):
            continue
        code = mapper.lookup(a.label)
        if not isinstance(code, int):  # None (not an event of this kind) or a label of another kind
            mapper.ignored[a.label] += 1
            continue
        mapper.counts[a.label] += 1
        items.append((a, code))
    end = duration if duration is not None else max((a.onset + max(a.duration, 0) for a, _ in items), default=0.0)
    n = max(math.ceil(end * fs - 1e-9), 0)
    values = np.zeros(n, dtype=np.int32)
    for a, code in sorted(items, key=lambda it: it[1]):  # paint UNSCORED first, APNEA last: higher wins
        dur = a.duration if a.duration > 0 else 0.0
        lo, hi = _midpoint_range(a.onset, dur, fs)
        if hi <= lo:  # shorter than one label period: mark the label holding its onset
            lo = int(math.floor(a.onset * fs))
            hi = lo + 1
        values[max(lo, 0):min(hi, n)] = code
    logger.info("%s: %s track at %g Hz, %d labels; events %s", source, kind, fs, n, mapper.summary())
    return LabelTrack(values=values, fs=fs)


def mask_where_unscored(track: LabelTrack, stage: LabelTrack) -> LabelTrack:
    """Event labels are only meaningful where the night was scored: mask them where stage is -1."""
    t = (np.arange(len(track.values)) + 0.5) / track.fs
    values = track.values.copy()
    values[stage.at(t) == UNSCORED] = UNSCORED
    return LabelTrack(values=values, fs=track.fs)


# ---------------------------------------------------------------------------------------------
# alignment


def align_track(track: LabelTrack, duration: float, source: str, what: str = "labels") -> LabelTrack:
    """Trim labels past ``duration`` seconds of signal, pad a short track with UNSCORED (logged)."""
    n_sig = max(math.ceil(duration * track.fs - 1e-9), 0)
    n = len(track.values)
    period = 1.0 / track.fs
    if n > n_sig:
        extra = track.values[n_sig:]
        logger.info(
            "%s: %s run %.0f s past the end of the signal (%.0f s); trimmed %d labels (%d of them unscored)",
            source, what, n * period - duration, duration, n - n_sig, int((extra == UNSCORED).sum()),
        )
        values = track.values[:n_sig].copy()
    elif n < n_sig:
        logger.info(
            "%s: %s stop %.0f s before the end of the signal (%.0f s); padded %d labels as unscored",
            source, what, duration - n * period, duration, n_sig - n,
        )
        values = np.concatenate([track.values, np.full(n_sig - n, UNSCORED, dtype=track.values.dtype)])
    else:
        values = track.values.copy()
    return LabelTrack(values=values, fs=track.fs)


def track_to_samples(track: LabelTrack, n_samples: int, fs: float) -> np.ndarray:
    """Per-sample labels for a signal of ``n_samples`` at ``fs`` (UNSCORED where the track ends)."""
    return track.at(np.arange(n_samples, dtype=np.float64) / fs)


# ---------------------------------------------------------------------------------------------
# entry point

_FMT_BY_SUFFIX = {".edf": "edf", ".bdf": "edf", ".rec": "edf", ".xml": "nsrr", ".csv": "csv", ".tsv": "csv",
                  ".txt": "txt", ".apn": "wfdb", ".arousal": "wfdb", ".st": "wfdb", ".ann": "wfdb"}
FORMATS = ("edf", "nsrr", "csv", "txt", "wfdb")


def read_annotations(path: str | Path, fmt: str | None = None, epoch: float = 30.0) -> list[Annotation]:
    path = Path(path)
    if not path.is_file():
        raise SleepkitError(f"hypnogram file not found: {path}")
    fmt = (fmt or _FMT_BY_SUFFIX.get(path.suffix.lower(), "")).lower()
    if fmt == "edf":
        return read_edf_annotations(path)
    if fmt == "nsrr":
        from .nsrr import read_nsrr_xml

        return read_nsrr_xml(path).annotations
    if fmt == "csv":
        return read_csv_annotations(path, epoch)
    if fmt == "txt":
        return read_epoch_labels(path, epoch)
    if fmt == "wfdb":
        return read_wfdb_annotations(path)
    raise SleepkitError(
        f"{path}: cannot tell the hypnogram format from '{path.suffix}'; pass fmt= one of {', '.join(FORMATS)}"
    )


def load_hypnogram(
    path: str | Path,
    fmt: str | None = None,
    mapping: Mapping[str, object] | None = None,
    epoch: float = 30.0,
    *,
    kind: str | None = None,
    duration: float | None = None,
) -> LabelTrack:
    """Read a hypnogram (or per-epoch event labels) as a LabelTrack of ``1/epoch`` labels per second.

    ``fmt``: edf | nsrr | csv | txt | wfdb (default: from the suffix). ``mapping``: extra or overriding
    label -> code entries (``None`` ignores a label; key ``"*"`` is the default for unknown labels).
    ``kind``: stage (default; apnea for ``.apn``), apnea or arousal. ``duration``: signal length in
    seconds; when given, the track is trimmed/padded to it (``align_track``).
    """
    path = Path(path)
    kind = kind or ("apnea" if path.suffix.lower() == ".apn" else "stage")
    if kind not in ("stage", "apnea", "arousal"):
        raise SleepkitError(f"{path}: kind must be stage, apnea or arousal, got {kind!r}")
    fmt_used = (fmt or _FMT_BY_SUFFIX.get(path.suffix.lower(), "")).lower()
    source = path.name
    if fmt_used == "nsrr":
        from .nsrr import read_nsrr_xml

        xml = read_nsrr_xml(path)
        if kind == "stage":
            track = rasterize_stages(xml.stage_annotations(), epoch, source, mapping, strict=True)
        else:
            track = rasterize_events(xml.annotations, 1.0 / epoch, source, kind, xml.duration, mapping,
                                     select=xml.selector(kind))
    elif kind == "stage" or fmt_used in ("wfdb", "txt"):
        track = rasterize_stages(read_annotations(path, fmt, epoch), epoch, source, mapping, kind=kind, strict=True)
    else:
        track = rasterize_events(read_annotations(path, fmt, epoch), 1.0 / epoch, source, kind, duration, mapping)
    if duration is not None:
        track = align_track(track, duration, source, what="hypnogram")
    return track

"""Reading EDF / EDF+ / BDF files into ``Signal`` objects.

``read_edf`` tries pyedflib first. pyedflib refuses some real files that are otherwise readable (for
example a Nox A1 export whose channel labels hold UTF-8 bytes such as ``Impédance``: "the label is
incorrect"); then the file is read by the small header + record parser below, and the log says so and
why. The parser handles per-channel samples-per-record (every channel at its own rate), physical /
digital min-max scaling, labels in UTF-8 (or Latin-1) and the EDF+ ``EDF Annotations`` channel (skipped).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..log import logger
from .base import Signal

ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

# Fixed-width fields of the 256-byte main header: (name, width).
_MAIN_FIELDS = (
    ("version", 8), ("patient", 80), ("recording", 80), ("startdate", 8), ("starttime", 8),
    ("header_bytes", 8), ("reserved", 44), ("n_records", 8), ("record_duration", 8), ("n_signals", 4),
)
# Per-signal fields, each stored for all signals one after the other: (name, width).
_SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("unit", 8), ("physical_min", 8), ("physical_max", 8),
    ("digital_min", 8), ("digital_max", 8), ("prefilter", 80), ("samples_per_record", 8), ("reserved", 32),
)


def _decode(raw: bytes) -> str:
    # EDF asks for ASCII; real devices write UTF-8 (or Latin-1). Keep the text, drop the padding.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\x00", " ").strip()


def _norm_label(label: str) -> str:
    return re.sub(r"\s+", " ", label).strip().casefold()


def match_labels(wanted: list[str], available: list[str], path: Path | str) -> dict[str, int]:
    """Map each wanted label to its channel index: exact match first, then case/whitespace-insensitive."""
    out: dict[str, int] = {}
    normed = [_norm_label(a) for a in available]
    for want in wanted:
        if want in available:
            out[want] = available.index(want)
            continue
        hits = [i for i, n in enumerate(normed) if n == _norm_label(want)]
        if len(hits) == 1:
            out[want] = hits[0]
            continue
        if len(hits) > 1:
            raise SleepkitError(
                f"{path}: channel label '{want}' matches several channels when case and spacing are ignored "
                f"({', '.join(repr(available[i]) for i in hits)}); give the exact label"
            )
        raise SleepkitError(
            f"{path}: no channel labelled '{want}'. Available labels: {', '.join(repr(a) for a in available)}"
        )
    return out


# ---------------------------------------------------------------------------------------------------
# Native parser


def _number(text: str, field: str, path: Path, kind=float) -> float:
    try:
        return kind(text.strip())
    except ValueError:
        raise SleepkitError(f"{path}: header field '{field}' is not a number: {text.strip()!r}") from None


def read_edf_header(path: str | Path, raw: bytes | None = None) -> dict:
    """Parse the main and per-signal headers (no samples) of an EDF/EDF+/BDF file."""
    path = Path(path)
    if raw is None:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(256)
                n_sig = _decode(raw[252:256])
                raw += fh.read(256 * int(n_sig)) if n_sig.isdigit() else b""
        except OSError as exc:
            raise SleepkitError(f"cannot read EDF file {path}: {exc}") from None
    if len(raw) < 256:
        raise SleepkitError(f"{path}: not an EDF file (only {len(raw)} bytes, the header alone is 256)")
    head: dict = {}
    pos = 0
    for name, width in _MAIN_FIELDS:
        head[name] = raw[pos : pos + width]
        pos += width
    version = head["version"]
    bdf = version[:1] == b"\xff"
    if not bdf and version.strip() != b"0":
        raise SleepkitError(f"{path}: not an EDF file (version field {version!r}, expected '0')")
    n_signals = int(_number(_decode(head["n_signals"]), "number of signals", path, int))
    header_bytes = int(_number(_decode(head["header_bytes"]), "number of bytes in header", path, int))
    if header_bytes != 256 * (n_signals + 1):
        logger.warning("%s: header size field says %d bytes, %d signals need %d; using the latter",
                       path, header_bytes, n_signals, 256 * (n_signals + 1))
        header_bytes = 256 * (n_signals + 1)
    if len(raw) < header_bytes:
        raise SleepkitError(f"{path}: truncated header ({len(raw)} of {header_bytes} bytes)")
    signals: dict[str, list] = {}
    for name, width in _SIGNAL_FIELDS:
        signals[name] = [raw[pos + i * width : pos + (i + 1) * width] for i in range(n_signals)]
        pos += width * n_signals
    labels = [_decode(b) for b in signals["label"]]
    reserved = _decode(head["reserved"])
    info = {
        "path": str(path),
        "format": "BDF" if bdf else "EDF",
        "edf_plus": reserved if reserved.startswith(("EDF+", "BDF+")) else "",
        "patient": _decode(head["patient"]),
        "recording": _decode(head["recording"]),
        "startdate": _decode(head["startdate"]),
        "starttime": _decode(head["starttime"]),
        "header_bytes": header_bytes,
        "n_records": int(_number(_decode(head["n_records"]), "number of data records", path, int)),
        "record_duration": _number(_decode(head["record_duration"]), "duration of a data record", path),
        "labels": labels,
        "units": [_decode(b) for b in signals["unit"]],
        "transducers": [_decode(b) for b in signals["transducer"]],
        "prefilters": [_decode(b) for b in signals["prefilter"]],
    }
    for key in ("physical_min", "physical_max", "digital_min", "digital_max"):
        info[key] = np.array(
            [_number(_decode(b), f"{key} of channel '{labels[i]}'", path) for i, b in enumerate(signals[key])]
        )
    info["samples_per_record"] = np.array(
        [int(_number(_decode(b), f"samples per record of channel '{labels[i]}'", path, int))
         for i, b in enumerate(signals["samples_per_record"])]
    )
    return info


def _read_native(path: Path, labels: list[str] | None) -> tuple[dict, dict[str, Signal]]:
    info = read_edf_header(path)
    available = info["labels"]
    data_idx = [i for i, lab in enumerate(available) if lab not in ANNOTATION_LABELS]
    if labels is None:
        chosen = {available[i]: i for i in data_idx}
    else:
        chosen = match_labels(labels, [available[i] for i in data_idx], path)
        chosen = {want: data_idx[j] for want, j in chosen.items()}

    width = 3 if info["format"] == "BDF" else 2
    spr = info["samples_per_record"]
    record_bytes = int(spr.sum()) * width
    try:
        body = path.stat().st_size - info["header_bytes"]
    except OSError as exc:
        raise SleepkitError(f"cannot read EDF file {path}: {exc}") from None
    n_full = body // record_bytes if record_bytes else 0
    n_records = info["n_records"]
    if n_records < 0 or n_records > n_full:
        if n_records >= 0:
            logger.warning("%s: header promises %d data records but the file holds %d complete ones; reading those",
                           path, n_records, n_full)
        n_records = n_full
    elif body > n_records * record_bytes:
        logger.warning("%s: %d bytes after the last data record ignored", path, body - n_records * record_bytes)
    if info["edf_plus"].endswith("+D"):
        logger.warning("%s is EDF+D (discontinuous): data records are read back to back, gaps are not restored", path)
    if info["record_duration"] <= 0 and chosen:
        raise SleepkitError(f"{path}: data record duration is {info['record_duration']} s, signals have no rate")

    # Memory-mapped records: a PSG file can be gigabytes, and only the chosen channels are copied out.
    records = (
        np.memmap(path, dtype=np.uint8, mode="r", offset=info["header_bytes"], shape=(n_records, record_bytes))
        if n_records > 0 and record_bytes > 0
        else np.zeros((0, record_bytes), dtype=np.uint8)
    )
    offsets = np.concatenate([[0], np.cumsum(spr)]) * width

    out: dict[str, Signal] = {}
    for key, i in chosen.items():
        raw = np.ascontiguousarray(records[:, offsets[i] : offsets[i + 1]])
        if width == 2:
            d = raw.view("<i2").reshape(-1).astype(np.float64)
        else:  # BDF: 24-bit little-endian two's complement
            b = raw.reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            d = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64)
        pmin, pmax = info["physical_min"][i], info["physical_max"][i]
        dmin, dmax = info["digital_min"][i], info["digital_max"][i]
        if dmax == dmin:
            logger.warning("%s: channel '%s' has digital min == max (%g); using scale 1 (raw digital values)",
                           path, available[i], dmin)
            phys = d
        else:
            phys = (d - dmin) * ((pmax - pmin) / (dmax - dmin)) + pmin
        out[key] = Signal(phys.astype(np.float32), float(spr[i] / info["record_duration"]), info["units"][i])
    del records
    info["n_records"] = n_records
    return info, out


# ---------------------------------------------------------------------------------------------------
# pyedflib first


def _read_pyedflib(path: Path, labels: list[str] | None) -> tuple[dict, dict[str, Signal]]:
    import pyedflib

    reader = pyedflib.EdfReader(str(path))  # OSError when it refuses the file
    try:
        available = [lab.strip() for lab in reader.getSignalLabels()]
        chosen = {lab: i for i, lab in enumerate(available)} if labels is None else match_labels(labels, available, path)
        out: dict[str, Signal] = {}
        for key, i in chosen.items():
            data = reader.readSignal(i).astype(np.float32)
            out[key] = Signal(data, float(reader.getSampleFrequency(i)), reader.getPhysicalDimension(i).strip())
        plus = reader.filetype in (pyedflib.FILETYPE_EDFPLUS, pyedflib.FILETYPE_BDFPLUS)
        bdf = reader.filetype in (pyedflib.FILETYPE_BDF, pyedflib.FILETYPE_BDFPLUS)
        info = {
            "path": str(path),
            "format": "BDF" if bdf else "EDF",
            "edf_plus": ("BDF+" if bdf else "EDF+") if plus else "",
            "patient": reader.getPatientCode(),
            "recording": reader.getEquipment(),
            "startdate": reader.getStartdatetime().strftime("%d.%m.%y"),
            "starttime": reader.getStartdatetime().strftime("%H.%M.%S"),
            "n_records": int(reader.datarecords_in_file),
            "record_duration": float(reader.datarecord_duration),
            "labels": available,
            "units": [reader.getPhysicalDimension(i).strip() for i in range(len(available))],
        }
    finally:
        reader.close()
    return info, out


def read_edf(path: str | Path, labels: list[str] | None = None) -> tuple[dict, dict[str, Signal]]:
    """Read an EDF/EDF+ (or BDF) file.

    Returns ``(header, signals)``: ``header`` is a dict (``labels`` of all data channels, ``n_records``,
    ``record_duration``, ``reader`` = ``"pyedflib"`` or ``"sleepkit"``, ``fallback_reason`` when the
    fallback ran, …); ``signals`` maps each requested label, as the caller spelt it, to a ``Signal`` in
    physical units at the channel's own rate (all data channels keyed by file label when ``labels`` is
    None). Labels match exactly first, then ignoring case and repeated whitespace; an unknown label raises
    ``SleepkitError`` listing the available ones.
    """
    path = Path(path)
    if not path.is_file():
        raise SleepkitError(f"EDF file not found: {path}")
    labels = list(labels) if labels is not None else None
    try:
        info, out = _read_pyedflib(path, labels)
        info["reader"] = "pyedflib"
        return info, out
    except SleepkitError:
        raise
    except Exception as exc:  # pyedflib reports every refusal as OSError/ValueError with a reason
        reason = str(exc).replace(str(path), "").strip(" :")
        logger.info("%s: pyedflib refused the file (%s); reading it with sleepkit's own EDF parser", path, reason)
        info, out = _read_native(path, labels)
        info["reader"] = "sleepkit"
        info["fallback_reason"] = reason
        info["labels"] = [lab for lab in info["labels"] if lab not in ANNOTATION_LABELS]
        return info, out

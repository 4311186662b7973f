"""Every source scoring vocabulary, mapped explicitly to the base codings in ``sleepkit.labels``.

Decisions (also in the README):

* **R&K stage 4 stays ``SleepStage.N4``** in the base coding, so the raw scoring is not lost; every
  stage ``class_map`` must send 4 to the same class as 3 (``STAGE_CLASS_MAPS`` below all do, and
  ``validate_stage_class_map`` rejects one that does not). R&K stage 3 is AASM N3.
* ``?``, ``Movement time``, ``undefined``, ``Unscored``, ``UnknownStage`` and ``P`` (preparation)
  become ``UNSCORED`` (-1): masked, never guessed, and counted in the log.
* Bare integers ("0".."5") are **not** in any built-in vocabulary: "4" is stage 4 in R&K files and
  REM in YASA files, so integer hypnograms need a user mapping.
* Apnea events: obstructive / central / mixed apnea -> ``APNEA``; hypopnea (also obstructive,
  central, YSYW partial-obstructive) -> ``HYPOPNEA``; Apnea-ECG ``A`` (apnea *or* hypopnea) ->
  ``APNEA``, ``N`` -> ``NONE``; NSRR ``Unsure``, periodic / Cheyne-Stokes breathing,
  hypoventilation and respiratory artefact -> ``UNSCORED`` (airflow events may be hidden there);
  SpO2 desaturation / SpO2 artefact are not airflow events and are ignored.
* Arousals: any label naming an arousal (``Arousal ()``, ``ASDA arousal``, ``RERA``,
  ``Arousal w/ PLM`` ...) -> 1.
* A label that is in none of the vocabularies raises ``SleepkitError`` naming the label and the file,
  unless the user maps it (``mapping={"label": code or None}``; ``None`` ignores the annotation,
  the key ``"*"`` sets the default for every unknown label).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import SleepkitError
from ..labels import UNSCORED, ApneaEvent, SleepStage

IGNORE = None  # an annotation that carries no label for this kind (a marker, a desaturation ...)
_W, _N1, _N2, _N3, _N4, _R = (int(s) for s in (SleepStage.WAKE, SleepStage.N1, SleepStage.N2,
                                               SleepStage.N3, SleepStage.N4, SleepStage.REM))


def label_key(label: str) -> str:
    """Lower-case, trimmed, whitespace-collapsed label without an EDF+ ``@@channel`` suffix."""
    text = str(label).split("@@", 1)[0]
    return " ".join(text.strip().lower().split())


def compact_key(label: str) -> str:
    """``label_key`` without spaces/punctuation, so 'Obstructive Apnea' == 'ObstructiveApnea'."""
    return re.sub(r"[^a-z0-9?|]", "", label_key(label))


def _compact_all(table: dict[str, int | None]) -> dict[str, int | None]:
    return {compact_key(k): v for k, v in table.items()}


# Sleep stages: Sleep-EDF (R&K), HMC / AASM EDF+, NSRR XML concepts, STAGES CSV, YSYW .arousal.
STAGE_VOCAB: dict[str, int | None] = _compact_all({
    # wake
    "W": _W, "Wake": _W, "Awake": _W, "Sleep stage W": _W, "Stage W": _W, "Wake|0": _W,
    # N1 / R&K 1
    "N1": _N1, "S1": _N1, "NREM1": _N1, "Sleep stage 1": _N1, "Sleep stage N1": _N1, "Stage 1": _N1,
    "Stage1": _N1, "Stage 1 sleep": _N1, "Stage 1 sleep|1": _N1,
    # N2 / R&K 2
    "N2": _N2, "S2": _N2, "NREM2": _N2, "Sleep stage 2": _N2, "Sleep stage N2": _N2, "Stage 2": _N2,
    "Stage2": _N2, "Stage 2 sleep": _N2, "Stage 2 sleep|2": _N2,
    # N3 / R&K 3
    "N3": _N3, "S3": _N3, "NREM3": _N3, "Sleep stage 3": _N3, "Sleep stage N3": _N3, "Stage 3": _N3,
    "Stage3": _N3, "Stage 3 sleep": _N3, "Stage 3 sleep|3": _N3,
    # R&K stage 4: kept apart, merged with N3 by every class_map
    "N4": _N4, "S4": _N4, "NREM4": _N4, "Sleep stage 4": _N4, "Sleep stage N4": _N4, "Stage 4": _N4,
    "Stage4": _N4, "Stage 4 sleep": _N4, "Stage 4 sleep|4": _N4,
    # REM
    "R": _R, "REM": _R, "Sleep stage R": _R, "Sleep stage REM": _R, "Stage R": _R, "Stage REM": _R,
    "REM sleep": _R, "REM sleep|5": _R,
    # explicit unscored
    "?": UNSCORED, "Sleep stage ?": UNSCORED, "Movement time": UNSCORED, "Movement": UNSCORED,
    "MT": UNSCORED, "Movement|6": UNSCORED, "Sleep stage M": UNSCORED, "Unscored": UNSCORED,
    "Unscored|9": UNSCORED, "Unknown": UNSCORED, "UnknownStage": UNSCORED, "Undefined": UNSCORED,
    "U": UNSCORED, "Sleep stage U": UNSCORED, "P": UNSCORED, "Preparation": UNSCORED,
})

# Annotations found in hypnogram files that are not stages (ignored, counted in the log).
NON_STAGE_PREFIXES = ("lights off", "lights on", "lights out", "recording start", "start recording",
                      "recording end", "end of recording", "start of recording", "montage")

_APNEA, _HYPO, _NONE = int(ApneaEvent.APNEA), int(ApneaEvent.HYPOPNEA), int(ApneaEvent.NONE)

APNEA_VOCAB: dict[str, int | None] = _compact_all({
    # NSRR XML concepts (left of '|') and STAGES CSV names
    "Obstructive apnea": _APNEA, "Central apnea": _APNEA, "Mixed apnea": _APNEA, "Apnea": _APNEA,
    "Apnea Obstructive": _APNEA, "Apnea Central": _APNEA, "Apnea Mixed": _APNEA,
    "Hypopnea": _HYPO, "Obstructive hypopnea": _HYPO, "Central hypopnea": _HYPO,
    "Mixed hypopnea": _HYPO,
    "Unsure": UNSCORED, "Periodic breathing": UNSCORED, "Cheyne Stokes breathing": UNSCORED,
    "Cheyne-Stokes breathing": UNSCORED, "Respiratory artifact": UNSCORED,
    "Respiratory paradox": IGNORE, "SpO2 desaturation": IGNORE, "SpO2 artifact": IGNORE,
    "Desaturation": IGNORE, "Desaturation w/ Respiratory": IGNORE,
    # YSYW (PhysioNet/CinC 2018) event markers, without their parentheses
    "resp_obstructiveapnea": _APNEA, "resp_centralapnea": _APNEA, "resp_mixedapnea": _APNEA,
    "resp_hypopnea": _HYPO, "resp_partialobstructive": _HYPO,
    "resp_cheynestokesbreath": UNSCORED, "resp_hypoventilation": UNSCORED,
    # Apnea-ECG per-minute labels: 'A' = apnea or hypopnea in progress
    "A": _APNEA, "N": _NONE,
})


def is_arousal_label(label: str) -> bool:
    key = compact_key(label)
    return "arousal" in key or key in ("rera", "respiratoryeffortrelatedarousal")


STAGE_CODE_NAMES = "W=0 N1=1 N2=2 N3=3 N4=4 REM=5 unscored=-1"


def parse_code(value, kind: str, where: str) -> int | None:
    """A user mapping value: an int code, a name ('N3', 'REM', 'UNSCORED', 'APNEA') or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SleepkitError(f"{where}: mapping value {value!r} is not a label code")
    if isinstance(value, int):
        return int(value)
    text = str(value).strip().upper()
    if text.lstrip("-").isdigit():
        return int(text)
    if text in ("UNSCORED", "MASK", "-1"):
        return UNSCORED
    enum = SleepStage if kind == "stage" else ApneaEvent if kind == "apnea" else None
    if enum is not None and text in enum.__members__:
        return int(enum[text])
    if kind == "stage" and text in ("W", "R"):
        return _W if text == "W" else _R
    raise SleepkitError(f"{where}: mapping value {value!r} is not a {kind} code ({STAGE_CODE_NAMES})")


@dataclass
class LabelMapper:
    """Maps raw labels of one source file to base codes, counting what it did for the log."""

    kind: str  # "stage" | "apnea" | "arousal"
    source: str  # file name, for messages
    mapping: Mapping[str, object] | None = None
    counts: Counter = field(default_factory=Counter)  # raw label -> annotations mapped
    ignored: Counter = field(default_factory=Counter)  # raw label -> annotations ignored

    def __post_init__(self) -> None:
        self._user: dict[str, int | None] = {}
        self._default: object = _MISSING
        for raw, value in (self.mapping or {}).items():
            code = parse_code(value, self.kind, f"{self.source}: mapping[{raw!r}]")
            if raw == "*":
                self._default = code
            else:
                self._user[compact_key(raw)] = code
                self._user[label_key(raw)] = code

    def lookup(self, label: str) -> int | None | object:
        """Code for ``label``; ``IGNORE`` (None) to skip it; ``_MISSING`` if unknown."""
        for key in (label_key(label), compact_key(label)):
            if key in self._user:
                return self._user[key]
        vocab = STAGE_VOCAB if self.kind == "stage" else APNEA_VOCAB if self.kind == "apnea" else None
        key = compact_key(label)
        candidates = [key]
        if "|" in key:  # NSRR 'Concept|Code' strings: also try the left part
            candidates.append(key.split("|", 1)[0])
        if self.kind == "arousal":
            if is_arousal_label(label):
                return 1
        elif vocab is not None:
            for cand in candidates:
                if cand in vocab:
                    return vocab[cand]
        return self._default

    def map(self, label: str) -> int | None:
        """Like ``lookup`` but an unknown label is a ``SleepkitError``."""
        code = self.lookup(label)
        if code is _MISSING:
            raise self.unknown(label)
        if code is None:
            self.ignored[label] += 1
        else:
            self.counts[label] += 1
        return code

    def knows(self, label: str) -> bool:
        return self.lookup(label) is not _MISSING

    def unknown(self, label: str, n: int = 1) -> SleepkitError:
        hint = ""
        if str(label).strip().lstrip("-").isdigit():
            hint = (" Integer stage codes are ambiguous (R&K files use 4 = stage 4, YASA files 4 = REM):"
                    " say which is which with a mapping.")
        codes = STAGE_CODE_NAMES if self.kind == "stage" else "NONE=0 HYPOPNEA=1 APNEA=2 unscored=-1"
        return SleepkitError(
            f"{self.source}: unknown {self.kind} label {str(label)!r} ({n} annotation{'s' * (n != 1)}).{hint}"
            f" Map it with mapping={{{str(label)!r}: <code or None>}} ({codes}; None ignores it),"
            f" or ignore every unknown label with mapping={{'*': None}}."
        )

    def summary(self, top: int = 8) -> str:
        def fmt(counter: Counter) -> str:
            items = counter.most_common()
            text = ", ".join(f"{lbl!r}: {n}" for lbl, n in items[:top])
            return text + (f" and {len(items) - top} more labels" if len(items) > top else "")

        text = fmt(self.counts) or "none"
        if self.ignored:
            text += "; ignored " + fmt(self.ignored)
        return text


class _Missing:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<unknown label>"


_MISSING = _Missing()


def code_counts(values, kind: str = "stage") -> str:
    """'W 1997, N1 58, ..., unscored 230' for a label array, for the log."""
    import numpy as np

    codes, counts = np.unique(np.asarray(values), return_counts=True)
    enum = SleepStage if kind == "stage" else ApneaEvent if kind == "apnea" else None

    def name(c: int) -> str:
        if c == UNSCORED:
            return "unscored"
        if enum is not None and c in enum._value2member_map_:
            return enum(c).name
        return str(c)

    return ", ".join(f"{name(int(c))} {int(n)}" for c, n in zip(codes, counts)) or "empty"


def looks_like_stage(label: str) -> bool:
    """Does this label claim to be a sleep stage (so an unknown one must not be skipped silently)?"""
    key = label_key(label)
    return key.startswith(("sleep stage", "stage")) and not key.startswith("stages|")


def is_non_stage_marker(label: str) -> bool:
    return label_key(label).startswith(NON_STAGE_PREFIXES)


# ---------------------------------------------------------------------------------------------
# class maps over the base stage coding

STAGE_CLASS_MAPS: dict[int, dict[int, int]] = {
    2: {_W: 0, _N1: 1, _N2: 1, _N3: 1, _N4: 1, _R: 1},  # wake / sleep
    3: {_W: 0, _N1: 1, _N2: 1, _N3: 1, _N4: 1, _R: 2},  # wake / NREM / REM
    4: {_W: 0, _N1: 1, _N2: 1, _N3: 2, _N4: 2, _R: 3},  # wake / light / deep / REM
    5: {_W: 0, _N1: 1, _N2: 2, _N3: 3, _N4: 3, _R: 4},  # wake / N1 / N2 / N3 / REM
}


def validate_stage_class_map(class_map: Mapping[int, int], where: str = "class_map") -> None:
    """Reject a stage class_map that would split R&K stage 4 from N3 (or drop it silently)."""
    cm = {int(k): int(v) for k, v in class_map.items()}
    if _N3 in cm and cm.get(_N4) != cm[_N3]:
        got = "is missing" if _N4 not in cm else f"goes to class {cm[_N4]}"
        raise SleepkitError(
            f"{where}: N3 (3) goes to class {cm[_N3]} but R&K stage 4 (4) {got}; stage 4 is deep sleep,"
            f" add 4: {cm[_N3]}"
        )

"""Apnea-ECG (PhysioNet, Penzel et al. 2000): overnight single-lead ECG with one apnea label a minute.

Layout under ``path`` (as on PhysioNet; a flat folder)::

    a01.hea   WFDB header (1 signal 'ECG', 100 Hz, length in samples)
    a01.qrs   machine QRS annotations: beat sample indices at 100 Hz (unaudited: missed beats exist)
    a01.apn   one annotation per minute: 'A' apnea or hypopnea in progress, 'N' normal; the annotation
              at sample 6000*i labels minute [60i, 60i + 60) s (test-set records have none)
    a01.dat   ECG samples (optional; loaded only with ``ecg=True``)
    additional-information.txt   per-record age, sex, height, weight (and AHI)

Signals (roles): ``beats`` — beat indicator at the annotation rate (1.0 at each QRS sample, 0
elsewhere; see ``sleepkit.features.rpeaks``), spanning the header's signal length; ``ecg`` (mV) when
``ecg=True`` and the ``.dat`` file exists. Label track ``apnea`` at 1/60 Hz in the ``ApneaEvent``
coding: 'A' → APNEA (2; the database does not separate apneas from hypopneas), 'N' → NONE (0),
minutes without a label (c07 and c08 labels stop before their records end) → -1.

Subjects are records. Several records are the same person on different nights, and c05/c06 are one
ECG shifted by 80 s; ``subject_groups()`` gives every record its person, so that a train/test split
can keep a person on one side (records whose age, sex, height and weight all agree in
``additional-information.txt`` are one person, and c05/c06 are joined). The group is also in
``Recording.meta["group"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..labels import UNSCORED, ApneaEvent
from ..log import logger
from .base import Dataset, LabelTrack, Recording, Signal

MINUTE = 60.0
INFO_FILE = "additional-information.txt"
SAME_ECG = (("c05", "c06"),)  # one ECG shifted by 80 s: never split across train and test
APN_CODES = {"A": int(ApneaEvent.APNEA), "N": int(ApneaEvent.NONE)}
_RECORD = re.compile(r"^[a-z]\d{2}$")


BEATLESS_END_SECONDS = 120.0  # longer than any pause a sleeping heart survives without an artefact note


def read_person_info(path: str | Path) -> dict[str, tuple[str, ...]]:
    """record → (age, sex, height, weight) from ``additional-information.txt`` (tab-separated table)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    out: dict[str, tuple[str, ...]] = {}
    for n, line in enumerate(lines, start=1):
        cells = [c.strip() for c in line.split("\t")]
        if not cells or not _RECORD.match(cells[0]):
            continue
        if len(cells) < 12:
            raise SleepkitError(f"{path}: line {n} (record {cells[0]}) has {len(cells)} columns, expected 12 "
                                "(Record Length non-apn apnea hours AI HI AHI Age Sex height weight)")
        out[cells[0]] = tuple(cells[8:12])
    if not out:
        raise SleepkitError(f"{path}: no record rows (lines starting with a record name such as 'a01')")
    return out


def person_groups(info: dict[str, tuple[str, ...]], records: list[str]) -> dict[str, str]:
    """record → person id: records with equal (age, sex, height, weight) and the SAME_ECG pairs are
    joined (union-find); the id is the group's records joined by '+', e.g. 'a05+a10+a20'."""
    parent = {r: r for r in records}

    def find(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_person: dict[tuple[str, ...], str] = {}
    for r in sorted(records):
        key = info.get(r)
        if key is None:
            continue
        if key in by_person:
            union(by_person[key], r)
        else:
            by_person[key] = r
    for pair in SAME_ECG:
        if all(p in parent for p in pair):
            union(*pair)
    members: dict[str, list[str]] = {}
    for r in records:
        members.setdefault(find(r), []).append(r)
    return {r: "+".join(sorted(members[find(r)])) for r in records}


class ApneaEcgDataset(Dataset):
    """Params: ``path`` (folder), ``subjects`` (record names; default all with a .qrs), ``ecg`` (also
    load the ECG samples from ``.dat``; default false), ``physionet_url`` (download)."""

    name = "apnea-ecg"

    def __init__(
        self,
        path: str | Path = "datasets/apnea-ecg",
        subjects: list[str] | None = None,
        ecg: bool = False,
        physionet_url: str = "https://physionet.org/files",
    ) -> None:
        self.path = Path(path)
        self.subjects = [str(s) for s in subjects] if subjects is not None else None
        if not isinstance(ecg, bool):
            raise SleepkitError(f"datasets[apnea-ecg].params.ecg must be true or false (got {ecg!r})")
        self.ecg = ecg
        self.physionet_url = physionet_url
        self._groups: dict[str, str] | None = None

    def _records(self) -> list[str]:
        if not self.path.is_dir():
            raise SleepkitError(f"apnea-ecg: dataset folder {self.path} does not exist (set 'path' or run 'sleepkit download')")
        found = sorted(p.stem for p in self.path.glob("*.qrs") if (p.with_suffix(".hea")).is_file())
        if not found:
            raise SleepkitError(f"apnea-ecg: no records (<name>.hea + <name>.qrs) in {self.path}")
        return found

    def subject_ids(self) -> list[str]:
        found = self._records()
        if self.subjects is None:
            return found
        absent = sorted(set(self.subjects) - set(found))
        if absent:
            raise SleepkitError(f"apnea-ecg: records not found in {self.path}: {', '.join(absent[:10])}")
        return sorted(self.subjects)

    def subject_groups(self) -> dict[str, str]:
        """record → person id for every record in the folder (see the module docstring)."""
        if self._groups is None:
            records = self._records()
            info_path = self.path / INFO_FILE
            if info_path.is_file():
                info = read_person_info(info_path)
                unknown = [r for r in records if r not in info]
                if unknown:
                    logger.warning("apnea-ecg: %d record(s) not in %s, each its own person: %s",
                                   len(unknown), INFO_FILE, ", ".join(unknown[:10]))
            else:
                info = {}
                logger.warning("apnea-ecg: %s missing; only the known same-ECG pairs are grouped, other "
                               "nights of one person may land on both sides of a split", info_path)
            self._groups = person_groups(info, records)
        return self._groups

    def load(self, subject_id: str) -> Recording:
        import wfdb

        base = self.path / subject_id
        hea = base.with_suffix(".hea")
        if not hea.is_file() or not base.with_suffix(".qrs").is_file():
            raise SleepkitError(f"apnea-ecg: record '{subject_id}' needs {hea.name} and {subject_id}.qrs in {self.path}")
        try:
            header = wfdb.rdheader(str(base))
        except Exception as exc:  # wfdb raises bare ValueError/IndexError on damaged headers
            raise SleepkitError(f"{hea}: unreadable WFDB header ({exc})") from None
        fs = float(header.fs)
        n = int(header.sig_len or 0)
        try:
            qrs = wfdb.rdann(str(base), "qrs")
        except Exception as exc:
            raise SleepkitError(f"{base}.qrs: not a readable WFDB annotation file ({exc})") from None
        qfs = float(qrs.fs or fs)
        samples = np.round(np.asarray(qrs.sample, dtype=np.float64) * fs / qfs).astype(np.int64)
        if n <= 0:
            n = int(samples.max()) + 1 if len(samples) else 0
            logger.warning("%s: no signal length; using the last beat (%d samples)", hea.name, n)
        outside = int(((samples < 0) | (samples >= n)).sum())
        if outside:
            logger.warning("%s.qrs: %d beats outside the %d-sample record dropped", subject_id, outside, n)
        samples = samples[(samples >= 0) & (samples < n)]
        # A .qrs cut short still parses (it ends on a record boundary): only the beat times tell.
        # Minutes past the last beat get no RR features and drop out of scoring; say so.
        silent_end = (n - (int(samples.max()) if len(samples) else 0)) / fs
        if silent_end > BEATLESS_END_SECONDS:
            logger.warning("%s.qrs: no beat in the last %.1f min of the %.1f-min record (file cut short?); "
                           "those minutes are masked", subject_id, silent_end / MINUTE, n / fs / MINUTE)
        beats = np.zeros(n, dtype=np.float32)
        beats[samples] = 1.0
        signals = {"beats": Signal(beats, fs, "beat")}
        if self.ecg:
            signals["ecg"] = self._ecg(base, header)
        labels = {}
        apn = base.with_suffix(".apn")
        if apn.is_file():
            labels["apnea"] = self.apnea_track(apn, n / fs)
        else:
            logger.info("apnea-ecg: %s has no %s (unlabelled record)", subject_id, apn.name)
        group = self.subject_groups().get(subject_id, subject_id)
        return Recording(subject_id, signals, labels, source=str(base),
                         meta={"dataset": self.name, "group": group, "beats": int(len(samples))})

    def _ecg(self, base: Path, header) -> Signal:
        import wfdb

        dat = base.parent / header.file_name[0]
        if not dat.is_file():
            raise SleepkitError(f"apnea-ecg: {dat} missing; set ecg=false to use the beat annotations only")
        try:
            rec = wfdb.rdrecord(str(base), physical=True)
        except Exception as exc:
            raise SleepkitError(f"{base}: unreadable WFDB record ({exc})") from None
        return Signal(rec.p_signal[:, 0].astype(np.float32), float(rec.fs), rec.units[0])

    @staticmethod
    def apnea_track(path: Path, duration: float) -> LabelTrack:
        """Per-minute ``apnea`` track; an annotation labels the minute its sample falls in."""
        import wfdb

        try:
            ann = wfdb.rdann(str(path.with_suffix("")), path.suffix.lstrip("."))
        except Exception as exc:
            raise SleepkitError(f"{path}: not a readable WFDB annotation file ({exc})") from None
        if not ann.fs:
            raise SleepkitError(f"{path}: no sampling frequency in the annotation file")
        minutes = int(np.ceil(duration / MINUTE - 1e-9))
        values = np.full(minutes, UNSCORED, dtype=np.int32)
        idx = np.floor(np.asarray(ann.sample, dtype=np.float64) / float(ann.fs) / MINUTE + 1e-9).astype(np.int64)
        for i, (m, sym) in enumerate(zip(idx, ann.symbol)):
            code = APN_CODES.get(sym)
            if code is None:
                raise SleepkitError(f"{path}: annotation #{i + 1} (sample {ann.sample[i]}) has symbol {sym!r}, "
                                    "expected 'A' (apnea) or 'N' (normal)")
            if m >= minutes:
                raise SleepkitError(f"{path}: annotation #{i + 1} at minute {m} lies past the record end "
                                    f"({duration:g} s)")
            values[m] = code
        missing = int((values == UNSCORED).sum())
        logger.info("%s: %d minutes, %d apnea, %d normal, %d unlabelled", path.name, minutes,
                    int((values == APN_CODES["A"]).sum()), int((values == APN_CODES["N"]).sum()), missing)
        return LabelTrack(values, 1.0 / MINUTE)

    def download(self, dest: Path | None = None, force: bool = False, num_workers: int = 4, progress: bool = True) -> dict:
        from ..download.http import download_files
        from ..download.physionet import physionet_files

        dest = Path(dest or self.path)
        wanted = set(self.subjects) if self.subjects is not None else None
        suffixes = (".hea", ".qrs", ".apn") + ((".dat",) if self.ecg else ())

        def keep(p: str) -> bool:
            if p == INFO_FILE:
                return True
            name = Path(p)
            return ("/" not in p and name.suffix in suffixes and _RECORD.match(name.stem) is not None
                    and (wanted is None or name.stem in wanted))

        source, files = physionet_files("apnea-ecg", "1.0.0", self.physionet_url, keep)
        return download_files(files, dest, source, force=force, num_workers=num_workers, progress=progress).as_dict()

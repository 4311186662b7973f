"""CMIDSS: Kaggle 'Child Mind Institute - Detect Sleep States' wrist-accelerometer nights.

Layout under ``path`` (as the competition ships it)::

    train_series.parquet   series_id, step (5-s steps from 0), timestamp (local ISO time with offset),
                           anglez (degrees, -90..90), enmo (g, Euclidean norm minus one, clipped at 0)
    train_events.csv       series_id, night, event (onset | wakeup), step, timestamp

One subject per ``series_id``. Signals (roles): ``anglez`` (deg) and ``enmo`` (g), both at 0.2 Hz.

Label track ``sleep`` (0.2 Hz, one label per step): 1 = asleep (from an ``onset`` step up to, not
including, the paired ``wakeup`` step of the same night), 0 = awake, -1 = not scored. Nights run from
local noon to local noon. A night with a complete onset/wakeup pair is scored (0 outside the sleep
period, 1 inside); a night without one is masked (-1). The events file lists thousands of nights
with an empty ``step``: those are nights *without* an event (device off, no sleep scored), kept as
"no event" and masked — never cast to an integer. Counts go to the log.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..labels import UNSCORED
from ..log import logger
from .base import Dataset, LabelTrack, Recording, Signal

STEP_S = 5.0
FS = 1.0 / STEP_S
COMPETITION = "child-mind-institute-detect-sleep-states"
_TS = re.compile(r"T(\d{2}):(\d{2}):(\d{2})")


@dataclass(frozen=True)
class NightEvent:
    series_id: str
    night: int
    event: str  # onset | wakeup
    step: int | None  # None: the night has no event


def read_events(path: str | Path) -> dict[str, list[NightEvent]]:
    """series_id -> events; rows with an empty step are kept with ``step=None``."""
    path = Path(path)
    out: dict[str, list[NightEvent]] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            need = {"series_id", "night", "event", "step"}
            if not need.issubset(reader.fieldnames or []):
                raise SleepkitError(f"{path}: needs columns {sorted(need)}, has {reader.fieldnames}")
            for n, row in enumerate(reader, start=2):
                event = (row["event"] or "").strip().lower()
                if event not in ("onset", "wakeup"):
                    raise SleepkitError(f"{path}: row {n}, column 'event': {row['event']!r} is not onset/wakeup")
                step_text = (row["step"] or "").strip()
                try:
                    night = int(float(row["night"]))
                    # real files write steps as '4992.0' or leave them empty
                    step = int(float(step_text)) if step_text and step_text.lower() != "nan" else None
                except ValueError:
                    raise SleepkitError(f"{path}: row {n}: night {row['night']!r} / step {step_text!r} not numbers") from None
                sid = row["series_id"].strip()
                out.setdefault(sid, []).append(NightEvent(sid, night, event, step))
    except OSError as exc:
        raise SleepkitError(f"cannot read {path}: {exc}") from None
    return out


def _local_seconds(timestamp: str) -> float:
    m = _TS.search(timestamp or "")
    if not m:
        raise ValueError(timestamp)
    h, mi, s = (int(x) for x in m.groups())
    return h * 3600 + mi * 60 + s


def sleep_track(n_steps: int, tod0: float, events: list[NightEvent], source: str) -> LabelTrack:
    """The per-step sleep/wake/unscored track of one series whose step 0 is at local time of day
    ``tod0`` seconds (see the module docstring)."""
    # noon-to-noon night window of every step
    window = np.floor((tod0 + STEP_S * np.arange(n_steps) - 43200.0) / 86400.0).astype(np.int64)
    window -= window[0] if n_steps else 0
    values = np.full(n_steps, UNSCORED, dtype=np.int32)
    by_night: dict[int, dict[str, int | None]] = {}
    for ev in events:
        by_night.setdefault(ev.night, {})[ev.event] = ev.step
    empty = incomplete = bad = outside = 0
    scored_windows: set[int] = set()
    spans: list[tuple[int, int]] = []
    for night, evs in sorted(by_night.items()):
        onset, wake = evs.get("onset"), evs.get("wakeup")
        if onset is None and wake is None:
            empty += 1
            continue
        if onset is None or wake is None:
            incomplete += 1
            continue
        if not (0 <= onset < wake <= n_steps):
            if onset >= wake:
                bad += 1
            else:
                outside += 1
            continue
        scored_windows.add(int(window[onset]))
        spans.append((onset, wake))
    scored = np.isin(window, list(scored_windows))
    values[scored] = 0
    for onset, wake in spans:
        values[onset:wake] = 1
    n_windows = int(window[-1]) + 1 if n_steps else 0
    logger.info(
        "%s: %d nights in the events file: %d scored, %d without events (empty step, masked), %d with only one of "
        "onset/wakeup (masked), %d with wakeup before onset (masked), %d past the series end; %d of %d noon-to-noon "
        "windows scored; sleep %d steps, wake %d, unscored %d",
        source, len(by_night), len(spans), empty, incomplete, bad, outside, len(scored_windows), n_windows,
        int((values == 1).sum()), int((values == 0).sum()), int((values == UNSCORED).sum()),
    )
    return LabelTrack(values=values, fs=FS)


class CmidssDataset(Dataset):
    """Params: ``path`` (folder), ``series_file`` / ``events_file`` (names in it; ``events_file=None``
    for the unlabelled test series), ``subjects`` (series ids), ``competition`` and ``kaggle_url``
    (download)."""

    name = "cmidss"

    def __init__(
        self,
        path: str | Path = "datasets/cmidss",
        series_file: str = "train_series.parquet",
        events_file: str | None = "train_events.csv",
        subjects: list[str] | None = None,
        competition: str = COMPETITION,
        kaggle_url: str = "https://www.kaggle.com/api/v1",
    ) -> None:
        self.path = Path(path)
        self.series_path = self.path / series_file
        self.events_path = self.path / events_file if events_file else None
        self.subjects = [str(s) for s in subjects] if subjects is not None else None
        self.competition = competition
        self.kaggle_url = kaggle_url
        self._ids: list[str] | None = None
        self._events: dict[str, list[NightEvent]] | None = None

    def _parquet(self):
        import pyarrow.parquet as pq

        if not self.series_path.is_file():
            raise SleepkitError(f"cmidss: series file not found: {self.series_path} (run 'sleepkit download')")
        try:
            return pq.ParquetFile(self.series_path)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for damaged files
            raise SleepkitError(f"{self.series_path}: not a readable parquet file ({exc})") from None

    def _all_ids(self) -> list[str]:
        if self._ids is None:
            import pyarrow.compute as pc

            pf = self._parquet()
            names = pf.schema_arrow.names
            for col in ("series_id", "step", "timestamp", "anglez", "enmo"):
                if col not in names:
                    raise SleepkitError(f"{self.series_path}: no column '{col}' (columns: {names})")
            col = names.index("series_id")
            ids: set[str] = set()
            for rg in range(pf.num_row_groups):
                stats = pf.metadata.row_group(rg).column(col).statistics
                if stats is not None and stats.has_min_max and stats.min == stats.max:
                    ids.add(stats.min.decode() if isinstance(stats.min, bytes) else str(stats.min))
                    continue  # one series in this row group: no need to read it
                table = pf.read_row_group(rg, columns=["series_id"])
                ids.update(str(x) for x in pc.unique(table.column(0)).to_pylist())
            self._ids = sorted(ids)
        return self._ids

    def subject_ids(self) -> list[str]:
        ids = self._all_ids()
        if self.subjects is None:
            return ids
        absent = sorted(set(self.subjects) - set(ids))
        if absent:
            raise SleepkitError(f"cmidss: series not in {self.series_path.name}: {', '.join(absent[:10])}")
        return sorted(self.subjects)

    def _events_for(self, series_id: str) -> list[NightEvent] | None:
        if self.events_path is None:
            return None
        if self._events is None:
            if not self.events_path.is_file():
                raise SleepkitError(f"cmidss: events file not found: {self.events_path}")
            self._events = read_events(self.events_path)
        return self._events.get(series_id, [])

    def load(self, subject_id: str) -> Recording:
        import pyarrow.parquet as pq

        self._parquet()
        try:
            table = pq.read_table(self.series_path, columns=["step", "timestamp", "anglez", "enmo"],
                                  filters=[("series_id", "==", subject_id)])
        except Exception as exc:
            raise SleepkitError(f"{self.series_path}: cannot read series '{subject_id}' ({exc})") from None
        if table.num_rows == 0:
            raise SleepkitError(f"{self.series_path}: no rows for series_id '{subject_id}'")
        step = table.column("step").to_numpy().astype(np.int64)
        order = np.argsort(step, kind="stable")
        step = step[order]
        if np.any(np.diff(step) == 0):
            dup = int(step[np.flatnonzero(np.diff(step) == 0)[0]])
            raise SleepkitError(f"{self.series_path}: series '{subject_id}' has step {dup} twice")
        if step[0] < 0:
            raise SleepkitError(f"{self.series_path}: series '{subject_id}' has negative step {int(step[0])}")
        n = int(step[-1]) + 1
        signals = {}
        for col, unit in (("anglez", "deg"), ("enmo", "g")):
            x = np.full(n, np.nan, dtype=np.float32)
            x[step] = table.column(col).to_numpy(zero_copy_only=False).astype(np.float32)[order]
            signals[col] = Signal(x, FS, unit)
        gaps = n - len(step)
        if gaps:
            logger.warning("%s: series '%s' misses %d of %d steps; they are NaN", self.series_path.name,
                           subject_id, gaps, n)
        first_ts = str(table.column("timestamp")[int(order[0])].as_py())
        labels = {}
        events = self._events_for(subject_id)
        if events is not None:
            if step[0] != 0:
                logger.info("%s: series '%s' starts at step %d", self.series_path.name, subject_id, int(step[0]))
            try:
                tod0 = _local_seconds(first_ts) - STEP_S * int(step[0])  # the first row is step[0]
            except ValueError:
                raise SleepkitError(f"{self.series_path}: series '{subject_id}' timestamp {first_ts!r} has no "
                                    "local time of day") from None
            labels["sleep"] = sleep_track(n, tod0, events, f"{self.events_path.name} [{subject_id}]")
        return Recording(subject_id, signals, labels, source=f"{self.series_path}#{subject_id}",
                         meta={"dataset": self.name, "first_timestamp": first_ts})

    def download(self, dest: Path | None = None, force: bool = False, num_workers: int = 2, progress: bool = True) -> dict:
        from ..download.http import RemoteFile, download_files
        from ..download.kaggle import KaggleClient, unzip_in_place

        dest = Path(dest or self.path)
        client = KaggleClient(self.competition, self.kaggle_url)
        names = [self.series_path.name] + ([self.events_path.name] if self.events_path else [])
        listed = client.remote_files(names)
        # Kaggle may send a zip whose size differs from the listed file: verify size after unpacking
        files = [RemoteFile(f.url, f.path, None) for f in listed]
        report = download_files(files, dest, client.source, force=force, num_workers=num_workers, progress=progress)
        for f in listed:
            target = dest / f.path
            unzip_in_place(target)
            if f.size is not None and target.stat().st_size != f.size:
                raise SleepkitError(f"kaggle/{self.competition}: {target} has {target.stat().st_size} bytes, "
                                    f"the listing says {f.size}; delete it and download again")
        return report.as_dict()

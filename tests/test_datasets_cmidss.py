"""CMIDSS reader on a small parquet + events CSV written here in the Kaggle layout, with the quirks of
the real files: nights without events (empty step), a night with only one event, steps written as
'4992.0', a series with a gap in its steps, several series in one parquet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.cmidss import CmidssDataset, read_events
from sleepkit.errors import SleepkitError
from sleepkit.labels import UNSCORED
from sleepkit.registry import DatasetFactory

DAY = 17280  # 5-s steps per day


def _series(sid: str, start: datetime, n: int, drop: slice | None = None):
    steps = np.arange(n, dtype=np.uint32)
    times = np.datetime64(start, "s") + (5 * steps.astype(np.int64)).astype("timedelta64[s]")
    ts = np.char.add(np.datetime_as_string(times, unit="s"), "-0400").tolist()
    anglez = (np.sin(steps / 500.0) * 60).astype(np.float32)
    enmo = (np.abs(np.cos(steps / 300.0)) * 0.05).astype(np.float32)
    keep = np.ones(n, dtype=bool)
    if drop is not None:
        keep[drop] = False
    return {"series_id": [sid] * int(keep.sum()), "step": steps[keep], "timestamp": [t for t, k in zip(ts, keep) if k],
            "anglez": anglez[keep], "enmo": enmo[keep]}


@pytest.fixture
def cmidss_root(tmp_path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "cmidss"
    root.mkdir()
    # series a: starts 15:00 local, 3 days; series b: starts 10:00, 1.5 days, 100 steps missing
    a = _series("038441c925bb", datetime(2018, 8, 14, 15, 0, 0), 3 * DAY)
    b = _series("0402a003dae9", datetime(2018, 12, 18, 10, 0, 0), DAY + DAY // 2, drop=slice(5000, 5100))
    table = pa.concat_tables([pa.table(a), pa.table(b)])
    pq.write_table(table, root / "train_series.parquet", row_group_size=DAY)
    # night 1 of a: onset 23:00 (step 8*720=5760), wakeup 07:00 (step 16h -> 11520)
    # night 2 of a: no events (device off) -> empty steps; night 3: only an onset
    # night 1 of b: onset 22:00 (12h -> 8640), wakeup 06:30 (20.5h -> 14760), steps written as floats
    (root / "train_events.csv").write_text(
        "series_id,night,event,step,timestamp\n"
        "038441c925bb,1,onset,5760,2018-08-14T23:00:00-0400\n"
        "038441c925bb,1,wakeup,11520,2018-08-15T07:00:00-0400\n"
        "038441c925bb,2,onset,,\n"
        "038441c925bb,2,wakeup,,\n"
        "038441c925bb,3,onset,40320,2018-08-16T23:00:00-0400\n"
        "038441c925bb,3,wakeup,,\n"
        "0402a003dae9,1,onset,8640.0,2018-12-18T22:00:00-0400\n"
        "0402a003dae9,1,wakeup,14760.0,2018-12-19T06:30:00-0400\n"
    )
    return root


def test_events_keep_empty_steps_as_none(cmidss_root):
    events = read_events(cmidss_root / "train_events.csv")
    night2 = [e for e in events["038441c925bb"] if e.night == 2]
    assert [e.step for e in night2] == [None, None]
    assert [e.step for e in events["0402a003dae9"]] == [8640, 14760]


def test_sleep_track_masks_nights_without_events(cmidss_root, caplog):
    ds = DatasetFactory.get("cmidss")(path=str(cmidss_root))
    assert ds.subject_ids() == ["038441c925bb", "0402a003dae9"]
    rec = ds.load("038441c925bb")
    assert rec.signals["anglez"].fs == pytest.approx(0.2) and rec.signals["enmo"].unit == "g"
    assert len(rec.signals["anglez"].data) == 3 * DAY
    sleep = rec.labels["sleep"]
    assert sleep.fs == pytest.approx(0.2) and len(sleep.values) == 3 * DAY
    v = sleep.values
    # window 0 = series start (15:00) to the first local noon (step 21h*720 = 15120): scored
    assert (v[:5760] == 0).all() and (v[5760:11520] == 1).all() and (v[11520:15120] == 0).all()
    # night 2 (empty steps) and night 3 (onset only) are masked, never guessed
    assert (v[15120:] == UNSCORED).all()
    assert int((v == 1).sum()) == 11520 - 5760


def test_series_with_step_gap_and_float_steps(cmidss_root):
    rec = CmidssDataset(path=cmidss_root, subjects=["0402a003dae9"]).load("0402a003dae9")
    x = rec.signals["enmo"].data
    assert len(x) == DAY + DAY // 2 and np.isnan(x[5000:5100]).all() and not np.isnan(x[:5000]).any()
    v = rec.labels["sleep"].values
    # starts 10:00: window 0 is 10:00-12:00 (no events: masked), window 1 is the scored night
    assert (v[:1440] == UNSCORED).all()
    assert (v[1440:8640] == 0).all() and (v[8640:14760] == 1).all() and (v[14760:18720] == 0).all()
    assert (v[18720:] == UNSCORED).all()  # the next noon-to-noon window has no events


def test_cmidss_errors_name_file_and_field(cmidss_root, tmp_path):
    with pytest.raises(SleepkitError, match="not in train_series.parquet: nope"):
        CmidssDataset(path=cmidss_root, subjects=["nope"]).subject_ids()
    bad = cmidss_root / "train_events.csv"
    bad.write_text("series_id,night,event,step,timestamp\n038441c925bb,1,sleep,5760,x\n")
    with pytest.raises(SleepkitError, match=r"train_events.csv: row 2, column 'event'"):
        CmidssDataset(path=cmidss_root).load("038441c925bb")
    with pytest.raises(SleepkitError, match="series file not found"):
        CmidssDataset(path=tmp_path / "none").subject_ids()
    test_split = CmidssDataset(path=cmidss_root, events_file=None).load("038441c925bb")
    assert test_split.labels == {}

"""The synthetic dataset: determinism, signal contract, hypnogram statistics, apnea events."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit.datasets.synthetic import SyntheticDataset, make_hypnogram
from sleepkit.errors import SleepkitError
from sleepkit.labels import ApneaEvent, SleepStage
from sleepkit.registry import DatasetFactory

W, N1, N2, N3, N4, REM, NOISE = (int(s) for s in SleepStage)


@pytest.fixture(scope="module")
def nights():
    ds = SyntheticDataset(num_subjects=3, hours=8.0, seed=11)
    return [ds.load(sid) for sid in ds.subject_ids()]


def test_registered_and_subject_ids():
    ds = DatasetFactory.get("synthetic")(num_subjects=12)
    ids = ds.subject_ids()
    assert ids == sorted(ids) and ids[0] == "syn-000" and ids[-1] == "syn-011"
    with pytest.raises(SleepkitError, match="syn-999"):
        ds.load("syn-999")


def test_deterministic_per_seed_and_subject():
    a = SyntheticDataset(num_subjects=3, hours=0.5, seed=5).load("syn-001")
    b = SyntheticDataset(num_subjects=9, hours=0.5, seed=5).load("syn-001")  # subject count does not matter
    c = SyntheticDataset(num_subjects=3, hours=0.5, seed=6).load("syn-001")
    d = SyntheticDataset(num_subjects=3, hours=0.5, seed=5).load("syn-002")
    for role in a.signals:
        np.testing.assert_array_equal(a.signals[role].data, b.signals[role].data)
    np.testing.assert_array_equal(a.labels["stage"].values, b.labels["stage"].values)
    assert not np.array_equal(a.signals["ppg"].data, c.signals["ppg"].data, equal_nan=True)
    assert not np.array_equal(a.signals["ppg"].data, d.signals["ppg"].data, equal_nan=True)


def test_signal_contract(nights):
    rec = nights[0]
    expected = {"ppg": (64.0, ""), "acc_x": (32.0, "g"), "acc_y": (32.0, "g"), "acc_z": (32.0, "g"), "spo2": (1.0, "%"), "quality": (1.0, "")}
    assert set(rec.signals) == set(expected)
    for role, (fs, unit) in expected.items():
        sig = rec.signals[role]
        assert sig.fs == fs and sig.data.dtype == np.float32 and sig.data.ndim == 1
        assert len(sig.data) == int(8 * 3600 * fs)
        if unit:
            assert sig.unit == unit
    spo2 = rec.signals["spo2"].data
    assert np.nanmin(spo2) >= 70 and np.nanmax(spo2) <= 100
    q = rec.signals["quality"].data
    assert q.min() >= 0 and q.max() <= 1
    acc = np.stack([rec.signals[f"acc_{a}"].data for a in "xyz"])
    assert np.median(np.linalg.norm(acc, axis=0)) == pytest.approx(1.0, abs=0.02)  # gravity, in g
    assert rec.labels["stage"].fs == pytest.approx(1 / 30) and rec.labels["apnea"].fs == 1.0
    assert len(rec.labels["stage"].values) == 8 * 120 and len(rec.labels["apnea"].values) == 8 * 3600


def test_hypnogram_statistics():
    rng = np.random.default_rng(0)
    hyps = [make_hypnogram(rng, 960, rk=(i % 3 == 0), noise=True) for i in range(30)]
    allh = np.concatenate(hyps)
    assert set(np.unique(allh)) <= {W, N1, N2, N3, N4, REM, NOISE}
    frac = np.bincount(allh, minlength=7) / len(allh)
    assert 0.4 < frac[N2] < 0.7
    assert 0.1 < frac[N3] + frac[N4] < 0.25
    assert 0.15 < frac[REM] < 0.3
    assert 0.02 < frac[W] < 0.2
    assert 0 < frac[NOISE] < 0.01 and 0 < frac[N4] < frac[N3]
    thirds = np.stack([np.array_split(h, 3) for h in hyps], axis=0)  # [night, third, epochs]

    def share(stages, third):
        return np.mean([np.isin(thirds[i, third], stages).mean() for i in range(len(hyps))])

    assert share([N3, N4], 0) > 3 * share([N3, N4], 2)  # slow-wave sleep early
    assert share([REM], 2) > 1.5 * share([REM], 0)  # REM late
    for h in hyps:
        onset = np.argmax(h != W)
        assert 3 <= onset <= 40  # sleep-onset latency 1.5–20 min
        # REM periods (REM runs merged across gaps shorter than 15 min) mark ~90-min cycles.
        rem_idx = np.flatnonzero(h == REM)
        periods = 1 + int((np.diff(rem_idx) > 30).sum())
        assert 3 <= periods <= 7
        assert h[-1] in (W, NOISE)  # the night ends awake (NOISE epochs sit in wake)


def test_apnea_events_and_desaturations(nights):
    for rec in nights:
        ev = rec.labels["apnea"].values
        assert set(np.unique(ev)) <= {int(e) for e in ApneaEvent}
        edges = np.flatnonzero(np.diff(np.concatenate([[0], (ev > 0).astype(int), [0]])))
        starts, ends = edges[::2], edges[1::2]
        assert len(starts) == rec.meta["n_events"]
        if len(starts) == 0:
            continue
        assert (ends - starts).min() >= 10 and (ends - starts).max() <= 60
        stage_at = np.repeat(rec.labels["stage"].values, 30)[starts]
        assert (stage_at != W).all()  # events happen in sleep
        spo2 = rec.signals["spo2"].data.astype(np.float64)
        base = np.nanmedian(spo2)
        nadirs = np.array([np.nanmin(spo2[s + 10 : e + 40]) for s, e in zip(starts, ends)])
        # SpO2 lags the event: the dip shows up after it starts, clearly below the night's median.
        assert np.nanmean(base - nadirs) > 1.5
    ahis = [rec.meta["ahi"] for rec in nights]
    assert all(0 <= a <= 30 for a in ahis)


def test_apnea_off_and_nan_dropout():
    rec = SyntheticDataset(num_subjects=1, hours=1.0, apnea=False, dropout_prob=1.0, loose_prob=0.0).load("syn-000")
    assert (rec.labels["apnea"].values == 0).all() and rec.meta["n_events"] == 0
    ppg_nan = np.isnan(rec.signals["ppg"].data)
    spo2_nan = np.isnan(rec.signals["spo2"].data)
    assert 20 * 64 <= ppg_nan.sum() <= 180 * 64 and spo2_nan.sum() == ppg_nan.sum() // 64
    run = np.flatnonzero(ppg_nan)
    assert run[-1] - run[0] + 1 == len(run)  # one contiguous run
    assert (rec.signals["quality"].data[spo2_nan] == 0).all()


def test_loose_strap_lowers_quality_for_minutes():
    loose = SyntheticDataset(num_subjects=1, hours=1.0, loose_prob=1.0, dropout_prob=0.0).load("syn-000")
    tight = SyntheticDataset(num_subjects=1, hours=1.0, loose_prob=0.0, dropout_prob=0.0).load("syn-000")
    low = loose.signals["quality"].data < 0.5
    assert 180 <= low.sum() <= 900 and (tight.signals["quality"].data < 0.5).sum() < 60


def test_movement_depends_on_stage(nights):
    # Straight from the generated accelerometer: wake moves far more than slow-wave sleep.
    for rec in nights[:1]:
        stage_s = np.repeat(rec.labels["stage"].values, 30)
        acc = np.stack([rec.signals[f"acc_{a}"].data for a in "xyz"])
        jerk = np.linalg.norm(np.diff(acc, axis=1), axis=0)
        per_s = jerk[: (len(jerk) // 32) * 32].reshape(-1, 32).mean(axis=1)
        n = min(len(per_s), len(stage_s))
        assert per_s[:n][stage_s[:n] == W].mean() > 2 * per_s[:n][stage_s[:n] == N3].mean()


@pytest.mark.parametrize(
    "kwargs, field",
    [({"hours": -1}, "hours"), ({"num_subjects": 0}, "num_subjects"), ({"ahi_range": [20, 5]}, "ahi_range"),
     ({"seed": "x"}, "seed"), ({"dropout_prob": 2}, "dropout_prob"), ({"loose_prob": -0.1}, "loose_prob")],
)
def test_bad_params_name_the_field(kwargs, field):
    with pytest.raises(SleepkitError, match=field):
        SyntheticDataset(**kwargs)

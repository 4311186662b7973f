"""Classic actigraphy rules against hand-computed values: Cole-Kripke (published coefficients per epoch
length), Webster's rescoring rules, Sadeh, and the one fitted device scale."""

from __future__ import annotations

import numpy as np
import pytest

from sleepkit import actigraphy
from sleepkit.errors import SleepkitError


def test_cole_kripke_index_is_the_published_weighted_sum():
    a = np.zeros(20)
    a[10] = 100.0
    d = actigraphy.cole_kripke_index(a, 60)
    # D(t) = 0.001 * sum W_k A(t+k), k = -4..2 with W = 106, 54, 58, 76, 230, 74, 67: the spike at 10
    # is A(t+k) for t = 10 - k.
    expected = np.zeros(20)
    for k, w in zip(range(-4, 3), (106, 54, 58, 76, 230, 74, 67)):
        expected[10 - k] = 0.001 * w * 100
    np.testing.assert_allclose(d, expected)
    assert d[14] == pytest.approx(10.6) and d[10] == pytest.approx(23.0) and d[8] == pytest.approx(6.7)
    # 30-s epochs use their own set: P = 0.0001, W0 = 121
    assert actigraphy.cole_kripke_index(a, 30)[10] == pytest.approx(0.0001 * 121 * 100)
    assert actigraphy.cole_kripke_index(a, 10)[10] == pytest.approx(0.00001 * 1736 * 100)


def test_cole_kripke_threshold():
    # constant activity a inside the night: D = 0.001 * 665 * a -> sleep iff a < 1 / 0.665
    night = np.full(30, 1.50)
    assert actigraphy.cole_kripke(night, 60)[10:20].all()
    assert not actigraphy.cole_kripke(np.full(30, 1.51), 60)[10:20].any()
    # the night is padded with zeros: the first epochs see less activity
    assert actigraphy.cole_kripke_index(np.full(30, 1.0), 60)[0] == pytest.approx(0.001 * (230 + 74 + 67))


def test_webster_rules_a_to_c():
    w, s = False, True
    # a) >= 4 min wake: next 1 min of sleep -> wake
    out = actigraphy.webster_rescore(np.array([w] * 4 + [s] * 8), 60)
    assert out.tolist() == [w] * 5 + [s] * 7
    # b) >= 10 min wake: next 3 min
    out = actigraphy.webster_rescore(np.array([w] * 10 + [s] * 12), 60)
    assert out.tolist() == [w] * 13 + [s] * 9
    # c) >= 15 min wake: next 4 min; with 30-s epochs every duration doubles
    out = actigraphy.webster_rescore(np.array([w] * 30 + [s] * 20), 30)
    assert out.tolist() == [w] * 38 + [s] * 12
    # 3 min of wake changes nothing
    seq = np.array([s] * 5 + [w] * 3 + [s] * 5)
    assert actigraphy.webster_rescore(seq, 60).tolist() == seq.tolist()


def test_webster_rules_d_and_e():
    w, s = False, True
    # d) 6 min of sleep between >= 10 min of wake -> wake (a-c first take 3 of them)
    seq = np.array([s] * 12 + [w] * 10 + [s] * 6 + [w] * 10 + [s] * 12)
    out = actigraphy.webster_rescore(seq, 60)
    assert not out[12:38].any() and out[:12].all() and out[-9:].all() and not out[38:41].any()
    # e) 10 min of sleep (14 minus the 4 rule c takes) between >= 20 min of wake -> wake
    seq = np.array([w] * 20 + [s] * 14 + [w] * 20)
    assert not actigraphy.webster_rescore(seq, 60).any()
    # 8 min (12 - 4) after only 19 min of wake: neither d (> 6 min) nor e (< 20 min of wake) applies
    seq = np.array([w] * 15 + [s] * 12 + [w] * 15)
    assert actigraphy.webster_rescore(seq, 60).tolist() == [w] * 19 + [s] * 8 + [w] * 15


def _sadeh_by_hand(a: np.ndarray) -> np.ndarray:
    out = []
    for t in range(len(a)):
        win = a[max(0, t - 5) : t + 6]
        last6 = a[max(0, t - 5) : t + 1]
        nat = sum(1 for v in win if 50 <= v < 100)
        sd = float(np.std(last6, ddof=1)) if len(last6) > 1 else 0.0
        out.append(7.601 - 0.065 * float(np.mean(win)) - 1.08 * nat - 0.056 * sd - 0.703 * np.log(a[t] + 1))
    return np.array(out)


def test_sadeh_matches_the_formula():
    a = np.array([0, 0, 3, 60, 80, 150, 20, 0, 0, 0, 0, 0, 55, 0, 0, 0, 5, 0], dtype=float)
    np.testing.assert_allclose(actigraphy.sadeh_index(a), _sadeh_by_hand(a), rtol=1e-9, atol=1e-9)
    assert actigraphy.sadeh(np.zeros(20)).all()  # PS = 7.601 with no activity
    assert not actigraphy.sadeh(np.full(20, 100.0))[5:15].any()
    with pytest.raises(SleepkitError, match="60-s epochs"):
        actigraphy.sadeh(a, 30)


def test_unpublished_epoch_length_is_an_error():
    with pytest.raises(SleepkitError, match="published for epochs of 10, 30, 60 s.*45 s"):
        actigraphy.cole_kripke(np.zeros(10), 45)


def test_fit_scale_finds_a_separating_device_scale():
    rng = np.random.default_rng(0)
    nights = []
    for _ in range(3):
        sleep = np.ones(400, int)
        for start in rng.integers(20, 380, 4):
            sleep[start : start + 15] = 0  # 15-min awakenings
        sleep[:30] = 0
        activity = np.where(sleep == 1, rng.uniform(0.0, 0.002, 400), rng.uniform(0.05, 0.1, 400))  # g
        nights.append(actigraphy.Night(activity, 60.0, sleep, np.ones(400, bool)))
    scale, kappa = actigraphy.fit_scale(nights, "cole_kripke", rescore=False)
    assert kappa > 0.9
    # The fitted scale makes quiet minutes sleep and active minutes wake under the published weights.
    for n in nights:
        pred = actigraphy.score("cole_kripke", n.activity * scale, 60, rescore=False)
        assert np.mean(pred == n.sleep_true) > 0.95
    # Multiplying the activity by 10 divides the fitted scale by about 10 (the rule is unchanged).
    tenfold = [actigraphy.Night(n.activity * 10, 60.0, n.sleep_true, n.use) for n in nights]
    scale10, kappa10 = actigraphy.fit_scale(tenfold, "cole_kripke", rescore=False)
    assert kappa10 == pytest.approx(kappa, abs=0.02) and scale10 == pytest.approx(scale / 10, rel=0.5)

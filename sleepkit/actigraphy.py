"""Classic wrist-actigraphy sleep/wake rules, the non-learned baseline of the ``detect`` task.

Cole-Kripke (Cole, Kripke, Gruen, Mullaney & Gillin, "Automatic sleep/wake identification from wrist
activity", Sleep 15(5):461-469, 1992). For epoch ``t`` with activity ``A``::

    D(t) = P * (W-4 A(t-4) + W-3 A(t-3) + W-2 A(t-2) + W-1 A(t-1) + W0 A(t) + W+1 A(t+1) + W+2 A(t+2))

and the epoch is wake when ``D >= 1``, sleep otherwise. The paper gives one (P, W) set per epoch
length (``COLE_KRIPKE`` below; activity outside the night counts as 0). Webster's rescoring rules,
which the paper applies after scoring, are in ``webster_rescore``.

Sadeh (Sadeh, Sharkey & Carskadon, "Activity-based sleep-wake identification: an empirical test of
methodological issues", Sleep 17(3):201-207, 1994), 1-min epochs::

    PS = 7.601 - 0.065 MEAN_W5 - 1.08 NAT - 0.056 SD_LAST6 - 0.703 LG

MEAN_W5: mean activity of the 11-epoch window centred on the epoch; NAT: epochs of that window with
50 <= activity < 100; SD_LAST6: standard deviation of the epoch and the five before; LG: ln(activity
+ 1). Sleep when ``PS >= 0``. Windows are cut at the ends of the night.

Both rules were fitted to activity *counts* of particular devices (Cole et al. fitted P per device).
A feature store holds other units (FS-W-A-5's ``enmo_mean`` is in g), so the only thing fitted here is
one device scale, ``counts = scale * activity``, chosen on the *training* subjects to maximise Cohen's
kappa; weights, thresholds and rescoring rules are the published ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SleepkitError
from .metrics import cohen_kappa, confusion_matrix

# epoch seconds -> (P, weights for A(t-4) .. A(t+2)); Cole et al. 1992, Table 2.
COLE_KRIPKE: dict[int, tuple[float, tuple[int, ...]]] = {
    10: (0.00001, (550, 378, 413, 699, 1736, 287, 309)),
    30: (0.0001, (50, 30, 14, 28, 121, 8, 50)),
    60: (0.001, (106, 54, 58, 76, 230, 74, 67)),
}
CK_BEFORE, CK_AFTER = 4, 2

SADEH = {"intercept": 7.601, "mean_w5": 0.065, "nat": 1.08, "sd_last6": 0.056, "lg": 0.703}
SADEH_EPOCH_SECONDS = 60

RULES = ("cole_kripke", "sadeh")
# Scale candidates searched on the training subjects (log-spaced; counts per unit of the feature).
SCALE_GRID = np.logspace(-2, 6, 161)


def _epoch_key(epoch_seconds: float) -> int:
    for key in COLE_KRIPKE:
        if abs(epoch_seconds - key) < 1e-6:
            return key
    raise SleepkitError(
        f"Cole-Kripke is published for epochs of {', '.join(str(k) for k in COLE_KRIPKE)} s; the feature frames "
        f"are {epoch_seconds:g} s apart (set feature.params.hop_seconds to one of them)"
    )


def cole_kripke_index(activity: np.ndarray, epoch_seconds: float) -> np.ndarray:
    """The Cole-Kripke index ``D`` per epoch (wake when ``D >= 1``)."""
    p, weights = COLE_KRIPKE[_epoch_key(epoch_seconds)]
    a = np.nan_to_num(np.asarray(activity, dtype=np.float64), nan=0.0)
    padded = np.concatenate([np.zeros(CK_BEFORE), a, np.zeros(CK_AFTER)])
    d = np.zeros(len(a))
    for offset, w in zip(range(-CK_BEFORE, CK_AFTER + 1), weights):
        d += w * padded[CK_BEFORE + offset : CK_BEFORE + offset + len(a)]
    return p * d


def cole_kripke(activity: np.ndarray, epoch_seconds: float) -> np.ndarray:
    """Sleep (True) / wake (False) per epoch."""
    return cole_kripke_index(activity, epoch_seconds) < 1.0


def _runs(values: np.ndarray) -> list[tuple[int, int, bool]]:
    v = np.asarray(values, dtype=bool)
    if len(v) == 0:
        return []
    edges = np.flatnonzero(v[1:] != v[:-1]) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(v)]])
    return [(int(a), int(b), bool(v[a])) for a, b in zip(starts, stops)]


def webster_rescore(sleep: np.ndarray, epoch_seconds: float) -> np.ndarray:
    """Webster's rules as used by Cole et al. (durations in minutes, converted to epochs):

    a) after at least 4 min of wake, the next 1 min of sleep becomes wake;
    b) after at least 10 min of wake, the next 3 min of sleep become wake;
    c) after at least 15 min of wake, the next 4 min of sleep become wake;
    d) sleep of 6 min or less with at least 10 min of wake before and after becomes wake;
    e) sleep of 10 min or less with at least 20 min of wake before and after becomes wake.

    Rules a-c look at the scoring before rescoring; d-e at the result of a-c."""
    per_min = 60.0 / epoch_seconds

    def n(minutes: float) -> int:
        return int(round(minutes * per_min))

    src = np.asarray(sleep, dtype=bool)
    out = src.copy()
    runs = _runs(src)
    for i, (a, b, is_sleep) in enumerate(runs):
        if is_sleep or i + 1 >= len(runs):
            continue
        wake_len = b - a
        relabel = 0
        for need, take in ((n(15), n(4)), (n(10), n(3)), (n(4), n(1))):
            if wake_len >= need:
                relabel = take
                break
        s_a, s_b, _ = runs[i + 1]
        out[s_a : min(s_b, s_a + relabel)] = False
    runs = _runs(out)
    for i, (a, b, is_sleep) in enumerate(runs):
        if not is_sleep or i == 0 or i + 1 >= len(runs):
            continue
        before, after = runs[i - 1][1] - runs[i - 1][0], runs[i + 1][1] - runs[i + 1][0]
        length = b - a
        if (length <= n(6) and before >= n(10) and after >= n(10)) or (length <= n(10) and before >= n(20) and after >= n(20)):
            out[a:b] = False
    return out


def check_epoch(rule: str, epoch_seconds: float) -> None:
    """Raise SleepkitError unless ``rule`` is published for epochs of ``epoch_seconds``."""
    if rule == "cole_kripke":
        _epoch_key(epoch_seconds)
    elif rule == "sadeh":
        if abs(epoch_seconds - SADEH_EPOCH_SECONDS) > 1e-6:
            raise SleepkitError(
                f"the Sadeh rule is published for 60-s epochs; the feature frames are {epoch_seconds:g} s apart "
                "(use rule 'cole_kripke' or set feature.params.hop_seconds to 60)"
            )
    else:
        raise SleepkitError(f"unknown actigraphy rule '{rule}'; choose one of {', '.join(RULES)}")


def sadeh(activity: np.ndarray, epoch_seconds: float = SADEH_EPOCH_SECONDS) -> np.ndarray:
    """Sleep (True) / wake (False) per 1-min epoch."""
    return sadeh_index(activity, epoch_seconds) >= 0.0


def sadeh_index(activity: np.ndarray, epoch_seconds: float = SADEH_EPOCH_SECONDS) -> np.ndarray:
    """The Sadeh probability-of-sleep score ``PS`` per 1-min epoch (sleep when ``PS >= 0``)."""
    check_epoch("sadeh", epoch_seconds)
    a = np.nan_to_num(np.asarray(activity, dtype=np.float64), nan=0.0)
    n = len(a)
    t = np.arange(n)

    def window_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(values)])
        return c[hi] - c[lo]

    # 11-epoch centred window and the epoch with its five predecessors, both cut at the night's ends
    lo11, hi11 = np.maximum(t - 5, 0), np.minimum(t + 6, n)
    lo6, hi6 = np.maximum(t - 5, 0), t + 1
    mean_w5 = window_sum(a, lo11, hi11) / (hi11 - lo11)
    nat = window_sum(((a >= 50) & (a < 100)).astype(float), lo11, hi11)
    k = (hi6 - lo6).astype(float)
    s1, s2 = window_sum(a, lo6, hi6), window_sum(a * a, lo6, hi6)
    var = np.where(k > 1, (s2 - s1 * s1 / k) / np.maximum(k - 1, 1), 0.0)
    sd_last6 = np.sqrt(np.maximum(var, 0.0))
    return (SADEH["intercept"] - SADEH["mean_w5"] * mean_w5 - SADEH["nat"] * nat
            - SADEH["sd_last6"] * sd_last6 - SADEH["lg"] * np.log(a + 1.0))


def score(rule: str, activity: np.ndarray, epoch_seconds: float, rescore: bool = True) -> np.ndarray:
    """Sleep (True) / wake (False) per epoch by ``rule``; Cole-Kripke with Webster rescoring if ``rescore``."""
    if rule == "cole_kripke":
        sleep = cole_kripke(activity, epoch_seconds)
        return webster_rescore(sleep, epoch_seconds) if rescore else sleep
    if rule == "sadeh":
        return sadeh(activity, epoch_seconds)
    raise SleepkitError(f"unknown actigraphy rule '{rule}'; choose one of {', '.join(RULES)}")


def describe(rule: str, epoch_seconds: float, rescore: bool) -> dict:
    """The published constants a rule runs with, for reports."""
    if rule == "cole_kripke":
        p, weights = COLE_KRIPKE[_epoch_key(epoch_seconds)]
        return {"rule": rule, "reference": "Cole et al., Sleep 15(5):461-469, 1992", "webster_rescoring": rescore,
                "coefficients": {"P": p, "weights_t-4..t+2": list(weights)}, "wake_if": "D >= 1"}
    return {"rule": rule, "reference": "Sadeh et al., Sleep 17(3):201-207, 1994", "webster_rescoring": False,
            "coefficients": dict(SADEH), "wake_if": "PS < 0"}


@dataclass
class Night:
    """One night for the rule: activity per frame (feature units), frames ``epoch_seconds`` apart,
    true sleep (1) / wake (0) per frame and the frames that count (bool)."""

    activity: np.ndarray
    epoch_seconds: float
    sleep_true: np.ndarray
    use: np.ndarray


def fit_scale(nights: list[Night], rule: str, rescore: bool = True, grid: np.ndarray = SCALE_GRID) -> tuple[float, float]:
    """(scale, kappa): the device scale maximising Cohen's kappa of the rule on ``nights``."""
    best = (float(grid[0]), -np.inf)
    for scale in grid:
        cm = np.zeros((2, 2), dtype=np.int64)
        for night in nights:
            pred = score(rule, night.activity * scale, night.epoch_seconds, rescore)
            cm += confusion_matrix(night.sleep_true[night.use], pred[night.use].astype(int), 2)
        k = cohen_kappa(cm)
        if k > best[1] + 1e-12:
            best = (float(scale), float(k))
    return best

"""The ``synthetic`` dataset: whole nights of wrist signals driven by a plausible hypnogram.

Per subject (deterministic from ``(seed, subject index)``):

* a hypnogram in 30-s epochs: sleep-onset latency, ~90-min ultradian cycles (N1 → N2 → N3 → N2 → REM)
  with N3 concentrated early and REM lengthening late, brief awakenings, a final awakening; some
  subjects are scored R&K-style (the deepest part of N3 blocks as stage 4) and a few wake epochs may
  be scored NOISE;
* optional apnea/hypopnea events (``ApneaEvent`` coding) at a per-subject AHI drawn from ``ahi_range``:
  10–60 s of absent (apnea) or reduced (hypopnea) breathing, SpO2 dips lagging the event by ~20 s,
  bradycardia during and a heart-rate surge plus a frequent movement at the end;
* signals whose statistics depend on stage: heart rate (higher in wake/REM, lowest in N3), HRV
  (strong respiratory sinus arrhythmia = HF power in N3, Mayer-wave LF power in REM/wake),
  respiration rate and regularity, and movement (frequent in wake, rare in N2/N3, atonia in REM);
* nuisances: PPG baseline wander and noise, motion artefacts on the PPG that lower ``quality``,
  sometimes minutes of a loose strap (weak, noisy pulse; low ``quality``) and sometimes a NaN dropout
  run (sensor lifted) on PPG and SpO2.

Signals: ``ppg`` (a.u., 64 Hz), ``acc_x``/``acc_y``/``acc_z`` (g, 32 Hz), ``spo2`` (%, 1 Hz, integer
like most oximeters), ``quality`` (0..1, 1 Hz). Labels: ``stage`` (1/30 Hz, ``SleepStage``), ``apnea``
(1 Hz, ``ApneaEvent``). A night shorter than 8 h is the beginning of a full night. Everything is
vectorised numpy; an 8-h night takes a fraction of a second.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ..errors import SleepkitError
from ..labels import ApneaEvent, SleepStage
from .base import Dataset, LabelTrack, Recording, Signal

EPOCH = 30  # seconds per scored epoch
CTRL_FS = 4.0  # Hz, grid on which heart/respiration drive signals are built

W, N1, N2, N3, N4, REM, NOISE = (int(s) for s in SleepStage)

# Stage-dependent physiology, indexed by stage code 0..6 (W, N1, N2, N3, N4, REM, NOISE).
HR_OFFSET = np.array([8.0, 3.0, 0.0, -4.0, -5.0, 5.0, 10.0])  # bpm above the subject's sleeping base
RSA_AMP = np.array([1.2, 2.5, 3.5, 5.0, 5.5, 1.2, 1.0])  # bpm, respiratory sinus arrhythmia (HF)
LF_AMP = np.array([3.0, 2.5, 1.5, 0.6, 0.5, 3.5, 3.0])  # bpm, ~0.1 Hz Mayer waves (LF)
HR_JITTER = np.array([2.5, 1.5, 0.8, 0.4, 0.4, 2.5, 3.0])  # bpm, slow irregular HR changes
RESP_RATE = np.array([16.0, 15.0, 14.0, 13.0, 13.0, 16.5, 16.0])  # breaths/min
RESP_JITTER = np.array([2.5, 1.5, 0.6, 0.3, 0.3, 2.5, 3.0])  # breaths/min, irregularity
MOVE_RATE = np.array([1.2, 0.3, 0.06, 0.01, 0.01, 0.04, 4.0])  # movement bursts per minute
MOVE_AMP = np.array([0.15, 0.08, 0.06, 0.05, 0.05, 0.02, 0.3])  # g
APNEA_SITE_WEIGHT = np.array([0.0, 1.0, 1.0, 0.3, 0.2, 1.5, 0.0])  # where events happen

# One pulse over a heart cycle: systolic wave plus a smaller dicrotic wave.
_U = np.arange(1024) / 1024
PULSE_SHAPE = np.exp(-0.5 * ((_U - 0.18) / 0.07) ** 2) + 0.35 * np.exp(-0.5 * ((_U - 0.45) / 0.09) ** 2)


def _smooth(x: np.ndarray, fs: float, tau: float) -> np.ndarray:
    """First-order low-pass (time constant ``tau`` s): stage changes move physiology gradually."""
    a = np.exp(-1.0 / (tau * fs))
    y, _ = scipy.signal.lfilter([1 - a], [1, -a], x, zi=[x[0] * a])
    return y


def _coloured(rng: np.random.Generator, n: int, fs: float, cutoff: float) -> np.ndarray:
    """Unit-variance noise low-passed at ``cutoff`` Hz."""
    sos = scipy.signal.butter(2, min(cutoff, 0.45 * fs), fs=fs, output="sos")
    y = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    return y / (y.std() + 1e-12)


def _add_bursts(rng: np.random.Generator, x: np.ndarray, envelope: np.ndarray, fs: float) -> None:
    """Add band-limited (< 4 Hz) noise scaled by ``envelope`` to ``x`` in place, only where it is > 0."""
    idx = np.flatnonzero(envelope > 0)
    if len(idx) > 16:
        x[idx] += envelope[idx] * _coloured(rng, len(idx), fs, 4.0)


def _segments(n: int, starts: np.ndarray, stops: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum of boxcars ``values[i]`` on ``[starts[i], stops[i])`` over ``n`` samples (diff + cumsum)."""
    d = np.zeros(n + 1)
    np.add.at(d, np.clip(starts, 0, n), values)
    np.add.at(d, np.clip(stops, 0, n), -values)
    out = np.cumsum(d[:-1])
    out[np.abs(out) < 1e-9] = 0.0  # cumsum round-off must not leave "movement" after a burst ends
    return out


# ---------------------------------------------------------------------------------------------------
# Hypnogram


def make_hypnogram(rng: np.random.Generator, n_epochs: int, rk: bool = False, noise: bool = False) -> np.ndarray:
    """Stage per 30-s epoch for a night of ``n_epochs`` (the first ``n_epochs`` of a full 8-h+ night)."""
    total = max(n_epochs, 8 * 120)
    parts: list[tuple[int, int]] = [(W, int(rng.integers(6, 40))), (N1, int(rng.integers(2, 7)))]
    used = sum(d for _, d in parts)
    cycle = 0
    while used < total:
        length = int(rng.normal(190, 18))  # epochs (~95 min)
        n3 = max(0, int(rng.normal(70 - 26 * cycle, 8))) if cycle < 3 else int(rng.integers(0, 4))
        rem = int(np.clip(rng.normal(12 + 16 * cycle, 6), 4, 80))
        n1 = int(rng.integers(1, 5))
        n2 = max(10, length - n3 - rem - n1)
        n2a = int(n2 * rng.uniform(0.35, 0.6))
        block = [(N1, n1), (N2, n2a), (N3, n3), (N2, n2 - n2a), (REM, rem)]
        if rng.random() < 0.5:  # awakening at the end of a REM period
            block.append((W, int(rng.integers(1, 5))))
        parts += [(s, d) for s, d in block if d > 0]
        used += sum(d for _, d in block)
        cycle += 1
    hyp = np.repeat([s for s, _ in parts], [d for _, d in parts]).astype(np.int8)[:total]

    # Final awakening.
    hyp[total - int(rng.integers(4, 20)) :] = W
    # Brief awakenings (1-3 epochs, ~1/h, more late) and stage flicker, placed after onset.
    onset = int(np.argmax(hyp != W))
    idx = np.arange(total)
    late = idx / total
    wake_start = (rng.random(total) < (0.6 + 1.2 * late) / 120) & (idx > onset) & np.isin(hyp, (N1, N2, REM))
    for s in np.flatnonzero(wake_start):
        hyp[s : s + int(rng.integers(1, 4))] = W
    flick = rng.random(total)
    hyp[(hyp == N2) & (flick < 0.04) & (idx > onset)] = N1
    hyp[(hyp == N3) & (flick < 0.08)] = N2
    if rk:  # R&K scorers split slow-wave sleep into stage 3 and stage 4 (the deepest, mid-block)
        run_id = np.concatenate([[0], np.cumsum(hyp[1:] != hyp[:-1])])
        for r in np.unique(run_id[hyp == N3]):
            members = np.flatnonzero(run_id == r)
            if len(members) >= 8:
                hyp[members[len(members) // 4 : 3 * len(members) // 4]] = N4
    if noise:  # a few unscoreable epochs during wake
        wake = np.flatnonzero((hyp == W) & (idx > onset))
        if len(wake):
            hyp[rng.choice(wake, size=min(len(wake), int(rng.integers(1, 4))), replace=False)] = NOISE
    return hyp[:n_epochs]


# ---------------------------------------------------------------------------------------------------
# Apnea events


def make_events(rng: np.random.Generator, stage_s: np.ndarray, ahi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start s, duration s, ApneaEvent code) of events placed in sleep, at least 20 s apart."""
    weight = APNEA_SITE_WEIGHT[stage_s]
    sleep_h = (stage_s != W).sum() / 3600.0
    n = min(int(rng.poisson(ahi * sleep_h)), int(np.count_nonzero(weight)))
    if n == 0 or weight.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.sort(rng.choice(len(stage_s), size=n, replace=False, p=weight / weight.sum()))
    durs = np.clip(10 + rng.gamma(2.0, 7.0, size=n), 10, 60).astype(np.int64)
    # Drop events that start within 20 s of the previous kept one (greedy, in time order).
    keep = np.ones(n, dtype=bool)
    last_end = -(10**9)
    for i in range(n):
        if starts[i] < last_end + 20:
            keep[i] = False
        else:
            last_end = starts[i] + durs[i]
    starts, durs = starts[keep], durs[keep]
    durs = np.minimum(durs, len(stage_s) - starts)
    ok = durs >= 10
    starts, durs = starts[ok], durs[ok]
    codes = np.where(rng.random(len(starts)) < 0.35, int(ApneaEvent.APNEA), int(ApneaEvent.HYPOPNEA))
    return starts, durs, codes


# ---------------------------------------------------------------------------------------------------
# Night generation


def generate_night(
    subject_id: str,
    rng: np.random.Generator,
    hours: float,
    apnea: bool,
    ahi_range: tuple[float, float],
    ppg_fs: float = 64.0,
    acc_fs: float = 32.0,
    dropout_prob: float = 0.3,
    loose_prob: float = 0.3,
) -> Recording:
    n_sec = int(round(hours * 3600))
    n_ep = int(np.ceil(n_sec / EPOCH))
    hyp = make_hypnogram(rng, n_ep, rk=rng.random() < 0.2, noise=rng.random() < 0.3)
    stage_s = np.repeat(hyp, EPOCH)[:n_sec].astype(np.int64)
    t1 = np.arange(n_sec, dtype=np.float64)

    # Subject traits.
    base_hr = rng.uniform(52, 70)
    resp_offset = rng.uniform(-1.5, 1.5)
    hrv_scale = rng.uniform(0.7, 1.3)
    move_scale = rng.uniform(0.6, 1.5)
    spo2_base = rng.uniform(94.5, 98.0)
    ahi = float(rng.uniform(*ahi_range)) if apnea else 0.0

    # Apnea events → per-second event code, breathing depth, SpO2 drop, HR change.
    ev_start, ev_dur, ev_code = make_events(rng, stage_s, ahi) if apnea else (np.zeros(0, np.int64),) * 3
    ev_end = ev_start + ev_dur
    apnea_s = _segments(n_sec, ev_start, ev_end, ev_code.astype(np.float64)).round().astype(np.int32)
    depth = np.where(ev_code == int(ApneaEvent.APNEA), 0.95, rng.uniform(0.5, 0.7, len(ev_code)))
    breathing = 1.0 - _segments(n_sec, ev_start, ev_end, depth)
    breathing += _segments(n_sec, ev_end, ev_end + 8, np.full(len(ev_end), 0.6))  # recovery breaths
    desat = np.where(ev_code == int(ApneaEvent.APNEA), 3.0 + 0.12 * ev_dur, 1.5 + 0.07 * ev_dur)
    desat *= rng.uniform(0.7, 1.3, len(desat))
    ramp = np.zeros(n_sec)
    for s, d, k in zip(ev_start, ev_dur, desat):  # ≤ a few hundred events: the loop is cheap
        ramp[s : s + d] = np.linspace(0, k, d, endpoint=False)
        ramp[s + d : s + d + 12] = np.linspace(k, 0, len(ramp[s + d : s + d + 12]))
    lag = int(rng.integers(15, 26))
    spo2_drop = _smooth(np.concatenate([np.zeros(lag), ramp[: n_sec - lag]]), 1.0, 4.0)
    hr_event = _segments(n_sec, ev_start, ev_end, np.full(len(ev_start), -2.5))
    hr_event += _segments(n_sec, ev_end, ev_end + 12, np.full(len(ev_end), 9.0))

    # Movement bursts (per second) → envelope in g; some event ends bring a movement too.
    p_move = MOVE_RATE[stage_s] / 60.0 * move_scale
    mv_start = np.flatnonzero(rng.random(n_sec) < p_move)
    arousal_moves = ev_end[rng.random(len(ev_end)) < 0.4]
    mv_start = np.concatenate([mv_start, arousal_moves[arousal_moves < n_sec]])
    mv_dur = rng.integers(2, 13, len(mv_start))
    mv_amp = MOVE_AMP[stage_s[np.minimum(mv_start, n_sec - 1)]] * rng.lognormal(0, 0.5, len(mv_start))
    move_env = _segments(n_sec, mv_start, mv_start + mv_dur, mv_amp)

    # Drive signals on the 4-Hz control grid.
    n_ctrl = int(n_sec * CTRL_FS)
    tc = np.arange(n_ctrl) / CTRL_FS

    def ctrl(x: np.ndarray) -> np.ndarray:
        return np.interp(tc, t1, x)

    def stage_param(table: np.ndarray, tau: float = 30.0) -> np.ndarray:
        return ctrl(_smooth(table[stage_s], 1.0, tau))

    resp_rate = stage_param(RESP_RATE) + resp_offset + stage_param(RESP_JITTER) * _coloured(rng, n_ctrl, CTRL_FS, 0.02)
    resp_rate = np.clip(resp_rate, 8.0, 28.0)
    resp_phase = 2 * np.pi * np.cumsum(resp_rate / 60.0) / CTRL_FS
    resp_amp = ctrl(_smooth(breathing, 1.0, 2.0)) * (1 + 0.1 * _coloured(rng, n_ctrl, CTRL_FS, 0.05))
    resp = np.sin(resp_phase) * resp_amp

    lf_phase = 2 * np.pi * np.cumsum(0.1 + 0.015 * _coloured(rng, n_ctrl, CTRL_FS, 0.01)) / CTRL_FS
    hr = (
        base_hr
        + stage_param(HR_OFFSET, 60.0)
        + hrv_scale * stage_param(RSA_AMP) * resp
        + hrv_scale * stage_param(LF_AMP) * np.sin(lf_phase)
        + stage_param(HR_JITTER) * _coloured(rng, n_ctrl, CTRL_FS, 0.03)
        + ctrl(_smooth(hr_event, 1.0, 3.0))
        + 6.0 * ctrl(np.minimum(move_env, 0.5))  # movement raises heart rate
    )
    hr = np.clip(hr, 38.0, 150.0)

    # PPG at ppg_fs: pulse shape over the heart phase, respiratory modulation, nuisances.
    n_ppg = int(n_sec * ppg_fs)
    tp = np.arange(n_ppg) / ppg_fs
    heart_phase = np.cumsum(np.interp(tp, tc, hr) / 60.0) / ppg_fs + rng.random()
    shape_idx = ((heart_phase % 1.0) * len(PULSE_SHAPE)).astype(np.int64)  # table lookup: cheaper than exp
    resp_p = np.interp(tp, tc, resp)
    wander = 0.4 * np.interp(tp, t1, _coloured(rng, n_sec, 1.0, 0.03))
    ppg = (1.0 + 0.15 * resp_p) * PULSE_SHAPE[shape_idx] + 0.25 * resp_p + wander
    ppg += 0.02 * rng.standard_normal(n_ppg, dtype=np.float32)
    move_p = np.interp(tp, t1, move_env)
    _add_bursts(rng, ppg, move_p * 12.0, ppg_fs)  # motion artefacts, only where there is movement

    # Accelerometer: gravity from posture (changes at some wake movements), bursts, noise, breathing.
    n_acc = int(n_sec * acc_fs)
    ta = np.arange(n_acc) / acc_fs
    turn = mv_start[(rng.random(len(mv_start)) < 0.25) & np.isin(stage_s[np.minimum(mv_start, n_sec - 1)], (W, N1, NOISE))]
    posture = rng.normal(size=(len(turn) + 1, 3))
    posture /= np.linalg.norm(posture, axis=1, keepdims=True)
    gravity = posture[np.searchsorted(np.sort(turn), ta, side="right")]
    move_a = np.interp(ta, t1, move_env)
    acc = gravity + 0.004 * rng.standard_normal((n_acc, 3), dtype=np.float32)
    for axis in range(3):
        _add_bursts(rng, acc[:, axis], move_a, acc_fs)
    acc[:, 2] += 0.003 * np.interp(ta, tc, resp)

    # SpO2 (1 Hz, integer %) and signal quality (1 Hz).
    spo2 = spo2_base + 0.4 * _coloured(rng, n_sec, 1.0, 0.005) - spo2_drop + 0.3 * rng.standard_normal(n_sec)
    spo2 = np.round(np.clip(spo2, 70.0, 100.0))
    quality = np.clip(1.0 - 4.0 * move_env + 0.03 * rng.standard_normal(n_sec), 0.0, 1.0)

    # Loose strap: minutes of weak, noisy pulse that the quality channel reports.
    if rng.random() < loose_prob and n_sec > 1200:
        l0 = int(rng.integers(60, n_sec - 1000))
        l1 = l0 + int(rng.integers(180, 900))
        p0, p1 = int(l0 * ppg_fs), int(l1 * ppg_fs)
        ppg[p0:p1] = 0.3 * ppg[p0:p1] + 0.15 * _coloured(rng, p1 - p0, ppg_fs, 5.0)
        quality[l0:l1] *= rng.uniform(0.15, 0.45)

    # Sensor lifted: a NaN run on the optical channels.
    if rng.random() < dropout_prob and n_sec > 600:
        d0 = int(rng.integers(60, n_sec - 300))
        d1 = d0 + int(rng.integers(20, 180))
        ppg[int(d0 * ppg_fs) : int(d1 * ppg_fs)] = np.nan
        spo2[d0:d1] = np.nan
        quality[d0:d1] = 0.0

    f32 = np.float32
    signals = {
        "ppg": Signal(ppg.astype(f32), ppg_fs, "a.u."),
        "acc_x": Signal(acc[:, 0].astype(f32), acc_fs, "g"),
        "acc_y": Signal(acc[:, 1].astype(f32), acc_fs, "g"),
        "acc_z": Signal(acc[:, 2].astype(f32), acc_fs, "g"),
        "spo2": Signal(spo2.astype(f32), 1.0, "%"),
        "quality": Signal(quality.astype(f32), 1.0, ""),
    }
    labels = {
        "stage": LabelTrack(hyp.astype(np.int32), 1.0 / EPOCH),
        "apnea": LabelTrack(apnea_s, 1.0),
    }
    meta = {"ahi": ahi, "n_events": int(len(ev_start)), "base_hr": base_hr, "hours": hours}
    return Recording(subject_id, signals, labels, source=f"synthetic:{subject_id}", meta=meta)


class SyntheticDataset(Dataset):
    """Deterministic synthetic wrist nights; see the module docstring for what is modelled.

    Args: ``num_subjects`` (20), ``hours`` per night (8.0), ``seed`` (0), ``apnea`` (True),
    ``ahi_range`` ([0, 30] events/h, per-subject AHI drawn uniformly), ``dropout_prob`` (0.3, chance of
    a NaN run per night), ``loose_prob`` (0.3, chance of a loose-strap stretch per night).
    """

    name = "synthetic"
    # Subject i is the same night whatever the number of subjects (feature-store resume uses this).
    subject_independent_params = ("num_subjects",)

    def __init__(
        self,
        num_subjects: int = 20,
        hours: float = 8.0,
        seed: int = 0,
        apnea: bool = True,
        ahi_range: tuple[float, float] | list[float] = (0.0, 30.0),
        dropout_prob: float = 0.3,
        loose_prob: float = 0.3,
    ) -> None:
        where = "datasets[synthetic].params"
        if not isinstance(num_subjects, int) or isinstance(num_subjects, bool) or num_subjects < 1:
            raise SleepkitError(f"{where}.num_subjects must be a positive integer (got {num_subjects!r})")
        if not isinstance(hours, (int, float)) or not 0.05 <= float(hours) <= 24:
            raise SleepkitError(f"{where}.hours must be between 0.05 and 24 (got {hours!r})")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise SleepkitError(f"{where}.seed must be a non-negative integer (got {seed!r})")
        try:
            lo, hi = (float(v) for v in ahi_range)
        except (TypeError, ValueError):
            raise SleepkitError(f"{where}.ahi_range must be two numbers [low, high] (got {ahi_range!r})") from None
        if not 0 <= lo <= hi <= 120:
            raise SleepkitError(f"{where}.ahi_range must satisfy 0 <= low <= high <= 120 (got {ahi_range!r})")
        for key, prob in (("dropout_prob", dropout_prob), ("loose_prob", loose_prob)):
            if not isinstance(prob, (int, float)) or not 0 <= float(prob) <= 1:
                raise SleepkitError(f"{where}.{key} must be within [0, 1] (got {prob!r})")
        self.num_subjects = num_subjects
        self.hours = float(hours)
        self.seed = seed
        self.apnea = bool(apnea)
        self.ahi_range = (lo, hi)
        self.dropout_prob = float(dropout_prob)
        self.loose_prob = float(loose_prob)
        self._width = max(3, len(str(num_subjects - 1)))

    def subject_ids(self) -> list[str]:
        return [f"syn-{i:0{self._width}d}" for i in range(self.num_subjects)]

    def load(self, subject_id: str) -> Recording:
        ids = self.subject_ids()
        if subject_id not in ids:
            raise SleepkitError(f"synthetic dataset has no subject '{subject_id}' (subjects {ids[0]}..{ids[-1]})")
        index = ids.index(subject_id)
        rng = np.random.default_rng([self.seed, index])
        return generate_night(
            subject_id, rng, self.hours, self.apnea, self.ahi_range,
            dropout_prob=self.dropout_prob, loose_prob=self.loose_prob,
        )

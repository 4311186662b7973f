"""Framing a recording and giving every frame its labels and mask reasons (shared by all feature sets).

Frames start at 0 s and advance by ``hop`` seconds; frame ``j`` covers ``[j*hop, j*hop + frame)``.
Frames that would run past the end of the shortest required signal are not made.

Label per frame (``frame_labels``), for every label track the recording has:

* ``stage`` (and any track without a rule below): the label covering most of the frame; a tie goes to
  the label at the frame centre. For a 60-s frame on 30-s epochs this is the epoch at the frame
  centre (the later of the two epochs it straddles, as the centre falls on their boundary); for a
  frame inside one epoch it is that epoch. Unscored (-1, or time outside the track) wins only if it
  covers the most time.
* ``apnea`` / ``arousal`` (event tracks, 0 = none): if unscored seconds cover more than half of the
  frame → -1; else if events together cover at least ``min_seconds`` of the frame (10 s for apnea,
  3 s for arousal) → the event code with the most coverage (ties → the higher code, apnea over
  hypopnea); else 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..datasets.base import LabelTrack, Recording
from ..errors import SleepkitError
from ..labels import UNSCORED

# Event tracks: minimum event seconds inside a frame for the frame to count as an event frame.
EVENT_MIN_SECONDS = {"apnea": 10.0, "arousal": 3.0}


@dataclass
class FrameGrid:
    frame_seconds: float
    hop_seconds: float
    starts: np.ndarray  # [T] seconds

    @property
    def n(self) -> int:
        return len(self.starts)

    @property
    def centres(self) -> np.ndarray:
        return self.starts + self.frame_seconds / 2.0

    @property
    def ends(self) -> np.ndarray:
        return self.starts + self.frame_seconds


def require_signals(recording: Recording, roles: tuple[str, ...], feature_name: str) -> None:
    """Raise SleepkitError naming the missing role and the file when a needed signal is absent."""
    missing = [r for r in roles if r not in recording.signals]
    if missing:
        where = recording.source or recording.subject_id
        raise SleepkitError(
            f"subject '{recording.subject_id}' ({where}): feature set {feature_name} needs signal role(s) "
            f"{', '.join(repr(m) for m in missing)}, recording has {', '.join(sorted(recording.signals)) or 'none'}; "
            "map them in the dataset's channels"
        )


def make_grid(recording: Recording, roles: tuple[str, ...], frame_seconds: float, hop_seconds: float) -> FrameGrid:
    """Frames over the span every role in ``roles`` covers; too-short recordings raise SleepkitError."""
    if frame_seconds <= 0 or hop_seconds <= 0:
        raise SleepkitError(f"frame ({frame_seconds} s) and hop ({hop_seconds} s) must be positive")
    duration = min(recording.signals[r].duration for r in roles)
    if frame_seconds > duration + 1e-9:
        raise SleepkitError(
            f"subject '{recording.subject_id}' ({recording.source or 'no source'}): frame of {frame_seconds:g} s "
            f"is longer than the recording ({duration:g} s = {duration / 3600:.2f} h); lower feature.frame_size"
        )
    n = int(np.floor((duration - frame_seconds) / hop_seconds + 1e-9)) + 1
    return FrameGrid(float(frame_seconds), float(hop_seconds), np.arange(n) * float(hop_seconds))


def frame_index(grid: FrameGrid, fs: float, n_samples: int) -> tuple[np.ndarray, int]:
    """Start sample of every frame at rate ``fs`` and the common frame length in samples."""
    length = max(1, int(round(grid.frame_seconds * fs)))
    starts = np.round(grid.starts * fs).astype(np.int64)
    starts = np.clip(starts, 0, max(0, n_samples - length))
    return starts, length


def frame_matrix(x: np.ndarray, fs: float, grid: FrameGrid) -> np.ndarray:
    """[T, L] matrix of the samples of ``x`` (rate ``fs``) inside each frame."""
    starts, length = frame_index(grid, fs, len(x))
    return x[starts[:, None] + np.arange(length)[None, :]]


def count_in_frames(indicator: np.ndarray, fs: float, grid: FrameGrid) -> np.ndarray:
    """Number of true samples of ``indicator`` inside each frame (cumulative sums, O(n + T))."""
    starts, length = frame_index(grid, fs, len(indicator))
    csum = np.concatenate([[0], np.cumsum(indicator.astype(np.int64))])
    return csum[np.minimum(starts + length, len(indicator))] - csum[starts]


def events_in_frames(times: np.ndarray, grid: FrameGrid) -> tuple[np.ndarray, np.ndarray]:
    """Index range [i0, i1) of the sorted event ``times`` that fall inside each frame."""
    return np.searchsorted(times, grid.starts, "left"), np.searchsorted(times, grid.ends, "left")


def gather_events(values: np.ndarray, i0: np.ndarray, i1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[T, K] matrix of ``values[i0:i1]`` per frame (padded) and its validity mask; K = longest frame."""
    count = i1 - i0
    k = int(count.max()) if len(count) else 0
    cols = np.arange(max(k, 1))
    valid = cols[None, :] < count[:, None]
    idx = np.minimum(i0[:, None] + cols[None, :], max(len(values) - 1, 0))
    vals = values[idx] if len(values) else np.zeros(valid.shape)
    return np.where(valid, vals, np.nan), valid


def class_coverage(track: LabelTrack, grid: FrameGrid) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of each frame covered by each scored class of ``track``: (classes [C], coverage [T, C+1]).

    The last column is unscored time (-1 labels and time outside the track). Cumulative sums keep this
    O(samples + frames) per class, so per-sample tracks (e.g. arousal at 200 Hz) cost no [T, K] matrix.
    """
    values = np.asarray(track.values)
    n = len(values)
    classes = np.unique(values[values >= 0]).astype(np.int64)
    bin_s = 1.0 / track.fs
    cov = np.zeros((grid.n, len(classes) + 1))

    def covered(ind: np.ndarray, t: np.ndarray) -> np.ndarray:
        csum = np.concatenate([[0.0], np.cumsum(ind)]) * bin_s
        pos = np.clip(t * track.fs, 0.0, float(n))
        k = np.floor(pos + 1e-9).astype(np.int64)
        frac = np.where(k < n, pos - k, 0.0)
        return csum[np.minimum(k, n)] + frac * bin_s * ind[np.minimum(k, n - 1)] if n else np.zeros_like(t)

    for j, c in enumerate(classes):
        ind = (values == c).astype(np.float64)
        cov[:, j] = covered(ind, grid.ends) - covered(ind, grid.starts)
    cov[:, -1] = np.clip(grid.frame_seconds - cov[:, :-1].sum(axis=1), 0.0, None)
    # rounded to the microsecond so float noise in bin edges cannot decide a tie
    return classes, np.round(cov, 6)


def majority_labels(track: LabelTrack, grid: FrameGrid) -> np.ndarray:
    classes, cov = class_coverage(track, grid)
    codes = np.concatenate([classes, [UNSCORED]])
    best = cov.max(axis=1, keepdims=True)
    tied = cov >= best - 1e-6
    # Ties go to the label at the frame centre (for a 60-s frame on 30-s epochs: the later epoch).
    centre = track.at(grid.centres)
    idx = np.minimum(np.searchsorted(classes, centre), max(len(classes) - 1, 0))
    known = (len(classes) > 0) & (classes[idx] == centre) if len(classes) else np.zeros(grid.n, dtype=bool)
    centre_col = np.where(known, idx, len(classes))
    rows = np.arange(grid.n)
    pick = np.where(tied[rows, centre_col], centre_col, np.argmax(cov, axis=1))
    return codes[pick].astype(np.int32)


def event_labels(track: LabelTrack, grid: FrameGrid, min_seconds: float) -> np.ndarray:
    classes, cov = class_coverage(track, grid)
    unscored = cov[:, -1]
    events = classes > 0
    out = np.zeros(grid.n, dtype=np.int32)
    if events.any():
        codes, ecov = classes[events], cov[:, :-1][:, events]
        # reversed argmax: ties go to the higher code
        best = codes[len(codes) - 1 - np.argmax(ecov[:, ::-1], axis=1)]
        out = np.where(ecov.sum(axis=1) >= min_seconds - 1e-6, best, 0).astype(np.int32)
    out[unscored > grid.frame_seconds / 2.0] = UNSCORED
    return out


def frame_labels(labels: dict[str, LabelTrack], grid: FrameGrid, event_min_seconds: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Labels per frame for every track (rules in the module docstring)."""
    rules = {**EVENT_MIN_SECONDS, **(event_min_seconds or {})}
    out = {}
    for key, track in labels.items():
        if key in rules:
            out[key] = event_labels(track, grid, rules[key])
        else:
            out[key] = majority_labels(track, grid)
    return out


def combine_mask(conditions: list[tuple[str, np.ndarray]], n: int) -> tuple[np.ndarray, dict[str, int]]:
    """Mask (1 = usable) from (reason, bad-frame) pairs in priority order; each masked frame is counted
    once, under the first reason that applies, so the counts add up to the number of masked frames."""
    taken = np.zeros(n, dtype=bool)
    reasons: dict[str, int] = {}
    for reason, bad in conditions:
        new = np.asarray(bad, dtype=bool) & ~taken
        if new.any():
            reasons[reason] = int(new.sum())
        taken |= new
    return (~taken).astype(np.uint8), reasons

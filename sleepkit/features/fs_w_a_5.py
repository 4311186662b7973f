"""Feature set FS-W-A-5: 5 per-frame features from a wrist accelerometer, on the CMIDSS 5-s epoch
representation (time of day, ENMO, z-angle).

Signals (roles), either of:

* ``acc_x``/``acc_y``/``acc_z`` (g, any rate; acc_y/acc_z resampled to acc_x's rate): per sample
  ENMO = max(‖a‖ − 1 g, 0) and z-angle = atan(a_z / √(a_x² + a_y²)) in degrees, then averaged over
  epochs of ``1 / sampling_rate`` s (NaN samples left out) — the series CMIDSS ships;
* ``anglez`` (deg) and ``enmo`` (g), already one value per epoch (CMIDSS: 5-s steps, 0.2 Hz); they
  must be at ``sampling_rate``.

``source`` picks: ``"auto"`` (default; raw axes when all three exist, else anglez/enmo), ``"acc"``,
``"anglez_enmo"``. ``sampling_rate`` is the epoch rate (0.2 Hz = CMIDSS's 5-s steps) and
``frame_size`` counts epochs (e.g. 12 = 60-s frames).

Features, in order (units):

==  ===============  ==================================================================================
 0  ``tod_cos``      cos(2π · local clock time of the frame centre / 24 h): 1 at midnight, −1 at noon
 1  ``enmo_mean``    mean of the frame's epoch ENMO values (g)
 2  ``enmo_std``     standard deviation of them (g, ddof 0)
 3  ``anglez_mean``  mean of the frame's epoch z-angles (deg)
 4  ``anglez_std``   standard deviation of them (deg, ddof 0)
==  ===============  ==================================================================================

Clock time of the recording start, first found of: ``Recording.meta["start_time"]`` (a datetime or
"HH:MM[:SS]"), ``meta["first_timestamp"]`` (CMIDSS ISO time stamp; its local time is used as written,
and later daylight-saving shifts are ignored), the ``start_time`` param ("HH:MM[:SS]"). A recording
with none of them is an error: time of day cannot be guessed.

Mask (1 = usable), each masked frame counted under the first reason: ``missing_data`` (fewer than
half of the frame's epochs have a value), ``flat_signal`` (at least 3 epochs and both z-angle and
ENMO exactly constant: a device lying still off the wrist or a filled gap), ``nan_feature``.

Params: ``hop_seconds`` (30), ``source`` ("auto"), ``start_time`` (none), ``apnea_min_seconds`` (10),
``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from ..datasets.base import Recording, Signal
from ..errors import SleepkitError
from ..log import logger
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet
from .framing import FrameGrid, frame_matrix, make_grid, require_signals

ACC_ROLES = ("acc_x", "acc_y", "acc_z")
EPOCH_ROLES = ("anglez", "enmo")
DAY = 86400.0
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?\s*$")
_ISO_TIME = re.compile(r"T(\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)")


def parse_clock(text: str, where: str) -> float:
    """Seconds after midnight of "HH:MM[:SS]"."""
    m = _CLOCK.match(str(text))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise SleepkitError(f"{where} must be a clock time 'HH:MM' or 'HH:MM:SS' (got {text!r})")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3) or 0)


def start_clock_seconds(recording: Recording, fallback: str | None) -> float:
    """Local clock time (s after midnight) of the recording's first sample (see the module docstring)."""
    meta = recording.meta or {}
    start = meta.get("start_time")
    if isinstance(start, datetime):
        return start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
    if isinstance(start, str) and start.strip():
        return parse_clock(start, f"subject '{recording.subject_id}' meta start_time")
    stamp = meta.get("first_timestamp")
    if isinstance(stamp, str) and stamp.strip():
        m = _ISO_TIME.search(stamp)
        if not m:
            raise SleepkitError(f"subject '{recording.subject_id}' ({recording.source}): time stamp {stamp!r} has no time of day")
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if fallback is not None:
        return parse_clock(fallback, "feature.params.start_time")
    raise SleepkitError(
        f"subject '{recording.subject_id}' ({recording.source or 'no source'}): FS-W-A-5 needs the clock time the "
        "recording starts at and the recording carries none; set feature.params.start_time (e.g. \"22:30\")"
    )


def epoch_series(values: np.ndarray, fs: float, epoch: float, n_epochs: int) -> np.ndarray:
    """Mean of ``values`` (rate ``fs``) over consecutive epochs of ``epoch`` s, NaN samples left out
    (an epoch without any value is NaN)."""
    grid = FrameGrid(epoch, epoch, np.arange(n_epochs) * epoch)
    m = frame_matrix(values, fs, grid)
    mean, _, _, _ = dsp.masked_stats(m, np.isfinite(m))
    return mean


class FS_W_A_5(ConfiguredFeatureSet):
    name = "FS-W-A-5"
    feature_names = ["tod_cos", "enmo_mean", "enmo_std", "anglez_mean", "anglez_std"]
    feature_units = ["", "g", "g", "deg", "deg"]
    defaults = {"hop_seconds": 30.0, "source": "auto", "start_time": None}

    def _check_params(self) -> None:
        if self.params["source"] not in ("auto", "acc", "anglez_enmo"):
            raise SleepkitError(f"feature.params.source must be 'auto', 'acc' or 'anglez_enmo' (got {self.params['source']!r})")
        if self.params["start_time"] is not None:
            parse_clock(self.params["start_time"], "feature.params.start_time")

    def source_for(self, recording: Recording) -> str:
        choice = self.params["source"]
        if choice == "auto":
            if all(r in recording.signals for r in ACC_ROLES):
                return "acc"
            if all(r in recording.signals for r in EPOCH_ROLES):
                return "anglez_enmo"
            require_signals(recording, ACC_ROLES, f"{self.name} (or 'anglez' and 'enmo')")
        require_signals(recording, ACC_ROLES if choice == "acc" else EPOCH_ROLES, self.name)
        return choice

    def epoch_signals(self, recording: Recording) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(ENMO, z-angle) per epoch at ``sampling_rate`` and the roles they came from."""
        sr = self.sampling_rate
        source = self.source_for(recording)
        if source == "anglez_enmo":
            for role in EPOCH_ROLES:
                fs = recording.signals[role].fs
                if abs(fs - sr) > 1e-6 * sr:
                    raise SleepkitError(
                        f"subject '{recording.subject_id}': '{role}' holds one value per {1 / fs:g} s epoch but "
                        f"feature.sampling_rate is {sr:g} Hz; set feature.sampling_rate to {fs:g}"
                    )
            n = min(len(recording.signals[r].data) for r in EPOCH_ROLES)
            enmo = np.asarray(recording.signals["enmo"].data[:n], dtype=np.float64)
            anglez = np.asarray(recording.signals["anglez"].data[:n], dtype=np.float64)
            return enmo, anglez, EPOCH_ROLES
        fs = float(recording.signals["acc_x"].fs)
        axes = []
        for role in ACC_ROLES:
            sig = recording.signals[role]
            axes.append(dsp.resample(sig.data, sig.fs, fs) if sig.fs != fs else np.asarray(sig.data, dtype=np.float64))
        n = min(len(a) for a in axes)
        ax, ay, az = (a[:n] for a in axes)
        if fs < sr:
            raise SleepkitError(f"subject '{recording.subject_id}': accelerometer at {fs:g} Hz is slower than the "
                                f"epoch rate feature.sampling_rate={sr:g} Hz")
        with np.errstate(invalid="ignore"):
            enmo = np.maximum(np.sqrt(ax * ax + ay * ay + az * az) - 1.0, 0.0)
            anglez = np.degrees(np.arctan2(az, np.sqrt(ax * ax + ay * ay)))
        enmo[~np.isfinite(ax + ay + az)] = np.nan
        anglez[~np.isfinite(ax + ay + az)] = np.nan
        n_epochs = int(np.floor(n / fs * sr + 1e-9))
        epoch = 1.0 / sr
        return epoch_series(enmo, fs, epoch, n_epochs), epoch_series(anglez, fs, epoch, n_epochs), ACC_ROLES

    def compute(self, recording: Recording) -> FeatureFrames:
        sr = self.sampling_rate
        enmo, anglez, roles = self.epoch_signals(recording)
        # frames over the epoch series' span (a recording too short for one frame is reported here)
        span = Recording(recording.subject_id, {"epochs": Signal(enmo, sr)}, {}, recording.source)
        grid = make_grid(span, ("epochs",), self.frame_seconds, self.hop_seconds)
        em = frame_matrix(enmo, sr, grid)
        am = frame_matrix(anglez, sr, grid)
        ok = np.isfinite(em) & np.isfinite(am)
        enmo_mean, enmo_std, _, count = dsp.masked_stats(em, ok)
        angle_mean, angle_std, _, _ = dsp.masked_stats(am, ok)
        clock0 = start_clock_seconds(recording, self.params["start_time"])
        tod = np.cos(2 * np.pi * ((clock0 + grid.centres) % DAY) / DAY)
        flat = (count >= 3) & (enmo_std == 0) & (angle_std == 0)
        logger.debug("%s %s: epochs from %s, start clock %.0f s", self.name, recording.subject_id, "/".join(roles), clock0)
        return self.finish(
            recording,
            grid,
            [tod, enmo_mean, enmo_std, angle_mean, angle_std],
            [("missing_data", count < em.shape[1] / 2.0), ("flat_signal", flat)],
        )


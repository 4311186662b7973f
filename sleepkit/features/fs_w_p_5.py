"""Feature set FS-W-P-5: 5 features a second (by default) from a wrist PPG and oximeter, for apnea
(desaturations, pulse-amplitude drops at arousals, pulse-interval swings).

Signals (roles): ``ppg`` (any rate, resampled to ``sampling_rate``, at least 16 Hz), ``spo2`` (%, own
rate); ``quality`` (0..1, own rate) is optional and only used for masking. Frames of
``frame_size / sampling_rate`` s (e.g. 64 Hz × 640 = 10 s) advance by ``hop_seconds`` (1 s).

Beats: ``dsp.detect_beats`` on the whole night (PPG band-passed 0.5–4 Hz, systolic peaks, dicrotic
waves dropped); a beat's amplitude is its peak minus the preceding pulse foot. NN intervals: RR outside
30–200 bpm or more than ``max_rr_deviation`` (25 %) from the running median of 11 intervals rejected.

Features, in order (units):

==  ===============  =================================================================================
 0  ``spo2``         mean SpO2 over the frame's valid samples (50–100 %) (%)
 1  ``pulse_amp``    median amplitude of the beats in the frame / median amplitude of all beats of the
                     night (1 = typical; falls with the vasoconstriction of an arousal)
 2  ``amp_cv``       coefficient of variation (std / mean) of the beat amplitudes in the frame
 3  ``ibi_cv``       coefficient of variation of the clean NN intervals ending in the frame
 4  ``ppg_qos``      seconds of clean NN intervals ending in the frame / frame seconds (0..1)
==  ===============  =================================================================================

Mask (1 = usable), each masked frame counted under the first reason: ``nan_signal`` (a NaN ppg or SpO2
sample in the frame), ``low_quality`` (mean ``quality`` below ``min_quality``), ``too_few_beats``
(``ppg_qos`` below ``min_ppg_qos`` or fewer than 2 NN intervals), ``spo2_invalid`` (fewer than
``min_spo2_qos`` of the SpO2 samples valid), ``nan_feature``.

Params: ``hop_seconds`` (1), ``min_quality`` (0.5), ``min_ppg_qos`` (0.5), ``min_spo2_qos`` (0.5),
``max_rr_deviation`` (0.25), ``apnea_min_seconds`` (10), ``arousal_min_seconds`` (3).
"""

from __future__ import annotations

import numpy as np

from ..datasets.base import Recording
from . import dsp
from .base import FeatureFrames
from .configured import ConfiguredFeatureSet, low_quality_frames
from .framing import count_in_frames, events_in_frames, frame_matrix, gather_events, make_grid, require_signals

SPO2_RANGE = (50.0, 100.0)


class FS_W_P_5(ConfiguredFeatureSet):
    name = "FS-W-P-5"
    feature_names = ["spo2", "pulse_amp", "amp_cv", "ibi_cv", "ppg_qos"]
    feature_units = ["%", "", "", "", ""]
    required_signals = ("ppg", "spo2")
    defaults = {
        "hop_seconds": 1.0,
        "min_quality": 0.5,
        "min_ppg_qos": 0.5,
        "min_spo2_qos": 0.5,
        "max_rr_deviation": 0.25,
    }
    min_sampling_rate = 16.0
    why_min_rate = " (PPG beat detection)"

    def compute(self, recording: Recording) -> FeatureFrames:
        p = self.params
        require_signals(recording, self.required_signals, self.name)
        grid = make_grid(recording, self.required_signals, self.frame_seconds, self.hop_seconds)
        sr = self.sampling_rate

        sig = recording.signals["ppg"]
        ppg = dsp.resample(sig.data, sig.fs, sr)
        filled, bad = dsp.fill_nan(ppg)
        beats = dsp.detect_beats(filled, sr, bad)
        nn = dsp.clean_rr(beats.times, max_rel_dev=p["max_rr_deviation"])
        nan_frames = count_in_frames(bad, sr, grid) > 0

        # beat amplitudes of the beats inside each frame, relative to the night's median beat
        b0, b1 = events_in_frames(beats.times, grid)
        amps, amp_ok = gather_events(beats.amplitudes, b0, b1)
        amp_mean, amp_sd, amp_med, _ = dsp.masked_stats(amps, amp_ok)
        night = float(np.median(beats.amplitudes)) if len(beats.amplitudes) else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            pulse_amp = amp_med / night
            amp_cv = amp_sd / amp_mean

        i0, i1 = events_in_frames(nn.end, grid)
        nn_s, nn_ok = gather_events(nn.nn, i0, i1)
        nn_mean, nn_sd, _, n_nn = dsp.masked_stats(nn_s, nn_ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            ibi_cv = nn_sd / nn_mean
        ppg_qos = np.minimum(1.0, np.where(nn_ok, nn_s, 0.0).sum(axis=1) / self.frame_seconds)

        s = recording.signals["spo2"]
        spo2 = frame_matrix(np.asarray(s.data, dtype=np.float64), s.fs, grid)
        finite = np.isfinite(spo2)
        nan_frames |= ~finite.all(axis=1)
        with np.errstate(invalid="ignore"):
            spo2_ok = finite & (spo2 >= SPO2_RANGE[0]) & (spo2 <= SPO2_RANGE[1])
        spo2_mu, _, _, spo2_n = dsp.masked_stats(spo2, spo2_ok)

        return self.finish(
            recording,
            grid,
            [spo2_mu, pulse_amp, amp_cv, ibi_cv, ppg_qos],
            [
                ("nan_signal", nan_frames),
                ("low_quality", low_quality_frames(recording, grid, p["min_quality"])),
                ("too_few_beats", (ppg_qos < p["min_ppg_qos"]) | (n_nn < 2)),
                ("spo2_invalid", spo2_n / spo2.shape[1] < p["min_spo2_qos"]),
            ],
        )

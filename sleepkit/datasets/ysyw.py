"""YSYW: PhysioNet/CinC Challenge 2018 ('You Snooze You Win'), 13-channel PSG at 200 Hz.

Layout under ``path`` (as on PhysioNet; a flat folder works too)::

    training/tr03-0005/tr03-0005.hea            WFDB header (13 signals, 200 Hz)
    training/tr03-0005/tr03-0005.mat            WFDB signal samples
    training/tr03-0005/tr03-0005.arousal        WFDB annotations: stage changes (W, N1, N2, N3, R) and
                                                paired '(resp_...' / 'resp_...)', '(arousal_...' markers
    training/tr03-0005/tr03-0005-arousal.mat    MATLAB v7.3 (HDF5): data/arousals [N x 1] per sample
                                                (1 target arousal, 0 none, -1 not scored) and
                                                data/sleep_stages/{wake,nonrem1,nonrem2,nonrem3,rem,undefined}
                                                one-hot [1 x N] per sample

Signals (roles): ``eeg`` (C4-M1 first), ``eog`` (E1-M2), ``emg`` (chin), ``resp`` (AIRFLOW),
``resp_thor`` (CHEST), ``resp_abd`` (ABD), ``spo2`` (SaO2, %), ``ecg`` (mV); ``signals=[]`` loads
labels only. Labels: ``stage`` per 30-s epoch from the one-hot vectors at each epoch's midpoint
sample ('undefined' -> -1; the vectors switch one sample before the 30-s boundary, which the midpoint
rule ignores), ``arousal`` at ``event_fs`` Hz from the per-sample vector (midpoint sample), ``apnea``
at ``event_fs`` from the paired resp markers (see ``label_maps``); apnea is masked where stage is -1.
Stage changes in the ``.arousal`` file are cross-checked against the .mat and disagreements logged.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import SleepkitError
from ..labels import UNSCORED, SleepStage
from ..log import logger
from .base import Dataset, LabelTrack, Recording, Signal, channel_candidates
from .hypnogram import mask_where_unscored, rasterize_events, rasterize_stages, read_wfdb_annotations
from .nsrr import resolve_channels

STAGE_KEYS = {"wake": SleepStage.WAKE, "nonrem1": SleepStage.N1, "nonrem2": SleepStage.N2,
              "nonrem3": SleepStage.N3, "rem": SleepStage.REM, "undefined": UNSCORED}


def read_arousal_mat(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(arousals [N] int8, {stage key: [N] uint8}) from a challenge ``-arousal.mat`` file."""
    path = Path(path)
    try:
        import h5py

        with h5py.File(path, "r") as h5:
            if "data" not in h5 or "arousals" not in h5["data"] or "sleep_stages" not in h5["data"]:
                raise SleepkitError(f"{path}: expected data/arousals and data/sleep_stages (has {list(h5)})")
            arousals = np.asarray(h5["data/arousals"][...]).reshape(-1)
            stages = {k: np.asarray(v[...]).reshape(-1) for k, v in h5["data/sleep_stages"].items()}
    except OSError:
        # not HDF5: an older MATLAB format, which scipy reads
        import scipy.io

        try:
            mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
            data = mat["data"]
            arousals = np.asarray(data.arousals).reshape(-1)
            st = data.sleep_stages
            stages = {k: np.asarray(getattr(st, k)).reshape(-1) for k in st._fieldnames}
        except Exception as exc:
            raise SleepkitError(f"{path}: not a readable challenge arousal file (MATLAB v7.3/HDF5 or older): {exc}") from None
    missing = sorted(set(STAGE_KEYS) - set(stages))
    if missing:
        raise SleepkitError(f"{path}: data/sleep_stages lacks {missing}")
    lengths = {len(arousals), *(len(v) for v in stages.values())}
    if len(lengths) != 1:
        raise SleepkitError(f"{path}: arousal and stage vectors differ in length ({sorted(lengths)})")
    return arousals.astype(np.int8), {k: v.astype(np.uint8) for k, v in stages.items()}


def stage_track_from_onehot(stages: dict[str, np.ndarray], fs: float, epoch: float, source: str) -> LabelTrack:
    n_samples = len(next(iter(stages.values())))
    n_epochs = math.ceil(n_samples / (epoch * fs) - 1e-9)
    mid = np.minimum(np.floor((np.arange(n_epochs) + 0.5) * epoch * fs).astype(np.int64), n_samples - 1)
    hot = np.stack([stages[k][mid] for k in STAGE_KEYS], axis=1)  # [E, 6]
    codes = np.array([int(v) for v in STAGE_KEYS.values()], dtype=np.int32)
    values = np.full(n_epochs, UNSCORED, dtype=np.int32)
    one = hot.sum(axis=1) == 1
    values[one] = codes[np.argmax(hot[one], axis=1)]
    bad = int((~one).sum())
    if bad:
        logger.warning("%s: %d epochs with no or several stage flags set; unscored", source, bad)
    undefined = int(hot[:, list(STAGE_KEYS).index("undefined")][one].sum())
    logger.info("%s: %d stage epochs of %g s, %d 'undefined' (masked)", source, n_epochs, epoch, undefined)
    return LabelTrack(values=values, fs=1.0 / epoch)


def arousal_track_from_samples(arousals: np.ndarray, fs: float, event_fs: float) -> LabelTrack:
    n = math.ceil(len(arousals) / fs * event_fs - 1e-9)
    mid = np.minimum(np.floor((np.arange(n) + 0.5) * fs / event_fs).astype(np.int64), len(arousals) - 1)
    return LabelTrack(values=arousals[mid].astype(np.int32), fs=event_fs)


class YsywDataset(Dataset):
    """Params: ``path``, ``subjects`` (record names), ``signals`` (roles; default all, [] = labels only),
    ``channels`` ({role: [names]}), ``epoch``, ``event_fs``, ``mapping``, ``physionet_url`` (download)."""

    name = "ysyw"
    CHANNELS = {
        "eeg": ["C4-M1", "C3-M2", "F4-M1", "F3-M2", "O2-M1", "O1-M2"],
        "eog": ["E1-M2"],
        "emg": ["Chin1-Chin2"],
        "resp": ["AIRFLOW"],
        "resp_thor": ["CHEST"],
        "resp_abd": ["ABD"],
        "spo2": ["SaO2"],
        "ecg": ["ECG"],
    }

    def __init__(
        self,
        path: str | Path = "datasets/ysyw",
        subjects: list[str] | None = None,
        signals: list[str] | None = None,
        channels: dict[str, list[str]] | None = None,
        epoch: float = 30.0,
        event_fs: float = 1.0,
        mapping: dict[str, object] | None = None,
        physionet_url: str = "https://physionet.org/files",
    ) -> None:
        self.path = Path(path)
        self.subjects = [str(s) for s in subjects] if subjects is not None else None
        self.signals = list(signals) if signals is not None else None
        self.channels = channel_candidates(channels, self.CHANNELS)
        self.epoch = float(epoch)
        self.event_fs = float(event_fs)
        self.mapping = mapping
        self.physionet_url = physionet_url

    def _headers(self) -> dict[str, Path]:
        if not self.path.is_dir():
            raise SleepkitError(f"ysyw: dataset folder {self.path} does not exist (run 'sleepkit download')")
        return {p.stem: p for p in sorted(self.path.rglob("*.hea"))}

    def subject_ids(self) -> list[str]:
        found = self._headers()
        if self.subjects is None:
            return sorted(found)
        absent = sorted(set(self.subjects) - set(found))
        if absent:
            raise SleepkitError(f"ysyw: records not found under {self.path}: {', '.join(absent[:10])}")
        return sorted(self.subjects)

    def load(self, subject_id: str) -> Recording:
        import wfdb

        hea = self._headers().get(subject_id)
        if hea is None:
            raise SleepkitError(f"ysyw: no header {subject_id}.hea under {self.path}")
        base = str(hea.with_suffix(""))
        try:
            header = wfdb.rdheader(base)
        except Exception as exc:
            raise SleepkitError(f"{hea}: unreadable WFDB header ({exc})") from None
        fs = float(header.fs)
        duration = header.sig_len / fs
        names = list(header.sig_name)
        wanted = [r for r in self.signals] if self.signals is not None else None
        roles = resolve_channels(names, self.channels, hea.name, wanted)
        signals: dict[str, Signal] = {}
        if roles:
            files = {hea.parent / fn for fn in header.file_name}
            absent = sorted(str(f.name) for f in files if not f.is_file())
            if absent:
                raise SleepkitError(f"{hea}: signal file(s) {', '.join(absent)} missing; pass signals=[] for labels only")
            chans = sorted(set(roles.values()), key=names.index)
            try:
                rec = wfdb.rdrecord(base, channel_names=chans, physical=True)
            except Exception as exc:
                raise SleepkitError(f"{base}: unreadable WFDB record ({exc})") from None
            for role, name in roles.items():
                j = rec.sig_name.index(name)
                signals[role] = Signal(rec.p_signal[:, j].astype(np.float32), fs, rec.units[j])
        labels = self.label_tracks(hea, fs, duration)
        return Recording(subject_id, signals, labels, source=base,
                         meta={"dataset": self.name, "channels": roles, "duration_s": duration})

    def label_tracks(self, hea: Path, fs: float, duration: float) -> dict[str, LabelTrack]:
        stem = hea.with_suffix("")
        mat, ann = Path(f"{stem}-arousal.mat"), Path(f"{stem}.arousal")
        tracks: dict[str, LabelTrack] = {}
        if mat.is_file():
            arousals, stages = read_arousal_mat(mat)
            if abs(len(arousals) / fs - duration) > 1.0 / fs:
                logger.warning("%s: %d samples, the header says %d", mat.name, len(arousals), round(duration * fs))
            tracks["stage"] = stage_track_from_onehot(stages, fs, self.epoch, mat.name)
            tracks["arousal"] = arousal_track_from_samples(arousals, fs, self.event_fs)
        if ann.is_file():
            anns = read_wfdb_annotations(ann)
            apnea = rasterize_events(anns, self.event_fs, ann.name, "apnea", duration, self.mapping,
                                     select=lambda a: a.type == "event")
            from_ann = rasterize_stages(anns, self.epoch, ann.name, self.mapping)
            if "stage" in tracks:
                self._cross_check(tracks["stage"], from_ann, ann.name)
            else:
                tracks["stage"] = from_ann
            tracks["apnea"] = mask_where_unscored(apnea, tracks["stage"])
        if not tracks:
            logger.info("ysyw: %s has no labels (%s / %s absent)", stem.name, mat.name, ann.name)
        return tracks

    @staticmethod
    def _cross_check(mat_track: LabelTrack, ann_track: LabelTrack, source: str) -> None:
        n = min(len(mat_track.values), len(ann_track.values))
        a, b = mat_track.values[:n], ann_track.values[:n]
        both = (a != UNSCORED) & (b != UNSCORED)
        differ = int((a[both] != b[both]).sum())
        if differ:
            logger.warning("%s: stage changes disagree with the -arousal.mat vectors in %d of %d epochs; "
                           "the .mat is used", source, differ, int(both.sum()))

    def download(self, dest: Path | None = None, force: bool = False, num_workers: int = 4, progress: bool = True) -> dict:
        from ..download.http import download_files
        from ..download.physionet import physionet_files

        dest = Path(dest or self.path)
        wanted = set(self.subjects) if self.subjects is not None else None

        def keep(p: str) -> bool:
            parts = p.split("/")
            return parts[0] == "training" and len(parts) == 3 and (wanted is None or parts[1] in wanted)

        source, files = physionet_files("challenge-2018", "1.0.0", self.physionet_url, keep)
        if wanted is not None:
            listed = {f.path.split("/")[1] for f in files}
            if wanted - listed:
                raise SleepkitError(f"ysyw: records {sorted(wanted - listed)[:10]} are not in the training set")
        return download_files(files, dest, source, force=force, num_workers=num_workers, progress=progress).as_dict()

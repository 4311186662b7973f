"""The HDF5 feature store: one file per subject, ``<save_path>/<feature set>/<dataset>/<subject>.h5``.

Each file holds ``features`` [T, F] float32 (attribute ``feature_names``), ``mask`` [T] uint8,
``times`` [T] float64 and one int32 label array per label key (``stage``, ``apnea``, ``arousal`` …;
-1 = unscored). Files are written atomically, so an interrupted run leaves only finished subjects,
and a rerun skips them (resumable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import SleepkitError
from ..fsutil import atomic_path
from .base import FeatureFrames


def store_dir(save_path: Path, feature_name: str, dataset_name: str) -> Path:
    return Path(save_path) / feature_name / dataset_name


def subject_file(save_path: Path, feature_name: str, dataset_name: str, subject_id: str) -> Path:
    return store_dir(save_path, feature_name, dataset_name) / f"{subject_id}.h5"


def write_subject(path: Path, frames: FeatureFrames, attrs: dict | None = None) -> Path:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("features", data=frames.features.astype(np.float32), compression="gzip")
            h5["features"].attrs["feature_names"] = np.array(frames.feature_names, dtype=h5py.string_dtype())
            h5.create_dataset("mask", data=frames.mask.astype(np.uint8))
            h5.create_dataset("times", data=frames.times.astype(np.float64))
            for key, values in frames.labels.items():
                h5.create_dataset(key, data=np.asarray(values, dtype=np.int32))
            for k, v in (attrs or {}).items():
                h5.attrs[k] = v
    return path


@dataclass
class SubjectFeatures:
    subject_id: str
    features: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    times: np.ndarray
    feature_names: list[str]
    path: Path


def list_subject_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("*.h5"))


def read_subject(path: Path, feat_key: str = "features", mask_key: str = "mask", label_key: str = "stage") -> SubjectFeatures:
    try:
        with h5py.File(path, "r") as h5:
            for key in (feat_key, mask_key, label_key):
                if key not in h5:
                    raise SleepkitError(f"{path}: no dataset '{key}' (has: {', '.join(sorted(h5.keys()))})")
            feats = h5[feat_key][...].astype(np.float32)
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in h5[feat_key].attrs.get("feature_names", [])]
            times = h5["times"][...] if "times" in h5 else np.arange(len(feats), dtype=np.float64)
            return SubjectFeatures(
                subject_id=path.stem,
                features=feats,
                mask=h5[mask_key][...].astype(bool),
                labels=h5[label_key][...].astype(np.int32),
                times=times,
                feature_names=names,
                path=path,
            )
    except OSError as exc:
        raise SleepkitError(f"cannot read feature file {path}: {exc}") from None

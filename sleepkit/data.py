"""Model windows from the HDF5 feature store: subject listing, the train/val/test split, per-subject
normalisation, class mapping, random training windows and tiled evaluation windows.

Every mode (train, evaluate, export, demo) recomputes the same split from the sorted subject list and
the seed, so a test subject never leaks into training whatever order the file system lists files in.
The split is by person: subject files carrying the same ``group`` attribute (several nights of one
person, written by the feature mode from ``Recording.meta["group"]``) always land on the same side.

Frames are *valid* for loss and metrics when the feature mask is 1, the features are finite and the
label maps to a class (unscored -1 and labels mapped to class -1 are excluded). Invalid rows are set to
0 after normalisation so the model never sees NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import SleepkitError
from .features.store import list_subject_files, read_subject, store_dir
from .labels import STAGE_NAMES, UNSCORED
from .log import logger
from .params import TaskParams

# Used when params.seed is None: the split must still be identical in every mode.
DEFAULT_SPLIT_SEED = 0
DEFAULT_PROPORTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


@dataclass(frozen=True)
class SubjectRef:
    dataset: str
    subject_id: str
    path: Path
    group: str = ""  # the person (feature file attribute 'group'); "" = the subject is its own person

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subject_id}"

    @property
    def person(self) -> tuple[str, str]:
        """(dataset, person): subjects sharing it must stay on one side of any split."""
        return (self.dataset, self.group or self.subject_id)


@dataclass
class Split:
    train: list[SubjectRef]
    val: list[SubjectRef]
    test: list[SubjectRef]
    seed: int

    def as_dict(self) -> dict:
        return {
            "seed": self.seed,
            **{name: [s.key for s in getattr(self, name)] for name in ("train", "val", "test")},
        }


@dataclass
class SubjectData:
    ref: SubjectRef
    x: np.ndarray  # [T, F] float32, normalised, invalid rows 0
    y: np.ndarray  # [T] int32 class id, -1 = excluded
    valid: np.ndarray  # [T] bool: counts for loss and metrics
    frame_seconds: float
    feature_names: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.y)


# ---------------------------------------------------------------------------------------------------
# Subjects and split


def list_subjects(params: TaskParams) -> list[SubjectRef]:
    """All subjects of every configured dataset, sorted by (dataset, subject id)."""
    if not params.datasets:
        raise SleepkitError("no datasets configured: set 'datasets' (e.g. [{\"name\": \"synthetic\"}])")
    refs: list[SubjectRef] = []
    for ds in params.datasets:
        directory = store_dir(params.feature.save_path, params.feature.name, ds.name)
        if not directory.is_dir():
            raise SleepkitError(
                f"feature store {directory} does not exist (feature.save_path / feature.name / dataset "
                f"'{ds.name}'); run `sleepkit feature` first"
            )
        files = list_subject_files(directory)
        if not files:
            raise SleepkitError(f"feature store {directory} holds no subject files (*.h5); run `sleepkit feature` first")
        refs.extend(SubjectRef(ds.name, f.stem, f, read_group(f)) for f in files)
    return sorted(refs, key=lambda r: (r.dataset, r.subject_id))


def read_group(path: Path) -> str:
    """The ``group`` (person) attribute of a subject file; "" when absent (files written without it)."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("group", "")
    except OSError as exc:
        raise SleepkitError(f"cannot read feature file {path}: {exc}") from None
    return value.decode() if isinstance(value, bytes) else str(value)


def _count(value: float | None, default: float, n: int, name: str) -> int:
    value = default if value is None else value
    if value < 0:
        raise SleepkitError(f"{name} must be >= 0, got {value}")
    if value < 1:
        return int(round(value * n))
    if value != int(value):
        raise SleepkitError(f"{name} must be a proportion < 1 or a whole count >= 1, got {value}")
    return int(value)


def split_counts(n: int, params: TaskParams) -> tuple[int, int, int]:
    """Subject counts (train, val, test). Counts >= 1 are taken as given, proportions of ``n`` are
    rounded; an unset training share takes the rest."""
    n_test = _count(params.test_subjects, DEFAULT_PROPORTIONS["test"], n, "test_subjects")
    n_val = _count(params.val_subjects, DEFAULT_PROPORTIONS["val"], n, "val_subjects")
    # A share that rounds to 0 of a small store would leave a split empty: give it one subject.
    n_test = max(n_test, 1)
    n_val = max(n_val, 1)
    if params.train_subjects is None:
        n_train = n - n_val - n_test
    else:
        n_train = _count(params.train_subjects, 0, n, "train_subjects")
    if n_train < 1 or n_train + n_val + n_test > n:
        raise SleepkitError(
            f"cannot split {n} subjects into train={n_train}, val={n_val}, test={n_test} "
            f"(train_subjects={params.train_subjects}, val_subjects={params.val_subjects}, "
            f"test_subjects={params.test_subjects}); each split needs at least one subject"
        )
    return n_train, n_val, n_test


def split_subjects(subjects: list[SubjectRef], params: TaskParams) -> Split:
    """Deterministic split by person: a seeded permutation of the sorted persons fills test first,
    then val, then train, each with whole persons until it holds its subject count, so changing the
    training share never moves a subject into or out of the test set. When every subject is its own
    person this is a seeded permutation of the sorted subjects."""
    seed = DEFAULT_SPLIT_SEED if params.seed is None else int(params.seed)
    ordered = sorted(subjects, key=lambda r: (r.dataset, r.subject_id))
    n_train, n_val, n_test = split_counts(len(ordered), params)
    members: dict[tuple[str, str], list[SubjectRef]] = {}
    for r in ordered:
        members.setdefault(r.person, []).append(r)
    persons = sorted(members)
    if len(persons) < len(ordered):
        logger.info("%d subjects are %d persons; the split keeps each person's subjects together", len(ordered), len(persons))
    perm = np.random.default_rng(seed).permutation(len(persons))
    sides: list[list[SubjectRef]] = [[], [], []]  # test, val, train
    wanted = (n_test, n_val, n_train)
    side = 0
    for i in perm:
        while side < 3 and len(sides[side]) >= wanted[side]:
            side += 1
        if side == 3:
            break
        sides[side].extend(members[persons[i]])
    test, val, train = (sorted(s, key=lambda r: r.key) for s in sides)
    if not (test and val and train):
        raise SleepkitError(
            f"cannot split {len(ordered)} subjects ({len(persons)} persons) into train={n_train}, val={n_val}, "
            f"test={n_test} keeping each person on one side; each split needs at least one person"
        )
    return Split(train=train, val=val, test=test, seed=seed)


def subject_split(params: TaskParams) -> Split:
    split = split_subjects(list_subjects(params), params)
    logger.info(
        "subjects: %d train, %d val, %d test (split seed %d)", len(split.train), len(split.val), len(split.test), split.seed
    )
    return split


# ---------------------------------------------------------------------------------------------------
# Classes


def class_lookup(params: TaskParams) -> dict[int, int]:
    """Validated ``class_map`` (base label -> class id, -1 = exclude)."""
    cmap = {int(k): int(v) for k, v in params.class_map.items()}
    ids = sorted({v for v in cmap.values() if v >= 0})
    bad = [v for v in cmap.values() if v < -1 or v >= params.num_classes]
    if bad or ids != list(range(params.num_classes)):
        raise SleepkitError(
            f"class_map {params.class_map} does not match num_classes={params.num_classes}: class ids must be "
            f"0..{params.num_classes - 1} (each used at least once) or -1 to exclude a label"
        )
    return cmap


def class_names(params: TaskParams) -> list[str]:
    if params.class_names is not None:
        if len(params.class_names) != params.num_classes:
            raise SleepkitError(
                f"class_names has {len(params.class_names)} names but num_classes is {params.num_classes}"
            )
        return list(params.class_names)
    cmap = class_lookup(params)
    return ["+".join(STAGE_NAMES.get(k, str(k)) for k, v in sorted(cmap.items()) if v == c) for c in range(params.num_classes)]


def wake_class(params: TaskParams) -> int | None:
    """Class holding base label 0 (wake), used for sleep efficiency and total sleep time."""
    return class_lookup(params).get(0)


def map_labels(labels: np.ndarray, cmap: dict[int, int], path: Path, params: TaskParams) -> np.ndarray:
    present = np.unique(labels)
    unknown = [int(v) for v in present if v != UNSCORED and int(v) not in cmap]
    if unknown:
        raise SleepkitError(
            f"{path}: label(s) {unknown} are not in class_map {params.class_map}; map them to a class "
            f"or to -1 to exclude them"
        )
    out = np.full(labels.shape, -1, dtype=np.int32)
    for label, cls in cmap.items():
        out[labels == label] = cls
    return out


# ---------------------------------------------------------------------------------------------------
# Loading


def _select_columns(feats: np.ndarray, names: list[str], params: TaskParams, path: Path) -> tuple[np.ndarray, list[str]]:
    cols = params.feature.feat_cols
    if not cols:
        return feats, names
    missing = [c for c in cols if c not in names]
    if missing:
        raise SleepkitError(f"{path}: feature.feat_cols {missing} not in the store (has: {', '.join(names)})")
    idx = [names.index(c) for c in cols]
    return feats[:, idx], list(cols)


def normalise(features: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Per-subject z-score over usable rows; unusable rows become 0 (the mean)."""
    x = np.zeros_like(features, dtype=np.float32)
    if not usable.any():
        return x
    rows = features[usable].astype(np.float64)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std[std < 1e-8] = 1.0  # a constant feature carries no information: leave it at 0
    x[usable] = ((rows - mean) / std).astype(np.float32)
    return x


def stored_features(ref: SubjectRef, params: TaskParams, label_key: str):
    """(the stored subject, its selected feature columns [T, F] before any normalisation, their names,
    usable rows [T]: mask 1 and every feature finite)."""
    sf = read_subject(ref.path, params.feature.feat_key, params.feature.mask_key, label_key)
    if sf.features.ndim != 2 or len(sf.features) != len(sf.labels) or len(sf.mask) != len(sf.labels):
        raise SleepkitError(
            f"{ref.path}: inconsistent shapes features {sf.features.shape}, mask {sf.mask.shape}, "
            f"{label_key} {sf.labels.shape}"
        )
    feats, names = _select_columns(sf.features, sf.feature_names, params, ref.path)
    return sf, feats, names, sf.mask & np.isfinite(feats).all(axis=1)


def load_subject(ref: SubjectRef, params: TaskParams, label_key: str, cmap: dict[int, int] | None = None) -> SubjectData:
    cmap = class_lookup(params) if cmap is None else cmap
    sf, feats, names, usable = stored_features(ref, params, label_key)
    if (sf.mask & ~usable).any():
        logger.warning("%s: %d unmasked frames have non-finite features; treated as masked", ref.path, int((sf.mask & ~usable).sum()))
    y = map_labels(sf.labels, cmap, ref.path, params)
    valid = usable & (y >= 0)
    y = np.where(valid, y, -1).astype(np.int32)
    if len(sf.times) > 1:
        frame_seconds = float(np.median(np.diff(sf.times)))
    else:
        frame_seconds = params.feature.frame_size / params.feature.sampling_rate
    return SubjectData(ref, normalise(feats, usable), y, valid, frame_seconds, names)


def load_subjects(refs: list[SubjectRef], params: TaskParams, label_key: str) -> list[SubjectData]:
    """Load subjects; every night must hold at least one model window (``frame_size`` frames)."""
    cmap = class_lookup(params)
    subjects = [load_subject(r, params, label_key, cmap) for r in refs]
    if params.frame_size < 1:
        raise SleepkitError(f"frame_size must be >= 1 (model window in feature frames), got {params.frame_size}")
    short = [s for s in subjects if s.num_frames < params.frame_size]
    if short:
        s = short[0]
        raise SleepkitError(
            f"frame_size={params.frame_size} (model window, in feature frames) is longer than the night of "
            f"{s.ref.path} ({s.num_frames} frames); {len(short)} subject(s) are too short. Lower frame_size."
        )
    widths = {s.x.shape[1] for s in subjects}
    if len(widths) > 1:
        raise SleepkitError(f"subjects have different feature counts {sorted(widths)}; check feature.feat_cols")
    return subjects


# ---------------------------------------------------------------------------------------------------
# Windows


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((*y.shape, num_classes), dtype=np.float32)
    ok = y >= 0
    out[ok, y[ok]] = 1.0
    return out


def _per_subject(value: int | list[int], subjects: list[SubjectData], datasets: list[str], name: str) -> list[int]:
    """``*_samples_per_subject`` may be one int or one int per dataset (in config order)."""
    if isinstance(value, int):
        return [value] * len(subjects)
    if len(value) != len(datasets):
        raise SleepkitError(f"{name} has {len(value)} entries but {len(datasets)} datasets are configured")
    per_ds = dict(zip(datasets, value))
    return [per_ds[s.ref.dataset] for s in subjects]


class WindowBank:
    """All frames of a set of subjects in one array so a batch of windows is a single fancy index."""

    def __init__(self, subjects: list[SubjectData], frame_size: int, num_classes: int) -> None:
        self.subjects = subjects
        self.frame_size = frame_size
        self.num_classes = num_classes
        self.x = np.concatenate([s.x for s in subjects])
        self.y = np.concatenate([s.y for s in subjects])
        self.offsets = np.cumsum([0] + [s.num_frames for s in subjects[:-1]]).astype(np.int64)
        self.max_start = np.array([s.num_frames - frame_size for s in subjects], dtype=np.int64)

    def gather(self, subject_idx: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = (self.offsets[subject_idx] + starts)[:, None] + np.arange(self.frame_size)[None, :]
        return self.x[idx], self.y[idx]

    def random_starts(self, subject_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.max_start[subject_idx] + 1)

    def batch(self, subject_idx: np.ndarray, starts: np.ndarray, class_weights: np.ndarray | None = None):
        """(x [B,T,F], one-hot y [B,T,C], sample weight [B,T]) — weight 0 on excluded frames."""
        x, y = self.gather(subject_idx, starts)
        w = (y >= 0).astype(np.float32)
        if class_weights is not None:
            w *= class_weights[np.maximum(y, 0)]
        return x, one_hot(y, self.num_classes), w


def train_stream(
    bank: WindowBank, params: TaskParams, rng: np.random.Generator, class_weights: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Endless batches of random windows. One round draws ``samples_per_subject`` windows from every
    training subject (scaled by ``dataset_weights`` when set), shuffled; rounds repeat forever."""
    datasets = [d.name for d in params.datasets]
    counts = np.array(_per_subject(params.samples_per_subject, bank.subjects, datasets, "samples_per_subject"), float)
    if params.dataset_weights is not None:
        if len(params.dataset_weights) != len(datasets):
            raise SleepkitError(f"dataset_weights has {len(params.dataset_weights)} entries for {len(datasets)} datasets")
        w = dict(zip(datasets, np.asarray(params.dataset_weights, float) / np.mean(params.dataset_weights)))
        counts *= np.array([w[s.ref.dataset] for s in bank.subjects])
    counts = np.maximum(np.round(counts), 1).astype(np.int64)
    bs = params.batch_size
    pending = np.empty(0, dtype=np.int64)
    while True:
        while len(pending) < bs:
            round_ = np.repeat(np.arange(len(bank.subjects)), counts)
            pending = np.concatenate([pending, rng.permutation(round_)])
        sel, pending = pending[:bs], pending[bs:]
        yield bank.batch(sel, bank.random_starts(sel, rng), class_weights)


def validation_windows(bank: WindowBank, params: TaskParams, rng: np.random.Generator):
    """A fixed set of random validation windows: ``val_size`` windows (default
    ``val_steps_per_epoch * batch_size``), spread evenly over subjects, at most
    ``val_samples_per_subject`` each."""
    datasets = [d.name for d in params.datasets]
    cap = _per_subject(params.val_samples_per_subject, bank.subjects, datasets, "val_samples_per_subject")
    total = params.val_size if params.val_size is not None else params.val_steps_per_epoch * params.batch_size
    per = math.ceil(total / len(bank.subjects))
    sel = np.concatenate([np.full(min(per, c), i, dtype=np.int64) for i, c in enumerate(cap)])[:total]
    return bank.batch(sel, bank.random_starts(sel, rng))


def tile_starts(num_frames: int, frame_size: int, max_windows: int | None = None) -> np.ndarray:
    """Window starts covering a night: 0, T, 2T, … and a last window flush with the end."""
    starts = list(range(0, num_frames - frame_size + 1, frame_size))
    if starts[-1] + frame_size < num_frames:
        starts.append(num_frames - frame_size)
    if max_windows is not None:
        starts = starts[: max(1, int(max_windows))]
    return np.asarray(starts, dtype=np.int64)


def tiled_windows(subject: SubjectData, frame_size: int, max_windows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    starts = tile_starts(subject.num_frames, frame_size, max_windows)
    idx = starts[:, None] + np.arange(frame_size)[None, :]
    return subject.x[idx], starts


def stitch(per_window: np.ndarray, starts: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values from per-window outputs [N, T, ...]; a frame covered twice (last window)
    keeps its first value. Returns (values, covered mask)."""
    frame_size = per_window.shape[1]
    out = np.zeros((num_frames, *per_window.shape[2:]), dtype=per_window.dtype)
    covered = np.zeros(num_frames, dtype=bool)
    for win, s in zip(per_window, starts):
        span = np.arange(s, s + frame_size)
        new = ~covered[span]
        out[span[new]] = win[new]
        covered[span] = True
    return out, covered


def eval_windows(subjects: list[SubjectData], params: TaskParams) -> tuple[np.ndarray, list[np.ndarray]]:
    """Tiled windows of every held-out subject: at most ``test_samples_per_subject`` each and
    ``test_size`` in total (every subject keeps at least one window). Returns the stacked windows
    and each subject's window starts."""
    datasets = [d.name for d in params.datasets]
    caps = _per_subject(params.test_samples_per_subject, subjects, datasets, "test_samples_per_subject")
    xs, starts, budget = [], [], params.test_size
    for s, cap in zip(subjects, caps):
        x, st = tiled_windows(s, params.frame_size, min(cap, max(budget, 1)))
        budget -= len(st)
        xs.append(x)
        starts.append(st)
    return np.concatenate(xs), starts


# ---------------------------------------------------------------------------------------------------
# Raw store arrays for task metrics (not normalised, not class-mapped)


def read_store_array(path: Path, key: str) -> np.ndarray | None:
    """A label array of a subject file as stored (base coding), or None if the file has no ``key``."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return h5[key][...].astype(np.int32) if key in h5 else None
    except OSError as exc:
        raise SleepkitError(f"cannot read feature file {path}: {exc}") from None


def raw_feature_column(path: Path, params: TaskParams, candidates: tuple[str, ...]) -> tuple[np.ndarray, str] | None:
    """(values, name) of the first feature column in ``candidates`` the subject file holds, in the
    store's own units; None if it has none of them."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            ds = h5[params.feature.feat_key]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in ds.attrs.get("feature_names", [])]
            for name in candidates:
                if name in names:
                    return ds[:, names.index(name)].astype(np.float64), name
    except (OSError, KeyError) as exc:
        raise SleepkitError(f"cannot read features of {path}: {exc}") from None
    return None

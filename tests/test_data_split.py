"""Subject split, class mapping, normalisation and windowing on small self-made feature stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepkit import data
from sleepkit.errors import SleepkitError
from sleepkit.features.base import FeatureFrames
from sleepkit.features.store import read_subject, subject_file, write_subject
from sleepkit.params import TaskParams

FEATURE_NAMES = [f"f{i}" for i in range(6)]


def write_toy_store(
    save_path: Path, subjects: int, frames: int, seed: int = 0, dataset: str = "toy", feature: str = "toyfeat",
    labels: tuple[int, ...] = (0, 1, 2, 3, 5), num_features: int = len(FEATURE_NAMES),
) -> list[Path]:
    """Nights with a learnable structure: stages follow a sticky Markov chain and each stage has its
    own feature means; a few frames are unscored (-1) and a few masked (mask 0, NaN features)."""
    rng = np.random.default_rng(seed)
    names = FEATURE_NAMES if num_features == len(FEATURE_NAMES) else [f"f{i}" for i in range(num_features)]
    means = rng.normal(0, 2.0, size=(max(labels) + 1, num_features))
    paths = []
    for s in range(subjects):
        n = frames + int(rng.integers(0, frames // 4 + 1))
        stage = np.empty(n, dtype=np.int32)
        stage[0] = labels[0]
        for t in range(1, n):
            stage[t] = stage[t - 1] if rng.random() < 0.9 else rng.choice(labels)
        feats = means[stage] + rng.normal(0, 0.7, size=(n, num_features)) + rng.normal(0, 1, size=num_features)
        mask = np.ones(n, dtype=np.uint8)
        mask[rng.choice(n, size=n // 50, replace=False)] = 0
        feats[mask == 0] = np.nan
        stage[rng.choice(n, size=n // 40, replace=False)] = -1
        frames_obj = FeatureFrames(
            features=feats.astype(np.float32), mask=mask, labels={"stage": stage},
            times=np.arange(n) * 30.0 + 15.0, feature_names=names,
        )
        paths.append(write_subject(subject_file(save_path, feature, dataset, f"S{s:03d}"), frames_obj))
    return paths


def toy_params(tmp_path: Path, **overrides) -> TaskParams:
    base = dict(
        job_dir=tmp_path / "job",
        datasets=[{"name": "toy"}],
        feature={"name": "toyfeat", "save_path": str(tmp_path / "store")},
        frame_size=16,
        num_classes=4,
        class_map={0: 0, 1: 1, 2: 1, 3: 2, 5: 3},
        seed=3,
    )
    base.update(overrides)
    return TaskParams.model_validate(base)


def test_split_is_deterministic_and_ignores_file_system_order(tmp_path):
    write_toy_store(tmp_path / "store", subjects=20, frames=40)
    params = toy_params(tmp_path)
    refs = data.list_subjects(params)
    a = data.split_subjects(refs, params)
    b = data.split_subjects(list(reversed(refs)), params)
    assert a.as_dict() == b.as_dict()
    # 70/15/15 of 20 subjects, disjoint and complete.
    assert (len(a.train), len(a.val), len(a.test)) == (14, 3, 3)
    keys = [r.key for r in a.train + a.val + a.test]
    assert len(set(keys)) == 20
    # A different seed gives a different test set; changing the training share keeps it.
    other = data.split_subjects(refs, toy_params(tmp_path, seed=4))
    assert other.as_dict()["test"] != a.as_dict()["test"]
    fewer = data.split_subjects(refs, toy_params(tmp_path, train_subjects=5))
    assert fewer.as_dict()["test"] == a.as_dict()["test"] and len(fewer.train) == 5


def test_split_counts_and_proportions(tmp_path):
    p = toy_params(tmp_path, train_subjects=0.5, val_subjects=2, test_subjects=0.25)
    assert data.split_counts(12, p) == (6, 2, 3)
    # Unset seed still splits the same way every time (train, evaluate and export must agree).
    p0 = toy_params(tmp_path, seed=None)
    assert data.split_counts(3, p0) == (1, 1, 1)
    with pytest.raises(SleepkitError, match="cannot split 2 subjects"):
        data.split_counts(2, p0)
    with pytest.raises(SleepkitError, match="cannot split 10 subjects"):
        data.split_counts(10, toy_params(tmp_path, train_subjects=9))


def test_missing_and_empty_store_name_the_directory(tmp_path):
    params = toy_params(tmp_path)
    with pytest.raises(SleepkitError, match=r"toyfeat.toy.*does not exist"):
        data.list_subjects(params)
    (tmp_path / "store" / "toyfeat" / "toy").mkdir(parents=True)
    with pytest.raises(SleepkitError, match="holds no subject files"):
        data.list_subjects(params)


def test_label_absent_from_class_map_names_label_file_and_map(tmp_path):
    paths = write_toy_store(tmp_path / "store", subjects=3, frames=400)
    params = toy_params(tmp_path, class_map={0: 0, 1: 1, 2: 1, 3: 2}, num_classes=3)
    ref = data.list_subjects(params)[0]
    assert 5 in read_subject(ref.path).labels  # REM is present but not mapped
    with pytest.raises(SleepkitError) as err:
        data.load_subject(ref, params, "stage")
    msg = str(err.value)
    assert "[5]" in msg and str(paths[0]) in msg and "class_map" in msg


def test_class_map_must_match_num_classes(tmp_path):
    with pytest.raises(SleepkitError, match="num_classes=3"):
        data.class_lookup(toy_params(tmp_path, num_classes=3))
    # -1 excludes a label; default names join the base stages of each class.
    params = toy_params(tmp_path, class_map={0: 0, 1: 1, 2: 1, 3: 2, 5: 3, 6: -1})
    assert data.class_names(params) == ["WAKE", "N1+N2", "N3", "REM"]
    y = data.map_labels(np.array([0, 6, -1, 2, 5]), data.class_lookup(params), Path("x.h5"), params)
    assert y.tolist() == [0, -1, -1, 1, 3]


def test_frame_size_longer_than_night_is_a_clear_error(tmp_path):
    write_toy_store(tmp_path / "store", subjects=3, frames=40)
    params = toy_params(tmp_path, frame_size=500)
    with pytest.raises(SleepkitError, match=r"frame_size=500 .*longer than the night of .*S00\d\.h5"):
        data.load_subjects(data.list_subjects(params), params, "stage")


def test_normalisation_ignores_masked_rows_and_zeroes_them(tmp_path):
    write_toy_store(tmp_path / "store", subjects=3, frames=200)
    params = toy_params(tmp_path)
    s = data.load_subject(data.list_subjects(params)[0], params, "stage")
    assert np.isfinite(s.x).all()
    sf_mask = ~np.all(s.x == 0, axis=1)
    usable = s.x[sf_mask]
    np.testing.assert_allclose(usable.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(usable.std(axis=0), 1, atol=1e-4)
    # Unscored and masked frames are invalid and carry class -1.
    assert (s.y[~s.valid] == -1).all() and (s.y[s.valid] >= 0).all()
    assert 0 < (~s.valid).sum() < len(s.valid) // 10
    assert s.frame_seconds == 30.0


def test_windows_random_and_tiled(tmp_path):
    write_toy_store(tmp_path / "store", subjects=4, frames=50)
    params = toy_params(tmp_path, batch_size=8, samples_per_subject=3, class_weights="balanced")
    subjects = data.load_subjects(data.list_subjects(params), params, "stage")
    bank = data.WindowBank(subjects, 16, 4)
    weights = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    x, y, w = next(data.train_stream(bank, params, np.random.default_rng(0), weights))
    assert x.shape == (8, 16, 6) and y.shape == (8, 16, 4) and w.shape == (8, 16)
    # Excluded frames weigh 0, others weigh their class weight.
    labelled = y.sum(-1) == 1
    assert (w[~labelled] == 0).all()
    np.testing.assert_array_equal(w[labelled], weights[y[labelled].argmax(-1)])
    # A window is a contiguous slice of one subject.
    sub = subjects[0]
    tiles, starts = data.tiled_windows(sub, 16)
    assert starts[0] == 0 and starts[-1] == sub.num_frames - 16
    np.testing.assert_array_equal(tiles[1], sub.x[16:32])
    stitched, covered = data.stitch(tiles[..., 0], starts, sub.num_frames)
    assert covered.all()
    np.testing.assert_array_equal(stitched, sub.x[:, 0])


def test_tile_starts_cover_the_night():
    assert data.tile_starts(50, 16).tolist() == [0, 16, 32, 34]
    assert data.tile_starts(48, 16).tolist() == [0, 16, 32]
    assert data.tile_starts(48, 16, max_windows=2).tolist() == [0, 16]


def test_dataset_weights_and_per_dataset_counts_shape_the_training_stream(tmp_path):
    write_toy_store(tmp_path / "store", subjects=2, frames=40, dataset="a")
    write_toy_store(tmp_path / "store", subjects=2, frames=40, dataset="b", seed=1)
    params = toy_params(tmp_path, datasets=[{"name": "a"}, {"name": "b"}], samples_per_subject=[10, 10],
                        dataset_weights=[3.0, 1.0], batch_size=20)
    refs = data.list_subjects(params)
    subjects = data.load_subjects(refs, params, "stage")
    bank = data.WindowBank(subjects, 16, 4)
    # Mark every frame with its subject index to see where windows came from.
    bank.x[:] = np.repeat(np.arange(len(subjects)), [s.num_frames for s in subjects])[:, None]
    stream = data.train_stream(bank, params, np.random.default_rng(0), None)
    origin = np.concatenate([next(stream)[0][:, 0, 0] for _ in range(4)]).astype(int)  # two full rounds
    counts = np.bincount(origin, minlength=4)
    assert counts.tolist() == [30, 30, 10, 10]  # 10 * 3/2 per "a" subject, 10 * 1/2 per "b" subject, per round


def test_feat_cols_select_and_unknown_column_names_the_file(tmp_path):
    write_toy_store(tmp_path / "store", subjects=3, frames=40)
    params = toy_params(tmp_path, feature={"name": "toyfeat", "save_path": str(tmp_path / "store"), "feat_cols": ["f3", "f1"]})
    s = data.load_subject(data.list_subjects(params)[0], params, "stage")
    assert s.x.shape[1] == 2 and s.feature_names == ["f3", "f1"]
    bad = toy_params(tmp_path, feature={"name": "toyfeat", "save_path": str(tmp_path / "store"), "feat_cols": ["hr"]})
    with pytest.raises(SleepkitError, match=r"S000\.h5: feature\.feat_cols \['hr'\] not in the store"):
        data.load_subject(data.list_subjects(bad)[0], bad, "stage")

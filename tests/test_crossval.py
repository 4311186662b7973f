"""Person-grouped cross-validation (sleepkit.crossval) and the person-aware subject split (sleepkit.data)
on small self-made stores; the real-data runs are in test_real_checks.py."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepkit import crossval as cv
from sleepkit import data
from sleepkit.errors import SleepkitError
from sleepkit.features.base import FeatureFrames
from sleepkit.features.store import subject_file, write_subject
from sleepkit.params import TaskParams

# 14 subjects, 8 persons: several nights of one person share a group
PERSONS = {"A": 3, "B": 1, "C": 2, "D": 1, "E": 2, "F": 1, "G": 3, "H": 1}


def write_grouped_store(save_path: Path, persons: dict[str, int] = PERSONS, frames: int = 40, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    for person, nights in persons.items():
        for n in range(nights):
            sid = f"{person.lower()}{n:02d}"
            y = (rng.random(frames) < 0.3).astype(np.int32)
            feats = (rng.normal(size=(frames, 3)) + y[:, None]).astype(np.float32)
            fr = FeatureFrames(features=feats, mask=np.ones(frames, np.uint8), labels={"stage": y},
                               times=np.arange(frames) * 30.0 + 15.0, feature_names=["f0", "f1", "f2"])
            # a person of one night keeps the attribute empty-free: the feature mode writes the subject id
            write_subject(subject_file(save_path, "toyfeat", "toy", sid), fr, {"group": person if nights > 1 else sid})
            ids.append(sid)
    return ids


def toy_params(tmp_path: Path, **over) -> TaskParams:
    base = dict(job_dir=tmp_path / "job", datasets=[{"name": "toy"}],
                feature={"name": "toyfeat", "save_path": str(tmp_path / "store")},
                num_classes=2, class_map={0: 0, 1: 1}, frame_size=8, seed=1)
    base.update(over)
    return TaskParams.model_validate(base)


def person_of(ref: data.SubjectRef) -> str:
    return ref.subject_id[0].upper()


def test_store_groups_are_read_and_the_split_keeps_persons_together(tmp_path):
    write_grouped_store(tmp_path / "store")
    params = toy_params(tmp_path, test_subjects=0.25, val_subjects=0.15)
    refs = data.list_subjects(params)
    assert {r.subject_id: r.group for r in refs}["a02"] == "A"
    assert len({r.person for r in refs}) == len(PERSONS)
    seen_tests = set()
    for seed in range(12):
        split = data.split_subjects(refs, toy_params(tmp_path, seed=seed, test_subjects=0.25, val_subjects=0.15))
        sides = [{person_of(r) for r in side} for side in (split.train, split.val, split.test)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2]), seed
        assert sorted(r.key for r in split.train + split.val + split.test) == sorted(r.key for r in refs)
        # whole persons until each side holds its count: test reaches 4 of 14 subjects (0.25 rounded)
        assert len(split.test) >= 4 and len(split.val) >= 2 and split.train
        seen_tests.add(tuple(r.key for r in split.test))
    assert len(seen_tests) > 3  # the seed does move persons around
    # Same files in any order: same split.
    p = toy_params(tmp_path, seed=5)
    assert data.split_subjects(refs, p).as_dict() == data.split_subjects(list(reversed(refs)), p).as_dict()


def test_a_person_too_large_for_the_split_is_a_clear_error(tmp_path):
    write_grouped_store(tmp_path / "store", {"A": 5, "B": 1})
    params = toy_params(tmp_path, seed=0)
    with pytest.raises(SleepkitError, match=r"cannot split 6 subjects \(2 persons\).*each split needs at least one person"):
        data.split_subjects(data.list_subjects(params), params)


def test_files_without_group_are_their_own_person(tmp_path):
    ids = write_grouped_store(tmp_path / "store", {"A": 2, "B": 1})
    with h5py.File(subject_file(tmp_path / "store", "toyfeat", "toy", ids[0]), "r+") as h5:
        del h5.attrs["group"]
    refs = {r.subject_id: r for r in data.list_subjects(toy_params(tmp_path))}
    assert refs["a00"].group == "" and refs["a00"].person == ("toy", "a00")
    assert refs["a01"].person == ("toy", "A")


@pytest.mark.parametrize("num_folds, val_persons", [(3, 0), (4, 2), (None, 1)])
def test_person_folds_partition_persons(tmp_path, num_folds, val_persons):
    write_grouped_store(tmp_path / "store")
    refs = data.list_subjects(toy_params(tmp_path))
    folds = cv.person_folds(refs, num_folds, seed=7, val_persons=val_persons)
    k = len(PERSONS) if num_folds is None else num_folds
    assert len(folds) == k
    tested = [person_of(r) for f in folds for r in f.test]
    # every subject is tested exactly once, each person in one fold only
    assert sorted(r.key for f in folds for r in f.test) == sorted(r.key for r in refs)
    assert all(len({person_of(r) for r in f.test}) == len({person_of(r) for r in f.test}) for f in folds)
    assert len({(person_of(r), f.index) for f in folds for r in f.test}) == len(set(tested))
    for f in folds:
        sides = [{person_of(r) for r in getattr(f, s)} for s in ("train", "val", "test")]
        assert sides[2] and sides[0] and len(sides[1]) == val_persons
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert sides[0] | sides[1] | sides[2] == set(PERSONS)
    if num_folds is None:
        assert all(len({person_of(r) for r in f.test}) == 1 for f in folds)
    else:
        # dealt to the fold with the fewest subjects: sizes of 14 subjects over 3 or 4 folds stay close
        sizes = [len(f.test) for f in folds]
        assert max(sizes) - min(sizes) <= 3
    # deterministic, whatever the order of refs; another seed deals differently
    again = cv.person_folds(list(reversed(refs)), num_folds, seed=7, val_persons=val_persons)
    assert [f.as_dict() for f in again] == [f.as_dict() for f in folds]
    if num_folds is not None:
        other = cv.person_folds(refs, num_folds, seed=8, val_persons=val_persons)
        assert [f.as_dict()["test"] for f in other] != [f.as_dict()["test"] for f in folds]


def test_person_folds_refuse_impossible_requests_and_leaks(tmp_path):
    write_grouped_store(tmp_path / "store")
    refs = data.list_subjects(toy_params(tmp_path))
    with pytest.raises(SleepkitError, match="needs 2..8 folds for 8 persons"):
        cv.person_folds(refs, 9)
    with pytest.raises(SleepkitError, match="needs 2..8 folds"):
        cv.person_folds(refs, 1)
    with pytest.raises(SleepkitError, match="cannot give 2 folds with 4 validation"):
        cv.person_folds(refs, 2, val_persons=4)
    fold = cv.person_folds(refs, 4, seed=0)[0]
    leaked = cv.Fold(fold.index, fold.train + fold.test[:1], fold.val, fold.test)
    with pytest.raises(SleepkitError, match="in both train and test"):
        cv.check_fold(leaked)


def test_roc_auc_matches_pairwise_counting():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=300), 1)  # rounding makes ties
    positive = rng.random(300) < 0.3
    pos, neg = scores[positive], scores[~positive]
    pairs = [(p > n) + 0.5 * (p == n) for p, n in product(pos, neg)]
    assert cv.roc_auc(scores, positive) == pytest.approx(np.mean(pairs), abs=1e-12)
    assert cv.roc_auc(np.arange(4.0), np.array([0, 0, 1, 1], bool)) == 1.0
    assert cv.roc_auc(-np.arange(4.0), np.array([0, 0, 1, 1], bool)) == 0.0
    assert np.isnan(cv.roc_auc(np.arange(3.0), np.zeros(3, bool)))


def test_binary_scores_and_event_minute_index():
    truth = np.array([1, 1, 0, 0, 0, 1, 0, 0], bool)
    prob = np.array([0.9, 0.4, 0.2, 0.6, 0.1, 0.8, 0.3, 0.05])
    s = cv.binary_scores(truth, prob)
    assert s["frames"] == 8 and s["accuracy"] == pytest.approx(6 / 8)
    assert s["auc"] == pytest.approx(14 / 15)  # one of 15 (positive, negative) pairs out of order: (0.4, 0.6)
    # kappa of [[4, 1], [1, 2]]: po 6/8, pe (5*5 + 3*3)/64
    assert s["kappa"] == pytest.approx((6 / 8 - 34 / 64) / (1 - 34 / 64))
    assert cv.event_minute_index(truth) == pytest.approx(60 * 3 / 8)
    assert cv.event_minute_index(np.zeros(480, bool)) == 0.0
    assert np.isnan(cv.event_minute_index(np.zeros(0, bool)))


def test_logistic_regression_recovers_a_known_model():
    rng = np.random.default_rng(0)
    n = 20000
    x = np.column_stack([rng.normal(5, 2, n), rng.normal(-1, 0.5, n), rng.normal(0, 1, n)])
    w_true, b_true = np.array([0.8, -2.0, 0.0]), -3.5
    y = rng.random(n) < 1 / (1 + np.exp(-(x @ w_true + b_true)))
    m = cv.fit_logistic(x, y, l2=1e-3)
    # the fit works on standardised features: map back to raw units
    w_raw = m.weights / m.scale
    b_raw = m.bias - float((m.mean / m.scale) @ m.weights)
    np.testing.assert_allclose(w_raw, w_true, atol=0.08)
    assert b_raw == pytest.approx(b_true, abs=0.3)
    p = m.predict_proba(x)
    assert ((p >= 0.5) == y).mean() > 0.8
    # balanced weights move the decision towards the rare class (here the negatives)
    assert y.mean() > 0.6
    mb = cv.fit_logistic(x, y, balanced=True)
    assert (mb.predict_proba(x) < 0.5).mean() > (p < 0.5).mean() + 0.05
    with pytest.raises(SleepkitError, match="NaN or inf"):
        cv.fit_logistic(np.array([[np.nan], [1.0]]), np.array([0, 1]))
    with pytest.raises(SleepkitError, match="single class"):
        cv.fit_logistic(np.ones((4, 1)), np.zeros(4))


def test_train_normalisation_uses_training_statistics_only(tmp_path):
    write_grouped_store(tmp_path / "store")
    params = toy_params(tmp_path)
    fold = cv.person_folds(data.list_subjects(params), 4, seed=0, val_persons=1)[0]
    train, val, test = cv.fold_subjects(params, "stage", fold, normalise="train")
    raw_train = np.concatenate([cv.raw_features(s.ref, params, "stage")[0] for s in train])
    np.testing.assert_allclose(np.concatenate([s.x for s in train]).mean(axis=0), 0, atol=1e-5)
    # a test night is shifted by the training mean, not re-centred on itself
    raw_test, _ = cv.raw_features(test[0].ref, params, "stage")
    expected = (raw_test - raw_train.mean(axis=0)) / raw_train.std(axis=0)
    np.testing.assert_allclose(test[0].x, expected, atol=1e-4)
    subj = cv.fold_subjects(params, "stage", fold, normalise="subject")[2][0]
    np.testing.assert_allclose(subj.x.mean(axis=0), 0, atol=1e-5)
    with pytest.raises(SleepkitError, match="normalise must be one of subject, train"):
        cv.fold_subjects(params, "stage", fold, normalise="global")
    # clipping bounds outliers
    st = cv.Standardiser(np.zeros(1), np.ones(1))
    assert st.apply(np.array([[100.0], [-2.0], [np.nan]]), np.array([True, True, False]))[:, 0].tolist() == [cv.CLIP_Z, -2.0, 0.0]


def test_stratified_folds_spread_the_condition(tmp_path):
    write_grouped_store(tmp_path / "store")
    refs = data.list_subjects(toy_params(tmp_path))
    # persons ranked A < B < ... < H by share; unstratified deals could put A-D on one side
    strata = {r.person: float("ABCDEFGH".index(person_of(r))) for r in refs}
    for seed in range(6):
        folds = cv.person_folds(refs, 2, seed=seed, val_persons=2, strata=strata)
        for f in folds:
            ranks = sorted(strata[p] for p in f.persons("test"))
            # one person of each consecutive pair (A/B, C/D, E/F, G/H) per fold
            assert [int(r) // 2 for r in ranks] == [0, 1, 2, 3], (seed, ranks)
            val = sorted(strata[p] for p in f.persons("val"))
            train_rank = sorted(strata[p] for p in f.persons("val") | f.persons("train"))
            # validation persons come from the lower and the upper half of the remaining ranking
            assert val[0] <= train_rank[1] and val[1] >= train_rank[2], (seed, val, train_rank)
    with pytest.raises(SleepkitError, match="strata has no value"):
        cv.person_folds(refs, 2, strata={("toy", "A"): 1.0})
    # positive_shares gives each person the share of positive frames over all their nights
    params = toy_params(tmp_path)
    shares = cv.positive_shares(refs, params, "stage", 1)
    subjects = data.load_subjects([r for r in refs if person_of(r) == "A"], params, "stage")
    expected = sum(int((s.y == 1).sum()) for s in subjects) / sum(int(s.valid.sum()) for s in subjects)
    assert shares[("toy", "A")] == pytest.approx(expected) and 0.1 < expected < 0.5

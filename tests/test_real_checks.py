"""Fast versions of the real-data checks (full runs: benchmarks/real_apnea_ecg.py and
benchmarks/real_walch_detect.py).

Apnea-ECG (PhysioNet, Penzel et al. 2000; Open Data Commons licence): person groups on 16 of the 35
learning-set records (10 persons); all 35 records (24 persons) through FS-RR-12 in three stratified
person folds, the sleepkit TCN trained briefly per fold beside logistic regression.
Walch (PhysioNet sleep-accel, Walch et al. 2019; Open Data Commons Attribution 1.0): three
leave-one-subject-out folds of wake vs sleep, logistic regression, Cole-Kripke and the TCN.
Thresholds sit well below the values measured with these exact settings (noted at each assert).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepkit import crossval as cv
from sleepkit import data
from sleepkit.modes import feature as feature_mode
from sleepkit.params import TaskParams

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
APNEA = DATA / "apnea-ecg"
WALCH = DATA / "walch"
# persons: a01+a14, a02, a05+a10+a20, b01, b02+b03, b04+c08, c01, c03, c05+c06 (one ECG), c10
APNEA_RECORDS = ["a01", "a14", "a02", "a05", "a10", "a20", "b01", "b02", "b03", "b04", "c08", "c01", "c03", "c05", "c06", "c10"]
TCN = {"name": "tcn", "params": {"input_filters": 16, "filters": 16, "kernel_size": 5, "dilations": [1, 2, 4, 8], "dropout": 0.2}}


def need(path: Path, probe: str) -> Path:
    if not (path / probe).is_file():
        pytest.skip(f"real recordings not available ({path})")
    return path


def apnea_store(tmp, subjects: list[str] | None) -> TaskParams:
    need(APNEA, "a01.qrs")
    feature = {"name": "FS-RR-12", "sampling_rate": 100, "frame_size": 6000, "save_path": str(tmp / "store")}
    select = {"subjects": subjects} if subjects else {}
    feature_mode.run(TaskParams.model_validate(dict(
        job_dir=tmp / "job", datasets=[{"name": "apnea-ecg", "params": {"path": str(APNEA), **select}}],
        feature=feature, num_workers=2, verbose=0)))
    return TaskParams.model_validate(dict(
        job_dir=tmp / "job", datasets=[{"name": "apnea-ecg"}], feature=feature, num_classes=2, class_map={0: 0, 2: 1},
        frame_size=60, seed=0, architecture=TCN, batch_size=32, steps_per_epoch=30, epochs=8, lr_rate=2e-3, lr_cycles=1,
        val_size=128, samples_per_subject=10, verbose=0))


@pytest.fixture(scope="module")
def apnea_subset(tmp_path_factory) -> TaskParams:
    return apnea_store(tmp_path_factory.mktemp("apnea_subset"), APNEA_RECORDS)


@pytest.fixture(scope="module")
def apnea_all(tmp_path_factory) -> TaskParams:
    return apnea_store(tmp_path_factory.mktemp("apnea_all"), None)


@pytest.fixture(scope="module")
def walch_params(tmp_path_factory) -> TaskParams:
    need(WALCH, "7749105_psg_labels.out")
    tmp = tmp_path_factory.mktemp("walch")
    feature = {"name": "WALCH-5", "sampling_rate": 1, "frame_size": 30, "save_path": str(tmp / "store")}
    feature_mode.run(TaskParams.model_validate(dict(
        job_dir=tmp / "job", datasets=[{"name": "walch", "params": {"path": str(WALCH)}}], feature=feature,
        num_workers=1, verbose=0)))
    return TaskParams.model_validate(dict(
        job_dir=tmp / "job", datasets=[{"name": "walch"}], feature=feature, num_classes=2,
        class_map={0: 0, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, frame_size=96, seed=0, architecture=TCN, batch_size=32,
        steps_per_epoch=40, epochs=5, lr_rate=2e-3, lr_cycles=1, val_size=128, samples_per_subject=10,
        class_weights="balanced", verbose=0))


def test_apnea_ecg_store_carries_persons_and_folds_keep_them_apart(apnea_subset):
    apnea_params = apnea_subset
    refs = data.list_subjects(apnea_params)
    assert len(refs) == 16
    with h5py.File(refs[0].path.parent / "a14.h5", "r") as h5:
        assert h5.attrs["group"] == "a01+a14"
    groups = {r.subject_id: r.group for r in refs}
    assert groups["c05"] == groups["c06"] == "c05+c06"  # one ECG shifted by 80 s
    assert groups["b04"] == groups["c08"] and groups["a02"] == "a02"
    assert len({r.person for r in refs}) == 10
    # persons not in the selection still name the whole group: a05's person is a05+a10+a20
    assert groups["a05"] == "a05+a10+a20"
    for seed in range(5):
        for fold in cv.person_folds(refs, 2, seed=seed, val_persons=2):
            sides = [{r.subject_id for r in getattr(fold, s)} for s in ("train", "val", "test")]
            for together in (("a05", "a10", "a20"), ("c05", "c06"), ("a01", "a14"), ("b02", "b03"), ("b04", "c08")):
                assert sum(bool(set(together) & side) for side in sides) == 1, (seed, fold.index, together)
    # the ordinary train/val/test split keeps persons together too
    split = data.subject_split(apnea_params.model_copy(update={"test_subjects": 0.3, "val_subjects": 0.2}))
    sides = [{r.person for r in s} for s in (split.train, split.val, split.test)]
    assert not (sides[0] & sides[2]) and not (sides[0] & sides[1]) and not (sides[1] & sides[2])


def test_apnea_ecg_sleepkit_model_person_grouped(apnea_all):
    refs = data.list_subjects(apnea_all)
    assert len(refs) == 35 and len({r.person for r in refs}) == 24
    # stratified by each person's apnea share: unstratified, a small deal can put every a-record (the
    # apnea nights) on one side, and then neither model learns anything (AUC ~0.4 measured)
    shares = cv.positive_shares(refs, apnea_all, "apnea", 1)
    folds = cv.person_folds(refs, 3, seed=0, val_persons=2, strata=shares)
    sk, lr = [], []
    for fold in folds:
        sk += cv.model_fold(apnea_all, "apnea", fold, positive_class=1, normalise="subject+quantile")
        lr += cv.logistic_fold(apnea_all, "apnea", fold, positive_class=1)
    assert sorted(n.key for n in sk) == sorted(r.key for r in refs)  # every record tested once
    s, base = cv.summarise(sk), cv.summarise(lr)
    assert s["frames"] == base["frames"] > 16000
    # measured: sleepkit TCN AUC 0.848, accuracy 0.784, kappa 0.53, AMI MAE 10.4, r 0.74 (8 epochs of 30
    # steps per fold); logistic regression AUC 0.790, accuracy 0.729
    assert s["auc"] > 0.78 and s["auc"] > base["auc"]
    assert s["accuracy"] > 0.72 and s["kappa"] > 0.35
    assert base["auc"] > 0.72
    # the apnea-minute index tracks the truth: severe a01 (measured 39/h) far above b01 (10/h)
    assert s["index_pred"]["apnea-ecg/a01"] > s["index_pred"]["apnea-ecg/b01"] + 15
    assert s["index_mae"] < 14 and s["index_r"] > 0.5


def test_walch_wake_detection_leave_one_subject_out(walch_params):
    refs = data.list_subjects(walch_params)
    assert len(refs) == 21
    folds = cv.person_folds(refs, None, seed=0, val_persons=3)
    assert len(folds) == 21 and all(len(f.test) == 1 for f in folds)
    chosen = folds[:3]
    lr = [n for f in chosen for n in cv.logistic_fold(walch_params, "stage", f, positive_class=0)]
    ck = [n for f in chosen for n in cv.actigraphy_fold(walch_params, "stage", f, wake_class=0, column="count")]
    s_lr, s_ck = cv.summarise(lr), cv.summarise(ck)
    # measured on these three subjects: logistic regression AUC 0.83 kappa 0.33; Cole-Kripke index AUC 0.85,
    # rescored rule with a fitted scale kappa 0.37
    assert s_lr["auc"] > 0.75 and s_ck["auc"] > 0.75
    assert s_lr["kappa"] > 0.2 and s_ck["kappa"] > 0.2
    assert s_lr["frames"] == s_ck["frames"]
    sk = [n for f in chosen[:2] for n in cv.model_fold(walch_params, "stage", f, positive_class=0, normalise="subject+quantile")]
    s_sk = cv.summarise(sk)
    # measured: AUC 0.8x, kappa 0.3x (two folds, 200 training steps each)
    assert s_sk["auc"] > 0.7 and s_sk["kappa"] > 0.15
    assert [n.key for n in sk] == [n.key for n in lr[:2]]

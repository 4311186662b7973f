"""Person-grouped cross-validation over the HDF5 feature store.

Scores from one train/test split of a few dozen nights swing by several points with the split, and
several nights of one person on both sides inflate them (the model recognises the person, not the
event). This module gives every person exactly one test fold:

* ``person_folds``: persons (``SubjectRef.person``: the ``group`` attribute the feature mode stores,
  else the subject) are shuffled with a seed and dealt to ``num_folds`` folds, each person to the fold
  holding the fewest subjects so far; ``num_folds=None`` is leave-one-person-out. From each fold's
  training persons, ``val_persons`` are held out for checkpoint selection.
* ``fit_predict_model``: trains the configured sleepkit model (``ModelFactory``, the TCN by default)
  on one fold with the training code of the ``train`` mode (windows, class weights, loss, schedule,
  validation and checkpoint callbacks) and returns per-frame class probabilities for the fold's test
  subjects, whole nights tiled.
* ``fit_logistic`` / ``predict_logistic``: an L2 logistic regression on single frames (fitted with
  ``scipy.optimize``), the usual reference for frame-wise classifiers.
* ``binary_scores``, ``roc_auc``, ``event_minute_index``: the scores the real-data checks report.

Nothing here writes into the feature store; models go to ``<job_dir>/fold_<k>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data
from .errors import SleepkitError
from .log import logger
from .metrics import cohen_kappa, confusion_matrix
from .params import TaskParams

# ---------------------------------------------------------------------------------------------------
# Folds


@dataclass
class Fold:
    index: int
    train: list[data.SubjectRef]
    val: list[data.SubjectRef]
    test: list[data.SubjectRef]

    def persons(self, side: str) -> set[tuple[str, str]]:
        return {r.person for r in getattr(self, side)}

    def as_dict(self) -> dict:
        return {"fold": self.index, **{side: [r.key for r in getattr(self, side)] for side in ("train", "val", "test")}}


def check_fold(fold: Fold) -> None:
    """A person on two sides of a fold is a leak: refuse it."""
    sides = ("train", "val", "test")
    for i, a in enumerate(sides):
        for b in sides[i + 1 :]:
            shared = fold.persons(a) & fold.persons(b)
            if shared:
                raise SleepkitError(f"fold {fold.index}: person(s) {sorted(shared)[:5]} are in both {a} and {b}")


def person_folds(
    refs: list[data.SubjectRef], num_folds: int | None, seed: int = 0, val_persons: int = 0,
    strata: dict[tuple[str, str], float] | None = None,
) -> list[Fold]:
    """Folds over persons (see the module docstring). Deterministic for a given seed, whatever the
    order of ``refs``.

    ``strata`` (person → a number, e.g. ``positive_shares``) stratifies: persons ranked by it are
    dealt in blocks of ``num_folds``, one to each fold in a random order, and the validation persons
    are spread evenly over the ranking of the training persons. Without it a small set can deal all
    persons with the condition to one side (Apnea-ECG's a-records are the apnea nights): nothing to
    learn from, or nothing to test on."""
    members: dict[tuple[str, str], list[data.SubjectRef]] = {}
    for r in sorted(refs, key=lambda r: (r.dataset, r.subject_id)):
        members.setdefault(r.person, []).append(r)
    persons = sorted(members)
    n = len(persons)
    k = n if num_folds is None else int(num_folds)
    if k < 2 or k > n:
        raise SleepkitError(f"cross-validation needs 2..{n} folds for {n} persons (got num_folds={num_folds})")
    if n - n // k - val_persons < 1:  # the smallest training side must keep a person
        raise SleepkitError(f"{n} persons cannot give {k} folds with {val_persons} validation person(s) and a training set")
    rng = np.random.default_rng(seed)
    order = [persons[i] for i in rng.permutation(n)]
    test_of: list[list[tuple[str, str]]] = [[] for _ in range(k)]
    if strata is not None:
        missing = [p for p in persons if p not in strata]
        if missing:
            raise SleepkitError(f"strata has no value for person(s) {missing[:5]}")
        order = sorted(order, key=lambda p: float(strata[p]))  # stable: ties keep the random order
        for b in range(0, n, k):
            for p, f in zip(order[b : b + k], rng.permutation(k)):
                test_of[f].append(p)
    else:
        sizes = np.zeros(k, dtype=np.int64)
        for i, p in enumerate(order):
            # the first k persons seed one fold each, so no fold can stay empty
            f = i if i < k else int(np.argmin(sizes))
            test_of[f].append(p)
            sizes[f] += len(members[p])
    folds = []
    for f, test_persons in enumerate(test_of):
        rest = [p for p in order if p not in set(test_persons)]
        fold_rng = np.random.default_rng([seed, f])
        if strata is not None and val_persons:
            # evenly spaced over the ranking, from a random offset
            step = len(rest) / val_persons
            pick = {int((j + fold_rng.random()) * step) for j in range(val_persons)}
        else:
            pick = set(fold_rng.permutation(len(rest))[:val_persons].tolist())
        val = [p for j, p in enumerate(rest) if j in pick]
        train = [p for j, p in enumerate(rest) if j not in pick]

        def refs_of(ps: list[tuple[str, str]]) -> list[data.SubjectRef]:
            return sorted((r for p in ps for r in members[p]), key=lambda r: r.key)

        fold = Fold(f, refs_of(train), refs_of(val), refs_of(test_persons))
        check_fold(fold)
        folds.append(fold)
    logger.info("%d folds over %d persons (%d subjects), %d validation person(s) per fold%s", k, n, len(refs), val_persons,
                ", stratified" if strata is not None else "")
    return folds


def positive_shares(refs: list[data.SubjectRef], params: TaskParams, label_key: str, positive_class: int) -> dict[tuple[str, str], float]:
    """Person → share of their scored frames in ``positive_class`` (the ``strata`` of
    ``person_folds``)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for s in data.load_subjects(refs, params, label_key):
        c = counts.setdefault(s.ref.person, [0, 0])
        c[0] += int((s.y[s.valid] == positive_class).sum())
        c[1] += int(s.valid.sum())
    return {p: (pos / tot if tot else 0.0) for p, (pos, tot) in counts.items()}


# ---------------------------------------------------------------------------------------------------
# The sleepkit model on one fold


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def predict_nights(model, subjects: list[data.SubjectData], params: TaskParams) -> list[np.ndarray]:
    """Per-frame class probabilities [N, C] of whole nights: tiled windows (``data.tile_starts``),
    every frame covered."""
    windows, starts = [], []
    for s in subjects:
        x, st = data.tiled_windows(s, params.frame_size)
        windows.append(x)
        starts.append(st)
    out = model.predict(np.concatenate(windows), batch_size=params.batch_size, verbose=0)
    probs = _softmax(out) if params.use_logits else out
    result, i = [], 0
    for s, st in zip(subjects, starts):
        p, covered = data.stitch(probs[i : i + len(st)], st, s.num_frames)
        assert covered.all()
        result.append(p)
        i += len(st)
    return result


NORMALISATIONS = ("subject", "train", "quantile", "subject+quantile")
CLIP_Z = 6.0  # z-scores beyond this are artefacts or outliers; clipping keeps one from dominating a window
QUANTILES = 1001
QUANTILE_TAIL = 1e-3  # the extreme training quantiles map to ±3.1 standard normal units


@dataclass
class Standardiser:
    """Feature z-scoring with fixed statistics (from a fold's training frames)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> "Standardiser":
        rows = np.asarray(rows, np.float64)
        std = rows.std(axis=0)
        std[std < 1e-8] = 1.0
        return cls(rows.mean(axis=0), std)

    def apply(self, features: np.ndarray, usable: np.ndarray) -> np.ndarray:
        x = np.zeros(features.shape, dtype=np.float32)
        z = (np.asarray(features[usable], np.float64) - self.mean) / self.std
        x[usable] = np.clip(z, -CLIP_Z, CLIP_Z).astype(np.float32)
        return x


@dataclass
class QuantileMap:
    """Each feature through its training-frame distribution onto a standard normal: x → Φ⁻¹(F(x)),
    F the empirical CDF at ``QUANTILES`` points (linear between them; a value shared by many frames,
    e.g. the zero activity of still epochs, maps to the middle of its run of ranks). Insensitive to
    units, skew and heavy tails, which plain z-scoring of activity counts or power ratios is not."""

    quantiles: np.ndarray  # [Q, F] training values at probabilities ``probs``
    probs: np.ndarray  # [Q]

    @classmethod
    def fit(cls, rows: np.ndarray) -> "QuantileMap":
        probs = np.linspace(0.0, 1.0, QUANTILES)
        return cls(np.quantile(np.asarray(rows, np.float64), probs, axis=0), probs)

    def apply(self, features: np.ndarray, usable: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        x = np.zeros(features.shape, dtype=np.float32)
        rows = np.asarray(features[usable], np.float64)
        for j in range(rows.shape[1]):
            q = self.quantiles[:, j]
            # np.interp takes the last of equal xp from below and the first from above: average both
            lo = np.interp(rows[:, j], q, self.probs)
            hi = 1.0 - np.interp(-rows[:, j], -q[::-1], 1.0 - self.probs[::-1])
            u = np.clip(0.5 * (lo + hi), QUANTILE_TAIL, 1.0 - QUANTILE_TAIL)
            x[usable, j] = ndtri(u).astype(np.float32)
        return x


def raw_features(ref: data.SubjectRef, params: TaskParams, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(stored features [T, F] with ``feat_cols`` applied, before any normalisation; usable rows [T]:
    mask 1 and finite, as in ``sleepkit.data.load_subject``)."""
    _, feats, _, usable = data.stored_features(ref, params, label_key)
    return feats, usable


def fold_subjects(
    params: TaskParams, label_key: str, fold: Fold, normalise: str = "subject"
) -> tuple[list[data.SubjectData], list[data.SubjectData], list[data.SubjectData]]:
    """(train, val, test) subjects of a fold. ``normalise``: ``"subject"`` keeps the per-night
    z-score of ``sleepkit.data`` (what the train mode does; it removes each night's level, which
    carries information when the target is how much of a night is abnormal, e.g. apnea);
    ``"train"`` z-scores every night with the fold's training-frame statistics (clipped to
    ±``CLIP_Z``), so levels stay comparable across nights and nothing is learnt from test nights;
    ``"quantile"`` maps every night through the training frames' distribution (``QuantileMap``),
    like ``"train"`` but robust to skewed, zero-heavy features such as activity counts."""
    if normalise not in NORMALISATIONS:
        raise SleepkitError(f"normalise must be one of {', '.join(NORMALISATIONS)} (got {normalise!r})")
    sides = [data.load_subjects(refs, params, label_key) for refs in (fold.train, fold.val, fold.test)]
    if normalise != "subject":
        raws = [[raw_features(s.ref, params, label_key) for s in side] for side in sides]
        fitter = Standardiser if normalise == "train" else QuantileMap
        scaler = fitter.fit(np.concatenate([f[u] for f, u in raws[0]]))
        for side, rs in zip(sides, raws):
            for s, (f, u) in zip(side, rs):
                if normalise == "subject+quantile":
                    s.x = np.concatenate([s.x, scaler.apply(f, u)], axis=1)
                    s.feature_names = [f"{n}/night" for n in s.feature_names] + [f"{n}/pop" for n in s.feature_names]
                else:
                    s.x = scaler.apply(f, u)
    return sides[0], sides[1], sides[2]


def fit_model(params: TaskParams, train_s: list[data.SubjectData], val_s: list[data.SubjectData], job_dir: Path):
    """Train the configured model as the ``train`` mode does (windows, class weights, loss, schedule,
    validation callbacks) on the given subjects; returns the best checkpoint (by ``val_metric`` on
    ``val_s``) loaded back."""
    import keras

    from .modes.train import compile_model
    from .training.callbacks import MONITORS, best_in_history, read_history, standard_callbacks, validation_callback
    from .training.class_weights import compute_class_weights
    from .training.model_io import build_model, seed_everything

    if not val_s:
        raise SleepkitError("fit_model needs at least one validation subject for checkpoint selection")
    job_dir = Path(job_dir)
    params = params.model_copy(update={"job_dir": job_dir, "model_file": None})
    seed = seed_everything(params.seed)
    weights = compute_class_weights(params.class_weights, [s.y for s in train_s], params.num_classes)
    train_bank = data.WindowBank(train_s, params.frame_size, params.num_classes)
    val_bank = data.WindowBank(val_s, params.frame_size, params.num_classes)
    stream = data.train_stream(train_bank, params, np.random.default_rng(seed), weights)
    xv, yv, wv = data.validation_windows(val_bank, params, np.random.default_rng(seed + 1))

    model = build_model(params, train_bank.x.shape[1])
    compile_model(model, params)
    job_dir.mkdir(parents=True, exist_ok=True)
    best_file, history_csv = job_dir / "model.keras", job_dir / "history.csv"
    callbacks = standard_callbacks(
        validation_callback(xv, yv, wv, model.loss, params.batch_size), history_csv, best_file,
        job_dir / "last.keras", params.val_metric, max(1, params.epochs // 4), resume=False, best_so_far=None,
        epochs=params.epochs,
    )
    model.fit(stream, steps_per_epoch=params.steps_per_epoch, epochs=params.epochs, callbacks=callbacks, shuffle=False, verbose=0)
    best, epoch = best_in_history(read_history(history_csv), params.val_metric)
    if best is None or not best_file.is_file():
        raise SleepkitError(f"fold in {job_dir}: training produced no usable checkpoint; see {history_csv}")
    logger.info("best %s %.4f at epoch %d", MONITORS[params.val_metric][0], best, epoch + 1)
    return keras.models.load_model(best_file, compile=False)


def fit_predict_model(
    params: TaskParams, label_key: str, fold: Fold, job_dir: Path | None = None, normalise: str = "subject"
) -> tuple[list[data.SubjectData], list[np.ndarray]]:
    """Train on the fold's training persons, predict its test persons: (test subjects, per-frame
    class probabilities of each)."""
    check_fold(fold)
    job_dir = Path(job_dir) if job_dir is not None else params.job_dir / f"fold_{fold.index}"
    train_s, val_s, test_s = fold_subjects(params, label_key, fold, normalise)
    model = fit_model(params, train_s, val_s, job_dir)
    return test_s, predict_nights(model, test_s, params)


# ---------------------------------------------------------------------------------------------------
# Per-night results of a fold


@dataclass
class NightResult:
    """One test night's scored frames (valid: usable and labelled): truth and the model's positive-
    class probability (or any score, higher = positive); ``decision`` when it is not ``score >= 0.5``
    (a rule with rescoring)."""

    key: str
    truth: np.ndarray  # bool
    score: np.ndarray  # float
    decision: np.ndarray | None = None  # bool

    @property
    def predicted(self) -> np.ndarray:
        return self.decision if self.decision is not None else self.score >= 0.5


def model_fold(
    params: TaskParams, label_key: str, fold: Fold, positive_class: int, normalise: str = "subject", job_dir: Path | None = None
) -> list[NightResult]:
    """The sleepkit model trained on the fold (``fit_predict_model``), as per-night results."""
    test, probs = fit_predict_model(params, label_key, fold, job_dir, normalise)
    return [NightResult(s.ref.key, s.y[s.valid] == positive_class, p[s.valid, positive_class]) for s, p in zip(test, probs)]


def frame_table(refs: list[data.SubjectRef], params: TaskParams, label_key: str) -> list[tuple[data.SubjectData, np.ndarray]]:
    """(subject, its raw stored features [T, F]) per subject, for frame-wise reference models; the
    subject's ``valid`` rows are the scored frames."""
    out = []
    for s in data.load_subjects(refs, params, label_key):
        out.append((s, raw_features(s.ref, params, label_key)[0]))
    return out


def logistic_fold(params: TaskParams, label_key: str, fold: Fold, positive_class: int, l2: float = 1.0) -> list[NightResult]:
    """Frame-wise logistic regression on the raw stored features of the fold's training and
    validation persons (no windows, no context), scored on its test persons."""
    check_fold(fold)
    train = frame_table(fold.train + fold.val, params, label_key)
    x = np.concatenate([f[s.valid] for s, f in train])
    y = np.concatenate([s.y[s.valid] == positive_class for s, _ in train])
    model = fit_logistic(x, y, l2=l2)
    return [NightResult(s.ref.key, s.y[s.valid] == positive_class, model.predict_proba(f[s.valid]))
            for s, f in frame_table(fold.test, params, label_key)]


def actigraphy_fold(
    params: TaskParams, label_key: str, fold: Fold, wake_class: int, column: str = "count", fit_scale: bool = True
) -> list[NightResult]:
    """Cole-Kripke with Webster rescoring (``sleepkit.actigraphy``) on the stored activity ``column``
    of the fold's test persons, wake as the positive class. With ``fit_scale`` the rule's one device
    scale is fitted on the training and validation persons (Cohen's kappa), else the column is taken
    as counts. The score is the Cole-Kripke index D (before thresholding and rescoring; its AUC does
    not depend on the scale), the decision the rescored rule."""
    from . import actigraphy

    check_fold(fold)

    def nights(refs: list[data.SubjectRef]) -> list[tuple[data.SubjectData, actigraphy.Night]]:
        out = []
        for s in data.load_subjects(refs, params, label_key):
            found = data.raw_feature_column(s.ref.path, params, (column,))
            if found is None:
                raise SleepkitError(f"{s.ref.path}: no feature column '{column}' for the actigraphy rule")
            out.append((s, actigraphy.Night(found[0], s.frame_seconds, (s.y != wake_class).astype(int), s.valid)))
        return out

    scale = 1.0
    if fit_scale:
        scale, kappa = actigraphy.fit_scale([n for _, n in nights(fold.train + fold.val)], "cole_kripke", rescore=True)
        logger.info("fold %d: Cole-Kripke device scale %.4g (training kappa %.3f)", fold.index, scale, kappa)
    out = []
    for s, n in nights(fold.test):
        index = actigraphy.cole_kripke_index(n.activity, n.epoch_seconds)
        sleep = actigraphy.score("cole_kripke", n.activity * scale, n.epoch_seconds, rescore=True)
        out.append(NightResult(s.ref.key, s.y[s.valid] == wake_class, index[s.valid], ~sleep[s.valid]))
    return out


def summarise(nights: list[NightResult]) -> dict:
    """Pooled frame scores (``binary_scores``) of the nights plus, per night, the event-minute index
    (``event_minute_index``) true vs predicted: its mean absolute error and Pearson r over nights."""
    truth = np.concatenate([n.truth for n in nights])
    score = np.concatenate([n.score for n in nights])
    pred = np.concatenate([n.predicted for n in nights])
    out = binary_scores(truth, score, decision=pred)
    true_idx = np.array([event_minute_index(n.truth) for n in nights])
    pred_idx = np.array([event_minute_index(n.predicted) for n in nights])
    out["nights"] = len(nights)
    out["index_mae"] = float(np.mean(np.abs(true_idx - pred_idx)))
    out["index_r"] = float(np.corrcoef(true_idx, pred_idx)[0, 1]) if len(nights) > 2 and true_idx.std() > 0 and pred_idx.std() > 0 else float("nan")
    out["index_true"] = {n.key: float(v) for n, v in zip(nights, true_idx)}
    out["index_pred"] = {n.key: float(v) for n, v in zip(nights, pred_idx)}
    return out


# ---------------------------------------------------------------------------------------------------
# Frame-wise logistic regression


@dataclass
class LogisticModel:
    mean: np.ndarray  # [F] standardisation of the training frames
    scale: np.ndarray  # [F]
    weights: np.ndarray  # [F]
    bias: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class per row."""
        from scipy.special import expit

        return expit(self.decision(x))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, balanced: bool = False) -> LogisticModel:
    """L2-penalised logistic regression (penalty ``l2``·|w|²/2, bias free) on standardised features,
    fitted by L-BFGS. ``y`` is 0/1; ``balanced`` weighs each class by N / (2·n_class)."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 2 or len(x) != len(y) or not len(y):
        raise SleepkitError(f"fit_logistic needs x [N, F] and y [N] with N > 0 (got {x.shape}, {y.shape})")
    if not np.isfinite(x).all():
        raise SleepkitError("fit_logistic: features hold NaN or inf; pass usable frames only")
    if len(np.unique(y)) < 2:
        raise SleepkitError("fit_logistic: the training frames hold a single class")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-12] = 1.0
    z = (x - mean) / scale
    sw = np.ones_like(y)
    if balanced:
        pos = y.mean()
        sw = np.where(y > 0.5, 0.5 / pos, 0.5 / (1.0 - pos))
    sw /= sw.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        t = z @ w + b
        nll = -(sw * (y * log_expit(t) + (1 - y) * log_expit(-t))).sum()
        r = sw * (expit(t) - y)
        grad = np.concatenate([z.T @ r + l2 * w / len(y), [r.sum()]])
        return nll + 0.5 * l2 * float(w @ w) / len(y), grad

    res = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    if not res.success:
        logger.warning("logistic regression: L-BFGS stopped early (%s)", res.message)
    return LogisticModel(mean, scale, res.x[:-1], float(res.x[-1]))


# ---------------------------------------------------------------------------------------------------
# Scores


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count half), from the Mann-Whitney rank sum. NaN when a class is absent."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_scores(positive: np.ndarray, prob: np.ndarray, threshold: float = 0.5, decision: np.ndarray | None = None) -> dict:
    """Accuracy and Cohen's kappa of the decision (``prob >= threshold`` unless ``decision`` is given)
    and the AUC of ``prob`` (any score, higher = positive), against 0/1 truth."""
    positive = np.asarray(positive, bool)
    pred = np.asarray(prob) >= threshold if decision is None else np.asarray(decision, bool)
    cm = confusion_matrix(positive.astype(int), pred.astype(int), 2)
    return {
        "frames": int(len(positive)),
        "accuracy": float(np.mean(pred == positive)) if len(positive) else float("nan"),
        "auc": roc_auc(prob, positive),
        "kappa": cohen_kappa(cm),
    }


def event_minute_index(positive: np.ndarray) -> float:
    """Event minutes per hour: 60 × the share of the given frames that are positive. With the
    Apnea-ECG scoring (one label a minute: apnea or hypopnea in progress or not) this is the
    apnea-minute index, the per-minute stand-in for the AHI. It is not the events-based AHI (a minute
    may hold part of one event or two), so truth and prediction are both computed this way and
    compared with each other."""
    positive = np.asarray(positive, bool)
    if not len(positive):
        return float("nan")
    return 60.0 * float(positive.sum()) / float(len(positive))

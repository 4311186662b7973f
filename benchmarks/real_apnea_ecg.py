"""Apnea on real nights: the PhysioNet Apnea-ECG learning set through FS-RR-12, person-grouped CV.

Data: ``../shared/data/apnea-ecg`` (35 records; beat times + one expert label a minute; PhysioNet
Apnea-ECG database, Penzel et al. 2000, Open Data Commons licence) or ``--data``. The records are 24
persons (equal age/sex/height/weight in ``additional-information.txt``; c05/c06 are one ECG): folds
are dealt by person (``sleepkit.crossval.person_folds``), so no person is on both sides.

Per fold, side by side on the same scored minutes (labelled, and not masked by FS-RR-12):

* ``logreg``   frame-wise logistic regression on the 12 raw features (``sleepkit.crossval``, scipy);
* ``gboost``   the anchor: scikit-learn ``GradientBoostingClassifier`` (100 trees of depth 3) on the
               same frames. scikit-learn is not a sleepkit dependency; without it the row is skipped;
* ``sleepkit`` the TCN from ``ModelFactory`` over 60-minute windows of frames, trained per fold with
               the train mode's code (3 of the training persons, spread over the apnea shares, kept for
               checkpoint selection). Its inputs are each feature twice: z-scored within the night (what
               the train mode does) and mapped through the training persons' distribution (``--normalise
               subject+quantile``, see ``sleepkit.crossval.fold_subjects``): the first keeps the pattern,
               the second the level, which tells an apnea night from a quiet one.

Scores: per-minute accuracy, AUC, Cohen's kappa (pooled over the fold's minutes), and per record the
apnea-minute index AMI = 60 × apnea minutes / scored minutes (the per-minute stand-in for the AHI:
labels are per minute, so events cannot be counted), true vs predicted: mean absolute error (minutes
per hour) and Pearson r over records. The last rows pool all folds; ``r(AHI)``
correlates the predicted AMI with the database's own event-based AHI. The AHI rows turn each
record's predicted AMI into events per hour with a line fitted, per fold, on the training records'
true AMI vs database AHI, and compare with the database AHI: mean absolute error, r and how many
records land in the right severity band (normal < 5, mild, moderate ≥ 15, severe ≥ 30); "true AMI"
is the same line applied to the expert's own minutes, the floor any per-minute model meets.

Run: ``python benchmarks/real_apnea_ecg.py`` (about 10 min on 2 cores; ``--folds``, ``--epochs``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from real_common import ROOT, add_cv_arguments, int_list, parser, positive_int, run

DATA = ROOT.parent / "shared" / "data" / "apnea-ecg"
LABEL_KEY = "apnea"
APNEA = 1  # class of 'A' minutes with class_map {0: 0, 2: 1}


def build_store(data_dir: Path, store: Path, workers: int) -> None:
    from sleepkit.modes import feature as feature_mode
    from sleepkit.params import TaskParams

    feature_mode.run(TaskParams.model_validate(dict(
        job_dir=store / "job", datasets=[{"name": "apnea-ecg", "params": {"path": str(data_dir)}}],
        feature={"name": "FS-RR-12", "sampling_rate": 100, "frame_size": 6000, "save_path": str(store)},
        num_workers=workers, verbose=0,
    )))


def model_params(store: Path, job_dir: Path, args) -> "TaskParams":
    from sleepkit.params import TaskParams

    return TaskParams.model_validate(dict(
        job_dir=job_dir, datasets=[{"name": "apnea-ecg"}],
        feature={"name": "FS-RR-12", "sampling_rate": 100, "frame_size": 6000, "save_path": str(store)},
        num_classes=2, class_map={0: 0, 2: 1}, class_names=["normal", "apnea"], frame_size=args.frame_size, seed=args.seed,
        architecture={"name": "tcn", "params": {"input_filters": args.filters, "filters": args.filters, "kernel_size": 5,
                                                "dilations": args.dilations, "dropout": 0.2}},
        batch_size=32, steps_per_epoch=args.steps, epochs=args.epochs, lr_rate=2e-3, lr_cycles=1, val_size=256,
        samples_per_subject=10, val_metric="loss", verbose=0,
    ))


def gboost_fold(params, fold) -> list | None:
    try:
        from sklearn.ensemble import GradientBoostingClassifier
    except ImportError:
        return None
    from sleepkit import crossval as cv

    train = cv.frame_table(fold.train + fold.val, params, LABEL_KEY)
    x = np.concatenate([f[s.valid] for s, f in train])
    y = np.concatenate([s.y[s.valid] == APNEA for s, _ in train])
    model = GradientBoostingClassifier(random_state=0).fit(x, y)
    return [cv.NightResult(s.ref.key, s.y[s.valid] == APNEA, model.predict_proba(f[s.valid])[:, 1])
            for s, f in cv.frame_table(fold.test, params, LABEL_KEY)]


def database_ahi(data_dir: Path) -> dict[str, float]:
    """Record → the event-based AHI column of additional-information.txt (the AHI figures only; a
    row whose AHI cell is not a number is named and left out)."""
    out = {}
    path = data_dir / "additional-information.txt"
    if path.is_file():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            cells = [c.strip() for c in line.split("\t")]
            if len(cells) >= 12 and len(cells[0]) == 3 and cells[0][0] in "abc":
                try:
                    out[cells[0]] = float(cells[7])
                except ValueError:
                    print(f"  {path.name} line {number}: AHI {cells[7]!r} of record {cells[0]} is not a number; "
                          f"{cells[0]} left out of the AHI figures")
    return out


def ahi_calibration(params, fold, ahi: dict[str, float]) -> tuple[float, float]:
    """(a, b) of AHI ≈ a · AMI + b, least squares over the fold's training and validation records
    (true AMI from their labels vs the database AHI): turns a test record's predicted AMI into an
    AHI estimate in events per hour without looking at the test persons."""
    from sleepkit import crossval as cv
    from sleepkit import data

    ami, target = [], []
    for s in data.load_subjects(fold.train + fold.val, params, LABEL_KEY):
        if s.ref.subject_id in ahi:
            ami.append(cv.event_minute_index(s.y[s.valid] == APNEA))
            target.append(ahi[s.ref.subject_id])
    a, b = np.polyfit(np.array(ami), np.array(target), 1)
    return float(a), float(b)


def predicted_ahi(nights: list, cal: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Record key → AHI estimate: the night's predicted AMI through its fold's line, clipped at 0."""
    from sleepkit import crossval as cv

    return {n.key: max(0.0, cal[n.key][0] * cv.event_minute_index(n.predicted) + cal[n.key][1]) for n in nights}


def ahi_scores(pred: dict[str, float], ahi: dict[str, float]) -> dict:
    """AHI estimates vs the database AHI over the records that have one: mean absolute error,
    Pearson r and agreement of the severity band (normal < 5, mild, moderate ≥ 15, severe ≥ 30)."""
    from sleepkit.metrics import severity

    keys = [k for k in pred if k.split("/")[-1] in ahi]
    true = np.array([ahi[k.split("/")[-1]] for k in keys])
    est = np.array([pred[k] for k in keys])
    r = float(np.corrcoef(true, est)[0, 1]) if est.std() > 0 else float("nan")
    return {"records": len(keys), "ahi_mae": float(np.mean(np.abs(true - est))), "ahi_r": r,
            "severity_agreement": float(np.mean([severity(t) == severity(p) for t, p in zip(true, est)])),
            "ahi_pred": dict(zip(keys, est.tolist()))}


ROW = "{:>5} {:<9} {:>7} {:>6} {:>6} {:>6} {:>8} {:>6}"


def row(fold: str, name: str, s: dict) -> str:
    return ROW.format(fold, name, s["frames"], f"{s['accuracy']:.3f}", f"{s['auc']:.3f}", f"{s['kappa']:.3f}",
                      f"{s['index_mae']:.1f}", "-" if np.isnan(s["index_r"]) else f"{s['index_r']:.2f}")


def main() -> int:
    ap = parser(__doc__)
    add_cv_arguments(ap, DATA, "folder with the Apnea-ECG learning set", 5, "person folds (0 = leave one person out)",
                     epochs=30, steps=50, filters=24)
    ap.add_argument("--frame-size", type=positive_int, default=60, help="model window in minutes (frames)")
    ap.add_argument("--dilations", type=int_list, default=[1, 2, 4, 8], help="TCN dilations")
    ap.add_argument("--workers", type=positive_int, default=2, help="feature extraction processes")
    args = ap.parse_args()
    if not (args.data / "a01.qrs").is_file():
        print(f"Apnea-ECG records not found in {args.data}; nothing to measure")
        return 1

    from sleepkit import crossval as cv
    from sleepkit import data
    from sleepkit.metrics import severity

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sk-apnea-ecg-"))
    store = args.store or tmp / "store"
    t0 = time.perf_counter()
    build_store(args.data, store, args.workers)
    t_features = time.perf_counter() - t0
    params = model_params(store, tmp / "job", args)
    refs = data.list_subjects(params)
    shares = cv.positive_shares(refs, params, LABEL_KEY, APNEA)
    folds = cv.person_folds(refs, args.folds or None, seed=args.seed, val_persons=3, strata=shares)
    print(f"Apnea-ECG: {len(refs)} records, {len({r.person for r in refs})} persons, {len(folds)} person folds "
          f"(seed {args.seed}); FS-RR-12 for all records in {t_features:.0f} s")
    for fold in folds:
        print(f"  fold {fold.index} tests {', '.join(sorted({r.group or r.subject_id for r in fold.test}))}")
    print("AMI = apnea-minute index, 60 x apnea minutes / scored minutes per record (min/h)")
    print(ROW.format("fold", "model", "minutes", "acc", "AUC", "kappa", "AMI MAE", "AMI r"))

    models = ("logreg", "gboost", "sleepkit")
    nights: dict[str, list] = {m: [] for m in models}
    per_fold: dict[str, list] = {m: [] for m in models}
    seconds = {m: 0.0 for m in models}
    ahi = database_ahi(args.data)
    calibration: dict[str, tuple[float, float]] = {}
    constant: dict[str, float] = {}  # the baseline: every test record gets its fold's mean training AHI
    for fold in folds:
        cal = ahi_calibration(params, fold, ahi)
        calibration.update({r.key: cal for r in fold.test})
        mean_ahi = float(np.mean([ahi[r.subject_id] for r in fold.train + fold.val if r.subject_id in ahi]))
        constant.update({r.key: mean_ahi for r in fold.test})
        for name in models:
            t0 = time.perf_counter()
            if name == "logreg":
                res = cv.logistic_fold(params, LABEL_KEY, fold, APNEA)
            elif name == "gboost":
                res = gboost_fold(params, fold)
            else:
                res = cv.model_fold(params, LABEL_KEY, fold, APNEA, normalise=args.normalise)
            seconds[name] += time.perf_counter() - t0
            if res is None:
                continue
            s = cv.summarise(res)
            nights[name] += res
            per_fold[name].append(s)
            print(row(str(fold.index), name, s), flush=True)

    summary = {}
    for name in models:
        if not nights[name]:
            print(f"  {name}: skipped (scikit-learn not importable)")
            continue
        s = cv.summarise(nights[name])
        pred = s["index_pred"]
        keys = [k for k in pred if k.split("/")[-1] in ahi]
        s["r_database_ahi"] = float(np.corrcoef([pred[k] for k in keys], [ahi[k.split("/")[-1]] for k in keys])[0, 1])
        s["fold_mean"] = {m: float(np.mean([f[m] for f in per_fold[name]])) for m in ("accuracy", "auc", "kappa", "index_mae")}
        s["fold_sd"] = {m: float(np.std([f[m] for f in per_fold[name]])) for m in ("accuracy", "auc", "kappa", "index_mae")}
        s["seconds"] = seconds[name]
        s["ahi"] = ahi_scores(predicted_ahi(nights[name], calibration), ahi)
        summary[name] = s
    print("-" * 64)
    for name, s in summary.items():
        print(row("all", name, s))
    for name, s in summary.items():
        m, sd = s["fold_mean"], s["fold_sd"]
        print(f"  {name:<9} fold mean ± sd: acc {m['accuracy']:.3f}±{sd['accuracy']:.3f}  AUC {m['auc']:.3f}±{sd['auc']:.3f}  "
              f"kappa {m['kappa']:.3f}±{sd['kappa']:.3f}  AMI MAE {m['index_mae']:.1f}±{sd['index_mae']:.1f};  "
              f"r(predicted AMI, database AHI) {s['r_database_ahi']:.2f};  {s['seconds']:.0f} s")
    truth_nights = [cv.NightResult(n.key, n.truth, n.truth.astype(float)) for n in nights["logreg"]]
    oracle = ahi_scores(predicted_ahi(truth_nights, calibration), ahi)
    baseline = ahi_scores(constant, ahi)
    print("Per-record AHI (events/h) estimated from the AMI, calibrated on each fold's training records, vs the database AHI:")
    for name, a in [*((n, s["ahi"]) for n, s in summary.items()), ("true AMI", oracle), ("mean AHI", baseline)]:
        r = "  -" if np.isnan(a["ahi_r"]) else f"{a['ahi_r']:.2f}"
        print(f"  {name:<9} AHI MAE {a['ahi_mae']:5.1f}  r {r}  severity band agrees on "
              f"{round(a['severity_agreement'] * a['records'])}/{a['records']} records")
    bands = [severity(v) for v in ahi.values()]
    top = max(set(bands), key=bands.count)
    print(f"  ('true AMI': the expert's own minutes through the same line; 'mean AHI': every record gets its fold's mean "
          f"training AHI; always answering '{top}' gets {bands.count(top)}/{len(bands)} bands)")
    true_r = summary["logreg"]["index_true"]
    keys = [k for k in true_r if k.split("/")[-1] in ahi]
    print(f"  (true AMI vs database AHI: r {np.corrcoef([true_r[k] for k in keys], [ahi[k.split('/')[-1]] for k in keys])[0, 1]:.2f}; "
          f"sleepkit model normalisation '{args.normalise}'; total {time.perf_counter() - t_start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"folds": [f.as_dict() for f in folds], "summary": summary,
                                         "ahi_baselines": {"true_ami": oracle, "mean_ahi": baseline}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

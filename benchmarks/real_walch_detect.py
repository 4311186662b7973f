"""Sleep/wake detection on real nights: the Walch Apple Watch features, person-grouped cross-validation.

Data: ``../shared/data/walch`` (21 subjects, per-30-s-epoch features count, hr, cosine, time,
circadian with the PSG stage; PhysioNet sleep-accel, Walch et al. SLEEP 2019, Open Data Commons
Attribution 1.0) or ``--data``, imported through the ``walch`` dataset and the ``WALCH-5`` feature set
into the HDF5 store. Wake (stage 0) vs sleep (every other stage); every subject is its own test fold.

Side by side on the same epochs of the same held-out subject:

* ``logreg``    frame-wise logistic regression on the five features (``sleepkit.crossval``, scipy),
                the reference of the Walch paper;
* ``cole-kripke`` the published 30-s Cole-Kripke rule with Webster rescoring (``sleepkit.actigraphy``)
                on the ``count`` column, its one device scale fitted on the 20 training subjects
                (Cohen's kappa), as the ``detect`` task does; its AUC is that of the Cole-Kripke
                index D before thresholding and rescoring (scale-free);
* ``ck-as-is``  the same rule on the counts as stored (scale 1): what the rule gives uncalibrated;
* ``sleepkit``  the TCN from ``ModelFactory`` over 48-minute windows of epochs, trained per fold with
                the train mode's code (3 training subjects, spread over the wake shares, kept for
                checkpoint selection); inputs z-scored within the night and mapped through the training
                subjects' distribution (``--normalise subject+quantile``).

Scores pooled over all held-out epochs: AUC, accuracy, Cohen's kappa (wake is about 10 % of the
epochs, so accuracy of "always asleep" is about 0.90: kappa and AUC are the informative ones), plus
the mean over subjects of the per-subject AUC. Run: ``python benchmarks/real_walch_detect.py``
(about 12 min on 2 cores; ``--folds 7`` for a quicker person-grouped 7-fold run).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from real_common import ROOT, add_cv_arguments, parser, run

DATA = ROOT.parent / "shared" / "data" / "walch"
LABEL_KEY = "stage"
WAKE = 0  # class of stage 0 with the class_map below
CLASS_MAP = {0: 0, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}


def build_store(data_dir: Path, store: Path) -> None:
    from sleepkit.modes import feature as feature_mode
    from sleepkit.params import TaskParams

    feature_mode.run(TaskParams.model_validate(dict(
        job_dir=store / "job", datasets=[{"name": "walch", "params": {"path": str(data_dir)}}],
        feature={"name": "WALCH-5", "sampling_rate": 1, "frame_size": 30, "save_path": str(store)},
        num_workers=1, verbose=0,
    )))


def model_params(store: Path, job_dir: Path, args):
    from sleepkit.params import TaskParams

    return TaskParams.model_validate(dict(
        job_dir=job_dir, datasets=[{"name": "walch"}],
        feature={"name": "WALCH-5", "sampling_rate": 1, "frame_size": 30, "save_path": str(store)},
        num_classes=2, class_map=CLASS_MAP, class_names=["wake", "sleep"], frame_size=96, seed=args.seed,
        architecture={"name": "tcn", "params": {"input_filters": args.filters, "filters": args.filters, "kernel_size": 5,
                                                "dilations": [1, 2, 4, 8], "dropout": 0.2}},
        batch_size=32, steps_per_epoch=args.steps, epochs=args.epochs, lr_rate=2e-3, lr_cycles=1, val_size=128,
        samples_per_subject=10, val_metric="loss", verbose=0,
    ))


def main() -> int:
    ap = parser(__doc__)
    add_cv_arguments(ap, DATA, "folder with the Walch per-epoch feature files", 0, "person folds (0 = leave one subject out)",
                     epochs=10, steps=80, filters=16)
    args = ap.parse_args()
    if not any(args.data.glob("*_psg_labels.out")):
        print(f"Walch feature tables not found in {args.data}; nothing to measure")
        return 1

    from sleepkit import crossval as cv
    from sleepkit import data
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sk-walch-"))
    store = args.store or tmp / "store"
    build_store(args.data, store)
    params = model_params(store, tmp / "job", args)
    refs = data.list_subjects(params)
    shares = cv.positive_shares(refs, params, LABEL_KEY, WAKE)
    folds = cv.person_folds(refs, args.folds or None, seed=args.seed, val_persons=3, strata=shares)
    print(f"Walch: {len(refs)} subjects, {len(folds)} folds ({'leave one subject out' if not args.folds else 'person folds'}); "
          f"wake vs sleep per 30-s epoch")
    models = ("logreg", "cole-kripke", "ck-as-is", "sleepkit")
    if args.folds:
        for fold in folds:
            print(f"  fold {fold.index} tests {', '.join(r.subject_id for r in fold.test)}")
    head = "{:>4} {:<10} {:>6} {:>6}" + " {:>8}" * len(models) + " " + " {:>8}" * len(models)
    print(head.format("fold", "subject", "frames", "wake%", *[f"AUC:{m[:4]}" for m in models], *[f"k:{m[:4]}" for m in models]))

    nights: dict[str, list] = {m: [] for m in models}
    seconds = {m: 0.0 for m in models}
    for fold in folds:
        results = {}
        for name in models:
            t0 = time.perf_counter()
            if name == "logreg":
                results[name] = cv.logistic_fold(params, LABEL_KEY, fold, WAKE)
            elif name in ("cole-kripke", "ck-as-is"):
                results[name] = cv.actigraphy_fold(params, LABEL_KEY, fold, WAKE, "count", fit_scale=name == "cole-kripke")
            else:
                results[name] = cv.model_fold(params, LABEL_KEY, fold, WAKE, normalise=args.normalise)
            seconds[name] += time.perf_counter() - t0
            nights[name] += results[name]
        sums = {m: cv.summarise(r) for m, r in results.items()}
        first = sums["logreg"]
        who = fold.test[0].subject_id if len(fold.test) == 1 else f"{len(fold.test)} subj."
        wake = 100.0 * np.mean(np.concatenate([n.truth for n in results["logreg"]]))
        print(head.format(fold.index, who[:10], first["frames"], f"{wake:.1f}",
                          *[f"{sums[m]['auc']:.3f}" for m in models], *[f"{sums[m]['kappa']:.3f}" for m in models]), flush=True)

    print("-" * 100)
    print("{:<12} {:>7} {:>7} {:>7} {:>7} {:>16} {:>8}".format("model", "frames", "AUC", "acc", "kappa", "subject AUC mean", "seconds"))
    summary = {}
    for name in models:
        s = cv.summarise(nights[name])
        per_subject = [cv.roc_auc(n.score, n.truth) for n in nights[name]]
        s["subject_auc_mean"] = float(np.nanmean(per_subject))
        s["subject_auc_sd"] = float(np.nanstd(per_subject))
        s["seconds"] = seconds[name]
        summary[name] = s
        print("{:<12} {:>7} {:>7.3f} {:>7.3f} {:>7.3f} {:>10.3f}±{:.3f} {:>8.0f}".format(
            name, s["frames"], s["auc"], s["accuracy"], s["kappa"], s["subject_auc_mean"], s["subject_auc_sd"], s["seconds"]))
    truth = np.concatenate([n.truth for n in nights["logreg"]])
    print(f"  (wake {100 * truth.mean():.1f} % of epochs: 'always asleep' has accuracy {1 - truth.mean():.3f}, kappa 0; "
          f"sleepkit model normalisation '{args.normalise}'; total {time.perf_counter() - t_start:.0f} s)")
    if args.json:
        for s in summary.values():
            s.pop("index_true", None), s.pop("index_pred", None)
        args.json.write_text(json.dumps({"folds": [f.as_dict() for f in folds], "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

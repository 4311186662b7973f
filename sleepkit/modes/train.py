"""Train mode: fit the model on random windows of the training subjects.

Writes to job_dir: the best model (``model_file``, default ``model.keras``), ``checkpoints/last.keras``
(for ``resume``), ``history.csv``, ``history.png`` and ``split.json`` (which subject went where).

With ``quantization.qat`` the best float model is kept as ``<model_file stem>_float.keras`` and then
fine-tuned quantisation-aware (``sleepkit.training.qat``: batch norm folded, int8 fake-quant weights
and activations) for ``architecture.params.qat_epochs`` epochs (default max(1, epochs // 5)) at
``lr_rate * qat_lr_scale`` (default 0.1); the best of those epochs becomes ``model_file`` and export
converts it with the ranges it learned. Its history is ``history_qat.csv``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np

from .. import data
from ..errors import SleepkitError
from ..fsutil import atomic_path, write_text
from ..log import logger
from ..params import TaskParams
from ..report import plot_history
from ..tasks.base import Task
from ..training.callbacks import MONITORS, best_in_history, read_history, standard_callbacks, validation_callback
from ..training.class_weights import compute_class_weights
from ..training.losses import make_loss
from ..training.model_io import architecture, build_model, float_model_path, model_path, seed_everything
from ..training.schedule import cosine_restarts


def prepare(params: TaskParams, task: Task):
    """Split, load and window the data (shared with the training benchmark)."""
    seed = seed_everything(params.seed)
    split = data.subject_split(params)
    label_key = task.label_key_for(params)
    train_s = data.load_subjects(split.train, params, label_key)
    val_s = data.load_subjects(split.val, params, label_key)
    weights = compute_class_weights(params.class_weights, [s.y for s in train_s], params.num_classes)
    rng = np.random.default_rng(seed)
    train_bank = data.WindowBank(train_s, params.frame_size, params.num_classes)
    val_bank = data.WindowBank(val_s, params.frame_size, params.num_classes)
    stream = data.train_stream(train_bank, params, rng, weights)
    val = data.validation_windows(val_bank, params, np.random.default_rng(seed + 1))
    return split, train_bank, stream, val, weights


def compile_model(model, params: TaskParams, schedule=None) -> None:
    import keras

    _, _, training = architecture(params)
    loss = make_loss(
        training.get("loss", "cross_entropy"), params.use_logits, params.label_smoothing, training.get("focal_gamma", 2.0)
    )
    if schedule is None:
        schedule = cosine_restarts(params.lr_rate, params.lr_cycles, params.lr_decay, params.epochs * params.steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)


def qat_settings(params: TaskParams) -> tuple[int, float]:
    """(epochs, learning rate) of the quantisation-aware fine-tune."""
    _, _, training = architecture(params)
    epochs = training.get("qat_epochs", max(1, params.epochs // 5))
    scale = training.get("qat_lr_scale", 0.1)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise SleepkitError(f"architecture.params.qat_epochs must be an integer >= 1, got {epochs!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise SleepkitError(f"architecture.params.qat_lr_scale must be in (0, 1], got {scale!r}")
    return epochs, params.lr_rate * float(scale)


def quantization_aware_finetune(params: TaskParams, stream, val, best_file) -> dict:
    """Fine-tune the best float model with int8 fake quantisation; the best QAT epoch replaces it."""
    import keras

    from ..training.callbacks import save_model_atomic
    from ..training.qat import calibrate, is_qat_model, quantize_model, register_layers

    epochs, lr = qat_settings(params)
    xv, yv, wv = val
    register_layers()
    float_file = float_model_path(params)
    float_model = keras.models.load_model(best_file, compile=False)
    if is_qat_model(float_model):  # a resumed run whose float training had already finished
        if not float_file.is_file():
            raise SleepkitError(f"{best_file} is already quantization-aware and its float model {float_file} is missing; retrain")
        logger.info("%s is already quantization-aware; fine-tuning again from %s", best_file, float_file)
        float_model = keras.models.load_model(float_file, compile=False)
    save_model_atomic(float_model, float_file)
    qmodel = quantize_model(float_model)
    # Activation ranges from a few training batches before the first weight update.
    calib = np.concatenate([next(stream)[0] for _ in range(4)])
    calibrate(qmodel, calib, params.batch_size)
    steps = epochs * params.steps_per_epoch
    compile_model(qmodel, params, keras.optimizers.schedules.CosineDecay(lr, max(1, steps)))
    metric_key, _ = MONITORS[params.val_metric]

    def val_metric(model) -> float:
        logs: dict = {}
        cb = validation_callback(xv, yv, wv, qmodel.loss, params.batch_size)
        cb.set_model(model)
        cb.on_epoch_end(0, logs)
        return float(logs[metric_key])

    float_metric = val_metric(float_model)
    before = val_metric(qmodel)
    history_csv = params.job_dir / "history_qat.csv"
    best_ckpt = params.job_dir / "checkpoints" / "best_qat.keras"
    best_ckpt.unlink(missing_ok=True)
    callbacks = standard_callbacks(
        validation_callback(xv, yv, wv, qmodel.loss, params.batch_size), history_csv, best_ckpt,
        params.job_dir / "checkpoints" / "last_qat.keras", params.val_metric, patience=epochs, resume=False,
        best_so_far=None, epochs=epochs,
    )
    qmodel.fit(stream, steps_per_epoch=params.steps_per_epoch, epochs=epochs, callbacks=callbacks, shuffle=False, verbose=0)
    best, _ = best_in_history(read_history(history_csv), params.val_metric)
    if best is None or not best_ckpt.is_file():
        raise SleepkitError(f"quantization-aware fine-tuning produced no usable checkpoint; see {history_csv}")
    with atomic_path(best_file) as tmp:  # model_file becomes the QAT model only once fine-tuning ended
        shutil.copyfile(best_ckpt, tmp)
    logger.info(
        "QAT: %s float %.4f, fake-quant before fine-tune %.4f, best after %d epoch(s) %.4f",
        metric_key, float_metric, before, epochs, best if best is not None else float("nan"),
    )
    return {
        "qat_epochs": epochs,
        "qat_lr": lr,
        f"qat_{metric_key}_float": round(float_metric, 5),
        f"qat_{metric_key}_fake_quant_before": round(before, 5),
        f"qat_{metric_key}_best": None if best is None else round(float(best), 5),
        "float_model_file": str(float_file),
    }


def run(params: TaskParams, task: Task) -> dict:
    import keras

    bad = {k: getattr(params, k) for k in ("epochs", "steps_per_epoch", "batch_size") if getattr(params, k) < 1}
    if bad:
        raise SleepkitError("must be >= 1: " + ", ".join(f"{k}={v}" for k, v in bad.items()))
    job_dir = params.job_dir
    job_dir.mkdir(parents=True, exist_ok=True)
    split, train_bank, stream, (xv, yv, wv), _ = prepare(params, task)
    write_text(job_dir / "split.json", json.dumps(split.as_dict(), indent=2))
    num_features = train_bank.x.shape[1]

    best_file = model_path(params)
    # The best model is kept in checkpoints/ while training runs and replaces model_file only when the
    # run ends normally: an interrupted run never leaves a half-trained model_file behind.
    best_ckpt = job_dir / "checkpoints" / "best.keras"
    last_file = job_dir / "checkpoints" / "last.keras"
    history_csv = job_dir / "history.csv"
    initial_epoch, best_so_far = 0, None
    if params.resume and last_file.is_file():
        model = keras.models.load_model(last_file)
        if model.input_shape[1:] != (params.frame_size, num_features):
            raise SleepkitError(f"cannot resume from {last_file}: it takes {model.input_shape[1:]}, data gives {(params.frame_size, num_features)}")
        initial_epoch = len(read_history(history_csv))
        best_so_far, _ = best_in_history(read_history(history_csv), params.val_metric)
        logger.info("resuming from %s at epoch %d (best %s so far: %s)", last_file, initial_epoch, params.val_metric, best_so_far)
    else:
        if params.resume:
            logger.info("resume requested but %s does not exist; training from scratch", last_file)
        model = build_model(params, num_features)
        if params.weights_file is not None and params.weights_file.is_file():
            model.load_weights(params.weights_file)
            logger.info("initial weights loaded from %s", params.weights_file)
        compile_model(model, params)

    patience = max(1, params.epochs // 4)
    logger.info("early stopping on %s with patience %d epochs", MONITORS[params.val_metric][0], patience)
    loss_fn = model.loss
    callbacks = standard_callbacks(
        validation_callback(xv, yv, wv, loss_fn, params.batch_size), history_csv, best_ckpt, last_file,
        params.val_metric, patience, resume=initial_epoch > 0, best_so_far=best_so_far, epochs=params.epochs,
    )
    if initial_epoch >= params.epochs:
        logger.info("already trained %d of %d epochs; nothing to do", initial_epoch, params.epochs)
    else:
        model.fit(
            stream, steps_per_epoch=params.steps_per_epoch, epochs=params.epochs, initial_epoch=initial_epoch,
            callbacks=callbacks, shuffle=False, verbose=0,  # the stream is already random
        )

    history = read_history(history_csv)
    best, best_epoch = best_in_history(history, params.val_metric)
    if best is not None and best_ckpt.is_file():
        with atomic_path(best_file) as tmp:
            shutil.copyfile(best_ckpt, tmp)
    if best is None or not best_file.is_file():
        raise SleepkitError(f"training produced no usable checkpoint ({MONITORS[params.val_metric][0]} never finite); see {history_csv}")
    plot_history(history, job_dir / "history.png")
    from ..models.common import model_cost

    cost = model_cost(model)
    qat = quantization_aware_finetune(params, stream, (xv, yv, wv), best_file) if params.quantization.qat else {}
    return {
        "model_file": str(best_file),
        "architecture": architecture(params)[0],
        "params": cost["params"],
        "macs": cost["macs"],
        "epochs_run": len(history),
        f"best_{MONITORS[params.val_metric][0]}": round(float(best), 5),
        "best_epoch": int(best_epoch) + 1,
        "train_subjects": len(split.train),
        "val_subjects": len(split.val),
        "test_subjects": len(split.test),
        "history": str(history_csv),
        **qat,
    }

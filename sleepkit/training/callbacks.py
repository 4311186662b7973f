"""Training callbacks: masked validation metrics and the checkpoint / early-stopping / history set."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..metrics import masked_f1

# val_metric -> (log key, mode)
MONITORS = {"loss": ("val_loss", "min"), "acc": ("val_acc", "max"), "f1": ("val_f1", "max")}


def validation_callback(x: np.ndarray, y: np.ndarray, w: np.ndarray, loss_fn, batch_size: int):
    """Adds ``val_loss`` (masked frames weigh 0), ``val_acc`` and ``val_f1`` (macro, valid frames
    only) to the epoch logs; it must come before callbacks that read them."""
    import keras

    class ValidationMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            pred = self.model.predict(x, batch_size=batch_size, verbose=0)
            logs["val_loss"] = float(keras.ops.convert_to_numpy(loss_fn(y, pred, sample_weight=w)))
            valid = w > 0
            acc, f1 = masked_f1(y.argmax(-1), pred.argmax(-1), valid, y.shape[-1])
            logs["val_acc"] = acc
            logs["val_f1"] = f1

    return ValidationMetrics()


def epoch_logger(epochs: int):
    import keras

    from ..log import logger

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            items = " ".join(f"{k}={v:.4g}" for k, v in sorted((logs or {}).items()) if isinstance(v, (int, float)))
            logger.info("epoch %d/%d %s", epoch + 1, epochs, items)

    return EpochLogger()


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def best_in_history(history: list[dict[str, float]], val_metric: str) -> tuple[float | None, int | None]:
    """(best value, 0-based epoch) of the monitored metric in a history."""
    key, mode = MONITORS[val_metric]
    values = [(row[key], i) for i, row in enumerate(history) if key in row]
    if not values:
        return None, None
    return (min if mode == "min" else max)(values)


def save_model_atomic(model, dest: Path) -> None:
    """Keras needs the ``.keras`` suffix, so the temporary file keeps it; replaced only when complete."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.partial{dest.suffix}")
    try:
        model.save(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def checkpoint_callback(dest: Path, monitor: str | None = None, mode: str = "min", best: float | None = None):
    """Save the model atomically: every epoch (``monitor`` None) or when ``monitor`` improves."""
    import keras

    class AtomicCheckpoint(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best = best

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor) if monitor else None
            if monitor is not None:
                if value is None or not np.isfinite(value):
                    return
                if self.best is not None and not (value < self.best if mode == "min" else value > self.best):
                    return
                self.best = float(value)
            save_model_atomic(self.model, dest)

    return AtomicCheckpoint()


def standard_callbacks(
    val_cb, history_csv: Path, model_file: Path, last_file: Path, val_metric: str, patience: int,
    resume: bool, best_so_far: float | None, epochs: int,
) -> list:
    import keras

    key, mode = MONITORS[val_metric]
    return [
        val_cb,  # first: the others read the metrics it adds
        keras.callbacks.CSVLogger(str(history_csv), append=resume),
        checkpoint_callback(model_file, key, mode, best_so_far),
        checkpoint_callback(last_file),
        keras.callbacks.EarlyStopping(monitor=key, mode=mode, patience=patience),
        epoch_logger(epochs),
    ]

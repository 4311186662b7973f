"""Per-class loss weights: ``fixed`` (all 1) or ``balanced`` (inverse frequency over training frames)."""

from __future__ import annotations

import numpy as np

from ..log import logger


def compute_class_weights(kind: str, labels: list[np.ndarray], num_classes: int) -> np.ndarray:
    """``labels`` are per-subject class ids (-1 = excluded). Balanced weight of class c is
    N / (C * n_c), so every class contributes equally to the loss; a class absent from training
    keeps weight 1 (it never occurs, so its weight has no effect) and is logged."""
    if kind == "fixed":
        return np.ones(num_classes, dtype=np.float32)
    counts = np.zeros(num_classes, dtype=np.int64)
    for y in labels:
        counts += np.bincount(y[y >= 0], minlength=num_classes)[:num_classes]
    total = counts.sum()
    weights = np.ones(num_classes, dtype=np.float64)
    present = counts > 0
    weights[present] = total / (present.sum() * counts[present])
    if not present.all():
        logger.warning("classes %s have no training frames; their weight stays 1", np.flatnonzero(~present).tolist())
    logger.info("class weights (%s): %s", kind, np.round(weights, 3).tolist())
    return weights.astype(np.float32)

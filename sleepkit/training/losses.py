"""Loss selection. ``architecture.params.loss`` picks ``"cross_entropy"`` (default) or ``"focal"``
(``focal_gamma``, default 2); both take one-hot targets so ``label_smoothing`` applies."""

from __future__ import annotations

from ..errors import SleepkitError

LOSSES = ("cross_entropy", "focal")


def make_loss(kind: str, from_logits: bool, label_smoothing: float = 0.0, focal_gamma: float = 2.0):
    import keras

    if not 0 <= label_smoothing < 1:
        raise SleepkitError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if kind == "cross_entropy":
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
    if kind == "focal":
        # alpha=1: class balance is the class weights' job, not a global scale.
        return keras.losses.CategoricalFocalCrossentropy(
            alpha=1.0, gamma=float(focal_gamma), from_logits=from_logits, label_smoothing=label_smoothing
        )
    raise SleepkitError(f"architecture.params.loss '{kind}' is not one of {', '.join(LOSSES)}")

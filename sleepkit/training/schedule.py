"""Learning-rate schedule: cosine decay with warm restarts over the whole run.

``lr_cycles`` equal cycles span ``epochs * steps_per_epoch`` steps; each restart peaks at
``lr_decay`` times the previous peak.
"""

from __future__ import annotations

from ..errors import SleepkitError


def cosine_restarts(lr_rate: float, lr_cycles: int, lr_decay: float, total_steps: int):
    import keras

    if lr_rate <= 0:
        raise SleepkitError(f"lr_rate must be > 0, got {lr_rate}")
    if lr_cycles < 1:
        raise SleepkitError(f"lr_cycles must be >= 1, got {lr_cycles}")
    first = max(1, total_steps // lr_cycles)
    return keras.optimizers.schedules.CosineDecayRestarts(
        initial_learning_rate=lr_rate, first_decay_steps=first, t_mul=1.0, m_mul=lr_decay, alpha=0.0
    )

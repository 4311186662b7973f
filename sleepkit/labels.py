"""Base label codings shared by every dataset, feature set and task.

Datasets translate their own scoring vocabularies into these codes; tasks map them to classes with
``class_map``. ``UNSCORED`` marks epochs with no usable label: they are masked, never guessed.
"""

from __future__ import annotations

from enum import IntEnum

UNSCORED = -1


class SleepStage(IntEnum):
    """The base stage coding (R&K stage 4 kept separate so a class_map decides how to merge it)."""

    WAKE = 0
    N1 = 1
    N2 = 2
    N3 = 3
    N4 = 4
    REM = 5
    NOISE = 6


class ApneaEvent(IntEnum):
    NONE = 0
    HYPOPNEA = 1
    APNEA = 2


STAGE_NAMES = {s.value: s.name for s in SleepStage}

"""The feature-set contract.

``FeatureSet.compute(recording)`` returns ``FeatureFrames``: ``features`` [T, F] float32, ``mask`` [T]
(1 = usable frame), ``labels`` {task label key: [T] int32 in the base coding, -1 unscored} and
``times`` [T] (frame centre, seconds). A frame is ``frame_size / sampling_rate`` seconds long and
frames advance by ``hop`` seconds (feature set parameter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..datasets.base import Recording


@dataclass
class FeatureFrames:
    features: np.ndarray  # [T, F] float32
    mask: np.ndarray  # [T] uint8, 1 = valid
    labels: dict[str, np.ndarray]  # key -> [T] int32
    times: np.ndarray  # [T] float64, frame centre in seconds
    feature_names: list[str]
    mask_reasons: dict[str, int] = field(default_factory=dict)  # reason -> frames masked


class FeatureSet:
    name: str = "feature"
    feature_names: list[str] = []
    required_signals: tuple[str, ...] = ()

    def __init__(self, sampling_rate: float, frame_size: int, **params) -> None:
        self.sampling_rate = sampling_rate
        self.frame_size = frame_size
        self.params = params

    def compute(self, recording: Recording) -> FeatureFrames:
        raise NotImplementedError

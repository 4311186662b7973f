"""sleepkit: sleep-monitoring models from raw wearable signals to bit-exact int8 firmware.

Importing the package is cheap: TensorFlow is imported only by the modes that need it.
"""

from .errors import SleepkitError
from .params import FeatureParams, NamedParams, QuantizationParams, TaskParams, load_params
from .registry import BackendFactory, DatasetFactory, FeatureFactory, ModelFactory, TaskFactory
from .datasets.base import Dataset, LabelTrack, Recording, Signal
from .features.base import FeatureFrames, FeatureSet
from .tasks.base import Task

__version__ = "0.1.0"

__all__ = [
    "SleepkitError", "FeatureParams", "NamedParams", "QuantizationParams", "TaskParams", "load_params",
    "BackendFactory", "DatasetFactory", "FeatureFactory", "ModelFactory", "TaskFactory",
    "Dataset", "LabelTrack", "Recording", "Signal", "FeatureFrames", "FeatureSet", "Task",
]

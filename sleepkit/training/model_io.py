"""Model files and reproducibility shared by the train, evaluate, export and demo modes."""

from __future__ import annotations

import random
from pathlib import Path


from ..errors import SleepkitError
from ..log import logger
from ..params import NamedParams, TaskParams
from ..registry import ModelFactory

DEFAULT_ARCHITECTURE = "tcn"


def model_path(params: TaskParams) -> Path:
    path = params.model_file or params.job_dir / "model.keras"
    if path.suffix != ".keras":
        raise SleepkitError(f"model_file {path} must end in .keras (Keras 3 model archive)")
    return path


def seed_everything(seed: int | None) -> int:
    """Seed Python, numpy and TensorFlow; a None seed is drawn at random and logged for reruns."""
    import keras

    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
        logger.info("seed not set; using %d (set seed=%d to repeat this run)", seed, seed)
    keras.utils.set_random_seed(int(seed))
    return int(seed)


def architecture(params: TaskParams) -> tuple[str, dict, dict]:
    """(model name, builder kwargs, training kwargs) from ``params.architecture``."""
    from ..models.common import TRAINING_KEYS

    arch = params.architecture or NamedParams(name=DEFAULT_ARCHITECTURE)
    kwargs = dict(arch.params)
    training = {k: kwargs.pop(k) for k in TRAINING_KEYS if k in kwargs}
    return arch.name, kwargs, training


def float_model_path(params: TaskParams) -> Path:
    """Where train keeps the float model when quantization-aware training replaces ``model_file``."""
    path = model_path(params)
    return path.with_name(f"{path.stem}_float{path.suffix}")


def build_model(params: TaskParams, num_features: int):
    from ..models.common import model_cost

    name, kwargs, _ = architecture(params)
    builder = ModelFactory.get(name)
    model = builder((params.frame_size, num_features), params.num_classes, use_logits=params.use_logits, **kwargs)
    cost = model_cost(model)
    logger.info("model '%s': %d parameters, %d MACs per window, input %s -> output %s", name, cost["params"], cost["macs"],
                model.input_shape, model.output_shape)
    return model


def load_model(params: TaskParams, path: Path | None = None, num_features: int | None = None):
    """Load the trained model and check it matches the configured window and classes."""
    import keras

    from .qat import register_layers

    path = Path(path) if path else model_path(params)
    if not path.is_file():
        raise SleepkitError(f"model_file {path} does not exist; run `sleepkit train` first")
    register_layers()  # a quantization-aware model holds sleepkit's fake-quant layers
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a corrupt or foreign archive
        raise SleepkitError(f"cannot load model_file {path}: {exc}") from None
    _, frames, feats = model.input_shape
    if frames != params.frame_size:
        raise SleepkitError(f"model {path} takes windows of {frames} frames but frame_size is {params.frame_size}")
    if num_features is not None and feats != num_features:
        raise SleepkitError(f"model {path} takes {feats} features per frame but the feature store has {num_features}")
    if model.output_shape[-1] != params.num_classes:
        raise SleepkitError(f"model {path} outputs {model.output_shape[-1]} classes but num_classes is {params.num_classes}")
    return model

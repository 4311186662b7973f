"""Configuration models: exactly the contract in the configuration spec (every field, type, default).

``load_params`` accepts a JSON file path or an inline JSON string plus ``--set a.b=value`` overrides
and turns every validation problem into one readable ``SleepkitError``: an unknown key is reported
with the nearest valid field name, a wrong type names the field and the offending value.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import SleepkitError


class _Strict(BaseModel):
    # A misspelt key must not silently do nothing: forbid extras and report the nearest name.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class QuantizationParams(_Strict):
    """Quantization-aware training and post-training quantization settings."""

    enabled: bool = Field(False, description="Enable quantization")
    qat: bool = Field(False, description="Enable quantization aware training (QAT)")
    format: Literal["int8", "int16", "float16"] = Field("int8", description="Quantization mode")
    io_type: str = Field("int8", description="I/O type")
    conversion: Literal["keras", "tflite"] = Field("keras", description="Conversion method")
    debug: bool = Field(False, description="Debug quantization")
    fallback: bool = Field(False, description="Fallback to float32")


class NamedParams(_Strict):
    """A name selecting a registered object plus the keyword arguments to build it with."""

    name: str = Field(..., description="Named parameters name")
    params: dict[str, Any] = Field(default_factory=dict, description="Named parameters")


class FeatureParams(_Strict):
    """Feature-set selection and the layout of the HDF5 feature store."""

    name: str = Field("feature", description="Feature set name")
    sampling_rate: float = Field(250, gt=0, description="Target sampling rate (Hz)")
    frame_size: int = Field(1250, gt=0, description="Frame size in samples")
    loader: str = Field("hdf5", description="Data loader")
    feat_key: str = Field("features", description="Feature key")
    label_key: str = Field("labels", description="Label key")
    mask_key: str = Field("mask", description="Mask key")
    feat_cols: list[str] | None = Field(None, description="Feature columns")
    save_path: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()), description="Save path")
    params: dict[str, Any] = Field(default_factory=dict, description="Feature Parameters")


def _default_workers() -> int:
    return os.cpu_count() or 1


# Fields holding a file that, given as a bare file name, lives in job_dir.
_JOB_DIR_FILES = ("model_file", "weights_file", "val_file", "test_file", "tflm_file")


class TaskParams(_Strict):
    """Parameters shared by every mode (download, feature, train, evaluate, export, demo)."""

    name: str = Field("experiment", description="Experiment name")
    project: str = Field("sleepkit", description="Project name")
    job_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()), description="Job output directory")
    datasets: list[NamedParams] = Field(default_factory=list, description="Datasets")
    dataset_weights: list[float] | None = Field(None, description="Dataset weights")
    force_download: bool = Field(False, description="Force download dataset- overriding existing files")
    feature: FeatureParams = Field(default_factory=FeatureParams, description="Feature configuration")
    sampling_rate: float = Field(250, description="Target sampling rate (Hz)")
    frame_size: int = Field(1250, gt=0, description="Frame size in samples")
    samples_per_subject: int | list[int] = Field(1000, description="Number train samples per subject")
    val_samples_per_subject: int | list[int] = Field(1000, description="Number validation samples per subject")
    test_samples_per_subject: int | list[int] = Field(1000, description="Number test samples per subject")
    preprocesses: list[NamedParams] = Field(default_factory=list, description="Preprocesses")
    augmentations: list[NamedParams] = Field(default_factory=list, description="Augmentations")
    num_classes: int = Field(1, ge=1, description="# of classes")
    class_map: dict[int, int] = Field(default_factory=lambda: {1: 1}, description="Class/label mapping")
    class_names: list[str] | None = Field(None, description="Class names")
    train_subjects: float | None = Field(None, description="# or proportion of subjects for training")
    val_subjects: float | None = Field(None, description="# or proportion of subjects for validation")
    test_subjects: float | None = Field(None, description="# or proportion of subjects for testing")
    val_file: Path | None = Field(None, description="Path to load/store TFDS validation data")
    test_file: Path | None = Field(None, description="Path to load/store TFDS test data")
    val_size: int | None = Field(None, gt=0, description="Number of samples for validation")
    test_size: int = Field(10000, gt=0, description="# samples for testing")
    resume: bool = Field(False, description="Resume training")
    architecture: NamedParams | None = Field(None, description="Custom model architecture")
    model_file: Path | None = Field(None, description="Path to load/save model file (.keras)")
    use_logits: bool = Field(True, description="Use logits output or softmax")
    weights_file: Path | None = Field(None, description="Path to a checkpoint weights to load/save")
    quantization: QuantizationParams = Field(default_factory=QuantizationParams, description="Quantization parameters")
    lr_rate: float = Field(1e-3, gt=0, description="Learning rate")
    lr_cycles: int = Field(3, ge=1, description="Number of learning rate cycles")
    lr_decay: float = Field(0.9, description="Learning rate decay")
    label_smoothing: float = Field(0, ge=0, lt=1, description="Label smoothing")
    batch_size: int = Field(32, gt=0, description="Batch size")
    buffer_size: int = Field(100, description="Buffer cache size")
    epochs: int = Field(50, gt=0, description="Number of epochs")
    steps_per_epoch: int = Field(10, gt=0, description="Number of steps per epoch")
    val_steps_per_epoch: int = Field(10, gt=0, description="Number of validation steps")
    val_metric: Literal["loss", "acc", "f1"] = Field("loss", description="Performance metric")
    class_weights: Literal["balanced", "fixed"] = Field("fixed", description="Class weights")
    threshold: float | None = Field(None, description="Model output threshold")
    test_metric: Literal["loss", "acc", "f1"] = Field("acc", description="Test metric")
    test_metric_threshold: float | None = Field(0.98, description="Validation metric threshold")
    tflm_var_name: str = Field("g_model", description="TFLite Micro C variable name")
    tflm_file: Path | None = Field(None, description="Path to copy TFLM header file (e.g. ./model_buffer.h)")
    backend: str = Field("pc", description="Backend")
    demo_size: int | None = Field(1000, description="# samples for demo")
    display_report: bool = Field(True, description="Display report")
    seed: int | None = Field(None, description="Random state seed")
    num_workers: int = Field(default_factory=_default_workers, description="Number of workers for parallel processing")
    verbose: int = Field(1, description="Verbosity level")

    @model_validator(mode="after")
    def _resolve_job_files(self) -> "TaskParams":
        # A bare file name (no directory part) is relative to job_dir, so configs stay portable.
        for field in _JOB_DIR_FILES:
            value = getattr(self, field)
            if value is not None and not value.is_absolute() and value.parent == Path("."):
                object.__setattr__(self, field, self.job_dir / value)
        return self

    # Caught at load so a long feature/train run cannot fail on them at its very end. Field
    # validators (not one model validator) so the error names the field.
    @field_validator("class_names")
    @classmethod
    def _class_names_match(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        n = info.data.get("num_classes")
        if v is not None and n is not None and len(v) != n:
            raise ValueError(f"{len(v)} names given but num_classes is {n}")
        return v

    @field_validator("test_metric_threshold")
    @classmethod
    def _threshold_in_range(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None and info.data.get("test_metric") in ("acc", "f1") and not 0.0 <= v <= 1.0:
            raise ValueError(f"must be within [0, 1] for test_metric '{info.data.get('test_metric')}'")
        return v

    @field_validator("samples_per_subject", "val_samples_per_subject", "test_samples_per_subject")
    @classmethod
    def _samples_positive(cls, v: int | list[int]) -> int | list[int]:
        values = v if isinstance(v, list) else [v]
        if not values or min(values) < 1:
            raise ValueError("must be at least 1 (or a non-empty list of such numbers, one per dataset)")
        return v

    @field_validator("num_workers")
    @classmethod
    def _workers_positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v


# Fields the spec defines that no sleepkit mode reads (kept so upstream configs load). Setting one
# must not look as if it did something: the CLI warns about each one a config sets.
INERT_FIELDS = {
    "sampling_rate": "the feature sets resample to feature.sampling_rate",
    "preprocesses": "feature sets do their own filtering; no extra preprocessing is applied",
    "augmentations": "training applies no augmentation",
    "val_file": "validation windows are drawn from the feature store each run",
    "test_file": "test windows are tiled from the feature store each run",
    "buffer_size": "windows are sampled directly from memory",
}


def inert_fields_set(params: TaskParams) -> dict[str, str]:
    """Inert fields this config sets explicitly, with why they have no effect."""
    return {k: v for k, v in INERT_FIELDS.items() if k in params.model_fields_set}


# ---------------------------------------------------------------------------------------------------
# Loading


def _model_for_loc(loc: tuple) -> type[BaseModel] | None:
    """Walk the pydantic location to the model that owns the last key (for 'did you mean')."""
    model: Any = TaskParams
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        ann = field.annotation
        sub = None
        for cand in (ann, *getattr(ann, "__args__", ())):
            for inner in (cand, *getattr(cand, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    sub = inner
        if sub is None:
            return None
        model = sub
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = tuple(e["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            model = _model_for_loc(loc)
            names = list(model.model_fields) if model else []
            close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{'.'.join(str(p) for p in loc[:-1] + (close[0],))}'?" if close else ""
            lines.append(f"  - unknown key '{where}'{hint}")
        elif e["type"] == "missing":
            lines.append(f"  - '{where}' is required")
        else:
            lines.append(f"  - '{where}': {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def _read_config(config: str | os.PathLike | dict | None) -> tuple[dict, str]:
    if config is None:
        return {}, "defaults"
    if isinstance(config, dict):
        return dict(config), "inline dict"
    text = str(config)
    path = Path(text)
    if text.lstrip().startswith("{"):
        source = "inline JSON"
    elif path.is_file():
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SleepkitError(f"cannot read config file {path}: {exc}") from None
    else:
        raise SleepkitError(f"config '{text}' is neither an existing JSON file nor an inline JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SleepkitError(f"config {source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise SleepkitError(f"config {source} must be a JSON object, got {type(data).__name__}")
    return data, source


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise SleepkitError(f"--set '{item}' must look like key.sub=value")
    key, _, raw = item.partition("=")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # plain strings need no quotes on the command line
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise SleepkitError(f"--set '{item}' has an empty key")
    return parts, value


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """``a.b=v`` sets data["a"]["b"] (creating dicts on the way); a number indexes an existing list,
    so ``datasets.0.params.num_subjects=6`` reaches the first dataset."""
    for item in overrides or []:
        parts, value = _parse_override(item)
        node: Any = data
        for depth, p in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not p.lstrip("-").isdigit() or not -len(node) <= int(p) < len(node):
                    where = ".".join(parts[:depth]) or "(top level)"
                    raise SleepkitError(f"--set '{item}': '{where}' is a list of {len(node)}; "
                                        f"'{p}' must be an index 0..{len(node) - 1}")
                key: Any = int(p)
            else:
                key = p
            if last:
                node[key] = value
                break
            nxt = node[key] if isinstance(node, list) else node.get(key)
            if not isinstance(nxt, (dict, list)):
                nxt = {}
                node[key] = nxt
            node = nxt
    return data


def load_params(config: str | os.PathLike | dict | None = None, overrides: list[str] | None = None) -> TaskParams:
    """Build TaskParams from a JSON file path / inline JSON / dict plus ``key.sub=value`` overrides."""
    data, source = _read_config(config)
    data = apply_overrides(data, overrides)
    try:
        return TaskParams.model_validate(data)
    except ValidationError as err:
        raise SleepkitError(format_validation_error(err, source)) from None

"""Configuration contract: every field of the spec exists with its type and default."""

import json
import os
import re
import tempfile
from pathlib import Path

import pytest

import sleepkit as sk
from sleepkit.errors import SleepkitError
from sleepkit.params import FeatureParams, NamedParams, QuantizationParams, TaskParams, load_params

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "configuration.md"


def _spec_tables() -> dict[str, dict[str, tuple[str, str]]]:
    """Parse the spec's markdown tables: section -> field -> (type, default)."""
    tables: dict[str, dict[str, tuple[str, str]]] = {}
    section = None
    for line in SPEC.read_text().splitlines():
        m = re.search(r'sk-h2-span">(\w+)<', line)
        if m:
            section = m.group(1)
            tables[section] = {}
            continue
        if section and line.startswith("| ") and not line.startswith("| Argument") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.replace("\\|", " or ").strip().strip("|").split("|")]
            tables[section][cells[0]] = (cells[1], cells[3])
    return tables


@pytest.mark.skipif(not SPEC.exists(), reason="configuration spec not found beside the repository")
def test_every_spec_field_exists_with_its_default():
    models = {"QuantizationParams": QuantizationParams, "NamedParams": NamedParams,
              "FeatureParams": FeatureParams, "TaskParams": TaskParams}
    tables = _spec_tables()
    assert set(tables) == set(models)
    defaults = {"QuantizationParams": QuantizationParams(), "FeatureParams": FeatureParams(),
                "TaskParams": TaskParams(), "NamedParams": NamedParams(name="x")}
    for section, fields in tables.items():
        model = models[section]
        assert set(fields) == set(model.model_fields), section
        inst = defaults[section]
        for field, (_type, default) in fields.items():
            value = getattr(inst, field)
            if default in ("", "{}", "[]") or "gettempdir" in default or "cpu_count" in default:
                continue
            if default == "None":
                assert value is None, field
            elif default in ("True", "False"):
                assert value is (default == "True"), field
            elif re.fullmatch(r"-?[\d.e-]+", default):
                assert float(value) == float(default), field
            elif default.startswith("{"):
                assert value == {1: 1}, field
            else:
                assert str(value) == default, field


def test_computed_defaults():
    p = TaskParams()
    assert p.job_dir == Path(tempfile.gettempdir())
    assert p.feature.save_path == Path(tempfile.gettempdir())
    assert p.num_workers == (os.cpu_count() or 1)
    assert p.class_map == {1: 1}
    assert p.quantization.format == "int8"


def test_misspelt_key_names_nearest_field():
    with pytest.raises(SleepkitError, match=r"unknown key 'epoch'; did you mean 'epochs'"):
        load_params('{"epoch": 3}')
    with pytest.raises(SleepkitError, match=r"unknown key 'feature.frame_sise'; did you mean 'feature.frame_size'"):
        load_params({"feature": {"frame_sise": 10}})
    with pytest.raises(SleepkitError, match=r"quantization.qta.*did you mean 'quantization.qat'"):
        load_params({"quantization": {"qta": True}})


def test_wrong_type_names_field_and_value():
    with pytest.raises(SleepkitError) as exc:
        load_params({"batch_size": "many"})
    assert "'batch_size'" in str(exc.value) and "'many'" in str(exc.value)
    with pytest.raises(SleepkitError, match="val_metric"):
        load_params({"val_metric": "auc"})


def test_inconsistent_values_are_refused_at_load_naming_the_field():
    with pytest.raises(SleepkitError, match=r"'class_names'.*2 names given but num_classes is 3"):
        load_params({"num_classes": 3, "class_names": ["wake", "sleep"]})
    with pytest.raises(SleepkitError, match=r"'test_metric_threshold'.*within \[0, 1\]"):
        load_params({"test_metric_threshold": 1.5})
    assert load_params({"test_metric": "loss", "test_metric_threshold": 1.5}).test_metric_threshold == 1.5
    with pytest.raises(SleepkitError, match=r"'num_workers'.*at least 1"):
        load_params({"num_workers": 0})
    for key, value in (("batch_size", 0), ("epochs", 0), ("steps_per_epoch", -1), ("frame_size", 0), ("lr_rate", 0.0),
                       ("lr_cycles", 0), ("val_size", 0), ("label_smoothing", 1.0), ("num_classes", 0)):
        with pytest.raises(SleepkitError, match=rf"'{key}': Input should be"):
            load_params({key: value})
    with pytest.raises(SleepkitError, match=r"'samples_per_subject': Value error, must be at least 1"):
        load_params({"samples_per_subject": -1})
    with pytest.raises(SleepkitError, match=r"'val_samples_per_subject': Value error, must be at least 1"):
        load_params({"val_samples_per_subject": [10, 0]})
    assert load_params({"samples_per_subject": [5, 7]}).samples_per_subject == [5, 7]
    with pytest.raises(SleepkitError, match=r"'feature.frame_size': Input should be greater than 0"):
        load_params({"feature": {"frame_size": 0}})
    p = load_params({"num_classes": 2, "class_names": ["wake", "sleep"], "test_metric_threshold": 0.9, "num_workers": 1})
    assert (p.class_names, p.test_metric_threshold, p.num_workers) == (["wake", "sleep"], 0.9, 1)


def test_overrides_index_lists():
    cfg = {"datasets": [{"name": "synthetic", "params": {"num_subjects": 12}}, {"name": "walch"}]}
    p = load_params(cfg, ["datasets.0.params.num_subjects=6", "datasets.1.params.path=/data/w", "datasets.-1.name=mesa"])
    assert p.datasets[0].params == {"num_subjects": 6} and p.datasets[1].params == {"path": "/data/w"}
    assert p.datasets[1].name == "mesa"
    with pytest.raises(SleepkitError, match=r"'datasets' is a list of 2; '2' must be an index 0..1"):
        load_params(cfg, ["datasets.2.name=x"])
    with pytest.raises(SleepkitError, match=r"'datasets' is a list of 2; 'first' must be an index"):
        load_params(cfg, ["datasets.first.name=x"])


def test_file_inline_and_overrides(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"job_dir": str(tmp_path / "job"), "epochs": 4, "feature": {"name": "FS-W-PA-14"}}))
    p = load_params(str(cfg), ["feature.frame_size=240", "lr_rate=0.01", "name=night", "class_map={\"0\": 0, \"5\": 1}"])
    assert p.epochs == 4 and p.feature.frame_size == 240 and p.lr_rate == 0.01 and p.name == "night"
    assert p.feature.name == "FS-W-PA-14"
    assert p.class_map == {0: 0, 5: 1}
    inline = load_params('{"epochs": 7}')
    assert inline.epochs == 7


def test_bare_file_names_resolve_under_job_dir(tmp_path):
    p = load_params({"job_dir": str(tmp_path), "model_file": "model.keras", "tflm_file": "sub/model_buffer.h",
                     "weights_file": str(tmp_path / "abs.weights.h5")})
    assert p.model_file == tmp_path / "model.keras"
    assert p.tflm_file == Path("sub/model_buffer.h")  # has a directory part: taken as given
    assert p.weights_file == tmp_path / "abs.weights.h5"


def test_bad_config_sources(tmp_path):
    with pytest.raises(SleepkitError, match="neither an existing JSON file"):
        load_params(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(SleepkitError, match="not valid JSON.*line 1"):
        load_params(str(bad))
    with pytest.raises(SleepkitError, match="must be a JSON object"):
        load_params(str(_write(tmp_path / "list.json", "[1, 2]")))
    with pytest.raises(SleepkitError, match="key.sub=value"):
        load_params({}, ["novalue"])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_registry_custom_dataset_and_lookup_errors():
    class CustomDataset(sk.Dataset):
        def __init__(self, a: int = 1, b: int = 2) -> None:
            self.a, self.b = a, b

    sk.DatasetFactory.register("custom-test", CustomDataset)
    try:
        params = sk.TaskParams(datasets=[sk.NamedParams(name="custom-test", params=dict(a=3, b=4))])
        ds = sk.DatasetFactory.get(params.datasets[0].name)(**params.datasets[0].params)
        assert (ds.a, ds.b) == (3, 4)
    finally:
        sk.DatasetFactory.unregister("custom-test")
    with pytest.raises(SleepkitError, match="Did you mean 'synthetic'"):
        sk.DatasetFactory.get("synthetc")


def test_inert_fields_are_reported_only_when_set():
    from sleepkit.params import inert_fields_set

    assert inert_fields_set(load_params({})) == {}
    flagged = inert_fields_set(load_params({"augmentations": [{"name": "noise"}], "buffer_size": 10, "epochs": 2}))
    assert set(flagged) == {"augmentations", "buffer_size"}

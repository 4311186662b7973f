"""EDF reading (pyedflib and the fallback parser), the byod dataset, and FS-W-PA-14 on a real Nox A1 file.

The Nox A1 recording (../shared/data/psg/nox_a1_subject1_120s.edf) is from the R package sleepr's test
data (MIT licence).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from sleepkit.datasets.byod import ByodDataset
from sleepkit.datasets.edf import _read_native, read_edf
from sleepkit.errors import SleepkitError
from sleepkit.features.fs_w_pa_14 import FS_W_PA_14
from sleepkit.registry import DatasetFactory

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NOX = DATA / "psg" / "nox_a1_subject1_120s.edf"
NOX_CHANNELS = {"ppg": "Pulse Waveform", "acc_x": "X Axis", "acc_y": "Y Axis", "acc_z": "Z Axis", "spo2": "Saturation"}
needs_nox = pytest.mark.skipif(not NOX.is_file(), reason="Nox A1 test recording not found in ../shared/data/psg")


class Captured(logging.Handler):
    """Collects sleepkit log records whatever the logger's propagation setting."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def sk_log():
    handler = Captured()
    logger = logging.getLogger("sleepkit")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


# ---------------------------------------------------------------------------------------------------
# Hand-written EDF+ (what pyedflib refuses: UTF-8 labels, digital min == max)


def _field(text: str | bytes, width: int) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    assert len(raw) <= width
    return raw + b" " * (width - len(raw))


def write_edf_bytes(path: Path, channels: list[dict], n_records: int, record_s: float = 1.0) -> None:
    """Minimal EDF+C writer: ``channels`` hold label, spr (samples per record), digital (int16 data),
    pmin, pmax, dmin, dmax, unit. An 'EDF Annotations' channel with time-keeping TALs is appended."""
    ann_spr = 30
    chans = channels + [{"label": "EDF Annotations", "spr": ann_spr, "pmin": -1, "pmax": 1, "dmin": -32768, "dmax": 32767, "unit": ""}]
    ns = len(chans)
    head = (
        _field("0", 8) + _field("X X X X", 80) + _field("Startdate 01-JAN-2020 X X X", 80) + _field("01.01.20", 8)
        + _field("22.00.00", 8) + _field(str(256 * (ns + 1)), 8) + _field("EDF+C", 44) + _field(str(n_records), 8)
        + _field(f"{record_s:g}", 8) + _field(str(ns), 4)
    )
    for key, width in (("label", 16), ("transducer", 80), ("unit", 8), ("pmin", 8), ("pmax", 8), ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32)):
        head += b"".join(_field(str(c.get(key, "")), width) for c in chans)
    records = []
    for r in range(n_records):
        for c in channels:
            records.append(np.asarray(c["digital"][r * c["spr"] : (r + 1) * c["spr"]], dtype="<i2").tobytes())
        tal = f"+{r * record_s:g}\x14\x14\x00".encode()
        records.append(tal + b"\x00" * (2 * ann_spr - len(tal)))
    path.write_bytes(head + b"".join(records))


@pytest.fixture
def quirky_edf(tmp_path):
    n_rec = 4
    ramp = (np.arange(10 * n_rec) * 100 - 2000).astype(np.int16)  # 10 Hz
    flat = np.full(2 * n_rec, 7, dtype=np.int16)  # 2 Hz, dmin == dmax
    path = tmp_path / "quirky.edf"
    write_edf_bytes(
        path,
        [
            {"label": "Pleth Impédance", "spr": 10, "digital": ramp, "pmin": -1.0, "pmax": 1.0, "dmin": -32768, "dmax": 32767, "unit": "V"},
            {"label": "Flat", "spr": 2, "digital": flat, "pmin": 0, "pmax": 1, "dmin": 5, "dmax": 5, "unit": "%"},
        ],
        n_records=n_rec,
    )
    return path, ramp, flat


def test_fallback_reads_utf8_label_and_flat_channel(quirky_edf, sk_log):
    path, ramp, flat = quirky_edf
    with pytest.raises(OSError):
        pyedflib.EdfReader(str(path)).close()  # the quirk is real: pyedflib refuses the file
    header, signals = read_edf(path)
    assert header["reader"] == "sleepkit" and header["fallback_reason"]
    assert header["labels"] == ["Pleth Impédance", "Flat"]  # annotation channel skipped
    assert any("pyedflib refused" in m and "own EDF parser" in m for m in sk_log.messages)
    assert any("digital min == max" in m and "Flat" in m for m in sk_log.messages)
    pleth = signals["Pleth Impédance"]
    assert pleth.fs == 10.0 and pleth.unit == "V" and len(pleth.data) == 40
    expected = (ramp.astype(np.float64) + 32768) * 2.0 / 65535 - 1.0
    np.testing.assert_allclose(pleth.data, expected, rtol=1e-6, atol=1e-7)
    assert signals["Flat"].fs == 2.0
    np.testing.assert_array_equal(signals["Flat"].data, flat.astype(np.float32))  # scale 1


def test_truncated_file_reads_complete_records(quirky_edf, sk_log):
    path, ramp, _ = quirky_edf
    raw = path.read_bytes()
    path.write_bytes(raw[:-50])  # cut into the last record
    _, signals = read_edf(path, ["Pleth Impédance"])
    assert len(signals["Pleth Impédance"].data) == 30
    assert any("complete ones" in m for m in sk_log.messages)


def test_label_matching(quirky_edf):
    path, _, _ = quirky_edf
    _, sig = read_edf(path, ["  pleth   IMPÉDANCE ", "flat"])
    assert set(sig) == {"  pleth   IMPÉDANCE ", "flat"}
    with pytest.raises(SleepkitError, match=r"no channel labelled 'Pulse'.*'Pleth Impédance', 'Flat'"):
        read_edf(path, ["Pulse"])
    with pytest.raises(SleepkitError, match="not found"):
        read_edf(path.with_name("missing.edf"))


def test_not_an_edf_file(tmp_path):
    bad = tmp_path / "notes.edf"
    bad.write_bytes(b"hello" * 100)
    with pytest.raises(SleepkitError, match="notes.edf"):
        read_edf(bad)


# ---------------------------------------------------------------------------------------------------
# Files pyedflib writes: the fallback parser must read them identically


@pytest.mark.parametrize("file_type", [pyedflib.FILETYPE_EDFPLUS, pyedflib.FILETYPE_BDFPLUS])
def test_native_parser_matches_pyedflib(tmp_path, file_type):
    bdf = file_type == pyedflib.FILETYPE_BDFPLUS
    path = tmp_path / ("rec.bdf" if bdf else "rec.edf")
    dmax = 8388607 if bdf else 32767
    rng = np.random.default_rng(0)
    rates = {"Pulse Waveform": 75, "X Axis": 20, "Saturation": 3}
    data = [rng.normal(size=10 * fs).cumsum() for fs in rates.values()]
    writer = pyedflib.EdfWriter(str(path), len(rates), file_type=file_type)
    headers = []
    for (label, fs), x in zip(rates.items(), data):
        h = pyedflib.highlevel.make_signal_header(label, dimension="u", sample_frequency=fs,
                                                  physical_min=float(np.floor(x.min())) - 1, physical_max=float(np.ceil(x.max())) + 1,
                                                  digital_min=-dmax - 1, digital_max=dmax)
        headers.append(h)
    writer.setSignalHeaders(headers)
    writer.writeSamples(data)
    writer.writeAnnotation(2.0, 1.0, "Lights off")
    writer.close()

    info_py, sig_py = read_edf(path)
    assert info_py["reader"] == "pyedflib"
    info_n, sig_n = _read_native(path, None)
    assert list(sig_n) == list(sig_py) == list(rates)
    for label, x in zip(rates, data):
        assert sig_n[label].fs == sig_py[label].fs == rates[label]
        np.testing.assert_allclose(sig_n[label].data, sig_py[label].data, rtol=1e-6, atol=1e-5)
        step = (headers[list(rates).index(label)]["physical_max"] - headers[list(rates).index(label)]["physical_min"]) / (2 * dmax)
        np.testing.assert_allclose(sig_n[label].data, x, atol=step * 1.01 + 1e-5 * np.abs(x).max())


# ---------------------------------------------------------------------------------------------------
# byod dataset


def _pyedflib_file(path: Path, labels: dict[str, int], seconds: int = 10) -> None:
    writer = pyedflib.EdfWriter(str(path), len(labels), file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([
        pyedflib.highlevel.make_signal_header(lab, dimension="", sample_frequency=fs, physical_min=-10, physical_max=10)
        for lab, fs in labels.items()
    ])
    writer.writeSamples([np.sin(np.arange(seconds * fs) / fs) for fs in labels.values()])
    writer.close()


def test_byod_folder_subjects_and_errors(tmp_path):
    for stem in ("night-b", "night-a"):
        _pyedflib_file(tmp_path / f"{stem}.edf", {"Pleth": 50, "SpO2": 1})
    (tmp_path / "readme.txt").write_text("not a recording")
    ds = DatasetFactory.get("byod")(path=str(tmp_path), channels={"ppg": "Pleth", "spo2": "spo2"})
    assert ds.subject_ids() == ["night-a", "night-b"]
    rec = ds.load("night-a")
    assert set(rec.signals) == {"ppg", "spo2"} and rec.signals["ppg"].fs == 50 and rec.source.endswith("night-a.edf")
    with pytest.raises(SleepkitError, match=r"night-a\.edf.*needs signal role.*'acc_x'"):
        FS_W_PA_14(sampling_rate=64, frame_size=640).compute(rec)
    with pytest.raises(SleepkitError, match="does not exist"):
        ByodDataset(path=str(tmp_path / "nope"), channels={"ppg": "Pleth"})
    with pytest.raises(SleepkitError, match="channels"):
        ByodDataset(path=str(tmp_path))
    with pytest.raises(SleepkitError, match=r"labels: unknown track 'stages'"):
        ByodDataset(path=str(tmp_path), channels={"ppg": "Pleth"}, labels={"stages": "x.xml"})
    missing = ByodDataset(path=str(tmp_path), channels={"ppg": "Pleth"}, labels={"stage": "{subject}.csv"})
    with pytest.raises(SleepkitError, match=r"night-a.*stage scoring file .*night-a\.csv does not exist"):
        missing.load("night-a")
    bad = ByodDataset(path=str(tmp_path / "night-b.edf"), channels={"ppg": "Pulse"})
    assert bad.subject_ids() == ["night-b"]
    with pytest.raises(SleepkitError, match=r"night-b.edf.*'Pulse'.*Available labels: 'Pleth', 'SpO2'"):
        bad.load("night-b")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SleepkitError, match="no .edf files"):
        ByodDataset(path=str(empty), channels={"ppg": "Pleth"})


def test_byod_attaches_per_subject_scoring(tmp_path):
    """A folder of recordings pairs with per-subject scorings via {subject}; labels are cut to the signal."""
    _pyedflib_file(tmp_path / "night-a.edf", {"Pleth": 50, "SpO2": 1}, seconds=90)
    scoring = tmp_path / "scoring"
    scoring.mkdir()
    # 4 epochs of 30 s for a 90-s recording: the last runs past the signal and must be trimmed.
    (scoring / "night-a.csv").write_text("onset,duration,label\n0,30,W\n30,30,N2\n60,30,R\n90,30,N3\n")
    ds = ByodDataset(path=str(tmp_path), channels={"ppg": "Pleth", "spo2": "SpO2"},
                     labels={"stage": {"path": str(scoring / "{subject}.csv"), "format": "csv"}})
    rec = ds.load("night-a")
    track = rec.labels["stage"]
    assert track.fs == pytest.approx(1 / 30)
    assert track.values.tolist() == [0, 2, 5]


# ---------------------------------------------------------------------------------------------------
# Real recording: Nox A1 (UTF-8 labels, mixed rates)


@needs_nox
def test_nox_needs_the_fallback_parser():
    header, signals = read_edf(NOX, ["Pulse Waveform", "X Axis", "Saturation"])
    assert header["reader"] == "sleepkit" and "label" in header["fallback_reason"]
    assert "1 Impédance" in header["labels"] and len(header["labels"]) == 89
    assert signals["Pulse Waveform"].fs == 75.0 and signals["X Axis"].fs == 20.0 and signals["Saturation"].fs == 3.0
    assert len(signals["Pulse Waveform"].data) == 120 * 75


@needs_nox
def test_nox_heart_rate_and_spo2_match_the_device():
    ds = ByodDataset(path=str(NOX), channels=NOX_CHANNELS)
    assert ds.subject_ids() == ["nox_a1_subject1_120s"]
    frames = FS_W_PA_14(sampling_rate=64, frame_size=64 * 60, hop_seconds=30).compute(ds.load("nox_a1_subject1_120s"))
    assert len(frames.times) == 3 and frames.mask.tolist() == [1, 1, 1]
    _, ref = read_edf(NOX, ["Heart Rate", "Saturation"])
    names = frames.feature_names
    for j, centre in enumerate(frames.times):
        start = centre - 30
        hr_dev = ref["Heart Rate"].data[int(start * 3) : int((start + 60) * 3)].mean()
        spo2_dev = ref["Saturation"].data[int(start * 3) : int((start + 60) * 3)].mean()
        assert abs(frames.features[j, names.index("hr_bpm")] - hr_dev) < 5.0
        assert abs(frames.features[j, names.index("spo2_mu")] - spo2_dev) < 0.5
    # A still, lying subject: little movement, one breath every few seconds.
    assert frames.features[:, names.index("mov_mu")].max() < 0.02
    assert np.all((frames.features[:, names.index("rsp_bpm")] > 8) & (frames.features[:, names.index("rsp_bpm")] < 25))


@needs_nox
def test_nox_missing_role_and_short_recording():
    channels = {k: v for k, v in NOX_CHANNELS.items() if k != "acc_z"}
    rec = ByodDataset(path=str(NOX), channels=channels).load("nox_a1_subject1_120s")
    with pytest.raises(SleepkitError, match=r"nox_a1_subject1_120s\.edf.*'acc_z'"):
        FS_W_PA_14(sampling_rate=64, frame_size=3840).compute(rec)
    rec = ByodDataset(path=str(NOX), channels=NOX_CHANNELS).load("nox_a1_subject1_120s")
    with pytest.raises(SleepkitError, match=r"nox_a1_subject1_120s.*frame of 300 s.*120 s"):
        FS_W_PA_14(sampling_rate=64, frame_size=64 * 300).compute(rec)

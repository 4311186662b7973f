"""Hypnogram readers, label mapping and the trim/pad alignment policy, on real scorings and on files
written here in each format with the same quirks."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.base import LabelTrack
from sleepkit.datasets.hypnogram import (
    align_track,
    load_hypnogram,
    parse_tal_annotations,
    read_edf_annotations,
    track_to_samples,
)
from sleepkit.datasets.label_maps import STAGE_CLASS_MAPS, validate_stage_class_map
from sleepkit.errors import SleepkitError
from sleepkit.labels import UNSCORED, ApneaEvent, SleepStage

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SLEEP_EDF = DATA / "hypnograms" / "SC4001EC-Hypnogram.edf"
HMC = DATA / "hypnograms" / "HMC_SN001_sleepscoring_test_edfann.edf"
NOX = DATA / "psg" / "nox_a1_subject1_120s.edf"
YASA = DATA / "yasa" / "data_full_6hrs_100Hz_hypno_30s.txt"
APNEA_ECG = DATA / "apnea-ecg"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data file {path.name} not available")
    return path


@pytest.fixture
def caplog_sk(caplog):
    logger = logging.getLogger("sleepkit")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="sleepkit")
    yield caplog
    logger.removeHandler(caplog.handler)


def _counts(values) -> dict[int, int]:
    codes, n = np.unique(values, return_counts=True)
    return {int(c): int(k) for c, k in zip(codes, n)}


# ------------------------------------------------------------------------------------------------
# real files (PhysioNet Sleep-EDF Expanded, HMC via wfdb-python sample data, Nox A1 via sleepr)


def test_sleep_edf_stage4_unscored_and_trim_past_psg(caplog_sk):
    # The PSG SC4001E0 is 79,500 s long; its hypnogram's last annotation ('?') runs 6,900 s past it.
    track = load_hypnogram(need(SLEEP_EDF), duration=79_500.0)
    assert track.fs == pytest.approx(1 / 30)
    assert len(track.values) == 79_500 // 30 == 2650
    counts = _counts(track.values)
    assert counts == {0: 1997, 1: 58, 2: 250, 3: 101, 4: 119, 5: 125}  # R&K stage 4 kept as N4
    assert int(SleepStage.N4) in counts and UNSCORED not in counts  # every '?' epoch was past the PSG
    untrimmed = load_hypnogram(SLEEP_EDF)
    assert len(untrimmed.values) == 2880 and _counts(untrimmed.values)[UNSCORED] == 230
    assert "6900 s past the end of the signal" in caplog_sk.text and "trimmed 230 labels (230 of them unscored)" in caplog_sk.text


def test_hmc_zero_length_channel_markers_are_ignored(caplog_sk):
    track = load_hypnogram(need(HMC))
    assert len(track.values) == 854
    assert _counts(track.values) == {0: 151, 1: 109, 2: 430, 3: 23, 5: 141}  # no REM/N4 mixups, no unscored
    assert "2 markers ignored" in caplog_sk.text


@pytest.mark.parametrize("path", [SLEEP_EDF, HMC])
def test_tal_parser_matches_pyedflib_on_real_files(path):
    via_lib = read_edf_annotations(need(path))
    via_tal = parse_tal_annotations(path)
    assert len(via_tal) == len(via_lib) > 100
    for a, b in zip(via_lib, via_tal):
        assert (a.onset, a.label) == (b.onset, b.label)
        assert (math.isnan(a.duration) and math.isnan(b.duration)) or a.duration == b.duration


def test_file_pyedflib_refuses_falls_back_to_tal_parser(caplog_sk):
    # The Nox A1 export has UTF-8 bytes in channel labels: pyedflib refuses it; its annotation channel
    # only holds time-keeping TALs, so there is no hypnogram in it (a clear error, not a crash).
    assert read_edf_annotations(need(NOX)) == []
    assert "TAL parser" in caplog_sk.text
    with pytest.raises(SleepkitError, match="no stage annotations"):
        load_hypnogram(NOX)


def test_yasa_integer_codes_need_a_mapping():
    with pytest.raises(SleepkitError, match=r"ambiguous.*mapping"):
        load_hypnogram(need(YASA))
    yasa = {"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "REM"}  # YASA: 4 is REM, not stage 4
    track = load_hypnogram(YASA, mapping=yasa)
    assert len(track.values) == 720
    assert set(np.unique(track.values)) <= {0, 1, 2, 3, 5}
    raw = [int(x) for x in YASA.read_text().split() if x.isdigit()]
    assert int((track.values == 5).sum()) == raw.count(4) > 0


def test_apnea_ecg_minute_labels_via_wfdb(caplog_sk):
    apn = need(APNEA_ECG / "a01.apn")
    track = load_hypnogram(apn, epoch=60.0)  # .apn defaults to kind='apnea'
    import wfdb

    ann = wfdb.rdann(str(apn.with_suffix("")), "apn")
    assert len(track.values) == len(ann.symbol) == 489
    assert int((track.values == ApneaEvent.APNEA).sum()) == ann.symbol.count("A") == 470
    assert int((track.values == ApneaEvent.NONE).sum()) == ann.symbol.count("N") == 19
    # at 30-s epochs each minute label covers two epochs
    half = load_hypnogram(apn)
    assert int((half.values == ApneaEvent.APNEA).sum()) == 2 * 470


def test_apnea_ecg_labels_aligned_to_record_length():
    apn = need(APNEA_ECG / "c07.apn")
    import wfdb

    hdr = wfdb.rdheader(str(apn.with_suffix("")))
    duration = hdr.sig_len / hdr.fs  # 428.17 minutes of ECG
    track = load_hypnogram(apn, epoch=60.0, duration=duration)
    assert len(track.values) == math.ceil(duration / 60) == 429
    assert UNSCORED not in set(track.values.tolist())


def test_apnea_ecg_beat_file_cut_short_is_reported(tmp_path, caplog_sk):
    need(APNEA_ECG / "a05.qrs")
    import shutil

    from sleepkit.datasets.apnea_ecg import ApneaEcgDataset

    for f in APNEA_ECG.glob("a05.*"):
        shutil.copy(f, tmp_path / f.name)
    full = ApneaEcgDataset(path=tmp_path).load("a05")
    assert "no beat in the last" not in caplog_sk.text
    # an even cut ends on a whole annotation record: it still parses, with a third of the beats
    with open(tmp_path / "a05.qrs", "r+b") as fh:
        fh.truncate(20000)
    cut = ApneaEcgDataset(path=tmp_path).load("a05")
    assert cut.meta["beats"] < full.meta["beats"] / 2
    m = re.search(r"a05.qrs: no beat in the last ([\d.]+) min of the ([\d.]+)-min record", caplog_sk.text)
    assert m and 250 < float(m.group(1)) < float(m.group(2)) == pytest.approx(453.2, abs=0.1)


# ------------------------------------------------------------------------------------------------
# files written here with the same quirks


def _write_edf_hypnogram(path: Path, annotations, seconds=600, rates=(100, 10)):
    from pyedflib import highlevel

    hdrs = highlevel.make_signal_headers([f"CH{i}" for i in range(len(rates))], physical_min=-1, physical_max=1)
    for h, fs in zip(hdrs, rates):
        h["sample_frequency"] = fs
    header = highlevel.make_header()
    header["annotations"] = [list(a) for a in annotations]
    highlevel.write_edf(str(path), [np.zeros(fs * seconds) for fs in rates], hdrs, header)
    return path


def test_written_edf_plus_with_markers_missing_durations_and_5s_epochs(tmp_path):
    anns = [
        (0, 30, "Sleep stage W"), (30, -1, "Sleep stage N1"), (33.43, 0, "Lights off@@EEG F4-A1"),
        (60, 60, "Sleep stage 2"), (120, 30, "Sleep stage 4"), (150, 30, "Sleep stage ?"),
        (180, 30, "Movement time"), (210, 30, "Sleep stage R"),
    ]
    path = _write_edf_hypnogram(tmp_path / "h.edf", anns)
    track = load_hypnogram(path)
    assert track.values.tolist() == [0, 1, 2, 2, 4, -1, -1, 5]
    fine = load_hypnogram(path, epoch=5.0)
    assert len(fine.values) == 48 and fine.fs == pytest.approx(0.2)
    assert fine.values[:6].tolist() == [0] * 6 and fine.values[6:12].tolist() == [1] * 6
    assert fine.values[-6:].tolist() == [5] * 6


def test_unknown_label_is_an_error_naming_label_and_file_unless_mapped(tmp_path):
    path = _write_edf_hypnogram(tmp_path / "odd.edf", [(0, 30, "Sleep stage W"), (30, 30, "Schlafstadium Wäch")])
    with pytest.raises(SleepkitError) as err:
        load_hypnogram(path)
    assert "Schlafstadium Wäch" in str(err.value) and "odd.edf" in str(err.value)
    assert load_hypnogram(path, mapping={"Schlafstadium Wäch": "W"}).values.tolist() == [0, 0]
    assert load_hypnogram(path, mapping={"Schlafstadium Wäch": None}).values.tolist() == [0]
    assert load_hypnogram(path, mapping={"*": -1}).values.tolist() == [0, -1]


def test_csv_onset_duration_label_and_errors(tmp_path):
    good = tmp_path / "h.csv"
    good.write_text("onset,duration,label\n0,60,W\n60,30,N1\n90,,N2\n120,30,P\n150,30,R\n")
    assert load_hypnogram(good).values.tolist() == [0, 0, 1, 2, -1, 5]
    semi = tmp_path / "h2.csv"
    semi.write_text("Start;Dur;Stage\n0;30;Wake\n30;30;REM\n")
    assert load_hypnogram(semi).values.tolist() == [0, 5]
    only_labels = tmp_path / "h3.csv"
    only_labels.write_text("stage\nW\nN3\nN3\n")
    assert load_hypnogram(only_labels).values.tolist() == [0, 3, 3]
    five = tmp_path / "five.csv"  # 5-s scoring read at 30-s epochs: each epoch takes its midpoint label
    five.write_text("onset,duration,label\n" + "".join(f"{5 * i},5,{'W' if i < 8 else 'N2'}\n" for i in range(12)))
    assert load_hypnogram(five, epoch=5.0).values.tolist() == [0] * 8 + [2] * 4
    assert load_hypnogram(five).values.tolist() == [0, 2]
    bad = tmp_path / "bad.csv"
    bad.write_text("onset,duration,label\n0,30,W\nten,30,N1\n")
    with pytest.raises(SleepkitError, match=r"bad.csv: row 3, column 'onset'"):
        load_hypnogram(bad)
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text("a,b\n1,2\n")
    with pytest.raises(SleepkitError, match="no label column"):
        load_hypnogram(nolabel)


def test_nsrr_xml_hypnogram_and_events(tmp_path):
    from test_datasets_nsrr import write_nsrr_xml

    path = write_nsrr_xml(tmp_path / "s-nsrr.xml", duration=300)
    assert len(load_hypnogram(path).values) == 11  # the last N2 event runs 30 s past 300 s
    stage = load_hypnogram(path, duration=300.0)
    assert stage.values.tolist() == [0, 0, 2, 4, 5, -1, 3, 1, 2, 2]
    apnea = load_hypnogram(path, kind="apnea", epoch=30.0)
    assert len(apnea.values) == 10
    assert apnea.values[2] == ApneaEvent.APNEA  # 70.5 s + 22 s obstructive apnea covers epoch 2's midpoint


def test_align_pad_trim_and_per_sample_expansion(caplog_sk):
    track = LabelTrack(np.array([0, 1, 2, 5], dtype=np.int32), 1 / 30)
    padded = align_track(track, 150.0, "x")
    assert padded.values.tolist() == [0, 1, 2, 5, -1]
    assert "padded 1 labels as unscored" in caplog_sk.text
    partial = align_track(track, 100.0, "x")  # signal ends 10 s into the 4th epoch: keep it
    assert partial.values.tolist() == [0, 1, 2, 5]
    trimmed = align_track(track, 60.0, "x")
    assert trimmed.values.tolist() == [0, 1]
    # per-sample: 100 s at 10 Hz, last partial epoch keeps its label up to the very last sample
    per_sample = track_to_samples(partial, 1000, 10.0)
    assert per_sample.shape == (1000,)
    assert per_sample[299] == 0 and per_sample[300] == 1 and per_sample[899] == 2 and per_sample[900] == 5
    assert per_sample[-1] == 5
    # one sample past the track's end is unscored, not the last label repeated
    assert track_to_samples(track, 1201, 10.0)[-1] == UNSCORED


def test_night_without_n3_or_rem_is_just_absent_classes(tmp_path):
    path = tmp_path / "light.csv"
    path.write_text("onset,duration,label\n0,90,W\n90,300,N1\n390,600,N2\n")
    track = load_hypnogram(path)
    assert set(np.unique(track.values)) == {0, 1, 2}
    for cmap in STAGE_CLASS_MAPS.values():  # every default class map still maps every label present
        assert all(int(v) in cmap for v in np.unique(track.values))


def test_class_maps_merge_stage4_with_n3():
    for cmap in STAGE_CLASS_MAPS.values():
        validate_stage_class_map(cmap)
        assert cmap[SleepStage.N4] == cmap[SleepStage.N3]
    with pytest.raises(SleepkitError, match="stage 4"):
        validate_stage_class_map({0: 0, 1: 1, 2: 1, 3: 2, 5: 3})

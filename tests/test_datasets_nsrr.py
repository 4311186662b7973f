"""MESA and STAGES readers on small files written here in the real NSRR layouts, with the quirks of
real files (channels at different rates, UTF-8 channel label, digital min == max, header date that
disagrees with the EDF+ recording field, scoring that runs past the EDF, NSRR XML stages spanning
several epochs, STAGES clock times across midnight with empty/absurd durations)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepkit.datasets.mesa import MesaDataset
from sleepkit.datasets.nsrr import read_nsrr_xml
from sleepkit.datasets.stages import StagesDataset, read_stages_csv
from sleepkit.errors import SleepkitError
from sleepkit.labels import UNSCORED, ApneaEvent
from sleepkit.registry import DatasetFactory

XML_EVENTS = [
    # (EventType, EventConcept, Start, Duration)
    ("Stages|Stages", "Wake|0", 0, 60),  # spans two epochs
    ("Stages|Stages", "Stage 2 sleep|2", 60, 30),
    ("Stages|Stages", "Stage 4 sleep|4", 90, 30),
    ("Stages|Stages", "REM sleep|5", 120, 30),
    ("Stages|Stages", "Unscored|9", 150, 30),
    ("Stages|Stages", "Stage 3 sleep|3", 180, 30),
    ("Stages|Stages", "Stage 1 sleep|1", 210, 30),
    ("Stages|Stages", "Stage 2 sleep|2", 240, 90),  # runs 30 s past a 300-s EDF
    ("Respiratory|Respiratory", "Obstructive apnea|Obstructive Apnea", 70.5, 22),
    ("Respiratory|Respiratory", "SpO2 desaturation|SpO2 desaturation", 80, 15),
    ("Respiratory|Respiratory", "Hypopnea|Hypopnea", 125, 6),
    ("Respiratory|Respiratory", "Central apnea|Central Apnea", 155, 12),  # inside the unscored epoch
    ("Arousals|Arousals", "Arousal|Arousal ()", 92, 5),
]


def write_nsrr_xml(path: Path, duration: float = 300, events=XML_EVENTS) -> Path:
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<PSGAnnotation>\n',
        "<SoftwareVersion>Compumedics</SoftwareVersion>\n<EpochLength>30</EpochLength>\n<ScoredEvents>\n",
        "<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start>"
        f"<Duration>{duration}</Duration><ClockTime>00.00.00 22.00.00</ClockTime></ScoredEvent>\n",
    ]
    for etype, concept, start, dur in events:
        parts.append(
            f"<ScoredEvent><EventType>{etype}</EventType><EventConcept>{concept}</EventConcept>"
            f"<Start>{start}</Start><Duration>{dur}</Duration></ScoredEvent>\n"
        )
    parts.append("</ScoredEvents>\n</PSGAnnotation>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _patch_field(path: Path, offset: int, width: int, text: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(text.ljust(width)[:width])


def write_psg_edf(path: Path, channels: dict[str, float], seconds: int = 300, start=datetime(2011, 3, 4, 22, 0, 0),
                  quirks: bool = True) -> Path:
    """EDF+ with one sine per channel at its own rate. ``quirks``: append a channel whose label holds
    UTF-8 bytes and whose digital min == max, and make the EDF+ recording field's date disagree with
    the header date (as real exports do)."""
    from pyedflib import highlevel

    names = list(channels) + (["Imp"] if quirks else [])
    rates = list(channels.values()) + ([1] if quirks else [])
    hdrs = highlevel.make_signal_headers(names, physical_min=-500, physical_max=500)
    sigs = []
    for k, (h, fs) in enumerate(zip(hdrs, rates)):
        h["sample_frequency"] = fs
        t = np.arange(int(seconds * fs)) / fs
        sigs.append(100 * np.sin(2 * np.pi * (0.1 + 0.05 * k) * t))
    header = highlevel.make_header(startdate=start)
    path.parent.mkdir(parents=True, exist_ok=True)
    highlevel.write_edf(str(path), sigs, hdrs, header)
    if quirks:
        ns = len(names) + 1  # + the EDF Annotations channel pyedflib adds
        i = len(names) - 1
        _patch_field(path, 256 + 16 * i, 16, "Impédance".encode("utf-8"))
        _patch_field(path, 256 + ns * 128 + 8 * i, 8, b"-32768")  # digital max := digital min
        _patch_field(path, 88, 80, b"Startdate 05-MAR-2011 X X X")
    return path


MESA_CHANNELS = {"EKG": 64, "Pleth": 32, "SpO2": 1, "EEG3": 64, "EOG-L": 64, "Flow": 8, "Thor": 8, "OxStatus": 1}


@pytest.fixture
def mesa_root(tmp_path) -> Path:
    root = tmp_path / "mesa"
    write_psg_edf(root / "polysomnography/edfs/mesa-sleep-0001.edf", MESA_CHANNELS)
    write_psg_edf(root / "polysomnography/edfs/mesa-sleep-0002.edf", {"EKG": 64}, seconds=60, quirks=False)
    write_nsrr_xml(root / "polysomnography/annotations-events-nsrr/mesa-sleep-0001-nsrr.xml")
    act = root / "actigraphy/mesa-sleep-0001.csv"
    act.parent.mkdir(parents=True)
    rows = ["mesaid,line,linetime,offwrist,activity,marker,whitelight,redlight,greenlight,bluelight,wake,interval,dayofweek"]
    for line in range(1, 20):
        off = 1 if line == 6 else 0
        activity = "" if line == 8 else str(10 * line)
        rows.append(f"1,{line},21:59:{30 if line % 2 else 0},{off},{activity},0,0,0,0,0,0,ACTIVE,5")
    act.write_text("\n".join(rows) + "\n")
    ov = root / "overlap/mesa-actigraphy-psg-overlap.csv"
    ov.parent.mkdir(parents=True)
    ov.write_text("mesaid,line,linetime,starttime_psg\n1,3,22:00:00,22:00:00\n")
    return root


def test_nsrr_xml_reader_fields(tmp_path):
    xml = read_nsrr_xml(write_nsrr_xml(tmp_path / "a-nsrr.xml"))
    assert xml.epoch_length == 30 and xml.duration == 300
    assert len(xml.stage_annotations()) == 8
    bad = tmp_path / "bad-nsrr.xml"
    bad.write_text(write_nsrr_xml(tmp_path / "x.xml").read_text().replace("<Start>70.5</Start>", "<Start>7o.5</Start>"))
    with pytest.raises(SleepkitError, match=r"bad-nsrr.xml: ScoredEvent #\d+ .*Start is '7o.5'"):
        read_nsrr_xml(bad)
    broken = tmp_path / "broken-nsrr.xml"
    broken.write_text("<PSGAnnotation><ScoredEvents>")
    with pytest.raises(SleepkitError, match="not valid XML"):
        read_nsrr_xml(broken)


def test_mesa_layout_signals_labels_and_actigraphy(mesa_root):
    ds = DatasetFactory.get("mesa")(path=str(mesa_root))
    assert ds.subject_ids() == ["mesa-sleep-0001"]  # 0002 has no XML scoring
    rec = ds.load("mesa-sleep-0001")
    assert rec.signals["ecg"].fs == 64 and rec.signals["resp"].fs == 8 and rec.signals["spo2"].fs == 1
    assert rec.signals["ppg"].fs == 32 and rec.signals["eeg"].fs == 64
    assert len(rec.signals["ecg"].data) == 300 * 64
    assert rec.signals["ecg"].data.max() == pytest.approx(100, abs=0.1)  # physical units survive scaling
    assert rec.meta["channels"]["eeg"] == "EEG3" and rec.meta["channels"]["eog"] == "EOG-L"
    stage = rec.labels["stage"]
    assert stage.values.tolist() == [0, 0, 2, 4, 5, -1, 3, 1, 2, 2]  # trimmed at the 300-s EDF end
    apnea = rec.labels["apnea"].values
    assert len(apnea) == 300 and rec.labels["apnea"].fs == 1.0
    assert set(np.flatnonzero(apnea == ApneaEvent.APNEA)) == set(range(70, 92))  # 70.5 s + 22 s
    assert set(np.flatnonzero(apnea == ApneaEvent.HYPOPNEA)) == set(range(125, 131))
    assert (apnea[150:180] == UNSCORED).all()  # central apnea inside an unscored epoch is masked
    assert (apnea[92:125] == 0).all()  # the SpO2 desaturation is not an apnea
    arousal = rec.labels["arousal"].values
    assert np.flatnonzero(arousal == 1).tolist() == [92, 93, 94, 95, 96]
    act = rec.signals["activity"]
    assert act.fs == pytest.approx(1 / 30) and len(act.data) == 10
    # line 3 is PSG time 0; line 6 off-wrist and line 8 empty are NaN
    assert act.data[0] == 30 and act.data[1] == 40 and np.isnan(act.data[3]) and np.isnan(act.data[5])
    assert act.data[9] == 120


def test_mesa_requested_role_missing_and_subject_filter(mesa_root):
    ds = MesaDataset(path=mesa_root, subjects=["1"], signals=["ecg", "activity"])
    assert ds.subject_ids() == ["mesa-sleep-0001"]
    rec = ds.load("mesa-sleep-0001")
    assert set(rec.signals) == {"ecg", "activity"}
    with pytest.raises(SleepkitError, match=r"no channel for signal role 'emg'.*EKG"):
        MesaDataset(path=mesa_root, signals=["emg"]).load("mesa-sleep-0001")
    custom = MesaDataset(path=mesa_root, signals=["emg"], channels={"emg": ["Thor"]}).load("mesa-sleep-0001")
    assert custom.signals["emg"].fs == 8
    with pytest.raises(SleepkitError, match="does not exist"):
        MesaDataset(path=mesa_root / "nope").subject_ids()


STAGES_CSV = """Start Time,Duration (seconds),Event
23:58:00,30,Wake
23:58:30,,Stage1
23:59:00,0,Stage2
23:59:15,0,LightsOff
23:59:30,2592000,REM
00:00:00,30,Stage3
00:00:10,15,ObstructiveApnea
00:00:30,30,UnknownStage
00:00:40,5,Arousal w/ Respiratory
00:01:00,30,Movement
00:01:00,30,Wake
00:01:05,20,Hypopnea
00:01:10,4,Arousal
00:01:40,10,Desaturation, 3%
00:02:30,30,Stage2
"""


@pytest.fixture
def stages_root(tmp_path) -> Path:
    root = tmp_path / "stages"
    site = root / "original" / "STAGES PSGs" / "BOGN"
    start = datetime(2020, 2, 1, 23, 58, 0)
    write_psg_edf(site / "BOGN00004.edf", {"ECG": 64, "SpO2": 1, "C4-M1": 64, "E1-M2": 64, "Nasal Pressure": 8},
                  start=start)
    (site / "BOGN00004.csv").write_text(STAGES_CSV)
    write_psg_edf(site / "BOGN00004_1.edf", {"ECG": 64}, seconds=30, quirks=False, start=start)  # an MSLT nap
    (site / "BOGN00004_1.csv").write_text("Start Time,Duration (seconds),Event\n23:58:00,30,Wake\n")
    return root


def test_stages_csv_times_wrap_midnight_and_durations_fixed(stages_root):
    csv_path = stages_root / "original/STAGES PSGs/BOGN/BOGN00004.csv"
    anns = read_stages_csv(csv_path, datetime(2020, 2, 1, 23, 58, 0))
    by_label = {a.label: a for a in anns}
    assert by_label["Stage3"].onset == 120 and by_label["Stage2"].onset == 270
    assert by_label["Stage1"].duration == 30 and by_label["REM"].duration == 30  # empty / 2592000 fixed
    assert by_label["Desaturation, 3%"].type == "event" and by_label["Movement"].type == "event"


def test_stages_layout_is_its_own(stages_root, tmp_path):
    ds = DatasetFactory.get("stages")(path=str(stages_root))
    assert ds.subject_ids() == ["BOGN00004"]  # MSLT nap skipped
    rec = ds.load("BOGN00004")
    assert set(rec.signals) >= {"ecg", "spo2", "eeg", "eog", "resp"}
    assert rec.signals["resp"].fs == 8
    assert rec.labels["stage"].values.tolist() == [0, 1, 2, 5, 3, -1, 0, -1, -1, 2]
    apnea = rec.labels["apnea"].values
    assert np.flatnonzero(apnea == ApneaEvent.APNEA).tolist() == list(range(130, 145))
    assert np.flatnonzero(apnea == ApneaEvent.HYPOPNEA).tolist() == list(range(185, 205))
    arousal = rec.labels["arousal"].values
    assert np.flatnonzero(arousal == 1).tolist() == [190, 191, 192, 193]
    assert (arousal[150:180] == UNSCORED).all()  # the arousal inside UnknownStage is masked
    # pointing 'path' at the 'STAGES PSGs' folder works too; a MESA layout is not mistaken for STAGES
    assert StagesDataset(path=stages_root / "original" / "STAGES PSGs").subject_ids() == ["BOGN00004"]
    mesa_like = tmp_path / "mesa_like"
    write_psg_edf(mesa_like / "polysomnography/edfs/mesa-sleep-0001.edf", {"EKG": 8}, seconds=30, quirks=False)
    with pytest.raises(SleepkitError, match="STAGES PSGs"):
        StagesDataset(path=mesa_like).subject_ids()


def test_stages_unknown_stage_label_names_file(stages_root):
    csv_path = stages_root / "original/STAGES PSGs/BOGN/BOGN00004.csv"
    csv_path.write_text(STAGES_CSV.replace("00:02:30,30,Stage2", "00:02:30,30,Stage 5"))
    with pytest.raises(SleepkitError, match=r"BOGN00004.csv: unknown stage label 'Stage 5'"):
        StagesDataset(path=stages_root).load("BOGN00004")

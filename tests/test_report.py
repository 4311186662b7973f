"""Metrics against hand-computed values; PNG plots; the offline HTML demo report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from sleepkit import metrics
from sleepkit.report import (DemoResult, scored_kappa, hypnogram_order, hypnogram_rows, plot_confusion, plot_history, plot_hypnogram,
                             write_demo_report)

PNG = b"\x89PNG\r\n\x1a\n"


def test_confusion_accuracy_kappa_f1_by_hand():
    y_true = np.array([0] * 25 + [1] * 25)
    y_pred = np.array([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    cm = metrics.confusion_matrix(y_true, y_pred, 2)
    assert cm.tolist() == [[20, 5], [10, 15]]
    assert metrics.accuracy(cm) == pytest.approx(0.7)
    # po = 0.7, pe = (30*25 + 20*25) / 50^2 = 0.5 -> kappa 0.4
    assert metrics.cohen_kappa(cm) == pytest.approx(0.4)
    # class 0: P = 20/30, R = 20/25 -> F1 = 8/11; class 1: P = 15/20, R = 15/25 -> F1 = 2/3
    macro, weighted = metrics.f1_scores(cm)
    assert macro == pytest.approx((8 / 11 + 2 / 3) / 2)
    assert weighted == pytest.approx((8 / 11 + 2 / 3) / 2)  # equal support
    rep = metrics.classification_report(y_true, y_pred, ["W", "S"])
    assert rep["per_class_recall"] == pytest.approx({"W": 0.8, "S": 0.6})
    assert rep["frames"] == 50


def test_class_absent_everywhere_does_not_drag_macro_f1():
    cm = metrics.confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 1]), 3)
    assert metrics.f1_scores(cm)[0] == pytest.approx(1.0)
    assert metrics.cohen_kappa(cm) == pytest.approx(1.0)


def test_sleep_summary():
    # 30-s frames, wake = class 0: 6 of 8 frames asleep.
    s = metrics.sleep_summary(np.array([0, 1, 1, 2, 3, 1, 0, 2]), 30.0, 0)
    assert s == {"tst_min": pytest.approx(3.0), "sleep_efficiency": pytest.approx(0.75)}
    assert metrics.sleep_summary(np.array([1, 2]), 30.0, None)["tst_min"] is None


def test_pngs(tmp_path):
    history = [{"loss": 1.0, "val_loss": 1.2, "val_acc": 0.5, "val_f1": 0.4}, {"loss": 0.8, "val_loss": 1.0, "val_acc": 0.6, "val_f1": 0.5}]
    for path in (
        plot_history(history, tmp_path / "h.png"),
        plot_confusion(np.array([[3, 1], [0, 4]]), ["W", "S"], tmp_path / "c.png"),
        plot_hypnogram(np.arange(10) / 120, np.array([0, 0, 1, 1, -1, 1, 0, 0, 1, 1]), np.zeros(10, int), ["W", "S"], tmp_path / "y.png"),
    ):
        assert path.read_bytes()[:8] == PNG
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporaries


def test_demo_report_is_self_contained(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.integers(-1, 4, 200)
    res = DemoResult(
        subject="toy/S001</script>", backend="pc", class_names=["WAKE", "LIGHT", "DEEP", "REM"], frame_seconds=30.0,
        true=true, pred=np.where(true < 0, 0, true), window_times_s=np.full(5, 0.002), frames_per_window=40,
        keras_pred=np.where(true < 0, 0, true),
    )
    html = write_demo_report(res, tmp_path / "report.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert html.count("<script") == html.count("</script>")  # the subject name cannot close a script early
    summary = json.loads(re.search(r'id="sleepkit-summary">(.*?)</script>', html, re.S).group(1))
    assert summary["backend"] == "pc" and summary["accuracy on scored frames"] == "1.000"
    assert summary["agreement with Keras model"] == "1.0000"
    assert "2.000 ms" in summary["time per window (median / max)"]
    assert summary["Cohen's kappa on scored frames"] == "1.000"
    # Five figures: hypnogram, minutes per stage, pie, confusion, timing.
    assert html.count('class="plotly-graph-div"') == 5 and '"type":"pie"' in html and '"type":"heatmap"' in html


def test_hypnogram_rows_follow_the_clinical_order():
    # wake on top, REM next, then deepening in class order; NREM is not REM
    assert hypnogram_order(["WAKE", "LIGHT", "DEEP", "REM"]) == [0, 3, 1, 2]
    assert hypnogram_order(["W", "N1", "N2", "N3", "R"]) == [0, 4, 1, 2, 3]
    assert hypnogram_order(["wake", "nrem", "rem"]) == [0, 2, 1]
    assert hypnogram_order(["sleep", "wake"]) == [1, 0]
    # by name, not by class id
    assert hypnogram_order(["WAKE", "DEEP", "LIGHT", "REM"]) == [0, 3, 2, 1]
    assert hypnogram_order(["Wake", "N3", "N2", "N1", "R"]) == [0, 4, 3, 2, 1]
    assert hypnogram_order(["W", "S1", "S2", "S3", "S4", "REM"]) == [0, 5, 1, 2, 3, 4]
    rows = hypnogram_rows(np.array([0, 3, 1, -1, 2]), ["WAKE", "LIGHT", "DEEP", "REM"])
    assert rows[[0, 1, 2, 4]].tolist() == [0.0, 1.0, 2.0, 3.0] and np.isnan(rows[3])


def test_demo_kappa_by_hand():
    # scored frames 0-5: true (3 a, 3 b), pred (3 a, 3 b), 4 agree: po = 4/6, pe = 0.5 -> kappa 1/3;
    # the unscored last frame does not count
    res = DemoResult(subject="s", backend="pc", class_names=["a", "b"], frame_seconds=30.0,
                     true=np.array([0, 0, 0, 1, 1, 1, -1]), pred=np.array([0, 0, 1, 0, 1, 1, 0]),
                     window_times_s=np.ones(1), frames_per_window=7)
    assert scored_kappa(res) == pytest.approx(1 / 3)

"""Error analysis against hand computations: SST per-class precision/recall/F1 and the confusion matrix, the
reliability table and its expected calibration error (Guo et al. 2017), and the diagrams drawn from that table."""
import gzip

import numpy as np
import pandas as pd
import pytest

from quarbert_lib.core import evaluate
from quarbert_lib.reporting import plots
from quarbert_lib.study import saved_predictions


def sst_frame(gold, pred, probs=None):
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(len(gold))], "task": "sst", "gold": gold, "prediction": pred})
    for k in range(5):
        frame[f"prob_{k}"] = [p[k] for p in probs] if probs else 0.2
    return frame


def test_per_class_and_confusion_by_hand():
    gold = [0, 0, 1, 2, 2, 2, 3, 4]
    pred = [0, 1, 1, 1, 2, 3, 3, 3]
    table = evaluate.per_class(sst_frame(gold, pred)).set_index("class")
    # class 2: 1 of 3 gold right (recall 1/3), predicted once and right (precision 1); F1 = 2 * 1 * 1/3 / (4/3) = 0.5
    assert table.loc[2, ["precision", "recall", "f1", "support", "correct"]].tolist() == pytest.approx([1.0, 1 / 3, 0.5, 3, 1])
    # class 1: predicted 3 times, right once; gold once, found
    assert table.loc[1, ["precision", "recall"]].tolist() == pytest.approx([1 / 3, 1.0])
    assert table.loc[4, ["precision", "recall", "f1", "correct"]].tolist() == [0.0, 0.0, 0.0, 0]   # never predicted
    matrix = evaluate.confusion(sst_frame(gold, pred))
    assert matrix.loc[2].tolist() == [0, 1, 1, 1, 0] and matrix.to_numpy().sum() == 8 and matrix.loc[4, 3] == 1


def test_reliability_and_ece_by_hand():
    # binary: confidence is p for a predicted 1 and 1 - p for a predicted 0
    para = pd.DataFrame({"id": list("abcdef"), "task": "para", "gold": [1, 0, 1, 0, 1, 1],
                         "prob": [0.95, 0.15, 0.62, 0.65, 0.55, 0.91]})
    para["prediction"] = (para["prob"] > 0.5).astype(int)
    table = evaluate.reliability(para, "para", bins=10).set_index("bin")
    # confidences 0.95, 0.85, 0.62, 0.65, 0.55, 0.91: bins 9 (0.95, 0.91), 8 (0.85), 6 (0.62, 0.65), 5 (0.55)
    assert table.index.tolist() == [5, 6, 8, 9]
    assert table.loc[9, ["count", "confidence", "accuracy"]].tolist() == pytest.approx([2, 0.93, 1.0])
    assert table.loc[6, ["count", "confidence", "accuracy"]].tolist() == pytest.approx([2, 0.635, 0.5])  # d is wrong
    ece = (2 * abs(1.0 - 0.93) + 1 * abs(1.0 - 0.85) + 2 * abs(0.5 - 0.635) + 1 * abs(1.0 - 0.55)) / 6
    assert evaluate.expected_calibration_error(evaluate.reliability(para, "para")) == pytest.approx(ece)
    # a confidence of exactly 1.0 falls in the last bin, 0.1 in the first (bins closed on the right)
    edge = para.assign(prob=[1.0, 0.9, 0.6, 0.6, 0.6, 0.6])
    assert evaluate.reliability(edge, "para").set_index("bin").loc[9, "count"] == 1
    assert evaluate.reliability(edge, "para").set_index("bin").loc[0, "count"] == 1
    with pytest.raises(ValueError, match="regression"):
        evaluate.reliability(para.assign(task="sts"), "sts")


def test_diagrams_quote_the_tables_ece(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARBERT_REPORTS", str(tmp_path))
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), 200)
    frame = sst_frame(rng.integers(0, 5, 200).tolist(), probs.argmax(1).tolist(), probs.tolist())
    sharper = frame.copy()
    stages = {"plain average": frame, "calibrated": sharper}
    table = evaluate.reliability_by_stage(stages, ["sst", "para"])
    assert set(table["task"]) == {"sst"} and list(dict.fromkeys(table["stage"])) == ["plain average", "calibrated"]
    errors = evaluate.calibration_errors(table)
    assert errors["examples"].tolist() == [200, 200]
    fig = plots.reliability_diagrams(table, "rel.png")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[1] == f"plain average: ECE {errors['ece'].iloc[0]:.3f}"
    assert (tmp_path / "figures" / "rel.png").stat().st_size > 0


def test_calibrated_predictions_are_found_beside_plain_ones(tmp_path):
    plain = tmp_path / "ensemble-seed0" / "predictions-dev.csv.gz"
    plain.parent.mkdir()
    plain.write_bytes(gzip.compress(b"id\n"))
    assert saved_predictions.calibrated_beside(plain) is None
    (plain.parent / "predictions-dev-calibrated.csv.gz").write_bytes(gzip.compress(b"id\n"))
    assert saved_predictions.calibrated_beside(plain) == plain.parent / "predictions-dev-calibrated.csv.gz"
    registry = tmp_path / "run" / "predictions-dev.csv"
    registry.parent.mkdir()
    (registry.parent / "predictions-dev-calibrated.csv").write_text("id\n")
    assert saved_predictions.calibrated_beside(registry) == registry.parent / "predictions-dev-calibrated.csv"

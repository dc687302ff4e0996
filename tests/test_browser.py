"""error_table and the error summaries against hand-built predictions."""
import math

import pandas as pd
import pytest

from quarbert_lib import browser

PRED = pd.DataFrame([
    # id, task, gold, prediction, sentence1, sentence2
    ("a", "sst", 4, 3, "A great film", None),
    ("b", "sst", 0, 4, "Awful , truly awful", None),
    ("c", "sst", 2, 2, "It is a film", None),
    ("d", "sst", 1, 2, "Not great", None),
    ("p", "para", 1, 0, "How do I learn Python?", "What is the best way to learn Python?"),
    ("q", "para", 0, 1, "How do I cook rice?", "How do I cook rice fast?"),
    ("r", "para", 0, 0, "Why is the sky blue?", "Who won the game?"),
    ("s", "sts", 5.0, 3.5, "A dog runs", "A dog is running"),
    ("t", "sts", 0.5, 0.7, "A cat", "The market fell"),
], columns=["id", "task", "gold", "prediction", "sentence1", "sentence2"])


def test_error_table_filters_and_sorts():
    table = browser.error_table(PRED, "sst")
    assert list(table["id"]) == ["b", "a", "d", "c"] and list(table["error"]) == [4, 1, 1, 0]
    assert list(browser.error_table(PRED, "sst", gold=[0, 1])["id"]) == ["b", "d"]
    assert list(browser.error_table(PRED, "sst", predicted=2)["id"]) == ["d", "c"]
    assert list(browser.error_table(PRED, "sst", min_error=1, sort_by="id", ascending=True)["id"]) == ["a", "b", "d"]
    assert list(browser.error_table(PRED, "sst", contains="GREAT")["id"]) == ["a", "d"]
    assert list(browser.error_table(PRED, "para", contains="rice")["id"]) == ["q"]
    assert list(browser.error_table(PRED, "sts")["error"]) == pytest.approx([1.5, 0.2])
    assert list(browser.error_table(PRED, "para", min_error=1)["id"]) == ["p", "q"]
    with pytest.raises(ValueError, match="sort_by"):
        browser.error_table(PRED, "sst", sort_by="length")


def test_summaries():
    assert browser.sst_within_one_level(PRED) == pytest.approx(2 / 3)          # a and d of a, b, d
    assert list(browser.sts_worst(PRED, 1)["id"]) == ["s"]
    assert browser.lexical_overlap("How do I cook rice?", "How do I cook rice fast?") == pytest.approx(5 / 6)
    bands = browser.quora_errors_by_overlap(PRED, bins=(0.0, 0.5, 1.0)).set_index("overlap")
    low, high = bands.iloc[0], bands.iloc[1]
    assert low["pairs"] == 2 and low["false_positive_rate"] == 0.0 and low["false_negative_rate"] == 1.0  # r, p
    assert high["pairs"] == 1 and high["false_positive_rate"] == 1.0 and math.isnan(high["false_negative_rate"])


def test_with_sentences_joins_dev_text(mini_data_dir):
    from quarbert_lib.config import DataConfig
    from quarbert_lib.data import load_task
    dev = load_task("sts", DataConfig(data_dir=str(mini_data_dir))).splits["dev"][:3]
    preds = pd.DataFrame({"id": [e.id for e in dev], "task": "sts", "gold": [e.label for e in dev], "prediction": 2.0})
    joined = browser.with_sentences(preds, DataConfig(data_dir=str(mini_data_dir)))
    assert list(joined["sentence1"]) == [e.sentence1 for e in dev] and list(joined["sentence2"]) == [e.sentence2 for e in dev]


def test_widget_browser_shows_exactly_error_table(tmp_path):
    ui = browser.ErrorBrowser({"hand-built": PRED})
    assert list(ui.task.options) == ["sst", "para", "sts"] and ui.task.value == "sst"
    assert "<b>4</b> rows of sst" in ui.table.value
    ui.gold.value = (0.0, 1.0)
    pd.testing.assert_frame_equal(ui.current(), browser.error_table(PRED, "sst", gold=[0, 1]))
    assert "<b>2</b> rows of sst" in ui.table.value
    ui.task.value = "para"
    assert ui.gold.value == () and "<b>3</b> rows of para" in ui.table.value
    ui.contains.value = "rice"
    assert list(ui.current()["id"]) == ["q"] and "How do I cook rice fast?" in ui.detail.value
    out = ui.export(str(tmp_path / "sel.csv"))
    assert list(pd.read_csv(out)["id"]) == ["q"] and "exported 1 rows" in ui.status.value

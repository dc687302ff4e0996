"""error_table and the error summaries against hand-built predictions."""
import io
import json
import math

import ipywidgets as widgets
import pandas as pd
import pytest
from ipywidgets.widgets import widget as widget_module

from quarbert_lib.reporting import browser

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
    from quarbert_lib.core.config import DataConfig
    from quarbert_lib.core.data import load_task
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


def test_a_click_on_a_row_opens_its_card_and_each_task_shows_its_own_columns(tmp_path, monkeypatch):
    """Issue 36: rows are chosen by clicking them; the card is formatted (no dict, no nan); SST has no second
    sentence and STS no confidence; a task change resets every filter; the confidence slider spans the task's range;
    a relative export lands in the reports folder, not beside the notebook."""
    ui = browser.ErrorBrowser({"hand-built": PROBS})
    assert ui.grid_rows()[0] == ["<b>id</b>", "<b>gold</b>", "<b>prediction</b>", "<b>error</b>", "<b>confidence</b>",
                                 "<b>sentence1</b>"]
    assert [row[0] for row in ui.grid_rows()[1:]] == list(ui.current()["id"])
    assert (ui.min_confidence.min, ui.min_confidence.max, ui.min_confidence.disabled) == (0.2, 1.0, False)
    ui._buttons["c"].click()                                          # what a click on the row's id does
    assert ui.row.value == "c" and ui._buttons["c"].button_style == "info" and ui._buttons["b"].button_style == ""
    card = ui.detail.value
    assert "<th>p(2)</th><td>0.500</td>" in card and "nan" not in card and "None" not in card and "{" not in card
    ui.contains.value = "film"
    ui.task.value = "para"
    assert (ui.contains.value, ui.gold.value, ui.min_confidence.min, ui.min_confidence.max) == ("", (), 0.0, 0.5)
    assert ui.grid_rows()[0][-2:] == ["<b>sentence1</b>", "<b>sentence2</b>"]
    ui.min_confidence.value = 0.35
    assert list(ui.current()["id"]) == ["q"]                          # |0.9 - 0.5| = 0.4: the only one that sure
    ui.task.value = "sts"
    assert ui.min_confidence.disabled and "<b>confidence</b>" not in ui.grid_rows()[0]
    monkeypatch.setenv("QUARBERT_REPORTS", str(tmp_path / "reports"))
    assert ui.export("picked.csv") == tmp_path / "reports" / "picked.csv"


def test_the_compare_view_keeps_the_filters_and_both_sentences():
    second = PRED.copy()
    second.loc[second["id"].isin(["p", "q"]), "prediction"] = [1, 0]   # both fixed
    ui = browser.ErrorBrowser({"first": PRED, "second": second})
    ui.task.value = "para"
    ui.compare.value = "second"
    assert list(ui.comparison()["id"]) == ["p", "q"] and "<th>sentence2</th>" in ui.compare_view.value
    ui.contains.value = "rice"                                         # only q is left in the selection
    assert list(ui.comparison()["id"]) == ["q"]
    pd.testing.assert_frame_equal(ui.comparison(), browser.compare_runs(ui.current(), second, "para"))


PROBS = PRED.assign(prob_0=[0.0, 0.1, 0.1, 0.2, None, None, None, None, None],
                    prob_1=[0.0, 0.1, 0.2, 0.3, None, None, None, None, None],
                    prob_2=[0.1, 0.1, 0.5, 0.4, None, None, None, None, None],
                    prob_3=[0.6, 0.1, 0.1, 0.05, None, None, None, None, None],
                    prob_4=[0.3, 0.6, 0.1, 0.05, None, None, None, None, None],
                    prob=[None, None, None, None, 0.45, 0.9, 0.2, None, None])


def _widgets_made(make) -> int:
    before = len(widget_module._instances)
    make()
    return len(widget_module._instances) - before


def test_the_grid_is_few_widgets_built_once_and_closed_when_rebuilt():
    """CI (stop 48): the executed notebook 10 lacked two rows of its grid's widgets, of about 1,000 made in one
    burst. The browser now opens on its ``source`` (one grid, not the first source's and then
    the chosen one's), its cells share one layout and one style (a widget each, not three), and a rebuilt grid
    closes the cells it replaced."""
    alone = _widgets_made(lambda: browser.ErrorBrowser({"second": PROBS}))
    assert _widgets_made(lambda: browser.ErrorBrowser({"first": PRED, "second": PROBS}, source="second")) == alone
    ui = browser.ErrorBrowser({"first": PRED, "second": PROBS}, source="second")
    assert ui.source.value == "second" and ui.current().equals(browser.error_table(PROBS, "sst"))
    cells = list(ui.grid.children)
    assert len(cells) == 6 * 5                                          # the header and four SST rows, 6 columns
    assert {(c.layout.model_id, c.style.model_id) for c in cells if isinstance(c, widgets.HTML)} == {
        (ui._cell_look["layout"].model_id, ui._cell_look["style"].model_id)}
    assert {(c.layout.model_id, c.style.model_id) for c in cells if isinstance(c, widgets.Button)} == {
        (ui._button_look["layout"].model_id, ui._button_look["style"].model_id)}
    ui.task.value = "para"
    assert all(c.comm is None for c in cells) and all(c.comm is not None for c in ui.grid.children)
    assert ui._cell_look["layout"].comm is not None
    with pytest.raises(ValueError, match="'third': not one of the 2 sources"):
        browser.ErrorBrowser({"first": PRED, "second": PROBS}, source="third")


def test_confidence_filter_and_sort():
    table = browser.error_table(PROBS, "sst", sort_by="confidence")
    assert list(table["id"]) == ["a", "b", "c", "d"] and list(table["confidence"]) == pytest.approx([0.6, 0.6, 0.5, 0.4])
    sure_errors = browser.error_table(PROBS, "sst", min_error=1, min_confidence=0.55)
    assert list(sure_errors["id"]) == ["b", "a"]                     # confident and wrong, worst first
    para = browser.error_table(PROBS, "para", sort_by="confidence")
    assert list(para["id"]) == ["q", "r", "p"] and list(para["confidence"]) == pytest.approx([0.4, 0.3, 0.05])
    assert browser.error_table(PROBS, "sts")["confidence"].isna().all()


def test_compare_two_runs_counts_fixed_and_broken():
    second = PRED.copy()
    second.loc[second["id"] == "a", "prediction"] = 4      # fixed (gold 4)
    second.loc[second["id"] == "c", "prediction"] = 1      # broken (was right)
    second.loc[second["id"] == "b", "prediction"] = 3      # still wrong, changed
    second.loc[second["id"] == "q", "prediction"] = 0      # fixed
    second.loc[second["id"] == "s", "prediction"] = 4.8    # closer, moved 1.3 points
    second.loc[second["id"] == "t", "prediction"] = 0.9    # moved 0.2: under the tolerance
    sst = browser.compare_runs(PRED, second, "sst")
    assert list(zip(sst["id"], sst["change"])) == [("b", "both wrong"), ("c", "broken"), ("a", "fixed")]
    assert list(sst["prediction_first"]) == [4, 2, 3] and list(sst["prediction_second"]) == [3, 1, 4]
    assert browser.change_counts(sst) == {"both wrong": 1, "broken": 1, "fixed": 1}
    assert browser.change_counts(browser.compare_runs(PRED, second, "para")) == {"fixed": 1}
    sts = browser.compare_runs(PRED, second, "sts")
    assert list(sts["id"]) == ["s"] and sts["change"].tolist() == ["closer"]


def test_sst_confusion_counts_every_level():
    matrix = browser.sst_confusion(PRED)
    assert matrix.shape == (5, 5) and matrix.values.sum() == 4
    assert matrix.loc[4, 3] == 1 and matrix.loc[0, 4] == 1 and matrix.loc[2, 2] == 1 and matrix.loc[1, 2] == 1


def test_widget_browser_compare_members_and_confusion_views(isolated):
    from quarbert_lib.study import results
    second = PROBS.copy()
    second.loc[second["id"] == "a", "prediction"] = 4                  # fixed
    second.loc[second["id"] == "c", "prediction"] = 1                  # broken
    folders = {}
    for name, frame in (("sst-specialist", PROBS), ("multitask", second)):
        folders[name] = results.run_path("smoke", "07_quartet_ensemble", name)
        folders[name].mkdir(parents=True)
        frame.to_csv(folders[name] / "predictions-dev.csv", index=False)
    ensemble_dir = results.run_path("smoke", "07_quartet_ensemble", "ensemble-seed0")
    ensemble_dir.mkdir(parents=True)
    PROBS.to_csv(ensemble_dir / "predictions-dev.csv", index=False)
    results.write_members(ensemble_dir, folders)
    ui = browser.ErrorBrowser({"ensemble": ensemble_dir / "predictions-dev.csv",
                               "multitask": folders["multitask"] / "predictions-dev.csv"})
    # the confusion matrix follows the current filter
    ui.min_confidence.value = 0.55
    assert list(ui.current()["id"]) == ["b", "a"] and "SST confusion of these 2 rows" in ui.confusion_view.value
    pd.testing.assert_frame_equal(ui.current(), browser.error_table(PROBS, "sst", min_confidence=0.55))
    # each member's prediction for the selected row
    ui.row.value = "a"
    assert "What each member said" in ui.members_view.value
    members = browser.member_predictions(ensemble_dir, "sst", "a")
    assert list(zip(members["member"], members["prediction"])) == [("multitask", 4), ("sst-specialist", 3)]
    # compare two runs: the disagreements and the fixed / broken counts
    ui.min_confidence.value = 0.0
    ui.compare.value = "multitask"
    pd.testing.assert_frame_equal(ui.comparison(), browser.compare_runs(ui.predictions(), ui.predictions("multitask"), "sst"))
    assert "{'broken': 1, 'fixed': 1}" in ui.compare_view.value and "compare-table" in ui.compare_view.value


def _registry_run(root, notebook, run, frame, seed=0, members=None):
    folder = root / "runs" / "cpu" / notebook / run
    folder.mkdir(parents=True)
    frame.to_csv(folder / "predictions-dev.csv", index=False)
    if members is None:
        (folder / "metrics.json").write_text(json.dumps({"profile": "cpu", "encoder": "minilm-l6", "seed": seed}))
    else:
        (folder / "members.json").write_text(json.dumps(members))
    return folder


def test_saved_predictions_let_a_clone_without_runs_browse(isolated):
    """make figures saves seed 0 of the ladder rows and the quartet with its members; without runs/ the saved
    copies answer find, sources and the member view; the registry wins where it has the run."""
    import shutil

    from quarbert_lib.study import saved_predictions
    from quarbert_lib.study.results import RunNotFound
    frame = PROBS.drop(columns=["sentence1", "sentence2"])
    _registry_run(isolated, "03_task_sampling", "sampling-seed0", frame)
    _registry_run(isolated, "03_task_sampling", "sampling-seed1", frame, seed=1)          # not seed 0: not saved
    _registry_run(isolated, "07_quartet_ensemble", "specialist-sst-seed0", frame.assign(prediction=0))
    _registry_run(isolated, "07_quartet_ensemble", "ensemble-seed0", frame,
                  members={"sst-specialist": "cpu/07_quartet_ensemble/specialist-sst-seed0",
                           "multitask": "cpu/03_task_sampling/sampling-seed0"})
    files = saved_predictions.save("cpu", "minilm-l6")
    names = sorted(f.parent.name for f in files)
    assert names == ["ensemble-seed0", "sampling-seed0", "specialist-sst-seed0"]
    first = {f: f.read_bytes() for f in files}
    saved_predictions.save("cpu", "minilm-l6")
    assert all(f.read_bytes() == b for f, b in first.items())                 # byte-identical: no git churn
    assert all(f.stat().st_size < saved_predictions.MAX_BYTES for f in files)
    assert saved_predictions.find("sampling-seed0", "cpu", "minilm-l6") == \
        isolated / "runs" / "cpu" / "03_task_sampling" / "sampling-seed0" / "predictions-dev.csv"   # registry first
    shutil.rmtree(isolated / "runs")
    path = saved_predictions.find("sampling-seed0", "cpu", "minilm-l6")
    assert path.name == "predictions-dev.csv.gz"
    pd.testing.assert_frame_equal(pd.read_csv(path, dtype={"id": str}), pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype={"id": str}))
    sources = browser.prediction_sources("cpu")
    assert sorted(sources) == ["03_task_sampling/sampling-seed0", "07_quartet_ensemble/ensemble-seed0",
                               "07_quartet_ensemble/specialist-sst-seed0"]
    assert browser.default_source(sources) == "07_quartet_ensemble/ensemble-seed0"
    members = browser.member_predictions(sources["07_quartet_ensemble/ensemble-seed0"].parent, "sst", "a")
    assert members.set_index("member")["prediction"].to_dict() == {"sst-specialist": 0, "multitask": 3}
    with pytest.raises(RunNotFound, match="run notebook 04_smart_mbpp"):
        saved_predictions.find("smart-seed0", "cpu", "minilm-l6")
    shutil.rmtree(saved_predictions.saved_dir())
    with pytest.raises(RunNotFound, match="run notebooks 02-07 first"):
        browser.prediction_sources("cpu")

"""Data reaches the error browser's HTML widgets as text: every sentence, id, run and member name is escaped."""
import pandas as pd

from quarbert_lib.reporting import browser

DIV = "How do I show a <div> when a link is clicked?"     # a real quora-dev.csv question, near enough
AMP = "Tom &amp; Jerry"                                      # must show as written, not as 'Tom & Jerry'
BOLD = "<b>bold</b>"                                         # must not render bold

PAIRS = pd.DataFrame([
    # id, task, gold, prediction, sentence1, sentence2
    ("p1", "para", 1, 0, DIV, AMP),
    ("p2", "para", 0, 1, BOLD, AMP),
    ("p3", "para", 0, 0, "plain", "text"),
], columns=["id", "task", "gold", "prediction", "sentence1", "sentence2"])


def _no_raw_data(html: str) -> None:
    assert "<div>" not in html and "<b>bold" not in html and "Tom &amp; Jerry<" not in html


def test_escape_text_and_table_html():
    assert browser.escape_text(DIV) == "How do I show a &lt;div&gt; when a link is clicked?"
    assert browser.escape_text(AMP) == "Tom &amp;amp; Jerry"
    assert browser.escape_text("{'fixed': 1}") == "{'fixed': 1}"          # element text: quotes need nothing
    table = browser.table_html(PAIRS[["sentence1"]].head(2), "t", index=False)
    assert "<td>How do I show a &lt;div&gt; when a link is clicked?</td>" in table
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in table
    _no_raw_data(table)


def test_detail_and_table_views_escape_the_sentences():
    ui = browser.ErrorBrowser({"run": PAIRS})
    assert ui.task.value == "para" and ui.row.value == "p1"
    card = ('<div class="detail-card"><p><b>{id}</b> · para</p><table class="detail-table"><tr><th>gold</th><td>{gold}'
            '</td></tr><tr><th>predicted</th><td>{pred}</td></tr><tr><th>error</th><td>1</td></tr></table>'
            '<p><b>sentence 1</b>: {s1}</p><p><b>sentence 2</b>: Tom &amp;amp; Jerry</p></div>')
    assert ui.detail.value == card.format(id="p1", gold=1, pred=0, s1="How do I show a &lt;div&gt; when a link is clicked?")
    ui.row.value = "p2"
    assert ui.detail.value == card.format(id="p2", gold=0, pred=1, s1="&lt;b&gt;bold&lt;/b&gt;")
    cells = [cell for row in ui.grid_rows()[1:] for cell in row]
    assert "Tom &amp;amp; Jerry" in cells and "&lt;b&gt;bold&lt;/b&gt;" in cells
    for cell in cells:
        _no_raw_data(cell)


def test_an_id_with_markup_is_escaped_in_the_detail_view():
    ui = browser.ErrorBrowser({"run": PAIRS.assign(id=["<i>1</i>", "x&y", "z"])})
    assert ui.row.value == "<i>1</i>"                                  # a dropdown option is text, not HTML
    assert ui.detail.value.startswith('<div class="detail-card"><p><b>&lt;i&gt;1&lt;/i&gt;</b> · para</p>')
    assert ui.grid_rows()[1][0] == "<i>1</i>"                          # a button's label is text, not HTML
    ui.row.value = "x&y"
    assert ui.detail.value.startswith('<div class="detail-card"><p><b>x&amp;y</b> · para</p>')


def test_compare_view_escapes_run_names_and_sentences():
    second = PAIRS.assign(prediction=[1, 0, 0])                          # p1 fixed, p2 fixed, p3 unchanged
    ui = browser.ErrorBrowser({"base <1>": PAIRS, "second & co": second})
    ui.compare.value = "second & co"
    view = ui.compare_view.value
    assert view.startswith("<b>2</b> para examples where <i>second &amp; co</i> differs from "
                           "<i>base &lt;1&gt;</i>: {'fixed': 2}<table")
    assert "<td>How do I show a &lt;div&gt; when a link is clicked?</td>" in view
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in view
    _no_raw_data(view)


def test_members_view_escapes_member_names(isolated):
    from quarbert_lib.study import results
    folders = {}
    for name, frame in (("<b>bold</b> member", PAIRS), ("Tom &amp; Jerry", PAIRS.assign(prediction=[1, 1, 0]))):
        folders[name] = results.run_path("smoke", "07_quartet_ensemble", f"member{len(folders)}")
        folders[name].mkdir(parents=True)
        frame.to_csv(folders[name] / "predictions-dev.csv", index=False)
    ensemble_dir = results.run_path("smoke", "07_quartet_ensemble", "ensemble-seed0")
    ensemble_dir.mkdir(parents=True)
    PAIRS.to_csv(ensemble_dir / "predictions-dev.csv", index=False)
    results.write_members(ensemble_dir, folders)
    ui = browser.ErrorBrowser({"ensemble": ensemble_dir / "predictions-dev.csv"})
    assert ui.row.value == "p1"
    view = ui.members_view.value
    assert "<td>&lt;b&gt;bold&lt;/b&gt; member</td>" in view and "<td>Tom &amp;amp; Jerry</td>" in view
    _no_raw_data(view)


def test_status_line_escapes_the_export_path(tmp_path):
    ui = browser.ErrorBrowser({"run": PAIRS})
    target = tmp_path / "a<b>&c.csv"
    ui.export(str(target))
    assert ui.status.value == f"exported 3 rows to {tmp_path}/a&lt;b&gt;&amp;c.csv"

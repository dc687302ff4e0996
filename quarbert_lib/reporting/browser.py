"""Error analysis over saved predictions: ``error_table()`` and the paper's section 6 summaries.

Everything here is a pure function of a predictions DataFrame (a run's or an ensemble's
``predictions-dev.csv``) joined with the dev sentences, so it is testable without a UI;
the ipywidgets browser only calls it.

Every string the browser puts into its HTML widgets that comes from data (sentences, ids, labels, run,
member and task names, paths) is HTML-escaped: a Quora question about showing a ``<div>`` must read as
that text, not insert an element.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle
import numpy as np
import pandas as pd

from ..base.paths import reports_dir, runs_dir
from ..base.tasks import TASKS
from ..core.config import DataConfig
from ..core.data import load_task
from ..study.results import RunNotFound, read_json
from ..study.saved_predictions import member_file, saved_dir, sources

SORTS = ("error", "confidence", "gold", "prediction", "id")


def with_sentences(predictions: pd.DataFrame, data: DataConfig | None = None) -> pd.DataFrame:
    """Add sentence1 (and sentence2 for pairs) to predictions, by task and id, from the dev files."""
    parts = []
    for task, frame in predictions.groupby("task", sort=False):
        examples = load_task(task, data or DataConfig(skip_bad_rows=True)).splits["dev"]
        text = pd.DataFrame({"id": [e.id for e in examples], "sentence1": [e.sentence1 for e in examples],
                             "sentence2": [e.sentence2 for e in examples]})
        parts.append(frame.astype({"id": str}).merge(text, on="id", how="left", validate="one_to_one"))
    return pd.concat(parts, ignore_index=True)


def prediction_error(frame: pd.DataFrame, task: str) -> pd.Series:
    """|gold - prediction| in label levels (SST), 0/1 (paraphrase), or score points (STS)."""
    gold, pred = frame["gold"].astype(float), frame["prediction"].astype(float)
    return (gold != pred).astype(float) if TASKS[task].kind == "binary" else (gold - pred).abs()


def error_table(predictions: pd.DataFrame, task: str, gold=None, predicted=None, min_error: float | None = None,
                contains: str | None = None, sort_by: str = "error", ascending: bool = False,
                min_confidence: float | None = None) -> pd.DataFrame:
    """The rows of one task, with ``error`` and ``confidence`` columns, filtered and sorted.

    gold / predicted: keep rows whose gold / predicted label is this value (or in this list);
    min_error: keep rows with error >= it; contains: case-insensitive text in either sentence;
    min_confidence: keep rows the model was at least this sure of (see ``confidence``).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: expected one of {list(TASKS)}")
    if sort_by not in SORTS:
        raise ValueError(f"sort_by {sort_by!r}: expected one of {SORTS}")
    frame = predictions[predictions["task"] == task].copy()
    frame["error"] = prediction_error(frame, task)
    frame["confidence"] = confidence(frame, task)
    if min_confidence is not None:
        frame = frame[frame["confidence"] >= min_confidence]
    for column, wanted in (("gold", gold), ("prediction", predicted)):
        if wanted is not None:
            values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
            frame = frame[frame[column].astype(float).isin([float(v) for v in values])]
    if min_error is not None:
        frame = frame[frame["error"] >= min_error]
    if contains:
        pattern = re.escape(contains)
        hit = pd.Series(False, index=frame.index)
        for column in ("sentence1", "sentence2"):
            if column in frame:
                hit |= frame[column].fillna("").str.contains(pattern, case=False, regex=True)
        frame = frame[hit]
    return frame.sort_values([sort_by, "id"], ascending=[ascending, True], kind="stable").reset_index(drop=True)


def confidence(frame: pd.DataFrame, task: str) -> pd.Series:
    """How sure the model was: the largest class probability (SST, CFIMDB), the distance of the
    paraphrase probability from the 0.5 threshold (Quora), NaN for STS (a score, not a belief)."""
    kind, columns = TASKS[task].kind, [f"prob_{k}" for k in range(TASKS[task].num_labels)]
    if kind == "classify" and set(columns) <= set(frame):
        return frame[columns].astype(float).max(axis=1)
    if kind == "binary" and "prob" in frame:
        return (frame["prob"].astype(float) - 0.5).abs()
    return pd.Series(np.nan, index=frame.index)        # STS, or predictions saved without probabilities


def compare_runs(first: pd.DataFrame, second: pd.DataFrame, task: str, tolerance: float = 0.5) -> pd.DataFrame:
    """The examples of one task where two runs' predictions disagree (for STS: differ by more than
    ``tolerance`` points), with both predictions and errors and a verdict for the second run:
    'fixed' (it is right, the first was wrong), 'broken' (the reverse), 'both wrong', or for STS
    'closer' / 'further' (its absolute error against the first's)."""
    a = first[first["task"] == task].astype({"id": str})
    b = second[second["task"] == task].astype({"id": str})
    keep = [c for c in ("id", "gold", "prediction", "sentence1", "sentence2") if c in a]
    merged = a[keep].merge(b[["id", "prediction"]], on="id", suffixes=("_first", "_second"), validate="one_to_one")
    for side in ("first", "second"):
        merged[f"error_{side}"] = prediction_error(merged.rename(columns={f"prediction_{side}": "prediction"}), task)
    p1, p2 = merged["prediction_first"].astype(float), merged["prediction_second"].astype(float)
    if TASKS[task].kind == "regress":
        merged = merged[(p1 - p2).abs() > tolerance].copy()
        better = merged["error_second"] < merged["error_first"]
        merged["change"] = np.where(better, "closer", "further")
    else:
        merged = merged[p1 != p2].copy()
        right1, right2 = merged["error_first"] == 0, merged["error_second"] == 0
        merged["change"] = np.select([right2 & ~right1, right1 & ~right2], ["fixed", "broken"], "both wrong")
    return merged.sort_values(["change", "id"], kind="stable").reset_index(drop=True)


def change_counts(comparison: pd.DataFrame) -> dict[str, int]:
    """How many examples each verdict of compare_runs holds."""
    return {k: int(v) for k, v in comparison["change"].value_counts().sort_index().items()}


def sst_confusion(frame: pd.DataFrame) -> pd.DataFrame:
    """Gold (rows) by predicted (columns) counts over the SST rows of ``frame``, all five levels."""
    sst = frame[frame["task"] == "sst"]
    labels = range(TASKS["sst"].num_labels)
    return pd.crosstab(sst["gold"].astype(int), sst["prediction"].astype(int)).reindex(
        index=labels, columns=labels, fill_value=0).rename_axis(index="gold", columns="predicted")


def member_predictions(ensemble_dir: Path, task: str, example_id: str) -> pd.DataFrame:
    """What each member of an ensemble predicted for one example: a row per member (from the
    ensemble folder's members.json and each member's predictions-dev.csv), empty when the folder
    is not an ensemble's."""
    index = Path(ensemble_dir) / "members.json"
    if not index.exists():
        return pd.DataFrame(columns=["member", "prediction", "confidence"])
    rows = []
    for member, folder in read_json(index).items():
        frame = pd.read_csv(member_file(folder), dtype={"id": str})
        hit = frame[(frame["task"] == task) & (frame["id"] == str(example_id))]
        if len(hit):
            extra = {"score": float(hit["score"].iloc[0])} if "score" in hit and hit["score"].notna().any() else {}
            rows.append({"member": member, "prediction": hit["prediction"].iloc[0],
                         "confidence": float(confidence(hit, task).iloc[0]), **extra})
    return pd.DataFrame(rows)


def sst_within_one_level(predictions: pd.DataFrame) -> float:
    """Share of SST errors that are off by exactly one sentiment level."""
    errors = error_table(predictions, "sst", min_error=1)
    return float((errors["error"] == 1).mean()) if len(errors) else float("nan")


def sts_worst(predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The k STS pairs with the largest absolute error."""
    return error_table(predictions, "sts").head(k)


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", str(text).lower()))


def lexical_overlap(s1: str, s2: str) -> float:
    """Jaccard overlap of the two sentences' lower-cased word sets."""
    a, b = _tokens(s1), _tokens(s2)
    return len(a & b) / len(a | b) if a | b else 0.0


def quora_errors_by_overlap(predictions: pd.DataFrame, bins=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)) -> pd.DataFrame:
    """Per band of lexical overlap: the pairs, the share that are duplicates (the data's base rate in the band), the
    false-positive rate (among non-duplicates) and the false-negative rate (among duplicates). The base rate moves
    with overlap too, so the error rates alone do not say what the model reads."""
    frame = predictions[predictions["task"] == "para"].copy()
    frame["overlap"] = [lexical_overlap(a, b) for a, b in zip(frame["sentence1"], frame["sentence2"])]
    frame["band"] = pd.cut(frame["overlap"], bins=list(bins), include_lowest=True)
    rows = []
    for band, group in frame.groupby("band", observed=False):
        negatives, positives = group[group["gold"] == 0], group[group["gold"] == 1]
        rows.append({"overlap": str(band), "pairs": len(group),
                     "duplicate_rate": float((group["gold"] == 1).mean()) if len(group) else np.nan,
                     "false_positive_rate": float((negatives["prediction"] == 1).mean()) if len(negatives) else np.nan,
                     "false_negative_rate": float((positives["prediction"] == 0).mean()) if len(positives) else np.nan})
    return pd.DataFrame(rows)


def prediction_sources(profile: str) -> dict[str, Path]:
    """Every run or ensemble of one profile with dev predictions, by 'notebook/run': the registry's, then
    the predictions saved in reports/predictions for the runs the registry does not hold. With neither, a
    RunNotFound that names the notebooks to run."""
    found = sources(profile)
    if not found:
        raise RunNotFound(f"no dev predictions for profile {profile!r} in {runs_dir() / profile} or {saved_dir()}: "
                          f"run notebooks 02-07 first (`make reproduce PROFILE={profile} ONLY=\"02 03 04 05 06 07\"`)")
    return found


def default_source(sources: dict) -> str:
    """The run to open first: the quartet ensemble, else the latest ladder row (notebooks 02-06, sweeps
    aside), else the first source."""
    ladder = sorted((s for s in sources if s[:2] in {"02", "03", "04", "05", "06"} and "/sweep-" not in s), reverse=True)
    preferred = sorted(s for s in sources if s.startswith("07_quartet_ensemble/ensemble")) + ladder
    if not sources:
        raise ValueError("no sources to browse")
    return preferred[0] if preferred else next(iter(sources))


def escape_text(value) -> str:
    """``str(value)`` safe as HTML element text: ``&``, ``<`` and ``>`` escaped, so a sentence holding
    ``<b>`` or ``&amp;`` shows those characters. Quotes stay as they are: the browser puts data only
    into element text, never into an attribute."""
    return html.escape(str(value), quote=False)


def table_html(frame: pd.DataFrame, classes: str, **kwargs) -> str:
    """``frame`` as an HTML table (``DataFrame.to_html`` with ``classes`` and ``kwargs``) whose cells and
    headers are escaped; passing ``escape`` raises a TypeError, so no caller can turn the escaping off."""
    return frame.to_html(classes=classes, escape=True, **kwargs)


# The range of a task kind's confidence (see ``confidence``): the largest of C class probabilities is at least 1/C;
# a paraphrase probability's distance from 0.5 is at most 0.5; STS has none.
CONFIDENCE_RANGE = {"classify": lambda classes: (1.0 / classes, 1.0), "binary": lambda classes: (0.0, 0.5),
                    "regress": lambda classes: (0.0, 1.0)}


def _cell(value) -> str:
    """A table cell's text: a float at three decimals, a whole float as a whole number, NaN and None blank."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3f}"
    return str(value)


def detail_card(r: pd.Series, task: str) -> str:
    """One row as a card: its id and task, gold and predicted label (or score), its error and confidence, the
    probabilities it gave each label, and its sentence or sentences; every value escaped, blanks left out."""
    e, spec = escape_text, TASKS[task]
    facts = [("gold", r.get("gold")), ("predicted", r.get("prediction")), ("error", r.get("error")),
             ("confidence", r.get("confidence") if spec.kind != "regress" else None)]
    probs = [(c.replace("prob_", "p(") + ")" if c.startswith("prob_") else "p(duplicate)" if c == "prob" else c, r[c])
             for c in r.index if (c.startswith("prob") or c == "score") and pd.notna(r[c])]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(_cell(v))}</td></tr>" for k, v in facts + probs if _cell(v) != "")
    sentences = [("sentence 1" if spec.is_pair else "sentence", r.get("sentence1"))] + \
        ([("sentence 2", r.get("sentence2"))] if spec.is_pair else [])
    text = "".join(f"<p><b>{e(k)}</b>: {e(_cell(v))}</p>" for k, v in sentences if _cell(v) != "")
    return (f'<div class="detail-card"><p><b>{e(r["id"])}</b> · {e(task)}</p>'
            f'<table class="detail-table">{rows}</table>{text}</div>')


class ErrorBrowser:
    """An ipywidgets browser over ``error_table``: pick a run, a task, label filters, an error and a
    confidence threshold, a text search and a sort; see the rows, one row's detail (and for an
    ensemble what each member said), the SST confusion matrix of the rows, the examples where
    another run disagrees (``compare_runs``), and export the selection to CSV. Every view is exactly
    the library function of the current settings.

    ``source`` is the run shown first (default: the first). The grid is the most widgets: one per cell, all its
    cells sharing one layout and one style, its buttons another, and a rebuilt grid closes the cells it replaces.
    Every widget is a message from the kernel, and the messages of a burst can be lost (CI's executed notebook 10
    once lacked 12 of its grid's cells, see ``reproduce.missing_widget_models``)."""

    def __init__(self, sources: dict, data: DataConfig | None = None, rows_shown: int = 25,
                 source: str | None = None):
        self._w, self.sources, self.data, self.rows_shown = w, dict(sources), data, rows_shown
        self._cache: dict[str, pd.DataFrame] = {}
        if source is not None and source not in self.sources:
            raise ValueError(f"source {source!r}: not one of the {len(self.sources)} sources given")
        self.source = w.Dropdown(options=list(self.sources), value=source if source is not None else
                                 next(iter(self.sources), None), description="run")
        self.task = w.Dropdown(options=[], description="task")
        self.gold = w.SelectMultiple(options=[], description="gold", rows=5)
        self.predicted = w.SelectMultiple(options=[], description="predicted", rows=5)
        self.min_error = w.FloatSlider(value=0.0, min=0.0, max=5.0, step=0.1, description="min error")
        self.min_confidence = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="min conf.")
        self.compare = w.Dropdown(options=["(none)", *self.sources], value="(none)", description="compare with")
        self.compare_view, self.members_view, self.confusion_view = w.HTML(), w.HTML(), w.HTML()
        self.contains = w.Text(value="", description="contains", continuous_update=False)
        self.sort_by = w.Dropdown(options=list(SORTS), value="error", description="sort by")
        self.table = w.HTML()               # the caption: how many rows of which task
        self.table.add_class("error-caption")
        self.grid = w.GridBox()             # the rows shown: a click on a row's id opens its detail card
        self.grid.add_class("error-grid")
        self._cell_look = {"layout": w.Layout(), "style": HTMLStyle()}                      # shared by every cell
        self._button_look = {"layout": w.Layout(width="auto"), "style": w.ButtonStyle()}   # and by every id button
        self.row = w.Dropdown(options=[], description="detail")
        self.detail = w.HTML()
        self.detail.add_class("error-detail")
        # a relative export path lands in this notebook's reports folder (reports/local/<profile>/ for a person)
        self.export_path = w.Text(value="error_selection.csv", description="export to")
        self.export_button = w.Button(description="Export CSV")
        self.status = w.HTML()
        for control in (self.gold, self.predicted, self.min_error, self.min_confidence, self.contains, self.sort_by,
                        self.compare):
            control.observe(lambda _: self.refresh(), names="value")
        self.task.observe(lambda _: self._task_changed(), names="value")
        self.source.observe(lambda _: self._load_source(), names="value")
        self.row.observe(lambda _: self._show_detail(), names="value")
        self.export_button.on_click(lambda _: self.export())
        self.widget = w.VBox([w.HBox([self.source, self.task, self.sort_by]),
                              w.HBox([self.gold, self.predicted,
                                      w.VBox([self.min_error, self.min_confidence, self.contains, self.compare])]),
                              self.table, self.grid, self.row, self.detail, self.members_view,
                              w.HBox([self.export_path, self.export_button]), self.status,
                              self.confusion_view, self.compare_view])
        self._load_source()

    def predictions(self, name: str | None = None) -> pd.DataFrame:
        """The dev predictions of a source (the selected one by default), with their sentences."""
        name = name or self.source.value
        if name not in self._cache:
            source = self.sources[name]
            frame = source if isinstance(source, pd.DataFrame) else pd.read_csv(source, dtype={"id": str})
            self._cache[name] = frame if "sentence1" in frame else with_sentences(frame, self.data)
        return self._cache[name]

    def _load_source(self) -> None:
        frame = self.predictions()
        tasks = [t for t in TASKS if (frame["task"] == t).any()]
        self._quiet = True
        self.task.options = tasks
        self.task.value = tasks[0] if tasks else None
        self._quiet = False
        self._task_changed()

    def _task_changed(self) -> None:
        """A new task: its label choices, and every filter back to 'all'."""
        if getattr(self, "_quiet", False) or self.task.value is None:
            return
        frame = self.predictions()
        rows = frame[frame["task"] == self.task.value]
        kind = TASKS[self.task.value].kind
        labels = sorted(rows["gold"].dropna().unique().tolist()) if kind != "regress" else []
        low, high = CONFIDENCE_RANGE[kind](TASKS[self.task.value].num_labels)
        self._quiet = True
        self.gold.value, self.predicted.value, self.min_error.value, self.contains.value = (), (), 0.0, ""
        self.gold.options, self.predicted.options = labels, labels
        self.min_error.max = 5.0 if kind == "regress" else float(max(TASKS[self.task.value].num_labels - 1, 1))
        # the slider spans what the task's confidence can be (none for STS: a score is not a belief)
        self.min_confidence.min, self.min_confidence.max = 0.0, 1.0                  # the widest first: always valid
        self.min_confidence.value = low
        self.min_confidence.min, self.min_confidence.max = low, high
        self.min_confidence.disabled = kind == "regress"
        self._quiet = False
        self.refresh()

    def current(self) -> pd.DataFrame:
        """The selection shown: error_table of the current settings."""
        return error_table(self.predictions(), self.task.value, gold=list(self.gold.value) or None,
                           predicted=list(self.predicted.value) or None, min_error=self.min_error.value or None,
                           contains=self.contains.value or None, sort_by=self.sort_by.value,
                           min_confidence=None if self.min_confidence.value <= self.min_confidence.min
                           else self.min_confidence.value)

    def comparison(self) -> pd.DataFrame | None:
        """compare_runs(the selected run's rows as filtered, the 'compare with' run) on the current task, or None."""
        if self.compare.value == "(none)" or self.compare.value == self.source.value:
            return None
        return compare_runs(self.current(), self.predictions(self.compare.value), self.task.value)

    def refresh(self) -> None:
        if getattr(self, "_quiet", False) or self.task.value is None:
            return
        table = self.current()
        task = escape_text(self.task.value)
        self.table.value = f"<b>{len(table)}</b> rows of {task}" + (
            f" (the first {self.rows_shown}; click an id for its detail)" if len(table) > self.rows_shown else
            " (click an id for its detail)" if len(table) else "")
        self._fill_grid(table.head(self.rows_shown))
        self.confusion_view.value = ("" if self.task.value != "sst" or table.empty else
                                     f"<b>SST confusion of these {len(table)} rows</b> (rows gold, columns predicted)"
                                     + table_html(sst_confusion(table.assign(task="sst")), "confusion-table"))
        comparison = self.comparison()
        self.compare_view.value = "" if comparison is None else (
            f"<b>{len(comparison)}</b> {task} examples where <i>{escape_text(self.compare.value)}</i> differs from "
            f"<i>{escape_text(self.source.value)}</i>: {escape_text(change_counts(comparison))}"
            + table_html(comparison[[c for c in comparison if c != "sentence2" or TASKS[self.task.value].is_pair]]
                         .head(self.rows_shown), "compare-table", index=False, float_format="{:.3f}".format))
        ids = list(table["id"].head(self.rows_shown))
        self.row.options = ids
        if ids and self.row.value not in ids:
            self.row.value = ids[0]
        self._show_detail()

    def columns(self) -> list[str]:
        """The current task's columns: confidence where the task has one (not STS), the second sentence for pairs."""
        spec = TASKS[self.task.value]
        return ["id", "gold", "prediction", "error", *(["confidence"] if spec.kind != "regress" else []), "sentence1",
                *(["sentence2"] if spec.is_pair else [])]

    def _fill_grid(self, rows: pd.DataFrame) -> None:
        """One grid row per table row: its id a button that selects it (ui.row, the detail card), then its cells."""
        columns = self.columns()
        widths = {"id": "minmax(12em, max-content)", "sentence1": "minmax(10em, 1fr)", "sentence2": "minmax(10em, 1fr)"}
        self.grid.layout.grid_template_columns = " ".join(widths.get(c, "max-content") for c in columns)
        self.grid.layout.grid_gap = "2px 12px"
        cells = [w.HTML(f"<b>{escape_text(c)}</b>", **self._cell_look) for c in columns]
        self._buttons = {}
        for _, r in rows.iterrows():
            button = w.Button(description=str(r["id"]), tooltip=f"show {r['id']}'s detail", **self._button_look,
                              button_style="info" if r["id"] == self.row.value else "")
            button.add_class("error-row")
            button.on_click(lambda _, rid=r["id"]: setattr(self.row, "value", rid))
            self._buttons[r["id"]] = button
            cells += [button] + [w.HTML(escape_text(_cell(r.get(c))), **self._cell_look) for c in columns[1:]]
        replaced, self.grid.children = self.grid.children, cells
        for cell in replaced:               # their shared layout and style stay open for the next cells
            cell.close()

    def grid_rows(self) -> list[list[str]]:
        """The grid as text, row by row (the header first): what a reader sees."""
        columns = len(self.columns())
        texts = [c.description if isinstance(c, w.Button) else c.value for c in self.grid.children]
        return [texts[i:i + columns] for i in range(0, len(texts), columns)]

    def _show_detail(self) -> None:
        table = self.current() if self.task.value else pd.DataFrame()
        hit = table[table["id"] == self.row.value] if len(table) else table
        if hit.empty:
            self.detail.value = self.members_view.value = ""
            return
        source = self.sources[self.source.value]
        members = member_predictions(Path(source).parent, self.task.value, self.row.value) \
            if isinstance(source, (str, Path)) else pd.DataFrame()
        self.members_view.value = "" if members.empty else (
            "<b>What each member said</b>" + table_html(members, "member-table", index=False,
                                                        float_format="{:.3f}".format))
        for rid, button in getattr(self, "_buttons", {}).items():
            button.button_style = "info" if rid == self.row.value else ""
        self.detail.value = detail_card(hit.iloc[0], self.task.value)

    def export(self, path: str | None = None) -> str:
        """Write the current selection to ``path`` (else the export box's); a relative path is taken inside this
        process's reports folder (a notebook's: reports/local/<profile>/), never beside the notebook."""
        target = Path(path or self.export_path.value)
        target = target if target.is_absolute() else reports_dir() / target
        target.parent.mkdir(parents=True, exist_ok=True)
        self.current().to_csv(target, index=False)
        self.status.value = f"exported {len(self.current())} rows to {escape_text(target)}"
        return target

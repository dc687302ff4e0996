"""Error analysis over saved predictions: ``error_table()`` and the paper's section 6 summaries.

Everything here is a pure function of a predictions DataFrame (a run's or an ensemble's
``predictions-dev.csv``) joined with the dev sentences, so it is testable without a UI;
the ipywidgets browser only calls it.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .config import DataConfig
from .data import load_task
from .tasks import TASKS

SORTS = ("error", "gold", "prediction", "id")


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
                contains: str | None = None, sort_by: str = "error", ascending: bool = False) -> pd.DataFrame:
    """The rows of one task, with an ``error`` column, filtered and sorted.

    gold / predicted: keep rows whose gold / predicted label is this value (or in this list);
    min_error: keep rows with error >= it; contains: case-insensitive text in either sentence.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: expected one of {list(TASKS)}")
    if sort_by not in SORTS:
        raise ValueError(f"sort_by {sort_by!r}: expected one of {SORTS}")
    frame = predictions[predictions["task"] == task].copy()
    frame["error"] = prediction_error(frame, task)
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
    """False-positive rate (among non-duplicates) and false-negative rate (among duplicates)
    per band of lexical overlap: does the model lean on shared words?"""
    frame = predictions[predictions["task"] == "para"].copy()
    frame["overlap"] = [lexical_overlap(a, b) for a, b in zip(frame["sentence1"], frame["sentence2"])]
    frame["band"] = pd.cut(frame["overlap"], bins=list(bins), include_lowest=True)
    rows = []
    for band, group in frame.groupby("band", observed=False):
        negatives, positives = group[group["gold"] == 0], group[group["gold"] == 1]
        rows.append({"overlap": str(band), "pairs": len(group),
                     "false_positive_rate": float((negatives["prediction"] == 1).mean()) if len(negatives) else np.nan,
                     "false_negative_rate": float((positives["prediction"] == 0).mean()) if len(positives) else np.nan})
    return pd.DataFrame(rows)


def registry_predictions(profile: str) -> dict[str, "Path"]:
    """Every run or ensemble folder of one profile's registry that holds dev predictions,
    by 'notebook/run'."""
    from .paths import runs_dir
    root = runs_dir() / profile
    found = sorted(root.rglob("predictions-dev.csv")) if root.exists() else []
    return {str(p.parent.relative_to(root)): p for p in found}


class ErrorBrowser:
    """An ipywidgets browser over ``error_table``: pick a run, a task, label filters, an error
    threshold, a text search and a sort; see the rows, one row's detail, and export the
    selection to CSV. Every view is exactly ``error_table(...)`` of the current settings."""

    def __init__(self, sources: dict, data: DataConfig | None = None, rows_shown: int = 25):
        import ipywidgets as w
        self._w, self.sources, self.data, self.rows_shown = w, dict(sources), data, rows_shown
        self._cache: dict[str, pd.DataFrame] = {}
        self.source = w.Dropdown(options=list(self.sources), description="run")
        self.task = w.Dropdown(options=[], description="task")
        self.gold = w.SelectMultiple(options=[], description="gold", rows=5)
        self.predicted = w.SelectMultiple(options=[], description="predicted", rows=5)
        self.min_error = w.FloatSlider(value=0.0, min=0.0, max=5.0, step=0.1, description="min error")
        self.contains = w.Text(value="", description="contains", continuous_update=False)
        self.sort_by = w.Dropdown(options=list(SORTS), value="error", description="sort by")
        self.table = w.HTML()
        self.row = w.Dropdown(options=[], description="detail")
        self.detail = w.HTML()
        self.export_path = w.Text(value="error_selection.csv", description="export to")
        self.export_button = w.Button(description="Export CSV")
        self.status = w.HTML()
        for control in (self.gold, self.predicted, self.min_error, self.contains, self.sort_by):
            control.observe(lambda _: self.refresh(), names="value")
        self.task.observe(lambda _: self._task_changed(), names="value")
        self.source.observe(lambda _: self._load_source(), names="value")
        self.row.observe(lambda _: self._show_detail(), names="value")
        self.export_button.on_click(lambda _: self.export())
        self.widget = w.VBox([w.HBox([self.source, self.task, self.sort_by]),
                              w.HBox([self.gold, self.predicted, w.VBox([self.min_error, self.contains])]),
                              self.table, self.row, self.detail,
                              w.HBox([self.export_path, self.export_button]), self.status])
        self._load_source()

    def predictions(self) -> pd.DataFrame:
        name = self.source.value
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
        self._quiet = True
        self.gold.value, self.predicted.value, self.min_error.value = (), (), 0.0
        self.gold.options, self.predicted.options = labels, labels
        self.min_error.max = 5.0 if kind == "regress" else float(max(TASKS[self.task.value].num_labels - 1, 1))
        self._quiet = False
        self.refresh()

    def current(self) -> pd.DataFrame:
        """The selection shown: error_table of the current settings."""
        return error_table(self.predictions(), self.task.value, gold=list(self.gold.value) or None,
                           predicted=list(self.predicted.value) or None, min_error=self.min_error.value or None,
                           contains=self.contains.value or None, sort_by=self.sort_by.value)

    def refresh(self) -> None:
        if getattr(self, "_quiet", False) or self.task.value is None:
            return
        table = self.current()
        columns = [c for c in ("id", "gold", "prediction", "error", "sentence1", "sentence2") if c in table]
        self.table.value = (f"<b>{len(table)}</b> rows of {self.task.value}"
                            + table[columns].head(self.rows_shown).to_html(index=False, classes="error-table"))
        ids = list(table["id"].head(self.rows_shown))
        self.row.options = ids
        if ids and self.row.value not in ids:
            self.row.value = ids[0]
        self._show_detail()

    def _show_detail(self) -> None:
        table = self.current() if self.task.value else pd.DataFrame()
        hit = table[table["id"] == self.row.value] if len(table) else table
        if hit.empty:
            self.detail.value = ""
            return
        r = hit.iloc[0]
        probs = {c: round(float(r[c]), 3) for c in r.index if c.startswith("prob") or c == "score"}
        self.detail.value = (f"<p><b>{r['id']}</b> gold {r['gold']} · predicted {r['prediction']} · {probs}</p>"
                             f"<p>1: {r.get('sentence1', '')}</p>"
                             + (f"<p>2: {r['sentence2']}</p>" if pd.notna(r.get("sentence2")) else ""))

    def export(self, path: str | None = None) -> str:
        target = path or self.export_path.value
        self.current().to_csv(target, index=False)
        self.status.value = f"exported {len(self.current())} rows to {target}"
        return target

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

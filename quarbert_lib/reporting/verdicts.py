"""The study's verdict policy, stated once: what a step's effect is, how sure we are, and the word for it.

For a step ``before -> after`` (two ablation rows, each a mean and std over its seeds) and a metric:

- **effect**: the difference of the seed means, after - before, with its 95% Welch interval
  (t distribution, Welch-Satterthwaite degrees of freedom);
- **difference test**: Welch's two-sided t-test of effect = 0 (p raw);
- **equivalence test**: two one-sided Welch tests (TOST, Schuirmann 1987; Lakens 2017, "Equivalence Tests")
  of effect <= -margin and effect >= +margin; p is the larger of the two;
- **correction**: Holm's step-down adjustment (Holm 1979) over every test of the same kind in one table
  (all steps x all metrics), adjusted and raw p both reported;
- **verdict**: ``helps`` / ``hurts`` when the adjusted difference p < alpha and equivalence is not shown
  (TOST adjusted p >= alpha); ``equivalent`` when the adjusted TOST p < alpha (the whole effect lies inside
  +-margin, whatever the difference test says); ``inconclusive`` otherwise. "Inconclusive" never means
  "no effect": the interval says how large an effect the data still allow.

Margins (the smallest effect of interest, chosen before looking at the effects): about one standard error
of the metric on its own dev set, the size below which a difference is not a property of the method that
another dev sample of the same size would show. SST-5 accuracy on 1,101 sentences at ~0.43: SE 0.015;
QQP accuracy on 4,019 pairs at ~0.80: SE 0.006, rounded up to 0.01 (a point of accuracy); STS Pearson r on
863 pairs at ~0.83: SE (1 - r^2) / sqrt(n - 1) = 0.011; the course's overall score averages the three
(r mapped to (r + 1) / 2), so 0.01 there.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..base.tasks import STUDY_TASKS, TASKS

ALPHA = 0.05
def margins() -> dict[str, float]:
    """The smallest effect of interest of each column: the overall score's, then each study task's own
    (tasks.TaskSpec.margin: SST 0.015, QQP 0.01, STS 0.01, derived above)."""
    return {"overall": OVERALL_MARGIN, **{TASKS[t].table_column: TASKS[t].margin for t in STUDY_TASKS}}


OVERALL_MARGIN = 0.01
VERDICTS = ("helps", "hurts", "equivalent", "inconclusive")
COLUMNS = ["step", "metric", "effect", "ci_low", "ci_high", "p", "p_equivalence", "margin", "seeds_before",
           "seeds_after", "paper_effect", "p_holm", "p_equivalence_holm", "verdict"]


def welch(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int) -> tuple[float, float, float]:
    """(mean_b - mean_a, its standard error, Welch-Satterthwaite degrees of freedom) from two samples' means,
    sample standard deviations (ddof 1) and sizes (each >= 2)."""
    va, vb = std_a ** 2 / n_a, std_b ** 2 / n_b
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1)) if va + vb > 0 else float(n_a + n_b - 2)
    return mean_b - mean_a, se, df


def step_test(before: dict, after: dict, column: str, margin: float | None = None, alpha: float = ALPHA) -> dict:
    """One step's effect on ``column`` from two ablation rows (``column``, ``column_std``, ``seeds``): effect,
    its (1 - alpha) interval, Welch's p, the TOST p for +-``margin`` (default margins()[column]), seeds a side.
    With fewer than 2 seeds a side only the effect is known: interval and p are NaN."""
    margin = margins()[column] if margin is None else margin
    n_a, n_b = int(before["seeds"]), int(after["seeds"])
    effect = float(after[column] - before[column])
    out = {"metric": column, "effect": effect, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
           "p_equivalence": np.nan, "margin": margin, "seeds_before": n_a, "seeds_after": n_b}
    if n_a < 2 or n_b < 2:
        return out
    diff, se, df = welch(before[column], before[f"{column}_std"], n_a, after[column], after[f"{column}_std"], n_b)
    if se == 0:
        return out
    half = stats.t.ppf(1 - alpha / 2, df) * se
    lower = stats.t.sf((diff + margin) / se, df)          # H0: effect <= -margin
    upper = stats.t.cdf((diff - margin) / se, df)         # H0: effect >= +margin
    out.update(ci_low=diff - half, ci_high=diff + half, p=float(2 * stats.t.sf(abs(diff) / se, df)),
               p_equivalence=float(max(lower, upper)))
    return out


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stay NaN and do not count as tests): the k-th smallest of m
    p-values becomes max over j <= k of min(1, (m - j + 1) p_(j))."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def verdict(effect: float, p_holm: float, p_equivalence_holm: float, alpha: float = ALPHA) -> str:
    """The word for one corrected test pair (see the module docstring)."""
    if not np.isnan(p_equivalence_holm) and p_equivalence_holm < alpha:
        return "equivalent"
    if not np.isnan(p_holm) and p_holm < alpha:
        return "helps" if effect > 0 else "hurts"
    return "inconclusive"


def verdict_table(ablation: pd.DataFrame, steps: list[tuple[str, str]], columns: tuple[str, ...] | None = None,
                  paper: dict | None = None, alpha: float = ALPHA, margin_of: dict[str, float] | None = None
                  ) -> pd.DataFrame:
    """One row per step and metric of the steps whose two rows ``ablation`` holds: effect, interval, raw and
    Holm-adjusted p of both tests (Holm over the whole table), margin, verdict and, where ``paper`` (the
    paper's dev table, {variant: {column: value}}) has both rows, the paper's effect for the same step.
    ``margin_of``: the margin of columns margins() does not know (a train-dev gap: its score's margin)."""
    columns = tuple(margins()) if columns is None else columns
    rows = {r["variant"]: r for _, r in ablation.iterrows()}
    out = []
    for before, after in steps:
        if before not in rows or after not in rows:
            continue
        for column in columns:
            test = step_test(rows[before], rows[after], column, (margin_of or {}).get(column), alpha=alpha)
            theirs = np.nan
            if paper and before in paper and after in paper and not pd.isna(paper[before].get(column)) \
                    and not pd.isna(paper[after].get(column)):
                theirs = paper[after][column] - paper[before][column]
            out.append({"step": f"{before} -> {after}", **test, "paper_effect": theirs})
    if not out:
        return pd.DataFrame(columns=COLUMNS)          # no step has both rows: the same columns, no row
    table = pd.DataFrame(out)
    table["p_holm"] = holm(table["p"])
    table["p_equivalence_holm"] = holm(table["p_equivalence"])
    table["verdict"] = [verdict(e, p, q, alpha) for e, p, q in
                        zip(table["effect"], table["p_holm"], table["p_equivalence_holm"])]
    return table


def verdict_counts(table: pd.DataFrame, metric: str | None = "overall") -> dict[str, int]:
    """How many tests (of one metric, or all) end in each verdict."""
    rows = table if metric is None else table[table["metric"] == metric]
    return {v: int((rows["verdict"] == v).sum()) for v in VERDICTS}

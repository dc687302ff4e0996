"""The study's one pre-registered analysis, stated once: what a comparison's effect is, how sure we are, and the
word for it. The questions and their families are declared in study.spec (QUESTIONS, FAMILIES) before any number.

For a question ``before -> after`` (two ablation rows) and a metric:

- **pairs**: the seeds both rows hold (every row trains seed s with the same heads' initialisation and data order,
  so the seed is a block);
- **effect**: the mean over those seeds of (after - before), i.e. the difference of the two rows' seed means on
  the common seeds;
- **interval**: the paired t interval of that mean at level 1 - alpha / m, where m is the number of tests its
  family declares (spec.family_size): Bonferroni's correction, so the interval is adjusted exactly as the verdict
  is, and a reader can read the verdict off the interval;
- **p**: the paired t-test of effect = 0, raw and Bonferroni-adjusted (min(1, m p));
- **verdict**: ``equivalent`` when the adjusted interval lies inside +-margin (two one-sided tests at alpha / 2m
  each, Schuirmann 1987); else ``helps`` / ``hurts`` when it lies above / below zero; else ``inconclusive``,
  which never means "no effect": the interval says how large an effect the data still allow. Fewer than two
  pairs, or pairs whose differences are all equal (no spread to estimate), give no interval: inconclusive.

These four words come from this analysis only; other tables of the study (a notebook's own effects, a sweep, the
regime's gaps) say what their intervals show in other words.

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

from ..base.errors import UserError
from ..base.tasks import STUDY_TASKS, TASKS
from ..study.spec import QUESTIONS, Question, family_metrics, family_size
from ..study.tables import epoch_rows

ALPHA = 0.05
def margins() -> dict[str, float]:
    """The smallest effect of interest of each column: the overall score's, then each study task's own
    (tasks.TaskSpec.margin: SST 0.015, QQP 0.01, STS 0.01, derived above)."""
    return {"overall": OVERALL_MARGIN, **{TASKS[t].table_column: TASKS[t].margin for t in STUDY_TASKS}}


OVERALL_MARGIN = 0.01
VERDICTS = ("helps", "hurts", "equivalent", "inconclusive")
COLUMNS = ["step", "metric", "effect", "ci_low", "ci_high", "p", "p_equivalence", "margin", "seeds_before",
           "seeds_after", "paper_effect", "p_holm", "p_equivalence_holm", "reading"]


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
    # Welch: the difference's standard error and Welch-Satterthwaite degrees of freedom from the sample stds (ddof 1)
    va, vb = before[f"{column}_std"] ** 2 / n_a, after[f"{column}_std"] ** 2 / n_b
    diff, se = effect, math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1)) if va + vb > 0 else float(n_a + n_b - 2)
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


def reading(effect: float, p_holm: float, p_equivalence_holm: float, alpha: float = ALPHA) -> str:
    """What one Holm-corrected Welch test pair of a comparison's own table shows, in words that are not the
    analysis's verdicts: 'inside the margin', 'above zero', 'below zero' or 'undecided'."""
    if not np.isnan(p_equivalence_holm) and p_equivalence_holm < alpha:
        return "inside the margin"
    if not np.isnan(p_holm) and p_holm < alpha:
        return "above zero" if effect > 0 else "below zero"
    return "undecided"


def comparison_table(ablation: pd.DataFrame, steps: list[tuple[str, str]], columns: tuple[str, ...] | None = None,
                  paper: dict | None = None, alpha: float = ALPHA, margin_of: dict[str, float] | None = None
                  ) -> pd.DataFrame:
    """A comparison's own table, outside the pre-registered analysis (a sweep's points, the regime's gaps): one
    row per step and metric of the steps whose two rows ``ablation`` holds (mean, std and seeds of each): Welch's
    effect, 95% interval, raw and Holm-adjusted p of the difference and equivalence tests (Holm over this table),
    margin, its ``reading`` (not a verdict) and, where ``paper`` (the
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
    table["reading"] = [reading(e, p, q, alpha) for e, p, q in
                        zip(table["effect"], table["p_holm"], table["p_equivalence_holm"])]
    return table


ANALYSIS_COLUMNS = ["family", "step", "label", "metric", "effect", "ci_low", "ci_high", "level", "p", "p_adjusted",
                    "margin", "pairs", "tests", "paper_effect", "verdict"]


def word(ci_low: float, ci_high: float, margin: float) -> str:
    """The verdict read off an adjusted interval (module docstring): equivalent, helps, hurts or inconclusive."""
    if np.isnan(ci_low) or np.isnan(ci_high):
        return "inconclusive"
    if -margin < ci_low and ci_high < margin:
        return "equivalent"
    return "helps" if ci_low > 0 else "hurts" if ci_high < 0 else "inconclusive"


def paired_test(before: pd.Series, after: pd.Series, margin: float, tests: int, alpha: float = ALPHA) -> dict:
    """One question on one metric: ``before`` and ``after`` are per-seed values indexed by seed; ``tests`` the
    family's declared size m. Effect, its 1 - alpha/m paired t interval, raw and adjusted p, and the word."""
    common = sorted(set(before.dropna().index) & set(after.dropna().index))
    diffs = after[common].to_numpy(float) - before[common].to_numpy(float)
    level = 1 - alpha / tests
    out = {"effect": float(diffs.mean()) if len(diffs) else np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "level": level, "p": np.nan, "p_adjusted": np.nan, "margin": margin, "pairs": len(diffs), "tests": tests}
    if len(diffs) >= 2 and np.ptp(diffs) > 0:
        result = stats.ttest_1samp(diffs, 0.0)
        ci = result.confidence_interval(level)
        out.update(ci_low=float(ci.low), ci_high=float(ci.high), p=float(result.pvalue),
                   p_adjusted=float(min(1.0, tests * result.pvalue)))
    out["verdict"] = word(out["ci_low"], out["ci_high"], margin)
    return out


class MissingScore(UserError, ValueError):
    """A seed of a compared row has no score where its other seeds have one."""


def _scores_of(by_row: dict[str, pd.DataFrame], row: str, metric: str) -> pd.Series:
    """One row's per-seed values of ``metric``. A row that does not measure the metric at all (every seed NaN: a
    specialist's other tasks) has none, and its tests are inconclusive; a NaN beside finite seeds is a score that
    went missing (a run without a finite score is never complete), so it stops the analysis: dropping that seed
    would change the pairs, and so the verdict, without a word. A collapsed, constant output is no NaN: its Pearson r
    is 0.0 in the tables and here alike (evaluate.task_metric)."""
    values = by_row[row][metric]
    missing = values.index[values.isna()]
    if len(missing) and len(missing) < len(values):
        raise MissingScore(f"seed scores: {row!r} seed {missing[0]} has no {metric} (NaN) while its other seeds "
                           f"do: its run has no finite score, so no test pairs it; retrain that run (force=True)")
    return values


def analyse(scores: pd.DataFrame, questions: tuple[Question, ...] = QUESTIONS, paper: dict | None = None,
            alpha: float = ALPHA) -> pd.DataFrame:
    """The pre-registered analysis of ``questions`` (default: the study's) on per-seed ``scores`` (columns variant,
    seed and the metrics: study.tables.seed_scores): one row per question and metric of its family, in declared
    order, whether or not its rows have scores yet (then no interval, inconclusive). ``paper``: the paper's dev
    table ({row: {column: value}}), for the paper's effect on the same step where it states both rows."""
    by_row = {v: g.set_index("seed") for v, g in scores.groupby("variant")}
    empty = pd.Series(dtype=float)
    out = []
    for q in questions:
        for metric in family_metrics(q.family):
            a, b = (_scores_of(by_row, r, metric) if r in by_row else empty for r in (q.before, q.after))
            theirs = np.nan
            if paper and q.paper and all(r in paper and not pd.isna(paper[r].get(metric)) for r in (q.before, q.after)):
                theirs = paper[q.after][metric] - paper[q.before][metric]
            out.append({"family": q.family, "step": q.step, "label": q.label, "metric": metric,
                        **paired_test(a, b, margins()[metric], family_size(q.family), alpha), "paper_effect": theirs})
    return pd.DataFrame(out, columns=ANALYSIS_COLUMNS)


# -- notebook 12's regime: each recipe against plain on dev and on the train-dev gap (a comparison of its own) --

REGIME_BASE = "plain"
# Beside each recipe against plain: what MBPP adds to SMART at the same strength.
REGIME_STEPS = (("advreg-lambda5", "smart"),)


def regime_verdicts(curves: pd.DataFrame) -> pd.DataFrame:
    """Each recipe against plain at the last epoch, on the dev overall score and its train-dev gap: one Holm family
    (verdicts.comparison_table, apart from the pre-registered analysis; the gap's margin is the overall score's)."""
    last = epoch_rows(curves.drop(columns=["profile", "encoder"], errors="ignore"))
    steps = [(REGIME_BASE, r) for r in last["variant"] if r != REGIME_BASE] + list(REGIME_STEPS)
    return comparison_table(last, steps, columns=("overall", "gap_overall"), margin_of={"gap_overall": OVERALL_MARGIN})


def regime_opening(curves: pd.DataFrame) -> str:
    """Whether plain's runs overfit, from the seed means per epoch: 'overfits' when the overall train-dev gap
    widens by more than the overall margin from the first epoch to the last and dev ends more than the margin
    below its peak; 'gap only' when the gap widens but dev is still within the margin of its peak (the model
    fits its training data faster than dev improves, without losing dev yet); 'no gap' otherwise; '' without
    plain's probe scores."""
    plain = curves[curves["variant"] == REGIME_BASE].groupby("epoch")[["overall", "gap_overall"]].mean()
    if plain.empty or plain["gap_overall"].isna().all():
        return ""
    first, end, peak = plain.index.min(), plain.index.max(), plain["overall"].idxmax()
    if plain.loc[end, "gap_overall"] <= plain.loc[first, "gap_overall"] + OVERALL_MARGIN:
        return "no gap"
    return "overfits" if plain.loc[peak, "overall"] - plain.loc[end, "overall"] > OVERALL_MARGIN else "gap only"

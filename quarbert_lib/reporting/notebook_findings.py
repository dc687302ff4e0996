"""Each numbered notebook's closing "What this shows" section, built from its saved tables.

``notebook_findings(notebook, profile, encoder, analysis)`` returns Markdown: for every declared question the
notebook answers (spec.questions_of), the study's verdict from the one pre-registered analysis (``analysis``: a
verdicts.analyse table; default, the saved verdicts of reports/tables/seed_scores.csv), its effect and adjusted
interval on the overall score and each task, and the paper's effect for the same step; a step that does not help
names its reason only where the study measured one, and says "open" where it did not. results.md gathers the same
sections (``all_sections``), so the notebook and the report can never disagree.
"""
from __future__ import annotations

import math

import pandas as pd

from ..base.tasks import STUDY_TASKS, TASKS
from ..core import evaluate
from ..core.config import profile_config
from ..study import tables
from ..study.results import read_table, run_stem
from ..study.spec import QUESTIONS, TARGET_OVERALL, TITLES, family_metrics, questions_of
from . import findings, report, verdicts

def _short(metric: str) -> str:
    """A table column's short name ('SST', 'QQP', ...; 'overall')."""
    return next((TASKS[t].short for t in TASKS if TASKS[t].table_column == metric), metric)


def _test(analysis: pd.DataFrame, before: str, after: str, metric: str) -> pd.Series | None:
    rows = analysis[(analysis["step"] == f"{before} -> {after}") & (analysis["metric"] == metric)]
    return rows.iloc[0] if len(rows) else None


def _said(r: pd.Series) -> str:
    """'+0.004 [-0.010, +0.018], **inconclusive**' for one row of the analysis ('not trained yet' without pairs)."""
    if pd.isna(r["effect"]):
        return "not trained yet"
    interval = "" if pd.isna(r["ci_low"]) else f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
    return f"{r['effect']:+.3f}{interval}, **{r['verdict']}**"


def _imbalance_reason(analysis: pd.DataFrame, profile: str, encoder: str) -> str:
    """The natural-size control's verdict and the sizes it trained on: what the study measured about sampling."""
    control = _test(analysis, "baseline-finetune-natural", "sampling-natural", "overall")
    if control is None or pd.isna(control["effect"]):
        return "open: the control at the tasks' natural sizes has no row yet"
    sizes = read_table("train_examples.csv", profile, encoder)
    seen = ""
    if sizes is not None and len(sizes):
        sizes = sizes.assign(row=sizes["run"].map(run_stem))
        natural = sizes[sizes["row"] == "baseline-finetune-natural"].drop_duplicates("task")
        by_task = dict(zip(natural["task"], natural["train_examples"]))
        seen = (" (" + ", ".join(f"{TASKS[t].short or t} {n:,}" for t, n in by_task.items())
                + f" training examples: the largest task {max(by_task.values()) / min(by_task.values()):.1f}x the "
                "smallest)") if by_task else ""
    return f"the same comparison at the tasks' natural sizes{seen}: overall {_said(control)}"


def measured_reason(before: str, after: str, analysis: pd.DataFrame, profile: str, encoder: str) -> str | None:
    """What the study measured beside a step that does not help (a control's verdict, a strength), else None."""
    if (before, after) == ("baseline-finetune", "sampling"):
        return _imbalance_reason(analysis, profile, encoder)
    if (before, after) == ("sampling", "advreg-literal"):
        strength = read_table("smart_strength.csv", profile, encoder)
        literal = None if strength is None else strength[strength["setting"] == "advreg-literal"]
        if literal is not None and len(literal):
            return (f"the literal term's gradient is {literal['grad_ratio'].min():.0e} to "
                    f"{literal['grad_ratio'].max():.0e} of the task loss's on each task's first batch (notebook 04, "
                    "smart_strength.csv)")
    if (before, after) == ("smart", "smart-cosine"):
        control = _test(analysis, "smart-cosine", "smart-cosine-linear", "sts_pearson")
        if control is not None and not pd.isna(control["effect"]):
            return (f"the control with the whole 0-5 range, `smart-cosine-linear`, against `smart-cosine`: STS "
                    f"{_said(control)}")
    return None


def step_lines(questions, analysis: pd.DataFrame, profile: str, encoder: str) -> list[str]:
    """One bullet per declared question: the overall verdict, then each task's, then the paper's effect, then, for
    a step that does not help, the measured reason or "open"."""
    out = []
    for q in questions:
        if q.family == "paper-tasks":
            continue                    # shown inside the paper family's line
        rows = analysis[analysis["step"] == q.step].set_index("metric")
        if "overall" not in rows.index:
            continue
        overall = rows.loc["overall"]
        line = (f"- `{q.before}` → `{q.after}` ({q.label}; family `{q.family}`, {int(overall['tests'])} tests): "
                f"overall {_said(overall)}")
        tasks = [m for m in family_metrics("paper-tasks") if m in rows.index]
        line += "\n  - by task" + ("" if q.family == "project" else " (family `paper-tasks`)") + ": " + "; ".join(
            f"{_short(m)} {_said(rows.loc[m])}" for m in tasks) + "."
        if q.paper:
            line += "\n  - the paper's effect on the same step: " + ", ".join(
                f"{_short(m)} {rows.loc[m, 'paper_effect']:+.3f}" for m in ("overall", *tasks)
                if not pd.isna(rows.loc[m, "paper_effect"])) + "."
        if overall["verdict"] != "helps" and not pd.isna(overall["effect"]):
            reason = measured_reason(q.before, q.after, analysis, profile, encoder)
            line += f"\n  - measured beside it: {reason}." if reason else "\n  - why: open (not measured here)."
        out.append(line)
    return out


def _single_task(profile: str, encoder: str) -> list[str]:
    table = tables.single_task_rows(profile, encoder)
    out = []
    for task, df in table.groupby("task", sort=False):
        modes = df.set_index("mode")
        if {"pretrain", "finetune"} <= set(modes.index):
            a, b = modes.loc["pretrain"], modes.loc["finetune"]
            seeds = int(min(a["seeds"], b["seeds"]))
            word = "one seed only" if seeds < 2 else f"{seeds} seeds a side"
            out.append(f"- {task.upper()}: fine-tuning the encoder moves dev accuracy from {a['dev_acc']:.3f} (frozen, "
                       f"{int(a['params_trainable']):,} trainable parameters) to {b['dev_acc']:.3f} "
                       f"({int(b['params_trainable']):,}), {b['dev_acc'] - a['dev_acc']:+.3f}; {word}.")
    if out:
        out.append("- The paper reports no single-task row; its frozen-vs-fine-tuned comparison is the multitask "
                   "baseline of notebook 02.")
    return out


def _sampling_extras(profile: str, encoder: str) -> list[str]:
    words = read_table("word_embeddings.csv", profile, encoder)
    if words is None or len(words) < 2:
        return []
    frozen, trainable = (words[words["word_embeddings"] == k].iloc[0] for k in ("frozen", "trainable"))
    return [f"- Freezing the word-embedding table: overall {frozen['overall']:.3f} frozen against "
            f"{trainable['overall']:.3f} trainable ({frozen['overall'] - trainable['overall']:+.3f}, one seed), "
            f"{frozen['train_seconds']:.0f} s against {trainable['train_seconds']:.0f} s of training."]


def _simcse_dose(profile: str, encoder: str) -> list[str]:
    dose = read_table("simcse_dose.csv", profile, encoder)
    if dose is None or dose.empty:
        return []
    share = dose["share_of_one_pass"]
    return [f"- The SimCSE stage's dose: {int(dose['steps'].iloc[0])} steps of {int(dose['batch'].iloc[0])} sentences "
            f"against {int(dose['sentences'].iloc[0]):,} distinct training sentences, {share.min():.0%}"
            + ("" if share.min() == share.max() else f" to {share.max():.0%}") + " of one pass. Whether a longer stage "
            "changes the step is open: no run here trains one."]


def _cosine_extras() -> list[str]:
    low, high = (5 / (1 + math.exp(-c)) for c in (-1.0, 1.0))
    return [f"- Range of the paper's STS map 5·σ(cos): [{low:.2f}, {high:.2f}] on the 0-5 scale, so no pair can be "
            "predicted below or above it; `cosine-linear` (2.5 · (cos + 1)) reaches the whole scale."]


# Each notebook's row against the encoder's prior: the metric to set beside it (a measurement, not a reason).
PRIOR_QUESTIONS = {
    "02_multitask_baseline": ("overall", "baseline-finetune"),
    "05_cosine_sts": ("sts_pearson", "smart-cosine"),
    "06_simcse": ("sts_pearson", "smart-simcse"),
    "07_quartet_ensemble": ("overall", "ensemble-smart-simcse"),
}


def prior_lines(notebook: str, profile: str, encoder: str) -> list[str]:
    """The encoder's prior (encoder_prior.csv: `python -m quarbert_lib prior`) beside the row this notebook adds."""
    table = read_table("encoder_prior.csv", profile, encoder)
    if table is None or notebook not in PRIOR_QUESTIONS:
        return []
    values = dict(zip(table["metric"], table["value"]))
    metric, variant = PRIOR_QUESTIONS[notebook]
    rows = tables.ablation_rows(profile, encoder).set_index("variant")
    if metric not in values or variant not in rows.index:
        return []
    label = {"overall": "overall", "sts_pearson": "STS r"}[metric]
    line = f"- **The encoder's prior.** With no weight trained, the frozen encoder scores {label} {values[metric]:.3f}"
    if metric == "overall":
        line += (f" (STS r {values['sts_pearson']:.3f} from the cosine alone, QQP {values['qqp_acc']:.3f} from a cosine "
                 f"threshold, SST {values['sst_acc']:.3f} from a linear probe)")
    ours = rows.loc[variant, metric]
    gap = ours - values[metric]
    below = ", below what the untrained encoder already scores" if gap < 0 else ""
    return [line + f"; `{variant}` scores {ours:.3f} ({gap:+.3f} against it{below})."]


def _ensemble(profile: str, encoder: str) -> list[str]:
    out = []
    subsets = read_table("ensemble_subsets.csv", profile, encoder)
    if subsets is not None and len(subsets):
        full = subsets[subsets["size"] == 4]
        three = subsets[subsets["size"] == 3].dropna(subset=["overall"])
        singles = subsets[subsets["size"] == 1]["members"].tolist()
        if len(full) and len(three) and singles:
            plain = full.iloc[0]
            worst = three.loc[three["overall"].idxmin()]
            left_out = [m for m in singles if m not in worst["members"].split(" + ")]
            out.append(f"- Members (first seed's `{subsets['recipe'].iloc[0]}` quartet): all four give overall "
                       f"{plain['overall']:.3f}; the three-member subsets give {three['overall'].min():.3f} to "
                       f"{three['overall'].max():.3f}, the lowest without {' and '.join(f'`{m}`' for m in left_out)}.")
    return out


def _member_errors(profile: str, encoder: str) -> list[str]:
    errors = read_table("quartet_errors.csv", profile, encoder)
    if errors is None or errors.empty:
        return []
    mean = errors.groupby("task", sort=False)[["error_correlation", "both_wrong_share"]].mean()
    parts = [f"{_short(TASKS[t].table_column) if t in TASKS else t} r {r.error_correlation:.2f}"
             + ("" if pd.isna(r.both_wrong_share) else f" (both wrong on {r.both_wrong_share:.0%} of what either gets wrong)")
             for t, r in mean.iterrows()]
    return [f"- The `{errors['recipe'].iloc[0]}` quartet's two members per task, mean over {errors['seed'].nunique()} "
            "seeds: their errors correlate " + "; ".join(parts) + " (quartet_errors.csv)."]


def _lora(profile: str, encoder: str) -> list[str]:
    out = []
    checks = read_table("lora_checks.csv", profile, encoder)
    if checks is not None and len(checks):
        out.append(f"- Reloaded adapters reproduce the training runs' predictions to within "
                   f"{checks['max_abs_diff'].max():.1e} (largest difference over {len(checks)} checks).")
    return out


def _errors(profile: str, encoder: str) -> list[str]:
    out = []
    summary = read_table("error_summary.csv", profile, encoder)
    if summary is not None and len(summary):
        r = summary.iloc[0]
        out.append(f"- Of the SST errors of `{r['source']}`, {r['sst_errors_within_one_level']:.0%} are off by one "
                   "sentiment level.")
    overlap = read_table("quora_overlap_errors.csv", profile, encoder)
    if overlap is not None and len(overlap) >= 2:
        first, last = overlap.iloc[0], overlap.iloc[-1]
        out.append(f"- Quora errors by word overlap: {first['false_positive_rate']:.0%} of non-duplicates "
                   f"are called duplicates at overlap {first['overlap']} against {last['false_positive_rate']:.0%} at "
                   f"{last['overlap']}; false negatives go from {first['false_negative_rate']:.0%} to "
                   f"{last['false_negative_rate']:.0%}"
                   + (f"; the share of duplicates itself goes from {first['duplicate_rate']:.0%} to "
                      f"{last['duplicate_rate']:.0%} across the same bins, so overlap and the base rate move together "
                      "and the table does not separate what the model reads from what the data hold"
                      if "duplicate_rate" in overlap else "") + ".")
    classes = read_table("sst_per_class.csv")
    if classes is not None and len(classes) == 5:
        by = classes.set_index("class")
        worst = by["f1"].idxmin()
        out.append(f"- SST class by class (`{classes['source'].iloc[0]}`): the neutral class (2) gets "
                   f"{int(by.loc[2, 'correct'])} of {int(by.loc[2, 'support'])} sentences right (recall "
                   f"{by.loc[2, 'recall']:.0%}, F1 {by.loc[2, 'f1']:.2f}); F1 per class "
                   + ", ".join(f"{k}: {v:.2f}" for k, v in by["f1"].items())
                   + f" (macro {by['f1'].mean():.2f}); the weakest is class {worst}.")
    table = read_table("reliability.csv")
    if table is not None and len(table):
        errors = evaluate.calibration_errors(table)
        parts = []
        for task, rows in errors.groupby("task", sort=False):
            ece = dict(zip(rows["stage"], rows["ece"]))
            parts.append(f"{ {'sst': 'SST', 'para': 'QQP'}.get(task, task)} "
                         + " → ".join(f"{e:.3f} ({stage})" for stage, e in ece.items()))
        out.append(f"- Expected calibration error (10 bins, top-label confidence) of `{table['source'].iloc[0]}`: "
                   + "; ".join(parts) + ".")
    return out


REGIME_BASE = "plain"
# Beside each recipe against plain: what MBPP adds to SMART at the same strength.
REGIME_STEPS = (("advreg-lambda5", "smart"),)
# A step's verdict on the train-dev gap, where a smaller gap is what a regulariser is for.
GAP_WORDS = {"above zero": "widens the gap", "below zero": "narrows the gap",
             "inside the margin": "leaves the gap within the margin", "undecided": "undecided on the gap"}


def regime_verdicts(curves: pd.DataFrame) -> pd.DataFrame:
    """Each recipe against plain at the last epoch, on the dev overall score and its train-dev gap: one Holm family
    (verdicts.comparison_table, apart from the pre-registered analysis; the gap's margin is the overall score's)."""
    last = tables.epoch_rows(curves)
    steps = [(REGIME_BASE, r) for r in last["variant"] if r != REGIME_BASE] + list(REGIME_STEPS)
    return verdicts.comparison_table(last, steps, columns=("overall", "gap_overall"),
                                  margin_of={"gap_overall": verdicts.OVERALL_MARGIN})


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
    if plain.loc[end, "gap_overall"] <= plain.loc[first, "gap_overall"] + verdicts.OVERALL_MARGIN:
        return "no gap"
    return "overfits" if plain.loc[peak, "overall"] - plain.loc[end, "overall"] > verdicts.OVERALL_MARGIN else "gap only"


def _regime(profile: str, encoder: str) -> list[str]:
    curves = read_table("regime_curves.csv", profile, encoder)
    if curves is None or curves.empty:
        return []
    curves = curves.drop(columns=["profile", "encoder"], errors="ignore")
    out = []
    plain = curves[curves["variant"] == REGIME_BASE].groupby("epoch").mean(numeric_only=True)
    opening = regime_opening(curves)
    if len(plain) and not opening:
        out.append("- The train-dev gap is not measured: these runs scored no training probe (train.eval_train_examples).")
    elif len(plain):
        first, end, peak = plain.index.min(), plain.index.max(), plain["overall"].idxmax()
        head = {"overfits": "Plain overfits here: its train-dev gap opens and its dev score falls from its peak",
                "gap only": "Plain's train-dev gap opens, but its dev score has not fallen beyond the margin from its "
                            "peak: the model fits its training examples faster than dev improves, it does not lose dev",
                "no gap": "Plain's train-dev gap does not open beyond the margin"}[opening]
        per_task = ", ".join(f"{TASKS[t].label} {plain.loc[end, f'gap_{TASKS[t].table_column}']:+.3f}"
                             for t in STUDY_TASKS)
        out.append(f"- {head}. On the overall score the gap is {plain.loc[first, 'gap_overall']:+.3f} after epoch "
                   f"{first} and {plain.loc[end, 'gap_overall']:+.3f} after epoch {end} (train "
                   f"{plain.loc[end, 'train_overall']:.3f}, dev {plain.loc[end, 'overall']:.3f}; per task {per_task}, "
                   f"each in its metric's units); dev peaks at epoch {peak} ({plain.loc[peak, 'overall']:.3f}). "
                   "Mean over seeds.")
    table = regime_verdicts(curves)
    last = tables.epoch_rows(curves).set_index("variant")
    ci = lambda r: "" if pd.isna(r.ci_low) else f" (95% CI [{r.ci_low:+.3f}, {r.ci_high:+.3f}])"  # noqa: E731
    tests = int(table["p"].notna().sum()) if len(table) else 0
    narrows, fits_less = [], []
    for step, rows in table.groupby("step", sort=False):
        dev, gap = (rows[rows["metric"] == m].iloc[0] for m in ("overall", "gap_overall"))
        before, after = step.split(" -> ")
        against = "plain" if before == REGIME_BASE else f"`{before}`"
        holm = (f"Welch, Holm over this notebook's {tests} tests, apart from the study's analysis" if tests else
                "one seed a side: no test")
        # a gap moves by the training score's change minus the dev score's: a smaller gap from a lower training
        # score and a lower dev score is fitting less, not generalising better
        train_change = last.loc[after, "train_overall"] - last.loc[before, "train_overall"]
        out.append(f"- `{after}` against {against} at the last epoch: dev overall {dev.effect:+.3f}"
                   f"{ci(dev)}, {dev.reading}; gap {gap.effect:+.3f}{ci(gap)}, {GAP_WORDS[gap.reading]} (train "
                   f"{train_change:+.3f} minus dev {dev.effect:+.3f}; {holm}; {int(dev.seeds_before)} / "
                   f"{int(dev.seeds_after)} seeds).")
        if before == REGIME_BASE and gap.reading == "below zero" and dev.reading == "below zero":
            fits_less.append(after)
        elif before == REGIME_BASE and gap.reading == "below zero":
            # most of the narrowing from a lower training score, dev not shown to rise: say where the gap went
            mostly = dev.reading != "above zero" and train_change < 0 and train_change / gap.effect > 0.5
            narrows.append(f"`{after}`" + (f" (mostly by fitting its training examples less: train {train_change:+.3f} "
                                           f"of the gap's {gap.effect:+.3f}; dev {dev.reading})" if mostly else ""))
    if len(table):
        names = lambda rs: ", ".join(f"`{r}`" for r in rs)  # noqa: E731
        line = (f"Shown to narrow the gap here: {', '.join(narrows)}." if narrows else
                "No regulariser is shown to narrow the gap without costing dev here; an undecided test is not "
                "\"no effect\": its interval says what the data still allow.")
        if fits_less:
            line += f" {names(fits_less)} narrow{'s' if len(fits_less) == 1 else ''} it by fitting less: dev falls too."
        out.append("- " + line)
    # what early stopping would keep: the saved weights (metrics.json) are each run's best epoch, not its last
    best = curves.groupby(["variant", "seed"], sort=False)["overall"].max().groupby(level=0, sort=False).mean()
    if len(best):
        out.append("- With early stopping (each run's best epoch on dev, as its saved weights and metrics.json are; "
                   "mean over seeds, no test, optimistic alike for every recipe): "
                   + ", ".join(f"`{v}` {x:.3f}" for v, x in best.items()) + ".")
    return out


def _budget(profile: str, encoder: str) -> list[str]:
    budget = read_table("quality_per_minute.csv", profile, encoder)
    if budget is None or budget.empty:
        return []
    best = budget.loc[budget["overall"].idxmax()]
    out = [f"- Best point: `{best['recipe']}`, cap {best['cap']}, epoch {int(best['epoch'])}: overall "
           f"{best['overall']:.3f} after {best['train_minutes']:.1f} training minutes (one seed), "
           + _against_target(best["overall"])]
    rows = tables.ablation_rows(profile, encoder)
    ladder = rows[~rows["variant"].str.startswith("ensemble")]
    if len(ladder):
        top, study_top = ladder.loc[ladder["overall"].idxmax()], rows.loc[rows["overall"].idxmax()]
        beside = ("" if study_top["variant"] == top["variant"] else
                  f" (the study's best row, the quartet `{study_top['variant']}`, {study_top['overall']:.3f}: four models)")
        out.append(f"- The best single-model row, `{top['variant']}`, scores {top['overall']:.3f} after "
                   f"{top['train_seconds'] / 60:.1f} training minutes{beside}: "
                   + ("more data and time beat every row of the study." if best["overall"] > study_top["overall"] else
                      "the study's best row is at least as good as longer training here."))
        out += smart_recipe_lines(budget, ladder)
    return out


def smart_recipe_lines(budget: pd.DataFrame, ladder: pd.DataFrame) -> list[str]:
    """Does SMART pay for its cost at the longest budget? Each `<recipe>-smart` against `<recipe>` at the same
    epoch, and against the best the plain recipe reached in no more training minutes (one seed each: the
    seed spread of the ladder's `smart` row is the yardstick for noise)."""
    out = []
    spread = ladder.loc[ladder["variant"] == "smart", "overall_std"]
    noise = float(spread.iloc[0]) if len(spread) and pd.notna(spread.iloc[0]) else float("nan")
    for recipe in budget["recipe"].unique():
        base = recipe.removesuffix("-smart")
        if base == recipe or base not in set(budget["recipe"]):
            continue
        plain = budget[budget["recipe"] == base]
        for point in budget[budget["recipe"] == recipe].sort_values("epoch").itertuples():
            same = plain[(plain["epoch"] == point.epoch) & (plain["cap"].astype(str) == str(point.cap))]
            if same.empty:
                continue
            twin = same.iloc[0]
            delta = point.overall - twin["overall"]
            per_task = ", ".join(f"{TASKS[t].short} {getattr(point, TASKS[t].table_column) - twin[TASKS[t].table_column]:+.3f}"
                                 for t in STUDY_TASKS)
            verdict = ("within the seed spread of the `smart` row" if abs(delta) <= 2 * noise else
                       "beyond twice the seed spread of the `smart` row") if noise == noise else "one seed"
            in_time = plain[plain["train_minutes"] <= point.train_minutes]["overall"].max()
            if pd.isna(in_time):
                cost = "The plain recipe has no point that fast to set it against."
            else:
                # one seed a point: "pays" needs a gain beyond the seed spread; anything less is not shown
                pays = "pays for its cost" if point.overall > in_time + (noise if noise == noise else 0) else \
                    "is not shown to pay for its cost (one seed a point)"
                cost = (f"In the same {point.train_minutes:.0f} minutes the plain recipe reaches {in_time:.3f}: "
                        f"SMART {pays} here.")
            out.append(f"- `{recipe}` against `{base}`, epoch {point.epoch}: overall {point.overall:.3f} against "
                       f"{twin['overall']:.3f} ({delta:+.3f}: {per_task}; one seed each, {verdict}), after "
                       f"{point.train_minutes:.1f} against {twin['train_minutes']:.1f} training minutes "
                       f"({point.train_minutes / twin['train_minutes']:.1f}x). {cost}")
        best = budget[budget["recipe"] == recipe]["overall"].max()
        out.append(f"- `{recipe}` at its best: overall {best:.3f}, " + _against_target(best))
    return out


def _against_target(overall: float) -> str:
    """'which meets the project's 0.76 target.' or 'N short of the project's 0.76 target.' (spec.TARGET_OVERALL)."""
    target = f"the project's {TARGET_OVERALL:g} target."
    return f"which meets {target}" if overall >= TARGET_OVERALL else f"{TARGET_OVERALL - overall:.3f} short of {target}"


def notebook_findings(notebook: str, profile: str = "cpu", encoder: str = "minilm-l6",
                      analysis: pd.DataFrame | None = None) -> str:
    """The notebook's "What this shows" section as Markdown. ``analysis``: the pre-registered analysis to state
    (a notebook passes report.notebook_verdicts, computed from the registry); default, the saved one
    (report.study_verdicts, from seed_scores.csv): both give the same words."""
    if analysis is None:      # a notebook without declared questions reads no other notebook's analysis
        analysis = (report.study_verdicts(profile, encoder) if questions_of(notebook) or notebook == "09_results" else
                    verdicts.analyse(pd.DataFrame(columns=["variant", "seed", *verdicts.margins()]), ()))
    lines: list[str] = step_lines(questions_of(notebook), analysis, profile, encoder)
    if notebook == "01_single_task_sentiment":
        lines += _single_task(profile, encoder)
    elif notebook == "04_smart_mbpp":
        lines += [smart_section(profile, encoder, analysis)]
    elif notebook == "07_quartet_ensemble":
        lines += _ensemble(profile, encoder) + _member_errors(profile, encoder)
    elif notebook == "08_lora":
        lines += _lora(profile, encoder)
    elif notebook == "09_results":
        lines += step_lines(QUESTIONS, analysis, profile, encoder)
    elif notebook == "10_error_analysis":
        lines += _errors(profile, encoder)
    elif notebook == "11_quality_per_cpu_minute":
        lines += _budget(profile, encoder)
    elif notebook == "12_overfitting_regime":
        lines += _regime(profile, encoder)
    if notebook == "03_task_sampling":
        lines += _sampling_extras(profile, encoder)
    if notebook == "05_cosine_sts":
        lines += _cosine_extras()
    if notebook == "06_simcse":
        lines += _simcse_dose(profile, encoder)
    lines += prior_lines(notebook, profile, encoder)
    return "\n".join(lines) if lines else "_No saved results for this notebook yet: run it first._"


def smart_section(profile: str, encoder: str, analysis: pd.DataFrame) -> str:
    """Notebook 04's findings (findings.smart_findings) from its saved tables."""
    saved = {n: read_table(f"{n}.csv", profile, encoder) for n in ("smart_strength", "lambda_sweep", "radius_sweep",
                                                                   "smart_dropout", "lr_dropout")}
    if any(t is None for t in saved.values()):
        return "_Notebook 04's tables are not all saved yet._"
    grid = saved["lr_dropout"]
    no_smart = grid[(grid["lr"] == profile_config(profile).train.lr) & (grid["dropout"] == 0.1)]
    return findings.smart_findings(saved["smart_strength"], tables.ablation_rows(profile, encoder), analysis,
                                   saved["lambda_sweep"], saved["radius_sweep"], saved["smart_dropout"], no_smart,
                                   lambda_seeds=read_table("lambda_seeds.csv", profile, encoder))


def all_sections(notebooks: list[str], profile: str = "cpu", encoder: str = "minilm-l6") -> list[str]:
    """results.md's "What each notebook shows": one subsection per notebook (09's, the whole analysis, is above)."""
    md = []
    analysis = report.study_verdicts(profile, encoder)
    for nb in (n for n in notebooks if n != "09_results"):
        md += [f"### {nb[:2]} · {TITLES.get(nb, nb)}", "", notebook_findings(nb, profile, encoder, analysis), ""]
    return md

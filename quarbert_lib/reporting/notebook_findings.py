"""Each numbered notebook's closing "What this shows" section, built from its saved tables.

``notebook_findings(notebook, profile, encoder)`` returns Markdown: for every ladder step the notebook
adds, the difference of the seed means with its interval and the study's verdict (``verdicts``), the
bootstrap verdict on seed 0's predictions where significance.csv has it, and the paper's delta for the
same step. A step that does not help (hurts, equivalent or inconclusive) names its reason where the study measured one,
and says "not explained here" where it did not. results.md gathers the same sections
(``all_sections``), so the notebook and the report can never disagree.
"""
from __future__ import annotations

import math

import pandas as pd

from ..base.tasks import STUDY_TASKS, TASKS
from ..core import evaluate
from ..core.config import profile_config
from ..study import tables
from ..study.results import read_table, run_stem
from ..study.spec import BY_NAME, CHEAP_SEEDS, STEPS, TARGET_OVERALL, TITLES
from . import findings, report, verdicts

# Why a step can come out null or negative, where the study measured the reason (the notebook named), or the
# honest "open" sentence where the control that would tell is not run yet.
KNOWN_REASONS = {
    ("sampling", "advreg-literal"): "the paper's literal SMART is inert by construction at ε = 1e-5 (notebook 04 "
                                    "measures its gradient against the task loss's in smart_strength.csv, not saved "
                                    "here)",
    ("sampling", "advreg-only"): "at the ladder's short budget SMART's term is mostly a dropout-consistency "
                                 "penalty (notebook 04's radius-0 control), which holds learning back at the "
                                 "paper's λ_s = 5; at λ_s = 0.5 no cost is detected either (notebook 04, "
                                 "lambda_seeds.csv; inconclusive, not no effect)",
    ("baseline-finetune-natural", "sampling-natural"): "a control, not a step of the ladder: the line above at the "
                                                       "tasks' natural sizes, where there is an imbalance to fix",
    ("smart-cosine", "smart-cosine-linear"): "a control, not a step of the ladder: it tests whether the 5·σ map's "
                                             "range is why the cosine head does not help (the line above)",
}


def _test(family: pd.DataFrame, before: str, after: str, metric: str) -> pd.Series | None:
    rows = family[(family["step"] == f"{before} -> {after}") & (family["metric"] == metric)]
    return rows.iloc[0] if len(rows) else None


def _prior_value(profile: str, encoder: str, metric: str) -> float | None:
    table = read_table("encoder_prior.csv", profile, encoder)
    if table is None:
        return None
    values = dict(zip(table["metric"], table["value"]))
    return values.get(metric)


def _mbpp_reason(profile: str, encoder: str) -> str:
    """Why MBPP may not help at the ladder's budget: what it adds to SMART in notebook 12's longer regime."""
    curves = read_table("regime_curves.csv", profile, encoder)
    open_reason = ("open: MBPP holds the model near its recent past, a regulariser against overfitting, and one epoch "
                   "on 2,400 examples per task does not overfit (notebook 11's plain recipe still climbs for two "
                   "full-data epochs); the control in a regime built to overfit (notebook 12) has no result yet")
    if curves is None or curves.empty:
        return open_reason
    table = regime_verdicts(curves.drop(columns=["profile", "encoder"], errors="ignore"))
    rows = table[table["step"] == " -> ".join(REGIME_STEPS[0])]
    if rows.empty:
        return open_reason
    dev, gap = (rows[rows["metric"] == m].iloc[0] for m in ("overall", "gap_overall"))
    ci = lambda r: "" if pd.isna(r.ci_low) else f" (95% CI [{r.ci_low:+.3f}, {r.ci_high:+.3f}])"  # noqa: E731
    where = {"overfits": " (where plain overfits)", "gap only": " (where plain's train-dev gap opens)",
             "no gap": " (where plain's train-dev gap does not open)"}.get(regime_opening(curves), "")
    tests = int(table["p"].notna().sum())
    return (f"in notebook 12's regime built to overfit{where}, MBPP on top of SMART moves the last epoch's dev overall "
            f"by {dev.effect:+.3f}{ci(dev)}, {dev.verdict}, and the train-dev gap by {gap.effect:+.3f}{ci(gap)}, "
            f"{GAP_WORDS[gap.verdict]} (Holm over notebook 12's {tests} tests, apart from the study's)")


def _imbalance_reason(family: pd.DataFrame, profile: str, encoder: str) -> str:
    """Why sampling may not help at equal caps: the natural-size control's overall test and the sizes it trained on."""
    control = _test(family, "baseline-finetune-natural", "sampling-natural", "overall")
    if control is None:
        return ("open: batch-level sampling fixes task imbalance, and the ladder caps every task at the same number "
                "of examples, so there is no imbalance for it to fix; the control at the tasks' natural sizes has no "
                "row yet")
    sizes = read_table("train_examples.csv", profile, encoder)
    seen = ""
    if sizes is not None and len(sizes):
        sizes = sizes.assign(row=sizes["run"].map(run_stem))
        natural = sizes[sizes["row"] == "baseline-finetune-natural"].drop_duplicates("task")
        by_task = dict(zip(natural["task"], natural["train_examples"]))
        steps = {v: sizes[sizes["row"] == v]["steps"].iloc[0] for v in ("baseline-finetune-natural", "sampling-natural")
                 if (sizes["row"] == v).any()}
        seen = (" (" + ", ".join(f"{TASKS[t].short or t} {n:,}" for t, n in by_task.items())
                + f" training examples: the largest task {max(by_task.values()) / min(by_task.values()):.1f}x the "
                "smallest" + (f"; sequential training takes {steps['baseline-finetune-natural']:,} steps, sampling "
                              f"{steps['sampling-natural']:,}" if len(steps) == 2 else "") + ")") if by_task else ""
    said = {"helps": "the control at natural sizes shows sampling helping", "hurts": "the control at natural sizes "
            "shows sampling hurting", "equivalent": "the control at natural sizes shows no difference beyond the margin",
            "inconclusive": "the control at natural sizes does not settle it either"}[control["verdict"]]
    capped = _test(family, "baseline-finetune", "sampling", "overall")
    beside = ("" if capped is None else f"; at equal caps the same comparison is {capped['effect']:+.3f} (95% CI "
              f"[{capped['ci_low']:+.3f}, {capped['ci_high']:+.3f}]), so whether the imbalance or the sequential order "
              "(each task's examples in one stretch, the last task's last) is what sampling fixes is not separated")
    return (f"{said}{seen}: sampling against sequential training moves overall by {control['effect']:+.3f} (95% CI "
            f"[{control['ci_low']:+.3f}, {control['ci_high']:+.3f}], {control['verdict']}){beside}")


def measured_reason(before: str, after: str, family: pd.DataFrame, profile: str, encoder: str) -> str | None:
    """The reason a null step has in this study's own tables (a control row, the encoder's prior), else None."""
    sts_prior = _prior_value(profile, encoder, "sts_pearson")
    prior = "" if sts_prior is None else (f"the frozen encoder's cosine alone scores STS r {sts_prior:.3f} (its prior, "
                                          "below), so a head that reads the same geometry has little to add")
    if (before, after) == ("baseline-finetune", "sampling"):
        return _imbalance_reason(family, profile, encoder)
    if (before, after) == ("sampling", "advreg-literal"):
        strength = read_table("smart_strength.csv", profile, encoder)
        literal = None if strength is None else strength[strength["setting"] == "advreg-literal"]
        if literal is not None and len(literal):
            return (f"the paper's literal SMART is inert: its gradient is {literal['grad_ratio'].min():.0e} to "
                    f"{literal['grad_ratio'].max():.0e} of the task loss's on each task's first batch (notebook 04, "
                    "smart_strength.csv), so it trains as `sampling` does")
    if (before, after) == ("advreg-only", "smart"):
        return _mbpp_reason(profile, encoder)
    if (before, after) == ("smart", "smart-cosine"):
        control = _test(family, "smart-cosine", "smart-cosine-linear", "sts_pearson")
        if control is None:
            return ("untested: the paper's map 5·σ(cos) stops short of the 0-5 scale (range below), but Pearson r is "
                    "unchanged by an affine map, and the control `smart-cosine-linear` has no row yet"
                    + (f"; {prior}" if prior else ""))
        said = {"helps": "the map's range is a reason", "equivalent": "not the map's range",
                "hurts": "not the map's range", "inconclusive": "the map's range is not settled"}[control["verdict"]]
        return (f"{said}: the whole 0-5 range (`smart-cosine-linear`) moves STS r by {control['effect']:+.3f} "
                f"(95% CI [{control['ci_low']:+.3f}, {control['ci_high']:+.3f}], {control['verdict']})"
                + (f"; {prior}" if prior else ""))
    if (before, after) == ("smart-cosine", "smart-simcse") and sts_prior is not None:
        return (f"SimCSE's contrastive objective is the one the encoder was trained with, on about a billion pairs "
                f"against this stage's 100 steps; its cosine already scores STS r {sts_prior:.3f} (the prior, below)")
    return None


def _bootstrap_words(significance: pd.DataFrame | None, before: str, after: str) -> str:
    """'Paired bootstrap over dev examples (3/3 seeds; margins ±...): SST +0.010 inconclusive, ...' from
    significance.csv, or ''."""
    if significance is None or significance.empty or "verdict" not in significance:
        return ""
    rows = significance[significance["step"] == f"{before} -> {after}"]
    if rows.empty:
        return ""
    parts = [f"{TASKS[r.task].short if r.task in TASKS else r.task} {r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] {r.verdict}"
             for r in rows.itertuples()]
    return (f"Paired bootstrap over dev examples ({rows['bootstrap_seeds'].iloc[0]} seeds, each interval judged "
            "against its task's margin): " + ", ".join(parts) + ".")


def step_lines(steps: list[tuple[str, str]], profile: str, encoder: str, bootstrap: bool = False) -> list[str]:
    """The ladder lines of these steps, each with its verdict and, when null, its reason. ``bootstrap``: add the
    paired bootstrap of significance.csv, which the batch collects in notebook 09, after the notebooks that train
    the rows (so only notebook 09, and results.md, state it: a notebook before 09 would show the last batch's)."""
    ablation = tables.ablation_rows(profile, encoder)
    rows = {r["variant"]: r for _, r in ablation.iterrows()}
    significance = read_table("significance.csv", profile, encoder) if bootstrap else None
    family = report.study_verdicts(ablation)
    out = []
    for before, after in steps:
        if before not in rows or after not in rows:
            missing = [v for v in (before, after) if v not in rows]
            out.append(f"- `{before}` → `{after}`: no row yet for {', '.join(f'`{m}`' for m in missing)}.")
            continue
        line = findings.ladder_findings(ablation, [(before, after)], family=family)
        test = family[(family["step"] == f"{before} -> {after}") & (family["metric"] == "overall")]
        boot = _bootstrap_words(significance, before, after)
        if boot:
            line += "\n  - " + boot
        null = test.empty or test["verdict"].iloc[0] != "helps"     # hurts, equivalent or inconclusive: why?
        if null and not test.empty and test["verdict"].iloc[0] == "inconclusive" \
                and test["effect"].iloc[0] > test["margin"].iloc[0]:
            seeds = (int(test["seeds_before"].iloc[0]), int(test["seeds_after"].iloc[0]))
            # five seeds a side is the most the study trains a row (spec.CHEAP_SEEDS): say so, not "more seeds"
            more = ("more seeds would tell" if min(seeds) < CHEAP_SEEDS else
                    f"{CHEAP_SEEDS} seeds a side is the most this study trains a row, so it stays open"
                    + ("" if bootstrap else " here (notebook 09 adds the paired bootstrap over dev examples)"))
            line += (f"\n  - the effect is beyond the margin (±{test['margin'].iloc[0]:g}) but, corrected for the study's "
                     f"{len(family)} tests, {seeds[0]} against {seeds[1]} seeds cannot separate it from seed noise: "
                     f"{more}.")
            reason = measured_reason(before, after, family, profile, encoder)
            line += f"\n  - beside it: {reason}." if reason else ""
        elif null:
            reason = measured_reason(before, after, family, profile, encoder) or KNOWN_REASONS.get((before, after))
            line += (f"\n  - why: {reason}." if reason else "\n  - why the step does not help here is open: this study "
                     "has no measurement of it.")
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


def _cosine_extras() -> list[str]:
    low, high = (5 / (1 + math.exp(-c)) for c in (-1.0, 1.0))
    return [f"- Range of the paper's STS map 5·σ(cos): [{low:.2f}, {high:.2f}] on the 0-5 scale, so no pair can be "
            "predicted below or above it; `cosine-linear` (2.5 · (cos + 1)) reaches the whole scale."]


# Each notebook's row against the encoder's prior: the metric the step would have to move beyond it, and why
# the prior matters for that step.
PRIOR_QUESTIONS = {
    "02_multitask_baseline": ("overall", "baseline-finetune", "fine-tuning all three tasks together starts from it"),
    "05_cosine_sts": ("sts_pearson", "smart-cosine", "a cosine STS head reads the very geometry the encoder was "
                      "trained for, so it has little to add"),
    "06_simcse": ("sts_pearson", "smart-simcse", "SimCSE's contrastive objective is the one the encoder was already "
                  "trained with, on about a billion pairs against this stage's 100 steps"),
    "07_quartet_ensemble": ("overall", "ensemble", "every member starts from the same prior, so their errors agree "
                            "where it is wrong and averaging cannot undo them"),
}


def prior_lines(notebook: str, profile: str, encoder: str) -> list[str]:
    """The encoder's prior (encoder_prior.csv: `python -m quarbert_lib prior`) beside the row this notebook adds."""
    table = read_table("encoder_prior.csv", profile, encoder)
    if table is None or notebook not in PRIOR_QUESTIONS:
        return []
    values = dict(zip(table["metric"], table["value"]))
    metric, variant, why = PRIOR_QUESTIONS[notebook]
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
    return [line + f"; `{variant}` scores {ours:.3f} ({gap:+.3f} against it{below}): {why}."]


def _ensemble(profile: str, encoder: str) -> list[str]:
    rows = tables.ablation_rows(profile, encoder)
    out = []
    if "ensemble" in set(rows["variant"]):
        try:
            best = tables.best_variant(profile, encoder)
        except FileNotFoundError:
            best = None
        if best:
            out += step_lines([(best, "ensemble")], profile, encoder)
    subsets = read_table("ensemble_subsets.csv", profile, encoder)
    if subsets is not None and len(subsets):
        full = subsets[subsets["size"] == 4]
        three = subsets[subsets["size"] == 3].dropna(subset=["overall"])
        singles = subsets[subsets["size"] == 1]["members"].tolist()
        if len(full) and len(three) and singles:
            plain = full.iloc[0]
            worst = three.loc[three["overall"].idxmin()]
            left_out = [m for m in singles if m not in worst["members"].split(" + ")]
            out.append(f"- Members (first seed's quartet): all four give overall {plain['overall']:.3f}; the three-member "
                       f"subsets give {three['overall'].min():.3f} to {three['overall'].max():.3f}, the lowest without "
                       f"{' and '.join(f'`{m}`' for m in left_out)}: that member matters most.")
    return out


def _lora(profile: str, encoder: str) -> list[str]:
    out = step_lines(list(BY_NAME["08_lora"].steps), profile, encoder)
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
                   "sentiment level: most mistakes are between neighbouring classes, not opposite ones.")
    overlap = read_table("quora_overlap_errors.csv", profile, encoder)
    if overlap is not None and len(overlap) >= 2:
        first, last = overlap.iloc[0], overlap.iloc[-1]
        out.append(f"- Quora false positives grow with word overlap: {first['false_positive_rate']:.0%} of non-duplicates "
                   f"are called duplicates at overlap {first['overlap']} against {last['false_positive_rate']:.0%} at "
                   f"{last['overlap']}; false negatives move the other way ({first['false_negative_rate']:.0%} to "
                   f"{last['false_negative_rate']:.0%}). The encoder judges pairs largely by shared words.")
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
GAP_WORDS = {"helps": "widens the gap", "hurts": "narrows the gap", "equivalent": "leaves the gap within the margin",
             "inconclusive": "inconclusive on the gap"}


def regime_verdicts(curves: pd.DataFrame) -> pd.DataFrame:
    """Each recipe against plain at the last epoch, on the dev overall score and its train-dev gap: one Holm family
    (verdicts.verdict_table; the gap's margin is the overall score's)."""
    last = tables.epoch_rows(curves)
    steps = [(REGIME_BASE, r) for r in last["variant"] if r != REGIME_BASE] + list(REGIME_STEPS)
    return verdicts.verdict_table(last, steps, columns=("overall", "gap_overall"),
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
        holm = f"Holm over this notebook's {tests} tests" if tests else "one seed a side: no test"
        # a gap moves by the training score's change minus the dev score's: a smaller gap from a lower training
        # score and a lower dev score is fitting less, not generalising better
        train_change = last.loc[after, "train_overall"] - last.loc[before, "train_overall"]
        out.append(f"- `{after}` against {against} at the last epoch: dev overall {dev.effect:+.3f}"
                   f"{ci(dev)}, {dev.verdict}; gap {gap.effect:+.3f}{ci(gap)}, {GAP_WORDS[gap.verdict]} (train "
                   f"{train_change:+.3f} minus dev {dev.effect:+.3f}; {holm}; {int(dev.seeds_before)} / "
                   f"{int(dev.seeds_after)} seeds).")
        if before == REGIME_BASE and gap.verdict == "hurts" and dev.verdict == "hurts":
            fits_less.append(after)
        elif before == REGIME_BASE and gap.verdict == "hurts":
            # most of the narrowing from a lower training score, dev not shown to rise: say where the gap went
            mostly = dev.verdict != "helps" and train_change < 0 and train_change / gap.effect > 0.5
            narrows.append(f"`{after}`" + (f" (mostly by fitting its training examples less: train {train_change:+.3f} "
                                           f"of the gap's {gap.effect:+.3f}; dev {dev.verdict})" if mostly else ""))
    if len(table):
        names = lambda rs: ", ".join(f"`{r}`" for r in rs)  # noqa: E731
        line = (f"Shown to narrow the gap here: {', '.join(narrows)}." if narrows else
                "No regulariser is shown to narrow the gap without costing dev here; an inconclusive test is not "
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


def notebook_findings(notebook: str, profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The notebook's "What this shows" section as Markdown ('' lines are left out)."""
    lines: list[str] = []
    if notebook == "01_single_task_sentiment":
        lines = _single_task(profile, encoder)
    elif notebook == "04_smart_mbpp":
        lines = [smart_section(profile, encoder)]
    elif notebook == "07_quartet_ensemble":
        lines = _ensemble(profile, encoder)
    elif notebook == "08_lora":
        lines = _lora(profile, encoder)
    elif notebook == "09_results":
        lines = step_lines([*STEPS, *BY_NAME["08_lora"].steps], profile, encoder, bootstrap=True)
    elif notebook == "10_error_analysis":
        lines = _errors(profile, encoder)
    elif notebook == "11_quality_per_cpu_minute":
        lines = _budget(profile, encoder)
    elif notebook == "12_overfitting_regime":
        lines = _regime(profile, encoder)
    steps = BY_NAME[notebook].steps if notebook in BY_NAME else ()
    if steps and notebook not in ("04_smart_mbpp", "08_lora"):     # those two state their steps in their own sections
        lines = step_lines(list(steps), profile, encoder) + lines
    if notebook == "03_task_sampling":
        lines += _sampling_extras(profile, encoder)
    if notebook == "05_cosine_sts":
        lines += _cosine_extras()
    lines += prior_lines(notebook, profile, encoder)
    return "\n".join(lines) if lines else "_No saved results for this notebook yet: run it first._"


def smart_section(profile: str, encoder: str) -> str:
    """Notebook 04's findings (findings.smart_findings) from its saved tables."""
    saved = {n: read_table(f"{n}.csv", profile, encoder) for n in ("smart_strength", "lambda_sweep", "radius_sweep",
                                                                   "smart_dropout", "lr_dropout")}
    if any(t is None for t in saved.values()):
        return "_Notebook 04's tables are not all saved yet._"
    grid = saved["lr_dropout"]
    no_smart = grid[(grid["lr"] == profile_config(profile).train.lr) & (grid["dropout"] == 0.1)]
    return findings.smart_findings(saved["smart_strength"], tables.ablation_rows(profile, encoder),
                                   saved["lambda_sweep"], saved["radius_sweep"], saved["smart_dropout"], no_smart,
                                   lambda_seeds=read_table("lambda_seeds.csv", profile, encoder))


def all_sections(notebooks: list[str], profile: str = "cpu", encoder: str = "minilm-l6") -> list[str]:
    """results.md's "What each notebook shows": one subsection per notebook."""
    md = []
    for nb in notebooks:
        md += [f"### {nb[:2]} · {TITLES.get(nb, nb)}", "", notebook_findings(nb, profile, encoder), ""]
    return md

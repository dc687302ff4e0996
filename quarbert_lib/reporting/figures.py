"""`make figures`: rebuild every figure, reports/results.md and the README's results table
from saved results (reports/tables/*.csv and the registry's predictions), without training.

    python -m quarbert_lib figures [--profile cpu] [--encoder minilm-l6]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from ..base.errors import UserError
from ..base.paths import REPO_ROOT, STUDY_PROFILE, reports_dir, shown, tables_dir, use_profile_reports
from ..base.tasks import study_columns
from ..core.config import PROFILES, profile_config, profile_seeds
from ..study.recipes import PROFILE_NOTEBOOK_PARAMS, variant_config
from ..study import results, saved_predictions, tables
from ..study.results import read_table, run_name
from ..study.experiment import BUDGET_NOTEBOOK
from ..study.smart_strength import INERT_BELOW
from ..study.spec import TARGET_OVERALL, trained_by
from . import bench_report, plots, report

PAPER_NOTE = ("The paper's columns are its Table 2 (bert-base-uncased, dev; `quarbert_lib/paper/`); its overall is "
              "stated for the ensemble and computed with the course's formula for the other rows. The paper has no "
              "`advreg-only` or `advreg-literal` row, and its SMART rows read epsilon as described in notebook 04.")


def quality_references() -> dict[str, float]:
    """Reference lines of the quality-per-minute figure: the project's quality target (spec.TARGET_OVERALL) and
    the paper's best, its bert-base ensemble's overall (paper/table2_dev.csv)."""
    paper = report.paper_dev()["ensemble-smart-simcse"]["overall"]
    return {f"project target {TARGET_OVERALL:g}": TARGET_OVERALL, f"paper, bert-base ensemble {paper:g}": paper}


def quality_figure(budget: pd.DataFrame, ablation: pd.DataFrame):
    """quality_per_minute.png: notebook 11's points (quality_per_minute.csv) against their training minutes, the
    rows of the notebooks numbered before it (ablation.csv) in grey, and the lines of quality_references(). A
    notebook reads only what the notebooks before it wrote (spec.batch_order), so the figure notebook 11 shows and
    the one `make figures` redraws later, when notebook 13's rows are in the table too, are the same."""
    before = ablation[[(trained_by(v) or "") < BUDGET_NOTEBOOK for v in ablation["variant"]]]
    return plots.quality_per_minute(budget, before, targets=quality_references())


def strength_figure(strength: pd.DataFrame):
    """smart_strength.png: the grid rows of smart_strength.csv (notebook 04), the inert threshold marked."""
    return plots.smart_strength(strength[strength["setting"] == "grid"], "smart_strength.png", threshold=INERT_BELOW)


def radius_figure(radius: pd.DataFrame, grid: pd.DataFrame | None, profile: str):
    """radius_sweep.png: dev metrics against AdvReg's radius (radius_sweep.csv), the reference line the lr x dropout
    grid's point at the profile's own lr and dropout (the same short budget, no SMART)."""
    train, model = profile_config(profile).train, profile_config(profile).model
    base = grid[(grid["lr"] == train.lr) & (grid["dropout"] == model.hidden_dropout)] if grid is not None else pd.DataFrame()
    return plots.sweep_lines(radius, "radius", "radius_sweep.png",
                             reference=float(base["overall"].iloc[0]) if len(base) else None,
                             reference_label=f"without SMART, lr {train.lr:g}, seed 0",
                             title=f"AdvReg radius, {profile} profile, {int(radius['steps'].iloc[0])} steps, "
                                   f"{int(radius['seeds'].iloc[0])} seed(s) a point")


def lr_dropout_figure(grid: pd.DataFrame, profile: str):
    """lr_dropout.png: the overall score over the lr x dropout grid (lr_dropout.csv), its title saying whether the
    paper's best (lr 1e-5, dropout 0.1) is in it."""
    in_grid = ((grid["lr"] == 1e-5) & (grid["dropout"] == 0.1)).any()
    return plots.grid_heatmap(grid, "lr", "dropout", "overall", "lr_dropout.png",
                              title=f"overall, {profile} profile, {int(grid['steps'].iloc[0])} steps, "
                                    f"{int(grid['seeds'].iloc[0])} seed(s) a point; the "
                                    f"paper's best, lr 1e-5 with dropout 0.1, is {'in' if in_grid else 'outside'} this grid")


def lambda_figure(sweep: pd.DataFrame, ablation: pd.DataFrame | None, seeded: pd.DataFrame | None, profile: str):
    """The paper's Figure 3 (lambda_sweep.png): the one-seed λ_s line, and as squares (mean ± std over seeds) the
    `advreg-only` row at its own λ_s and the λ points run on several seeds (notebook 04's lambda_seeded)."""
    smart = variant_config("advreg-only", profile).smart
    marks = [] if ablation is None else [ablation[ablation["variant"] == "advreg-only"].assign(**{"lambda": smart.weight})]
    marks += [] if seeded is None else [seeded]
    marks = pd.concat(marks) if marks else None
    seeds = sorted({int(n) for n in marks["seeds"]}) if marks is not None and len(marks) else []
    plain = None if ablation is None else ablation[ablation["variant"] == "sampling"]
    reference = float(plain["overall"].iloc[0]) if plain is not None and len(plain) else None
    return plots.sweep_lines(sweep, "lambda", "lambda_sweep.png", marks=marks, paper_x=(5.0, "paper: QQP, STS best near 5"),
                             reference=reference, reference_label=(
                                 f"overall without SMART (sampling, {int(plain['seeds'].iloc[0])} seeds)"
                                 if reference is not None else ""),
                             title=f"AdvReg ({smart.convention}/{smart.space}), {profile} profile, "
                                   f"{int(sweep['steps'].iloc[0])} steps; line: {int(sweep['seeds'].iloc[0])} seed(s) a point"
                                   + (f"; squares: {'/'.join(map(str, seeds))} seeds" if seeds else ""))


def _figure(name: str, caption: str) -> list[str]:
    return [f"![{caption}](figures/{name})", "", f"*{caption}*", ""] if (reports_dir() / "figures" / name).exists() else []


def _held_runs(costs: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The rows of run_costs.csv still true: each notebook the registry holds (``current``, results.run_costs) keeps
    only the runs it holds, so a run renamed or dropped from the study leaves the table; the saved rows of a notebook
    the registry lacks (a clone without runs/, a batch of other notebooks) stay."""
    held, notebooks = set(zip(current["notebook"], current["run"])), set(current["notebook"])
    keep = [notebook not in notebooks or (notebook, run) in held
            for notebook, run in zip(costs["notebook"], costs["run"])]
    return costs[keep]


def collect(profile: str, encoder: str) -> list[Path]:
    """What the batch gathers from the run registry into reports/, once (notebook 09; ``--collect``), never while
    drawing: the dev predictions the reports rest on (saved_predictions.save), every analysed row's per-seed scores
    (seed_scores.csv), the pre-registered analysis of them (verdicts.csv), the paper's Section 6 checks
    (paper_checks.csv, tables.paper_checks), and each run's cost into
    run_costs.csv. Runs of earlier batches that the registry does not hold keep their rows, so a clone without runs/
    or a batch of one notebook loses nothing, but a notebook the registry holds keeps only its runs (_held_runs).
    Returns the prediction files saved."""
    saved = saved_predictions.save(profile, encoder)
    scores = tables.seed_scores(profile, encoder, report.analysed_rows())
    if len(scores):
        held = set(scores["variant"])
        results.upsert_rows(tables_dir() / "seed_scores.csv", scores.to_dict("records"), ["variant", "seed", "profile", "encoder"],
                            lambda df: df[~df["variant"].isin(held) | df.set_index(["variant", "seed"]).index.isin(
                                scores.set_index(["variant", "seed"]).index)].sort_values(["variant", "seed"], kind="stable"))
    results.write_csv(tables_dir() / "verdicts.csv", report.study_verdicts(profile, encoder))
    tables.paper_checks(profile, encoder)
    current = results.run_costs(profile)
    if len(current):
        results.upsert_rows(tables_dir() / "run_costs.csv", current.to_dict("records"), ["profile", "notebook", "run"],
                            lambda df: _held_runs(df, current).reindex(columns=results.RUN_COST_COLUMNS))
    return saved


def _smart_section(profile: str, encoder: str, ablation: pd.DataFrame | None) -> list[str]:
    """Notebook 04's strength table, radius and dropout sweeps and its findings, from the saved tables."""
    strength, radius, dropout, grid, lam = (read_table(n, profile, encoder) for n in (
        "smart_strength.csv", "radius_sweep.csv", "smart_dropout.csv", "lr_dropout.csv", "lambda_sweep.csv"))
    if strength is None or radius is None or dropout is None or lam is None or ablation is None:
        return []
    strength_figure(strength)
    radius_figure(radius, grid, profile)
    md = ["## SMART: which reading of the paper, how strong, and what it does (notebook 04)", "",
          "`reports/tables/smart_strength.csv`: SMART's gradient norm over the task loss's on each task's first "
          "batch at the start of training, for each convention, space and size.", ""]
    md += _figure("smart_strength.png", "SMART's strength against the perturbation's size (log-log)")
    md += _figure("radius_sweep.png", "Dev metrics against the per-token radius (normalize / embedding)")
    md += ["How to read them: notebook 04's closing section; its questions' verdicts are in the families above.", ""]
    return md


def _verdict_section(profile: str, encoder: str) -> list[str]:
    """results.md's opening: the paper's claims (report.paper_claims), then every declared test of the one
    pre-registered analysis (verdicts.csv), family by family, and the headline figure."""
    table = report.study_verdicts(profile, encoder)
    if not table["pairs"].gt(0).any():
        return []
    plots.step_effects(table[table["family"] == "paper"])
    md = ["## The paper's claims", "", report.verdict_section(profile, encoder), "",
          "## The pre-registered analysis", "",
          "Declared before the numbers in `quarbert_lib/study/spec.py` (QUESTIONS, FAMILIES): the paper's steps as "
          "its Table 2 defines them, first on the overall score (the primary family) and then on each task, and the "
          "project's own questions after, each family with its own correction over the number of tests it declares. "
          "Effect: the mean over the seeds both rows hold of (after - before); interval: the paired t interval at "
          "level 1 - 0.05 / m (m: the family's declared tests, Bonferroni); verdict: **equivalent** when the interval "
          "lies inside ±margin, **helps** / **hurts** when it lies above / below zero, **inconclusive** otherwise "
          "(`quarbert_lib/reporting/verdicts.py`).", ""]
    for family, rows in table.groupby("family", sort=False):
        md += [f"### Family `{family}` ({int(rows['tests'].iloc[0])} tests, each interval at "
               f"{100 * rows['level'].iloc[0]:.2f}%)", "", report.verdicts_markdown(rows), ""]
    return md + _figure("step_effects.png", "Each of the paper's steps: its effect on the overall dev score with its "
                        "adjusted interval; grey band: the margin; crosses: the paper's effect for the same step")


def profile_note(profile: str) -> list[str]:
    """For any profile but the committed study's: what is smaller than the study, so its numbers are not read
    as the study's (config.PROFILE_SEEDS and the profiles' data caps)."""
    if profile == STUDY_PROFILE:
        return []
    mine, study = profile_config(profile).data, profile_config(STUDY_PROFILE).data
    cap = lambda n: "every" if n is None else f"{n:,}"  # noqa: E731
    return [f"**These are the `{profile}` profile's results, not the committed `{STUDY_PROFILE}` study's** (README, "
            f"`reports/results.md`): {len(profile_seeds(profile))} seed(s) against {len(profile_seeds(STUDY_PROFILE))}, "
            f"{cap(mine.max_train_per_task)} training examples per task against {cap(study.max_train_per_task)}, dev and "
            f"test sets cut to {cap(mine.max_dev_per_task)} examples per task against {cap(study.max_dev_per_task)}"
            f"{', fewer sweep points' if profile in PROFILE_NOTEBOOK_PARAMS else ''}. Less training data lowers every "
            "row, and the smaller dev sets and single seed widen every interval, so compare its rows with each "
            "other, not with the study's.", ""]


def rebuild(profile: str = "cpu", encoder: str = "minilm-l6") -> Path:
    """Every figure and results.md, drawn from the saved tables and the dev predictions saved in reports/
    (``collect`` gathers them); nothing here writes a table. Returns results.md's path."""
    md = [f"# Results ({profile} profile, encoder {encoder})", "",
          "Generated by `python -m quarbert_lib figures` from `reports/tables/` and the dev predictions saved in "
          "`reports/predictions/` (which the batch collects from the run registry: notebook 09, or "
          "`python -m quarbert_lib figures --collect`); no number here is typed by hand.", ""]
    md += profile_note(profile)
    md += _verdict_section(profile, encoder)
    prior_table = read_table("encoder_prior.csv", profile, encoder)
    if prior_table is not None and len(prior_table):
        md += ["## The encoder's prior", "", "What the frozen encoder scores before any training (`python -m quarbert_lib prior --profile cpu`, "
               "`quarbert_lib/study/prior.py`): all-MiniLM-L6-v2 was trained contrastively on about a billion sentence pairs, Quora "
               "duplicates among them: every row's scores are read against these.", "",
               report.markdown_table(["task", "method", "dev score", "detail"],
                                     [[r.task, r.method, f"{r.value:.3f}", r.detail] for r in prior_table.itertuples()]), ""]
    single = tables.single_task_rows(profile, encoder)
    if len(single):
        plots.single_task_bars(single)
        md += ["## Table 1: single task (frozen vs fine-tuned encoder)", "", report.single_task_markdown(single), ""]
        md += _figure("single_task.png", "Single-task dev accuracy")
    ablation = tables.ablation_rows(profile, encoder)
    ablation = ablation if len(ablation) else None
    if ablation is not None:
        plots.ablation_bars(ablation, "ablation_ladder.png")
        md += ["## Table 2: the ablation ladder", "", report.ablation_markdown(ablation), "", PAPER_NOTE, "",
               "Each step's verdict: [the pre-registered analysis](#the-pre-registered-analysis), above.", ""]
        md += [f"Data note: {n}." for n in sorted({n for x in ablation["data_note"].dropna() for n in x.split(" | ") if n})]
        md += [""] + _figure("ablation_ladder.png", "Dev scores of every row (error bars: std over seeds)")
    grid = read_table("lr_dropout.csv", profile, encoder)
    if grid is not None:
        lr_dropout_figure(grid, profile)
        md += ["## Table 3: learning rate × dropout", "", report.markdown_table(
            ["lr", "dropout", "steps", "SST", "QQP", "STS", "overall"],
            [[f"{r.lr:g}", f"{r.dropout:g}", int(r.steps), f"{r.sst_acc:.3f}", f"{r.qqp_acc:.3f}",
              f"{r.sts_pearson:.3f}", f"{r.overall:.3f}"] for r in grid.itertuples()]), ""]
    sweep = read_table("lambda_sweep.csv", profile, encoder)
    if sweep is not None:
        lambda_figure(sweep, ablation, read_table("lambda_seeds.csv", profile, encoder), profile)
        md += ["## Figure 3: the λ_s sweep", ""] + _figure("lambda_sweep.png", "Dev metrics against λ_s (AdvReg)")
    md += _smart_section(profile, encoder, ablation)
    # the best ladder row, the paper's regularised row and the quartet, each drawn from its seed-0 dev predictions
    # (the registry's, else the saved ones); a figure whose predictions are not here is removed, never kept stale
    sources = {}
    best = [tables.best_variant(profile, encoder)] if ablation is not None and len(ablation) else []
    for label in dict.fromkeys(best + ["smart", "ensemble"]):
        try:
            sources[label] = saved_predictions.find(run_name(label, seed=0), profile, encoder)   # registry, else saved
        except FileNotFoundError:
            pass
    for stale in sorted((reports_dir() / "figures").glob("prediction_distributions_*.png")):
        if stale.stem.removeprefix("prediction_distributions_") not in sources:
            stale.unlink()
    if sources:
        md += ["## Figure 4: prediction distributions", ""]
    for label, path in sources.items():
        name = f"prediction_distributions_{label}.png"
        plots.prediction_distributions(pd.read_csv(path, dtype={"id": str}), name, title=f"{label}: dev predictions ({profile} profile, seed 0)")
        md += _figure(name, f"{label}: SST label distribution and confusion matrix; STS score distributions")
    budget = read_table("quality_per_minute.csv", profile, encoder)
    if budget is not None:
        quality_figure(budget, ablation)
        md += ["## Quality per CPU-minute", "", "Each recipe trained (seed 0) with a cap on the training examples "
               "per task; `all` keeps every example (the round-robin sampler then stops each epoch at the smallest "
               "task, STS). The `all-data` recipes take every batch of every task, for three epochs (`all-data-linear` "
               "with a linear warmup and decay of the learning rate); each epoch's dev evaluation is a row, timed "
               "when it was made. Notebook 11.", "",
               report.markdown_table(["recipe", "cap", "epoch", "steps", "train min", "SST", "QQP", "STS", "overall"],
                                     [[r.recipe, r.cap, int(r.epoch), int(r.steps), f"{r.train_minutes:.1f}", f"{r.sst_acc:.3f}",
                                       f"{r.qqp_acc:.3f}", f"{r.sts_pearson:.3f}", f"{r.overall:.3f}"]
                                      for r in budget.itertuples()]), ""]
        md += _figure("quality_per_minute.png", "Overall dev score against training minutes on this machine")
    regime = read_table("regime_curves.csv", profile, encoder)
    if regime is not None and len(regime):
        plots.learning_curves(regime, "regime_curves.png")
        last = tables.epoch_rows(regime.drop(columns=["profile", "encoder"], errors="ignore"))
        md += ["## A regime built to overfit", "", "Each recipe on a small cap for several epochs, a probe of its training "
               "examples scored beside dev at every epoch (notebook 12); the last epoch's mean ± std over seeds. What "
               "each regulariser does to the gap, each against plain (Welch, Holm over the notebook's tests, in words "
               "of its own): notebook 12's closing tables (`verdicts.regime_verdicts`).", "",
               report.markdown_table(["recipe", "seeds", "epoch", "dev overall", "train overall", "gap"],
                                     [[r.variant, int(r.seeds), int(r.epoch), report.fmt_std(r.overall, r.overall_std),
                                       f"{r.train_overall:.3f}", report.fmt_std(r.gap_overall, r.gap_overall_std, "+.3f")]
                                      for r in last.itertuples()]), ""]
        md += _figure("regime_curves.png", "Dev score (top) and train-dev gap (bottom) per epoch, per recipe and task")
    converged = read_table("converged_curves.csv", profile, encoder)
    if converged is not None and len(converged):
        plots.learning_curves(converged, "converged_curves.png", base="converged-plain", x="train_minutes",
                              target=(TARGET_OVERALL, f"target {TARGET_OVERALL}"))
        means = converged.groupby(["variant", "epoch"], sort=False)
        md += ["## At a converged budget", "", "Plain (three epochs) and SMART + MBPP (two) on every example but the "
               "calibration split held out, each epoch's end the mean over seeds (notebook 13); the questions' verdicts "
               "are the family `converged` above.", "",
               report.markdown_table(["recipe", "epoch", "seeds", "train min", "SST", "QQP", "STS", "overall"],
                                     [[v, int(e), int(g["seed"].nunique()), f"{g['train_minutes'].mean():.1f}",
                                       *[f"{g[c].mean():.3f}" for c in [*study_columns(), "overall"]]]
                                      for (v, e), g in means]), ""]
        md += _figure("converged_curves.png", "Dev score at each epoch's end against training minutes, per recipe and task")
        change = tables.last_epoch_change(converged)
        if len(change):
            md += ["Overall dev at the last epoch against the one before: " + "; ".join(
                       f"`{r.variant}` {r.change:+.4f}, higher in {r.higher} of {r.seeds} seeds" for r in change.itertuples())
                   + ". A recipe higher in every seed may gain from more epochs (its row may understate it): open, "
                   "not measured here.", ""]
        best = read_table("best_model.csv", profile, encoder)
        if best is not None and len(best):
            md += ["The best model, chosen on that calibration split (`experiment.choose_best`), dev beside it. Each "
                   "run's predictions are its dev-selected best epoch's, as every row's are: the split chooses among "
                   "models whose epoch dev picked. A lead between candidates on this one small split is a difference, "
                   "not a test.", "",
                   report.markdown_table(["model", "kind", "runs", "chosen", "calibration overall", "dev overall"],
                                         [[r.model, r.kind, int(r.runs), "**yes**" if r.chosen else "",
                                           f"{r.calib_overall:.4f}", f"{r.overall:.4f}"] for r in best.itertuples()]), ""]
    costs = bench_report.step_rows(profile, encoder)
    if len(costs):
        md += ["## Cost per step", "", "Seconds per training step against a plain `sampling` step, each setting timed in "
               "one process on the same batches (`reports/tables/costs.csv`: the study's one measurement, which "
               "`benchmarks.md` and notebook 06 show too).", "", report.markdown_table(
                   ["setting", "what", "seconds / step", "relative to plain"],
                   [[r.path, r.what, f"{r.seconds_per_step:.3f}", f"{r.relative:.2f}x"] for r in costs.itertuples()]), ""]
    for name, title in (("ensemble_subsets.csv", "Ensemble member subsets"), ("ensemble_cost.csv", "Serving cost")):
        extra = read_table(name, profile, encoder)
        if extra is not None:
            # the process's peak RSS was the data loading's, the same for every serving setup: it measured
            # nothing and is no longer recorded (tables made before keep the column)
            extra = extra.drop(columns=["peak_rss_mb"], errors="ignore")
            md += [f"## {title}", "", report.markdown_table(list(extra.columns), extra.round(4).astype(str).values.tolist()), ""]
    spent = read_table("run_costs.csv")
    spent = None if spent is None else spent[(spent["profile"] == profile) & (spent["encoder"] == encoder)]
    if spent is not None and len(spent):
        md += ["## What the results cost", "", "Every complete run of this profile that a batch collected "
               "(`reports/tables/run_costs.csv`, from each run's metrics.json): a `make reproduce` with an empty "
               "registry and no records trains all of them, so its wall time is at least the total; a clone restores "
               "the recorded runs instead (README).", "",
               report.cost_markdown(spent), ""]
    curves = sorted(p for p in (reports_dir() / "figures").glob("*_curves.png")
                    if p.name not in ("regime_curves.png", "converged_curves.png"))
    if curves:
        md += ["## Training curves", ""] + [line for c in curves for line in _figure(c.name, c.stem.replace("_", " "))]
    plots.plt.close("all")      # the figures are saved; a batch rebuild must not keep them open
    out = reports_dir() / "results.md"
    results.atomic_write_text(out, "\n".join(md).rstrip() + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib figures", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    parser.add_argument("--encoder", default="minilm-l6")
    parser.add_argument("--readme", default=str(REPO_ROOT / "README.md"))
    parser.add_argument("--collect", action="store_true",
                        help="first gather the registry's predictions, per-seed scores and run costs into reports/ (the "
                             "batch does this in notebook 09)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    use_profile_reports(args.profile)      # reports/ for the study's profile, reports/<profile>/ otherwise
    if args.collect:
        collect(args.profile, args.encoder)
    saved = read_table("ablation.csv", args.profile, args.encoder)
    if saved is None or saved.empty:        # drawn from nothing, results.md would be a title alone
        raise UserError(f"{shown(tables_dir())} holds no results of profile {args.profile} and encoder "
                        f"{args.encoder} to draw from: run its batch first (make reproduce PROFILE={args.profile}); "
                        "figures trains nothing")
    out = rebuild(args.profile, args.encoder)
    rebuilt = [str(out)]
    if args.profile == STUDY_PROFILE:      # the README's tables are the committed study's
        report.update_readme(Path(args.readme))
        report.update_docs(Path(args.readme).parent)        # the docs/ beside that README
        rebuilt.append(args.readme)
    if (tables_dir() / "bench_meta.json").exists():    # its reproduce and best-score rows read these tables
        bench_report.write_report(args.profile, args.encoder)
    print(f"{' and '.join(rebuilt)} rebuilt in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

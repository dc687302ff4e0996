"""Reports from the saved tables (study.tables): markdown, the verdicts, the README's and docs' generated blocks.

Everything here reads the saved tables (or metrics.json files), never a live model; ``python -m quarbert_lib
figures`` rebuilds what this module writes without training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind_from_stats

from ..base.paths import REPO_ROOT
from ..base.tasks import STUDY_TASKS, TASKS, metric_labels, normalized_score
from ..core.config import VARIANTS
from ..core.evaluate import paired_bootstrap
from ..study import records, results
from ..study.results import run_name
from ..study.saved_predictions import find
from ..study.spec import CONTROLS, ENSEMBLES, LADDER, NOTEBOOKS, notebook_seeds
from ..study.spec import study_steps as _study_steps
from ..study.tables import ablation_rows, best_variant
from . import verdicts

PAPER_DIR = Path(__file__).parents[1] / "paper"


def paper_dev() -> dict[str, dict[str, float]]:
    """The paper's Table 2 (dev, bert-base-uncased) by variant: sst_acc, qqp_acc, sts_pearson and overall
    (computed with the course's formula where the paper does not state it). quarbert_lib/paper/README.md
    cites the source."""
    df = pd.read_csv(PAPER_DIR / "table2_dev.csv")
    out = {}
    for r in df.to_dict("records"):
        scores = {TASKS[t].table_column: float(r[TASKS[t].table_column]) for t in TASKS if TASKS[t].table_column in r}
        stated = r.get("overall")
        # the paper's own three tasks' course score, whatever the study's tasks are
        by_column = {TASKS[t].table_column: t for t in TASKS}
        scores["overall"] = float(stated) if pd.notna(stated) else float(np.mean(
            [normalized_score(by_column[c], v) for c, v in scores.items()]))
        out[r["variant"]] = scores
    return out


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def cost_markdown(costs: pd.DataFrame) -> str:
    """Runs, training and wall minutes by notebook, and the total (from run_costs.csv rows)."""
    by = costs.groupby("notebook", sort=True).agg(runs=("run", "size"), train=("train_seconds", "sum"),
                                                   wall=("wall_seconds", "sum"))
    rows = [[nb, int(r.runs), f"{r.train / 60:.1f}", f"{r.wall / 60:.1f}"] for nb, r in by.iterrows()]
    rows.append(["**all**", int(by["runs"].sum()), f"{by['train'].sum() / 60:.1f}", f"{by['wall'].sum() / 60:.1f}"])
    return markdown_table(["notebook", "runs", "train min", "wall min (train + eval + load)"], rows)


def fmt_std(value, std=None, spec: str = ".3f") -> str:
    """'0.712 ± 0.004'; '0.712' where the std is unknown (one seed); '–' where the value is."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:{spec}}" + ("" if std is None or pd.isna(std) else f" ± {std:.3f}")


# Columns a notebook's table repeats on every row (the same profile, encoder and data note): said once, not shown.
REPEATED = ("profile", "encoder", "data_note")


def readable(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for reading: every float at ``digits`` significant digits (as text, so 3.3e-09 stays 3.3e-09 and
    0.7071 reads 0.707), NaN blank, and the columns that repeat one value on every row (REPEATED) left out."""
    out = frame.drop(columns=[c for c in REPEATED if c in frame and frame[c].nunique(dropna=False) <= 1])
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = [("" if v != v else f"{v:.{digits}g}") for v in out[column]]
    return out.reset_index(drop=True)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def ablation_markdown(df: pd.DataFrame) -> str:
    """Our dev scores beside the paper's (bert-base-uncased), one row per variant."""
    rows = []
    for _, r in df.iterrows():
        paper = paper_dev().get(r["variant"], {})
        rows.append([r["variant"], r["encoder"], r["profile"], int(r["seeds"]),
                     f"{r['params_trainable'] / 1e6:.1f}M / {r['params_total'] / 1e6:.1f}M",
                     *[fmt_std(r[c], r.get(f"{c}_std")) for c in metric_labels()],
                     *[fmt_std(paper.get(c)) for c in metric_labels()],
                     f"{r['train_seconds']:.0f}", _smart_cell(r)])
    labels = metric_labels()
    return markdown_table(["variant", "encoder", "profile", "seeds", "trainable / total", *labels.values(),
                           *[f"paper {TASKS[t].short}" for t in STUDY_TASKS], "paper overall", "train s",
                           "SMART (grad ratio)"], rows)


def smart_of(r: pd.Series) -> str:
    """A row's SMART setting; 'off' for the rows without SMART, 'literal (not recorded)' for SMART rows trained
    before settings were recorded (all of them ran the literal project/word eps=1e-5 setting)."""
    setting = r.get("smart")
    if isinstance(setting, str) and setting:
        return setting
    if r["variant"] in ENSEMBLES:
        return "its members' recipe"
    return "off" if r["variant"] in ("baseline-pretrain", "baseline-finetune", "sampling") else "literal (not recorded)"


def _smart_cell(r: pd.Series) -> str:
    """The row's SMART setting and strength, with the guard's verdict."""
    setting = smart_of(r)
    if setting == "off":
        return ""
    ratio = r.get("smart_grad_ratio")
    strength = "" if ratio is None or pd.isna(ratio) else f" ({ratio:.1e})"
    return setting + strength + (" **inert**" if r.get("smart_guard") == "inert" else "")


def single_task_markdown(df: pd.DataFrame) -> str:
    rows = [[r["task"], r["mode"], r["encoder"], r["profile"], int(r["seeds"]), fmt_std(r["dev_acc"], r.get("dev_acc_std")),
             f"{r['train_seconds']:.0f}"] for _, r in df.iterrows()]
    return markdown_table(["task", "mode", "encoder", "profile", "seeds", "dev acc", "train s"], rows)


def study_steps(ablation: pd.DataFrame) -> list[tuple[str, str]]:
    """Every step the study's verdicts compare (one Holm family; spec.study_steps), with the best ladder row of
    ``ablation`` as the quartet's start; only the steps whose two rows ``ablation`` holds."""
    present = set(ablation["variant"])
    ladder = ablation[ablation["variant"].isin(LADDER)]
    best = ladder.loc[ladder["overall"].idxmax(), "variant"] if len(ladder) else None
    return [(a, b) for a, b in _study_steps(best) if a in present and b in present]


def study_verdicts(ablation: pd.DataFrame) -> pd.DataFrame:
    """The study's verdict table (verdicts.verdict_table over study_steps, with the paper's effects)."""
    return verdicts.verdict_table(ablation, study_steps(ablation), paper=paper_dev())


def seed_test(before: pd.Series | None, after: pd.Series | None, column: str) -> dict:
    """The step's delta over seeds: difference of the seed means and Welch's t-test p-value from
    the two rows' mean, std and seed count in ablation.csv (NaN below 2 seeds a side)."""
    if before is None or after is None:
        return {"seeds": np.nan, "delta_seed_mean": np.nan, "seed_p_value": np.nan}
    n_b, n_a = int(before["seeds"]), int(after["seeds"])
    out = {"seeds": min(n_b, n_a), "delta_seed_mean": float(after[column] - before[column]), "seed_p_value": np.nan}
    if n_b >= 2 and n_a >= 2:
        out["seed_p_value"] = float(ttest_ind_from_stats(after[column], after[f"{column}_std"], n_a, before[column],
                                                         before[f"{column}_std"], n_b, equal_var=False).pvalue)
    return out


def significance_table(profile: str, encoder: str, n_boot: int = 2000) -> pd.DataFrame:
    """For each step of the study (study_steps) and task: the dev delta of the seed means and its paired
    bootstrap 95% CI over the dev examples, every seed's predictions of both rows resampled together
    (evaluate.paired_bootstrap), judged against the task's margin (verdicts.margins()); beside it, the
    difference of the seed means and Welch's p over seeds from ablation.csv. A row's predictions are the
    registry's, else the saved copy in reports/predictions/ (seed 0 only); a step missing either is left out."""
    ablation = ablation_rows(profile, encoder)
    rows_of = {r["variant"]: r for _, r in ablation.iterrows()}
    frames: dict[str, list[pd.DataFrame]] = {}
    for variant, row in rows_of.items():
        seeds = [int(s) for s in str(row.get("seed_list", "0")).split()] if pd.notna(row.get("seed_list")) else [0]
        found = []
        for seed in seeds:
            try:
                found.append(pd.read_csv(find(run_name(variant, seed=seed), profile, encoder), dtype={"id": str}))
            except FileNotFoundError:
                continue
        if found:
            frames[variant] = found
    rows = []
    for before, after in study_steps(ablation):
        if before not in frames or after not in frames:
            continue
        for task in STUDY_TASKS:
            a = [f[f["task"] == task] for f in frames[before]]
            b = [f[f["task"] == task] for f in frames[after]]
            if all(len(f) for f in a + b):
                column = TASKS[task].table_column
                rows.append({"step": f"{before} -> {after}", "profile": profile, "encoder": encoder,
                             **paired_bootstrap(task, a, b, verdicts.margins()[column], n_boot),
                             **seed_test(rows_of.get(before), rows_of.get(after), column)})
    return pd.DataFrame(rows)


def _ci(r) -> str:
    return "" if pd.isna(r.ci_low) else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"


def verdict_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's verdict in five lines, every number from reports/tables (ablation, verdicts, the encoder's
    prior, quality per CPU-minute) and the paper's Table 2. An empty string when there are no ladder rows."""
    df = ablation_rows(profile, encoder)
    if df.empty:
        return ""
    table = study_verdicts(df)
    rows = {r["variant"]: r for _, r in df.iterrows()}
    counts, steps = verdicts.verdict_counts(table, None), table["step"].nunique()
    # a control (spec.CONTROLS) is tested like a step and said to be one
    said = lambda r: f"`{r.step}`{' (a control)' if r.step.split(' -> ')[1] in CONTROLS else ''} on {metric_labels()[r.metric]}"  # noqa: E731
    named = lambda word: ", ".join(said(r) for r in table.itertuples() if r.verdict == word)  # noqa: E731
    overall = table[table["metric"] == "overall"]
    width = float(((overall["ci_high"] - overall["ci_low"]) / 2).median()) if len(overall) else float("nan")
    helped = [r for r in table.itertuples() if r.verdict == "helps" and r.step != "baseline-pretrain -> baseline-finetune"]
    headline = ("No step of the ladder beyond fine-tuning is shown to help." if not helped else
                f"Beyond fine-tuning, {len(helped)} of {len(table)} tests show{'s' if len(helped) == 1 else ''} a step "
                "helping: " + ", ".join(said(r) for r in helped) + ".")
    listed = {v: f" ({named(v)})" if counts[v] else "" for v in ("helps", "hurts")}
    lines = [f"- **{headline}** {steps} step{'' if steps == 1 else 's'}, each tested on the overall score and each "
             f"task ({len(table)} tests, Holm-corrected, margins ±{min(verdicts.margins().values()):g} to "
             f"±{max(verdicts.margins().values()):g}): {counts['helps']} help{listed['helps']}, "
             f"{counts['hurts']} hurt{listed['hurts']}, {counts['equivalent']} equivalent, "
             f"{counts['inconclusive']} inconclusive. With {_seed_range(df)} seeds a row, a step's 95% interval on the "
             f"overall score is about ±{width:.3f} wide (median): inconclusive is not \"no effect\"."]
    ft = overall[overall["step"] == "baseline-pretrain -> baseline-finetune"]
    if len(ft):
        r = next(ft.itertuples())
        largest = overall.loc[overall["effect"].abs().idxmax(), "step"] == r.step
        lines.append(f"- **Fine-tuning the encoder{' is the largest effect measured' if largest else ''}:** {r.effect:+.3f} "
                     f"overall over heads on the frozen encoder (95% CI {_ci(r)}; Holm p {r.p_holm:.3f}, so "
                     f"{r.verdict} after the correction).")
    prior = results.read_table("encoder_prior.csv", profile, encoder)
    ladder = df[df["variant"].isin([*LADDER, *ENSEMBLES])]
    best = ladder.loc[ladder["overall"].idxmax()] if len(ladder) else None
    # a control off the ladder may score above it (the natural-size rows train on every example): say so
    above = df[df["variant"].isin(CONTROLS) & (df["overall"] > (best["overall"] if best is not None else 1.0))]
    best_row = "" if best is None else (f"best ladder row (`{best['variant']}`" + "".join(
        f"; the control `{r.variant}` scores {r.overall:.3f} off the ladder" for r in above.itertuples()) + ")")
    if prior is not None and len(prior) and best is not None:
        v = {r.metric: r.value for r in prior.itertuples()}
        tuned = rows.get("baseline-finetune")
        lines.append(f"- **The encoder's prior is most of the score.** all-MiniLM-L6-v2, frozen, scores STS r "
                     f"{v.get('sts_pearson', float('nan')):.3f} (its cosine, zero-shot), QQP {v.get('qqp_acc', float('nan')):.3f} "
                     f"(a cosine threshold fitted on the training split) and SST {v.get('sst_acc', float('nan')):.3f} "
                     "(a linear probe on it): overall "
                     f"{v.get('overall', float('nan')):.3f}, against "
                     f"{'' if tuned is None else f'{tuned.overall:.3f} fine-tuned and '}{best['overall']:.3f} for the "
                     f"{best_row}. It was trained on sentence pairs, Quora duplicates among them.")
    curve = results.read_table("quality_per_minute.csv", profile, encoder)
    if curve is not None and len(curve) and best is not None:
        top = curve.loc[curve["overall"].idxmax()]
        lines.append(f"- **More data and epochs score above every row:** the plain recipe on every training example "
                     f"(`{top['recipe']}`, epoch {int(top['epoch'])}, one seed) reaches {top['overall']:.3f} after "
                     f"{top['train_minutes']:.1f} training minutes, against {best['overall']:.3f} for the best ladder "
                     f"row (mean of {int(best['seeds'])} seeds at the ladder's budget: 2,400 examples per task, one epoch).")
    with_paper = overall.dropna(subset=["paper_effect"])
    if len(with_paper):
        outside = [f"`{r.step.split(' -> ')[1]}` ({r.paper_effect:+.3f} against {_ci(r)})" for r in with_paper.itertuples()
                   if not r.ci_low <= r.paper_effect <= r.ci_high]
        inside = [f"`{r.step.split(' -> ')[1]}`" for r in with_paper.itertuples() if r.ci_low <= r.paper_effect <= r.ci_high]
        lines.append("- **Against the paper** (bert-base-uncased, ten epochs on all data), its effect on the overall "
                     f"score lies outside our 95% interval for {', '.join(outside) or 'no step'}"
                     + (f", and inside it for {', '.join(inside)}." if inside else "."))
    return "\n".join(lines)


def _seed_range(df: pd.DataFrame) -> str:
    lo, hi = int(df["seeds"].min()), int(df["seeds"].max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def ensemble_recipe_note(df: pd.DataFrame, profile: str, encoder: str) -> str:
    """What the ensemble rows average, against the paper's quartet (which averaged SMART + SimCSE members)."""
    if not df["variant"].isin(list(ENSEMBLES)).any():
        return ""
    try:
        recipe = best_variant(profile, encoder)
    except FileNotFoundError:
        return ""
    return (f"`ensemble` and `ensemble-lora` average three specialists and one multitask model trained with the best "
            f"ladder row's recipe, `{recipe}`; the paper's quartet (its columns beside them) averaged SMART + SimCSE "
            "members.")


def results_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's results block: the committed study's rows (profile ``profile``), from reports/tables, in
    the columns a reader compares (reports/results.md has them all)."""
    parts = []
    df = ablation_rows(profile, encoder)
    if len(df):
        paper = paper_dev()
        table = markdown_table(
            ["variant", "seeds", *metric_labels().values(), "paper overall", "train s"],
            [[f"`{r['variant']}`", int(r["seeds"]),
              *[fmt_std(r[c], r.get(f"{c}_std") if int(r["seeds"]) > 1 else None)
                for c in metric_labels()],
              f"{paper[r['variant']]['overall']:.3f}" if r["variant"] in paper else "–",
              f"{r['train_seconds']:.0f}" if pd.notna(r["train_seconds"]) else ""] for _, r in df.iterrows()])
        parts += [f"Multitask dev scores of the committed `{profile}` study, mean ± std over seeds "
                  "(`reports/tables/ablation.csv`; all columns in `reports/results.md`; paper: bert-base-uncased, its "
                  "Table 2):", "", table, ""]
        notes = sorted({n for n in df.get("data_note", pd.Series(dtype=str)).dropna() for n in n.split(" | ") if n})
        parts += [f"Data note: {n}." for n in notes]
        parts += [note for note in [ensemble_recipe_note(df, profile, encoder)] if note]
        parts.append("")
        overall = study_verdicts(df).query("metric == 'overall'")
        if len(overall):
            parts += ["Each step's effect on the overall score: the difference of the seed means with its 95% Welch "
                      "interval, and the study's verdict (Holm-corrected over all the steps' tests on the overall "
                      f"score and each task; margin ±{verdicts.OVERALL_MARGIN:g}; `quarbert_lib/reporting/verdicts.py`, "
                      "`reports/results.md`):", "",
                      markdown_table(["step", "effect", "95% CI", "Holm p", "verdict", "paper's effect"],
                                     [[r.step, f"{r.effect:+.3f}", _ci(r), "" if pd.isna(r.p_holm) else
                                       f"{r.p_holm:.3f}", r.verdict, "" if pd.isna(r.paper_effect) else
                                       f"{r.paper_effect:+.3f}"] for r in overall.itertuples()]), ""]
    if not parts:
        parts = ["No results yet: run `make reproduce`."]
    return "\n".join(parts).strip()


def run_costs_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """docs/timing.md's table: the committed study's runs (reports/tables/run_costs.csv) summed by notebook."""
    costs = results.read_table("run_costs.csv", profile, encoder)
    if costs is None or costs.empty:
        return "No run costs recorded yet."
    by = costs.groupby("notebook").agg(runs=("run", "size"), train=("train_seconds", "sum"), wall=("wall_seconds", "sum"))
    rows = [[f"`{r.Index}`", str(r.runs), f"{r.train / 60:.1f}", f"{r.wall / 60:.1f}"] for r in by.itertuples()]
    rows.append(["**all**", f"**{int(by['runs'].sum())}**", f"**{by['train'].sum() / 60:.1f}**", f"**{by['wall'].sum() / 60:.1f}**"])
    return (f"The `{profile}` study's runs as last trained, from `reports/tables/run_costs.csv` (`make figures` rebuilds "
            "this table; a run's wall minutes include its evaluation and prediction files; some runs shared the "
            "cores with other work, so their minutes are upper bounds):\n\n"
            + markdown_table(["notebook", "runs", "training min", "wall min"], rows))


def records_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's line on the committed run records: where, how many runs of which notebooks, how big."""
    root = records.records_dir() / profile
    runs = sorted(p.parent for p in root.glob("*/*/config.json")) if root.is_dir() else []
    members = sorted(p.parent for p in root.glob("*/*/members.json")) if root.is_dir() else []
    notebooks = sorted({p.parent.name[:2] for p in [*runs, *members]})
    if not runs:
        return f"No run is recorded under `records/{profile}/` yet."
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    # a notebook that trains is unrecorded while its folder, or a seed of one of its trained rows (not an ensemble
    # of them) or of its other runs it names (NotebookSpec.stems: notebook 12's recipes), is missing
    unrecorded = [s.name[:2] for s in NOTEBOOKS if s.trains and (not (root / s.name).is_dir() or not all(
        (root / s.name / run_name(stem, seed=k)).is_dir() for stem in [*(r for r in s.rows if r in VARIANTS), *s.stems]
        for k in notebook_seeds(s.name, profile)))]
    return (f"Run records: `records/{profile}/` holds {plural(len(runs), 'run')} (and {plural(len(members), 'ensemble')}) "
            "of notebooks "
            f"{', '.join(notebooks)}: {records.size_bytes(profile) / 1e6:.1f} MB, no weights "
            "(`python -m quarbert_lib records size`). A recorded run is restored, not trained"
            + ("." if not unrecorded else
               f"; notebooks {', '.join(unrecorded)} are not fully recorded yet: a clone trains their missing runs (hours; `make "
               "reproduce PROFILE=cpu` prints the plan first), and their executed copies under `reports/executed/`, "
               "where there are any, are not current." if len(unrecorded) > 1 else
               f"; notebook {unrecorded[0]} is not fully recorded yet: a clone trains its missing runs (hours; `make reproduce "
               "PROFILE=cpu` prints the plan first), and its executed copy under `reports/executed/`, if there is one, "
               "is not current."))


# The generated blocks of the README and docs/: <!-- name:start --> ... <!-- name:end -->, each rebuilt by its
# function of (profile, encoder) from reports/tables.
README_BLOCKS = {"verdict": verdict_section, "records": records_section, "results": results_section}
DOC_BLOCKS = {"docs/timing.md": {"run-costs": run_costs_section}}


def update_docs(root: Path = REPO_ROOT, profile: str = "cpu", encoder: str = "minilm-l6") -> list[Path]:
    """Rebuild the generated blocks of the docs/ pages (DOC_BLOCKS) under ``root`` that exist; the pages that
    changed."""
    return [root / page for page, blocks in DOC_BLOCKS.items()
            if (root / page).is_file() and update_readme(root / page, profile, encoder, blocks)]


def update_readme(readme: Path = REPO_ROOT / "README.md", profile: str = "cpu", encoder: str = "minilm-l6",
                  blocks: dict | None = None) -> bool:
    """Replace the text of each generated block (``blocks``, default README_BLOCKS) that the file holds; True
    if it changed. Raises ValueError when the file holds none of them."""
    text = readme.read_text(encoding="utf-8")
    new, found = text, 0
    for name, build in (blocks or README_BLOCKS).items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start in new and end in new:
            head, rest = new.split(start, 1)
            _, tail = rest.split(end, 1)
            new, found = f"{head}{start}\n{build(profile, encoder)}\n{end}{tail}", found + 1
    if not found:
        names = ", ".join(f"<!-- {n}:start --> ... <!-- {n}:end -->" for n in (blocks or README_BLOCKS))
        raise ValueError(f"{readme} lacks the markers {names}")
    if new != text:
        results.atomic_write_text(readme, new)
    return new != text

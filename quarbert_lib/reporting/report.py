"""Reports from the saved tables (study.tables): markdown, the verdicts, the README's and docs' generated blocks.

Everything here reads the saved tables (or metrics.json files), never a live model; ``python -m quarbert_lib
figures`` rebuilds what this module writes without training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..base.paths import REPO_ROOT
from ..base.tasks import STUDY_TASKS, TASKS, metric_labels, normalized_score
from ..study.recipes import PROFILE_NOTEBOOK_PARAMS, VARIANTS
from ..study import records, results, tables
from ..study.results import run_name
from ..study.spec import (ENSEMBLES, FAMILIES, LADDER, NOTEBOOKS, PAPER_RECIPE, QUESTIONS, TARGET_OVERALL, family_metrics,
                          budget, notebook_seeds, questions_of)
from ..study.spec import family_size as spec_size
from ..study.tables import ablation_rows
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


def analysed_rows() -> list[str]:
    """Every ablation row a declared question compares (spec.QUESTIONS), sorted."""
    return sorted({r for q in QUESTIONS for r in (q.before, q.after)})


def notebook_verdicts(notebook: str, profile: str, encoder: str) -> pd.DataFrame:
    """The study's verdicts on the questions a notebook answers (spec.questions_of), computed from the registry's
    runs as notebook 09 computes them all: each depends only on its two rows and its family's declared size, so a
    notebook shows the word results.md shows, whatever ran before it."""
    questions = tuple(questions_of(notebook))
    rows = sorted({r for q in questions for r in (q.before, q.after)})
    return verdicts.analyse(tables.seed_scores(profile, encoder, rows), questions, paper_dev())


def verdicts_markdown(table: pd.DataFrame) -> str:
    """Rows of the pre-registered analysis (verdicts.analyse) as a markdown table: step, question, metric, effect,
    adjusted interval, adjusted p, margin, seeds paired, the verdict word and the paper's effect (results.md's family
    tables and each notebook's closing table: one format, one word per row)."""
    fmt = lambda v, spec: "" if pd.isna(v) else format(v, spec)  # noqa: E731
    return markdown_table(
        ["step", "question", "metric", "effect", "adjusted interval", "p (adjusted)", "margin", "seeds paired",
         "verdict", "paper's effect"],
        [[r.step, r.label, r.metric, fmt(r.effect, "+.3f"), "" if pd.isna(r.ci_low) else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
          fmt(r.p_adjusted, ".3f"), f"±{r.margin:g}", str(r.pairs),
          f"**{r.verdict}**" if r.pairs else "not trained yet", fmt(r.paper_effect, "+.3f")] for r in table.itertuples()])


def questions_markdown(notebook: str, profile: str, encoder: str, analysis: pd.DataFrame | None = None) -> str:
    """The study's verdicts on the questions a notebook answers, as verdicts_markdown's table with each row's
    family and its declared number of tests; '' for a notebook that answers none. ``analysis``: the saved analysis
    (study_verdicts, from seed_scores.csv); default, notebook_verdicts from the registry's runs: the same rows."""
    steps = {q.step for q in questions_of(notebook)}
    table = notebook_verdicts(notebook, profile, encoder) if analysis is None else \
        analysis[analysis["step"].isin(steps)].reset_index(drop=True)
    if table.empty:
        return ""
    families = ", ".join(f"`{f}` {int(rows['tests'].iloc[0])} tests (each interval at {100 * rows['level'].iloc[0]:.2f}%)"
                         for f, rows in table.groupby("family", sort=False))
    return f"The study's verdicts on this notebook's questions (families: {families}):\n\n" + verdicts_markdown(table)


def prior_beside(profile: str, encoder: str, row: str, metric: str) -> pd.DataFrame:
    """The encoder's prior (encoder_prior.csv: `python -m quarbert_lib prior`, no weight trained) on ``metric``
    beside ``row``'s score (its ablation row, mean over seeds): a measurement to set beside a step, not a reason.
    Empty when either is not saved yet."""
    prior = results.read_table("encoder_prior.csv", profile, encoder)
    rows = ablation_rows(profile, encoder).set_index("variant")
    if prior is None or row not in rows.index or metric not in set(prior["metric"]):
        return pd.DataFrame(columns=["metric", "encoder_prior", "row", "row_score", "difference"])
    value = float(prior.set_index("metric").loc[metric, "value"])
    return pd.DataFrame([{"metric": metric, "encoder_prior": value, "row": row, "row_score": rows.loc[row, metric],
                          "difference": rows.loc[row, metric] - value}])


def prior_markdown(profile: str, encoder: str, row: str, metric: str) -> str:
    """prior_beside as markdown, or one sentence saying what is missing and the command that measures it."""
    table = prior_beside(profile, encoder, row, metric)
    if len(table):
        return markdown_table(list(table.columns), readable(table).astype(str).values.tolist())
    if results.read_table("encoder_prior.csv", profile, encoder) is None:
        return (f"The encoder's prior is not measured for profile {profile!r} and encoder {encoder!r} yet: "
                f"`python -m quarbert_lib prior --profile {profile} --encoder {encoder}` measures it (no training).")
    return f"`{row}` has no row in this profile's ablation table yet: run its notebook first."


def study_verdicts(profile: str, encoder: str) -> pd.DataFrame:
    """The pre-registered analysis (verdicts.analyse) of every declared question, from the per-seed scores saved in
    seed_scores.csv (notebook 09 collects them from the registry), with the paper's effects."""
    scores = results.read_table("seed_scores.csv", profile, encoder)
    if scores is None:
        scores = pd.DataFrame(columns=["variant", "seed", *verdicts.margins()])
    return verdicts.analyse(scores, paper=paper_dev())


def family_counts(table: pd.DataFrame) -> str:
    """'paper (7 tests): 1 helps, 0 hurts, 0 equivalent, 6 inconclusive; ...' for each declared family; a test whose
    rows have no seeds to pair yet counts as not trained yet, not as inconclusive."""
    parts = []
    for family in FAMILIES:
        rows = table[table["family"] == family]
        untrained = int((rows["pairs"] == 0).sum())
        counts = [f"{int((rows[rows['pairs'] > 0]['verdict'] == v).sum())} {v}" for v in verdicts.VERDICTS]
        parts.append(f"{family} ({spec_size(family)} tests): "
                     + (f"{untrained} not trained yet" if untrained == len(rows) else
                        ", ".join(counts + ([f"{untrained} not trained yet"] if untrained else []))))
    return "; ".join(parts)


def verdict_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's opening: the paper's claims with this study's answers (paper_claims), then how many of each
    family's declared tests end in each word. An empty string before any ladder row exists."""
    if ablation_rows(profile, encoder).empty:
        return ""
    table = study_verdicts(profile, encoder)
    return "\n".join([
        "**The paper's claims, tested.** Step rows carry the verdict of the one pre-registered analysis "
        "(`quarbert_lib/study/spec.py` declares its questions and families; `quarbert_lib/reporting/verdicts.py` its "
        "rule: the effect is the mean seed-paired difference, its interval Bonferroni-adjusted over the family's "
        "declared tests, and the word is read off that interval against the margin, ±0.01 overall). The paper used "
        "bert-base-uncased for ten epochs on all data; this study uses all-MiniLM-L6-v2 for one epoch on 2,400 "
        "examples a task, so a difference from the paper's effect is a finding about this setting.", "",
        claims_markdown(paper_claims(profile, encoder)), "",
        f"All declared tests: {family_counts(table)}. Inconclusive is not \"no effect\": the interval shows what the "
        "data still allow (`reports/results.md` lists every test).", "", *own_question_lines(table),
        *context_lines(profile, encoder)])


def own_question_lines(table: pd.DataFrame) -> list[str]:
    """The project's own families' tests (every family but the paper's) whose word is not inconclusive, one bullet a
    family: each comparison, its words by metric and the overall effect with its adjusted interval."""
    lines = []
    for family in (f for f in FAMILIES if not f.startswith("paper")):
        mine = table[table["family"] == family]
        rows = mine[(mine["pairs"] > 0) & (mine["verdict"] != "inconclusive")]
        if rows.empty:
            continue
        untrained = int((mine["pairs"] == 0).sum())
        parts = []
        for step, group in rows.groupby("step", sort=False):
            words = ", ".join(f"{r.verdict} on {_SHORT.get(r.metric, r.metric)}"
                              + (f" {_interval(r)}" if r.metric == "overall" else "") for r in group.itertuples())
            parts.append(f"{group['label'].iloc[0]}, `{step}`: {words}")
        lines.append(f"- **Beyond the paper's steps, family `{family}`** (every other test of its {spec_size(family)} "
                     f"is inconclusive{f' or, {untrained} of them, not trained yet' if untrained else ''}): "
                     + "; ".join(parts) + ".")
    return lines


def context_lines(profile: str, encoder: str) -> list[str]:
    """Measurements beside the verdicts, no test among them: the frozen encoder's prior against the fine-tuned and
    highest single-model rows, the best model chosen on the calibration split (best_model.csv: its lead over the
    next candidate, its dev score against the target), and the longest budget's best point (one seed) against the
    best row of the ladder's budget (spec.LADDER: a converged or natural-size row trains longer)."""
    df = ablation_rows(profile, encoder)
    rows = {r["variant"]: r for _, r in df.iterrows()}
    single = df[~df["variant"].isin(list(ENSEMBLES))]
    best = single.loc[single["overall"].idxmax()] if len(single) else None
    ladder = single[single["variant"].isin(LADDER)]
    best_ladder = ladder.loc[ladder["overall"].idxmax()] if len(ladder) else None
    lines = []
    prior = results.read_table("encoder_prior.csv", profile, encoder)
    overall = None if prior is None else normalized_overall(prior)
    if overall is not None and best is not None:
        v = dict(zip(prior["metric"], prior["value"]))
        tuned = rows.get("baseline-finetune")
        lines.append(f"- **The encoder's prior.** all-MiniLM-L6-v2 with no weight trained scores STS r "
                     f"{v['sts_pearson']:.3f} (its cosine), QQP {v['qqp_acc']:.3f} (a cosine threshold fitted on the "
                     f"training split) and SST {v['sst_acc']:.3f} (a linear probe): overall {overall:.3f}, against "
                     + ("" if tuned is None else f"{tuned['overall']:.3f} for `baseline-finetune` and ")
                     + f"{best['overall']:.3f} for the highest single-model row (`{best['variant']}`, "
                     + (f"mean over {int(best['seeds'])} seeds). " if best["seeds"] > 1 else "one seed). ")
                     + "The frozen baseline `baseline-pretrain` trains only its heads, so the fine-tuning step is measured "
                     "against that, not against the prior.")
    candidates = results.read_table("best_model.csv", profile, encoder)     # best calibration score first
    chosen = None if candidates is None else candidates[candidates["chosen"].astype(bool)]
    if chosen is not None and len(chosen):
        model, scored, runner_up = chosen.iloc[0], candidates["calib_overall"].notna().sum(), tables.choice_lead(candidates)
        lead = "" if runner_up is None else f", {runner_up[1]:.4f} above the next of the {scored} candidates scored there"
        lines.append(f"- **The best model** (notebook 13, no test): `{model['model']}` ({model['kind']}, "
                     f"{int(model['runs'])} run{'s' if model['runs'] > 1 else ''}), chosen on the held-out calibration "
                     f"split (calibration overall {model['calib_overall']:.4f}{lead}); its dev overall is "
                     f"{model['overall']:.4f}, against the project's target {TARGET_OVERALL}. Dev chose each run's "
                     "epoch, so that dev score is not untouched by selection. It is what `submit` writes.")
    curve = results.read_table("quality_per_minute.csv", profile, encoder)
    if curve is not None and len(curve) and best_ladder is not None:
        top = curve.loc[curve["overall"].idxmax()]
        lines.append(f"- **A longer budget** (notebook 11, one seed, no test): `{top['recipe']}` reaches "
                     f"{top['overall']:.3f} at epoch {int(top['epoch'])} after {top['train_minutes']:.1f} training "
                     f"minutes, against {best_ladder['overall']:.3f} for `{best_ladder['variant']}` (" +
                     (f"mean over {int(best_ladder['seeds'])} seeds" if best_ladder["seeds"] > 1 else "one seed") +
                     "), the best single-model row at the ladder's budget.")
    return lines


def ensemble_recipe_note(df: pd.DataFrame) -> str:
    """What the quartet rows average: the paper's (smart-simcse members) and the project's (sampling members)."""
    if not df["variant"].isin(list(ENSEMBLES)).any():
        return ""
    return (f"`ensemble-smart-simcse` and `ensemble-lora-smart-simcse` average three specialists and one multitask model "
            f"trained with `{PAPER_RECIPE}`, as the paper's quartets do; `ensemble` and `ensemble-lora` average `sampling` "
            "members (the project's question; the paper has no such row).")


def results_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's results block: the committed study's rows (profile ``profile``), from reports/tables, in
    the columns a reader compares (reports/results.md has them all)."""
    parts = []
    df = ablation_rows(profile, encoder)
    if len(df):
        paper = paper_dev()
        table = markdown_table(
            ["variant", "trains on", "seeds", *metric_labels().values(), "paper overall", "train s"],
            [[f"`{r['variant']}`", budget(r["variant"], profile), int(r["seeds"]),
              *[fmt_std(r[c], r.get(f"{c}_std") if int(r["seeds"]) > 1 else None)
                for c in metric_labels()],
              f"{paper[r['variant']]['overall']:.3f}" if r["variant"] in paper else "–",
              f"{r['train_seconds']:.0f}" if pd.notna(r["train_seconds"]) else ""] for _, r in df.iterrows()])
        parts += [f"Multitask dev scores of the committed `{profile}` study, mean ± std over seeds "
                  "(`reports/tables/ablation.csv`; all columns in `reports/results.md`; paper: bert-base-uncased, its "
                  "Table 2). \"trains on\": training examples a task × epochs (a round-robin epoch takes as many batches "
                  "of each task as the smallest task has); a run of several epochs scores at the epoch dev chose, so its "
                  "row's mean can exceed each epoch's mean over seeds:",
                  "", table, ""]
        notes = sorted({n for n in df.get("data_note", pd.Series(dtype=str)).dropna() for n in n.split(" | ") if n})
        parts += [f"Data note: {n}." for n in notes]
        parts += [note for note in [ensemble_recipe_note(df)] if note]
        parts.append("")
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


def _batch_off(spec, profile: str) -> bool:
    """Whether the profile's batch parameters turn off every group of runs a notebook declares (its `when`)."""
    batch = PROFILE_NOTEBOOK_PARAMS.get(profile, {})
    return bool(spec.groups) and all(g.off_in(batch) for g in spec.groups)


def _batch_stems(spec, profile: str) -> list[tuple[str, list[int]]]:
    """(run stem, seeds) of a notebook's trained rows and named runs as the profile's batch trains them: without the
    groups its parameters turn off (a group's `when`), on the seeds they set (a group's `seeds`)."""
    batch, groups = PROFILE_NOTEBOOK_PARAMS.get(profile, {}), {g.key: g for g in spec.groups}
    out = []
    for stem in [*(r for r in spec.rows if r in VARIANTS), *spec.stems]:
        group = groups.get(stem)
        if group is not None and group.off_in(batch):
            continue
        out.append((stem, batch[group.seeds] if group is not None and group.seeds in batch else
                    notebook_seeds(spec.name, profile)))
    return out


def records_section(profile: str = "cpu", encoder: str = "minilm-l6") -> str:
    """The README's line on the committed run records: where, how many runs of which notebooks, how big."""
    root = records.records_dir() / profile
    runs = sorted(p.parent for p in root.glob("*/*/config.json")) if root.is_dir() else []
    members = sorted(p.parent for p in root.glob("*/*/members.json")) if root.is_dir() else []
    notebooks = sorted({p.parent.name[:2] for p in [*runs, *members]})
    if not runs:
        return f"No run is recorded under `records/{profile}/` yet."
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    # a notebook that trains is unrecorded while a seed of one of its trained rows (not an ensemble of them) or of
    # the other runs it names (NotebookSpec.stems: notebook 12's recipes) is missing, as the profile's batch runs it
    # (recipes.PROFILE_NOTEBOOK_PARAMS: a group it turns off, `when`, or the seeds it sets, `seeds`)
    unrecorded = [s.name[:2] for s in NOTEBOOKS if s.trains and not _batch_off(s, profile) and (
        not (root / s.name).is_dir() or not all((root / s.name / run_name(stem, seed=k)).is_dir()
                                                for stem, seeds in _batch_stems(s, profile) for k in seeds))]
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


# -- the paper's claims, each with this study's measured answer ------------------------------------------------------

CLAIM_COLUMNS = ["claim", "paper", "ours", "verdict", "by task", "reason"]
_SHORT = {"sst_acc": "SST", "qqp_acc": "QQP", "sts_pearson": "STS", "overall": "overall"}


def _interval(r) -> str:
    if pd.isna(r.effect):
        return "not trained yet"
    ci = "" if pd.isna(r.ci_low) else f" [{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
    return f"{r.effect:+.3f}{ci} ({r.pairs} seed{'' if r.pairs == 1 else 's'} paired)"


def _best_of(table: pd.DataFrame | None, setting: list[str]) -> str:
    """'SST at λ 0.5, QQP at λ 2, STS at λ 0.5' from a sweep table: each task's best setting."""
    if table is None or table.empty:
        return "no sweep yet"
    label = {"lambda": "λ_s"}
    return ", ".join(f"{_SHORT[c]} at " + " ".join(f"{label.get(s, s)} {table.loc[table[c].idxmax(), s]:g}" for s in setting)
                     for c in ("sst_acc", "qqp_acc", "sts_pearson"))


def paper_claims(profile: str = "cpu", encoder: str = "minilm-l6") -> pd.DataFrame:
    """One row per claim of the paper (quarbert_lib/paper/README.md): the claim, the paper's number, this study's
    measurement, the word for it and the reason where one was measured (else "open"). Step rows carry the
    pre-registered analysis's verdict (study_verdicts, family "paper" on overall, "paper-tasks" by task); the other
    rows are measurements or one-seed sweeps, and say so in words that are not verdicts."""
    table = study_verdicts(profile, encoder)
    by = {(r.step, r.metric): r for r in table.itertuples()}
    prior = results.read_table("encoder_prior.csv", profile, encoder)
    prior_overall = None if prior is None else normalized_overall(prior)
    rows = []
    for q in (q for q in QUESTIONS if q.family == "paper"):
        r = by[(q.step, "overall")]
        words = ", ".join(f"{_SHORT.get(m, m)} {by[(q.step, m)].verdict}" for m in family_metrics("paper-tasks"))
        lora = q.after.startswith("ensemble-lora")
        claim = (f"{q.label}: worse on all three tasks (Section 5.4)" if lora else
                 f"{q.label} improves on the frozen encoder's heads (Table 2)" if q.before == "baseline-pretrain" else
                 f"{q.label} improves the score (Section 5.4: every extension did)")
        reason = "open"
        if q.before == "baseline-pretrain" and prior_overall is not None:
            reason = (f"beside the frozen encoder's own prior (cosine, a fitted threshold, a linear probe): overall "
                      f"{prior_overall:.3f}; the frozen baseline trains only its heads")
        trained = not pd.isna(r.effect)
        rows.append({"claim": claim, "paper": "" if pd.isna(r.paper_effect) else f"{r.paper_effect:+.3f}",
                     "ours": _interval(r), "verdict": r.verdict if trained else "none yet",
                     "by task": words if trained else "", "reason": reason if trained else "open: not trained yet"})
    held = results.read_table("dev_choices_calib.csv", profile, encoder)

    def on_calib(sweep: str) -> str:
        """How often the held-out calibration split picks the setting dev picks, over the sweep's scores."""
        mine = None if held is None else held[held["sweep"] == sweep]
        if mine is None or mine.empty:
            return ""
        other = ", ".join(f"{_SHORT.get(r.score, r.score)} {r.calib_choice}" for r in mine.itertuples() if not r.agree)
        return (f"; the held-out calib split picks dev's setting for {int(mine['agree'].sum())} of {len(mine)} scores"
                + (f" (it picks {other})" if other else ""))

    lam = results.read_table("lambda_sweep.csv", profile, encoder)
    words = ", ".join(f"{_SHORT.get(m, m)} {by[('advreg-only -> sweep-lambda0.5', m)].verdict}" for m in family_metrics("paper-tasks"))
    rows.append({"claim": "λ_s: lower is better for SST; QQP and STS peak near λ_s = 5 (Figure 3)", "paper": "λ_s 5",
                 "ours": f"one seed: {_best_of(lam, ['lambda'])}{on_calib('λ_s')}; λ_s 0.5 against 5: "
                         f"{_interval(by[('advreg-only -> sweep-lambda0.5', 'overall')])} overall",
                 "verdict": by[("advreg-only -> sweep-lambda0.5", "overall")].verdict + " (λ_s 0.5 against 5)",
                 "by task": words, "reason": "open"})
    grid = results.read_table("lr_dropout.csv", profile, encoder)
    outside = "" if grid is None or 1e-5 in set(grid["lr"]) else (
        f"; lr 1e-5 is outside this grid (lr {', '.join(f'{v:g}' for v in sorted(set(grid['lr'])))})")
    rows.append({"claim": "lr 1e-5 with dropout 0.1 is best on all three tasks (Table 3)", "paper": "lr 1e-5, dropout 0.1",
                 "ours": f"{_best_of(grid, ['lr', 'dropout'])} (one seed, short runs){on_calib('lr × dropout')}{outside}",
                 "verdict": "no test (one seed)", "by task": "", "reason": "open"})
    checks = results.read_table("paper_checks.csv", profile, encoder)
    if checks is not None and len(checks):
        sst = checks.dropna(subset=["sst_within_two"])
        rows.append({"claim": "99% of SST errors are within one or two levels (Section 6)", "paper": "0.99",
                     "ours": f"{sst['sst_within_two'].min():.3f} to {sst['sst_within_two'].max():.3f} within two, "
                             f"{sst['sst_within_one'].min():.3f} to {sst['sst_within_one'].max():.3f} within one "
                             f"({len(sst)} rows, seed 0; notebook 10)",
                     "verdict": "below the paper's" if sst["sst_within_two"].max() < 0.99 else "as the paper's",
                     "by task": "", "reason": "open"})
        sts = checks.dropna(subset=["sts_slope"])
        # each row's own reading, grouped by it: which rows are conservative is what was measured, not why
        said = "; ".join(f"{'conservative' if flag else 'not conservative'}: {', '.join(g['row'])} (slope "
                         f"{g['sts_slope'].min():.2f} to {g['sts_slope'].max():.2f}, predictions {g['sts_min'].min():.2f} "
                         f"to {g['sts_max'].max():.2f})" for flag, g in sts.groupby("conservative", sort=True))
        rows.append({"claim": "STS predictions are too conservative at the extremes, 0 and 5 (Section 6)",
                     "paper": "conservative", "ours": said + " (seed 0; notebook 10)",
                     "verdict": "depends on the row" if sts["conservative"].nunique() > 1 else
                     ("as the paper's" if sts["conservative"].all() else "not as the paper's"),
                     "by task": "", "reason": "open"})
    params = results.read_table("lora_params.csv", profile, encoder)
    if params is not None and len(params):
        p = params.iloc[0]
        share = (p["adapters"] + p["heads"]) / p["total"]
        rows.append({"claim": "LoRA trains 2.6% of the parameters (Section 5.4)", "paper": "0.026",
                     "ours": f"{share:.3f} of the model's parameters trainable (adapters and heads, r {int(p['lora_r'])}; "
                             "notebook 08)", "verdict": "measured", "by task": "", "reason": "rank and targets set it"})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def normalized_overall(prior: pd.DataFrame) -> float | None:
    """The encoder prior's overall score (encoder_prior.csv's 'overall' row, or the course formula over its tasks)."""
    values = dict(zip(prior["metric"], prior["value"]))
    if "overall" in values:
        return float(values["overall"])
    columns = [c for c in ("sst_acc", "qqp_acc", "sts_pearson") if c in values]
    if len(columns) < 3:
        return None
    return float(np.mean([normalized_score(next(t for t in TASKS if TASKS[t].table_column == c), values[c])
                          for c in columns]))


def claims_markdown(claims: pd.DataFrame) -> str:
    return markdown_table(CLAIM_COLUMNS, [[str(v) for v in r] for r in claims.itertuples(index=False)])

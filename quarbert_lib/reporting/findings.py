"""What a notebook's numbers say, in words, built from its saved tables (no number typed by hand).

Each function returns Markdown for a notebook's closing "What this shows" section. A comparison the study
declared (spec.QUESTIONS) is stated with the pre-registered analysis's verdict (``verdicts.analyse``); any other
comparison of two rows is its own Welch test (``verdicts.comparison_table``), stated in words that are not
verdicts ("above zero", "inside the margin", ...); "one seed only" where a row has one seed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..base.tasks import STUDY_TASKS, TASKS, study_columns
from ..study.smart_strength import INERT_BELOW
from . import verdicts


def _short() -> dict[str, str]:
    """{table column: the task's short name} of the study's tasks (tasks.STUDY_TASKS), then 'overall'."""
    return {**{TASKS[t].table_column: TASKS[t].short for t in STUDY_TASKS}, "overall": "overall"}


def verdict(test: dict) -> str:
    """Words for one row of an analysis table ('inconclusive (adjusted interval [-0.025, +0.052] at 99.86%)') or
    of a comparison table ('undecided (95% CI [...], Welch p 0.301, Holm 1.000)'); 'one seed only' without an
    interval."""
    if "level" in test:
        if pd.isna(test.get("ci_low")):
            return f"{test['verdict']} (no interval: {test['pairs']} seeds paired)"
        return (f"**{test['verdict']}** (adjusted interval [{test['ci_low']:+.3f}, {test['ci_high']:+.3f}] at "
                f"{100 * test['level']:.2f}%, the study's analysis)")
    if pd.isna(test.get("p")):
        return "one seed only"
    return (f"{test['reading']} (95% CI [{test['ci_low']:+.3f}, {test['ci_high']:+.3f}], Welch p {test['p']:.3f}, "
            f"Holm {test['p_holm']:.3f})")


def step_sentence(rows: dict, before: str, after: str, columns=("overall",), analysis: pd.DataFrame | None = None) -> str:
    """'`a` → `b`: overall +0.004, inconclusive (...)' for two ablation rows, or '' if either is missing. A step of
    ``analysis`` (the pre-registered analysis) carries its verdicts; any other is its own Welch comparison, in
    other words."""
    if before not in rows or after not in rows:
        return ""
    family = ""
    step = f"{before} -> {after}"
    table = analysis if analysis is not None else pd.DataFrame(columns=["step", "metric"])
    mine = table[(table["step"] == step) & table["metric"].isin(columns)]
    if len(mine) < len(columns):
        mine = verdicts.comparison_table(pd.DataFrame([rows[before], rows[after]]), [(before, after)], columns)
        tested = int(mine["p"].notna().sum())
        family = f" (Welch, Holm over this comparison's {tested} tests: not one of the study's declared questions)" if tested else ""
    mine = mine.drop_duplicates("metric").set_index("metric")
    parts = [f"{_short()[c]} {mine.loc[c, 'effect']:+.3f}, {verdict(mine.loc[c].to_dict())}" for c in columns]
    return f"`{before}` → `{after}`: " + "; ".join(parts) + family


def _ratio_range(df: pd.DataFrame) -> str:
    return f"{df['grad_ratio'].min():.1e} to {df['grad_ratio'].max():.1e}"


def strength_findings(strength: pd.DataFrame, threshold: float) -> list[str]:
    out = []
    literal, ladder = strength[strength["setting"] == "advreg-literal"], strength[strength["setting"] == "advreg-only"]
    control = strength[strength["setting"].str.contains("radius 0")]
    if len(literal):
        out.append(f"- **The paper's numbers read as equations are inert.** At `advreg-literal` (project, word, "
                   f"ε = 1e-5) SMART's gradient is {_ratio_range(literal)} of the task loss's across tasks, and δ is "
                   f"{literal['relative_size'].mean():.1e} of the word vector it perturbs. "
                   + ("The guard marks it inert." if (literal["grad_ratio"] < threshold).all() else
                      "Above the guard's threshold on some task."))
    if len(ladder):
        out.append(f"- **Read as the libraries run them, they act.** `advreg-only` (normalize, embedding, radius "
                   f"{ladder['size'].iloc[0]:g}, fresh dropout) perturbs each token by {ladder['relative_size'].mean():.2f} "
                   f"of the embedding layer's output (l2, mean over tokens), and its gradient is {_ratio_range(ladder)} "
                   "of the task loss's.")
    if len(ladder) and len(control):
        share = (control["grad_ratio"].values / ladder["grad_ratio"].values)
        mostly = np.nanmedian(share) >= 0.5
        out.append(("- **Much of that is dropout, not the perturbation.** " if mostly else "- **Dropout's share.** ")
                   + f"With fresh masks and radius 0 (no perturbation at all) the term's gradient is "
                   f"{_ratio_range(control)}: {np.nanmin(share):.0%} to {np.nanmax(share):.0%} of the ladder's, task "
                   "by task. Under the libraries' `fresh` dropout, SMART is "
                   + ("largely a dropout-consistency term (as in R-Drop) with an adversarial part on top"
                      if mostly else "mostly the perturbation, with a dropout-consistency part (as in R-Drop)")
                   + "; `same` isolates the adversarial part (section 5).")
    grid = strength[strength["setting"] == "grid"]
    if len(grid):
        mean = grid.groupby(["convention", "space", "size"], as_index=False)["grad_ratio"].mean()
        first = []
        for (convention, space), df in mean.groupby(["convention", "space"]):
            acting = df[df["grad_ratio"] >= threshold]["size"]
            name = "ε" if convention == "project" else "radius"
            first.append(f"{convention}/{space} from {name} = {acting.min():g}" if len(acting)
                         else f"{convention}/{space} at no size measured")
        out.append(f"- Over the grid (dropout `same`, mean over tasks) SMART stops being inert (ratio ≥ {threshold:g}) "
                   f"for {'; '.join(first)}.")
    return out


def sweep_findings(table: pd.DataFrame, x: str, seed_std: float | None = None, seeds: int | None = None) -> str:
    """The sweep's spread against the seed noise (``seed_std``: the overall std of a row over its ``seeds`` seeds),
    and where each task peaks."""
    spread = table["overall"].max() - table["overall"].min()
    peaks = ", ".join(f"{label} at {x} = {table.loc[table[c].idxmax(), x]:g}"
                      for c, label in _short().items() if c in table)
    noise = ""
    if seed_std is not None and not pd.isna(seed_std) and seed_std > 0:
        row = f"{seeds}-seed row" if seeds else "row"
        noise = (f" That spread is {spread / seed_std:.1f} times the seed std of the {row} "
                 f"({seed_std:.3f}): " + ("larger than seed noise." if spread > 2 * seed_std else
                                          "not clearly larger than seed noise; one seed per point cannot rank them."))
    return (f"overall ranges from {table['overall'].min():.3f} to {table['overall'].max():.3f} "
            f"(spread {spread:.3f}, one seed per point).{noise} Best: {peaks}.")


def smart_findings(strength: pd.DataFrame, ablation: pd.DataFrame, analysis: pd.DataFrame, lambda_table: pd.DataFrame,
                   radius_table: pd.DataFrame, dropout_table: pd.DataFrame, no_smart: pd.DataFrame,
                   threshold: float | None = None, lambda_seeds: pd.DataFrame | None = None) -> str:
    """Notebook 04's closing section."""
    threshold = INERT_BELOW if threshold is None else threshold
    rows = {r["variant"]: r for _, r in ablation.iterrows()}
    md = ["#### Strength", *strength_findings(strength, threshold), "", "#### Ladder rows (dev, mean over seeds)"]
    for before, after in (("sampling", "advreg-literal"), ("sampling", "advreg-only"), ("advreg-literal", "advreg-only"),
                          ("advreg-only", "smart")):
        line = step_sentence(rows, before, after, ("overall", "sst_acc", "qqp_acc", "sts_pearson"), analysis)
        if line:
            md.append(f"- {line}.")
    if "sampling" in rows and "advreg-literal" in rows:
        md.append("- With SMART's noise drawn from its own generator, the literal row no longer reseeds the run's "
                  "dropout, so whatever separates it from `sampling` is the regularizer's own (tiny) gradient.")
    ladder = rows.get("advreg-only")
    lam_std, lam_seeds = (None, None) if ladder is None else (ladder["overall_std"], int(ladder["seeds"]))
    md += ["", "#### λ_s sweep (Figure 3)", "- " + sweep_findings(lambda_table, "lambda", lam_std, lam_seeds)]
    best = {c: lambda_table.loc[lambda_table[c].idxmax(), "lambda"] for c in ("sst_acc", "qqp_acc", "sts_pearson")}
    low = lambda_table["lambda"].min()
    shape = best["sst_acc"] <= min(1.0, lambda_table["lambda"].max()) and all(2 <= best[c] <= 10 for c in ("qqp_acc", "sts_pearson"))
    md.append(f"- The paper's Figure 3 has SST best at low λ_s and QQP and STS best near 5. Here SST peaks at "
              f"{best['sst_acc']:g} (lowest tried: {low:g}), QQP at {best['qqp_acc']:g} and STS at {best['sts_pearson']:g}: "
              + ("the same shape, on one seed per point" if shape else "not the paper's shape, on one seed per point")
              + "; the five-seed test of λ_s 0.5 against 5 (the study's analysis, below) is the one with a verdict.")
    md.append(figure3_source(strength, best, threshold))
    md += seeded_lambda_lines(lambda_seeds, rows, lambda_table)
    if len(radius_table):
        md += ["", "#### Radius sweep", "- " + sweep_findings(radius_table, "radius")]
        if len(no_smart):
            base = float(no_smart["overall"].iloc[0])
            above = radius_table[radius_table["overall"] > base]["radius"].tolist()
            md.append(f"- Without SMART, the same budget scores {base:.3f} overall; "
                      + (f"radii {', '.join(f'{r:g}' for r in above)} score above it (one seed)." if above
                         else "no radius scores above it (one seed)."))
            spread = radius_table["overall"].max() - radius_table["overall"].min()
            if not above and spread < (base - radius_table["overall"].max()):
                md.append(f"- **Flat in the radius, and below no SMART by more than its spread** (one seed a point): "
                          f"a perturbation {radius_table['radius'].max() / radius_table['radius'].min():g} times "
                          "smaller costs the same. The radius-0 control under Strength measures the part of the term "
                          "that does not depend on the perturbation; whether that part is what costs dev here is open.")
    if len(dropout_table):
        md += ["", "#### Dropout in the adversarial passes", *dropout_lines(dropout_table, no_smart)]
    return "\n".join(md)


def dropout_lines(dropout_table: pd.DataFrame, no_smart: pd.DataFrame) -> list[str]:
    """Each dropout mode of the adversarial passes, and which of them stay near the same budget without SMART."""
    out = ["- " + "; ".join(f"`{r.smart_dropout}` {r.overall:.3f}" for r in dropout_table.itertuples())
           + " overall (one seed, short budget)."]
    if len(no_smart):
        base = float(no_smart["overall"].iloc[0])
        near = [r.smart_dropout for r in dropout_table.itertuples() if abs(r.overall - base) <= 0.01]
        far = [r.smart_dropout for r in dropout_table.itertuples() if r.overall < base - 0.01]
        out.append(f"- Against {base:.3f} without SMART at the same budget: "
                   + (f"{', '.join(f'`{m}`' for m in near)} within 0.01 of it" if near else "no mode within 0.01 of it")
                   + (f"; {', '.join(f'`{m}`' for m in far)} below it by more" if far else "") + "."
                   + (" `same` (the clean pass's masks) leaves only the perturbation's own effect, so the gap of "
                      "`fresh` is what the disagreement of two dropout masks costs, not the adversarial part."
                      if "fresh" in far and "same" in near else ""))
    return out


def figure3_source(strength: pd.DataFrame, best: dict, threshold: float) -> str:
    """Which reading of SMART can have produced the paper's Figure 3: the literal one cannot move with λ_s
    when its gradient is below the guard's threshold (λ_s scales a near-zero term)."""
    literal = strength[strength["setting"] == "advreg-literal"]
    paper_like = [label for c, label, ok in (("sst_acc", "SST", best["sst_acc"] <= 1.0),
                                             ("qqp_acc", "QQP", 2 <= best["qqp_acc"] <= 10),
                                             ("sts_pearson", "STS", 2 <= best["sts_pearson"] <= 10)) if ok]
    moved = (f"the libraries' reading (the sweep above) puts {', '.join(paper_like)} where the paper has "
             f"{'it' if len(paper_like) == 1 else 'them'}" if paper_like else
             "the libraries' reading moves with λ_s, though not into the paper's shape")
    if literal.empty:
        return f"- Which reading gives Figure 3: {moved}; the literal row's strength is not measured here."
    inert = bool((literal["grad_ratio"] < threshold).all())
    return ("- Which reading gives Figure 3: " + (
        f"not the equations'. At ε = 1e-5 the literal term's gradient is at most {literal['grad_ratio'].max():.1e} "
        "of the task loss's, so λ_s only scales a term that is almost zero and every λ_s trains almost exactly "
        f"the `sampling` run: a flat sweep. Only a perturbation of the libraries' size can move with λ_s, and {moved}. "
        "Which implementation the paper ran is open." if inert else
        f"both readings act here (the literal term's gradient reaches {literal['grad_ratio'].max():.1e} of the "
        f"task loss's); {moved}."))


def seeded_lambda_lines(lambda_seeds: pd.DataFrame | None, rows: dict, lambda_table: pd.DataFrame) -> list[str]:
    """The λ points run on several seeds, tested (Welch) against λ_s = 5 (`advreg-only`) and against no SMART."""
    if lambda_seeds is None or lambda_seeds.empty:
        return []
    out = []
    points = lambda_seeds.sort_values("lambda").assign(variant=lambda d: [f"λ_s = {x:g}" for x in d["lambda"]])
    references = [(r, label) for r, label in (("advreg-only", "against λ_s = 5 (`advreg-only`)"),
                                              ("sampling", "against no SMART (`sampling`)")) if r in rows]
    # one Holm family: every point against every reference, on every metric
    table = verdicts.comparison_table(pd.concat([pd.DataFrame([rows[r] for r, _ in references]), points]),
                                   [(r, p) for p in points["variant"] for r, _ in references])
    for _, point in points.iterrows():
        name = point["variant"]
        parts = []
        for reference, label in references:
            tests = table[table["step"] == f"{reference} -> {name}"].set_index("metric")
            parts.append(f"{label}: overall {tests.loc['overall', 'effect']:+.3f}, "
                         f"{verdict(tests.loc['overall'].to_dict())} (" + ", ".join(
                             f"{_short()[c]} {tests.loc[c, 'effect']:+.3f}" for c in study_columns()) + ")")
        out.append(f"- {name} on {int(point['seeds'])} seeds: overall {point['overall']:.3f} ± "
                   f"{point['overall_std']:.3f}; " + "; ".join(parts) + ".")
    tested = int(table["p"].notna().sum())
    if tested:
        out.append(f"- Welch, Holm over these {tested} tests (each seeded λ_s point against each reference, overall and "
                   "per task): a comparison of its own, in words that are not verdicts; the study's analysis declares "
                   "λ_s 0.5 against 5 and gives its verdict above.")
    best = lambda_table.loc[lambda_table["overall"].idxmax(), "lambda"]
    if best not in set(lambda_seeds["lambda"]):
        out.append(f"- The seed-0 sweep's best point (λ_s = {best:g}) has one seed only.")
    return out

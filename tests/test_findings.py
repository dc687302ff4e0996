"""The generated findings against hand-made tables: a declared question in the pre-registered analysis's words
(recomputed here from its table), any other comparison in words of its own with Welch's p checked against scipy."""
import pandas as pd
import pytest
from scipy.stats import ttest_ind_from_stats

from quarbert_lib.reporting import findings, verdicts
from quarbert_lib.study import tables

PAPER = {"a": {"sst_acc": 0.5, "qqp_acc": 0.8, "sts_pearson": 0.7, "overall": 0.7},
         "b": {"sst_acc": 0.52, "qqp_acc": 0.85, "sts_pearson": 0.8, "overall": 0.74}}


def _row(variant, seeds, overall, overall_std, **task):
    base = {"sst_acc": 0.4, "qqp_acc": 0.8, "sts_pearson": 0.8}
    base.update(task)
    row = {"variant": variant, "seeds": seeds, "overall": overall, "overall_std": overall_std}
    for c, v in base.items():
        row[c], row[f"{c}_std"] = v, overall_std
    return row


def test_sweep_spread_against_seed_noise():
    sweep = pd.DataFrame({"lambda": [1.0, 5.0], "overall": [0.70, 0.71], "sst_acc": [0.45, 0.40],
                          "qqp_acc": [0.8, 0.81], "sts_pearson": [0.8, 0.83]})
    text = findings.sweep_findings(sweep, "lambda", seed_std=0.002, seeds=5)
    assert "spread 0.010" in text and "5.0 times the seed std of the 5-seed row" in text
    assert "larger than seed noise" in text
    assert "SST at lambda = 1" in text and "STS at lambda = 5" in text
    assert "not clearly larger" in findings.sweep_findings(sweep, "lambda", seed_std=0.01)


def _save(name, rows):
    from quarbert_lib.base.paths import tables_dir
    tables_dir().mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(tables_dir() / name, index=False)


def _ablation_row(variant, seeds, overall, std):
    return {**_row(variant, seeds, overall, std), "encoder": "e", "profile": "cpu", "seed_list": " ".join(map(str, range(seeds))),
            "params_total": 10, "params_trainable": 5, "train_seconds": 60.0}


def test_a_seeded_lambda_point_is_tested_against_the_ladder_rows():
    """λ points run on several seeds: Welch against λ_s = 5 (`advreg-only`) and against no SMART (`sampling`)."""
    rows = {"advreg-only": pd.Series(_row("advreg-only", 3, 0.706, 0.005)),
            "sampling": pd.Series(_row("sampling", 3, 0.717, 0.004))}
    seeded = pd.DataFrame([{**_row("sweep-lambda0.5", 3, 0.713, 0.002), "lambda": 0.5}])
    sweep = pd.DataFrame({"lambda": [0.5, 1.0], "overall": [0.713, 0.716]})
    lines = findings.seeded_lambda_lines(seeded, rows, sweep)
    p_ladder = ttest_ind_from_stats(0.713, 0.002, 3, 0.706, 0.005, 3, equal_var=False).pvalue
    p_plain = ttest_ind_from_stats(0.713, 0.002, 3, 0.717, 0.004, 3, equal_var=False).pvalue
    # one Holm family of 8 tests (2 references x 4 metrics); the three tasks do not move (p = 1)
    holm = verdicts.holm([p_ladder, 1, 1, 1, p_plain, 1, 1, 1])
    assert lines[0].startswith("- λ_s = 0.5 on 3 seeds: overall 0.713 ± 0.002; against λ_s = 5 (`advreg-only`): "
                               "overall +0.007, undecided (95% CI [")
    assert f"Welch p {p_ladder:.3f}, Holm {holm[0]:.3f})" in lines[0]
    assert "against no SMART (`sampling`): overall -0.004, undecided (95% CI [" in lines[0]
    assert f"Welch p {p_plain:.3f}, Holm {holm[4]:.3f})" in lines[0]
    assert lines[1] == ("- Welch, Holm over these 8 tests (each seeded λ_s point against each reference, overall and "
                        "per task): a comparison of its own, in words that are not verdicts; the study's analysis "
                        "declares λ_s 0.5 against 5 and gives its verdict above.")
    assert lines[2] == "- The seed-0 sweep's best point (λ_s = 1) has one seed only."
    assert findings.seeded_lambda_lines(None, rows, sweep) == []


def test_the_smart_recipe_is_set_against_its_plain_twin_and_the_plain_curve():
    """Notebook 11: `<recipe>-smart` against `<recipe>` at the same epoch, and against the best the plain recipe
    reached in no more minutes (the `smart` row's seed std as the noise yardstick)."""
    from quarbert_lib.reporting.notebook_findings import smart_recipe_lines
    point = lambda recipe, epoch, minutes, overall: {"recipe": recipe, "cap": "all", "epoch": epoch,  # noqa: E731
                                                      "train_minutes": minutes, "overall": overall, "sst_acc": overall,
                                                      "qqp_acc": 0.8, "sts_pearson": 0.85}
    budget = pd.DataFrame([point("all-data-linear", 1, 12.0, 0.730), point("all-data-linear", 2, 24.0, 0.752),
                           point("all-data-linear", 3, 36.0, 0.754), point("all-data-linear-smart", 1, 40.0, 0.740),
                           point("all-data-linear-smart", 2, 80.0, 0.760)])
    ladder = pd.DataFrame([_row("smart", 3, 0.7136, 0.0023)])
    lines = smart_recipe_lines(budget, ladder)
    assert lines[0] == ("- `all-data-linear-smart` against `all-data-linear`, epoch 1: overall 0.740 against 0.730 "
                        "(+0.010: SST +0.010, QQP +0.000, STS +0.000; one seed each, beyond twice the seed spread of the "
                        "`smart` row), after 40.0 against 12.0 training minutes (3.3x). In the same 40 minutes the plain "
                        "recipe reaches 0.754: SMART is not shown to pay for its cost (one seed a point) here.")
    assert lines[1].endswith("In the same 80 minutes the plain recipe reaches 0.754: SMART pays for its cost here.")
    assert "+0.008" in lines[1] and "(3.3x)" in lines[1]
    assert lines[2] == "- `all-data-linear-smart` at its best: overall 0.760, which meets the project's 0.76 target."
    assert smart_recipe_lines(budget[budget["recipe"] == "all-data-linear"], ladder) == []
    short = smart_recipe_lines(budget.assign(overall=budget["overall"] - 0.013), ladder)[2]
    assert short == "- `all-data-linear-smart` at its best: overall 0.747, 0.013 short of the project's 0.76 target."


def test_figure3_is_traced_to_the_reading_that_can_move_with_lambda():
    strength = pd.DataFrame({"setting": ["advreg-literal"] * 3 + ["advreg-only"] * 3,
                             "grad_ratio": [4e-6, 3.8e-5, 1e-5, 0.07, 0.29, 0.1]})
    best = {"sst_acc": 0.5, "qqp_acc": 5.0, "sts_pearson": 0.5}
    text = findings.figure3_source(strength, best, threshold=1e-4)
    assert text.startswith("- Which reading gives Figure 3: not the equations'. At ε = 1e-5 the literal term's "
                           "gradient is at most 3.8e-05 of the task loss's")
    assert "the libraries' reading (the sweep above) puts SST, QQP where the paper has them" in text
    assert text.endswith("Which implementation the paper ran is open.")
    acting = findings.figure3_source(strength.assign(grad_ratio=0.2), {**best, "qqp_acc": 0.5}, threshold=1e-4)
    assert acting == ("- Which reading gives Figure 3: both readings act here (the literal term's gradient reaches "
                      "2.0e-01 of the task loss's); the libraries' reading (the sweep above) puts SST where the paper "
                      "has it.")


def test_dropout_modes_are_set_against_the_same_budget_without_smart():
    modes = pd.DataFrame({"smart_dropout": ["fresh", "same", "off"], "overall": [0.616, 0.654, 0.653]})
    lines = findings.dropout_lines(modes, pd.DataFrame({"overall": [0.660]}))
    assert lines[0] == "- `fresh` 0.616; `same` 0.654; `off` 0.653 overall (one seed, short budget)."
    assert lines[1] == ("- Against 0.660 without SMART at the same budget: `same`, `off` within 0.01 of it; `fresh` "
                        "below it by more. `same` (the clean pass's masks) leaves only the perturbation's own effect, so "
                        "the gap of `fresh` is what the disagreement of two dropout masks costs, not the adversarial part.")
    close = findings.dropout_lines(modes.assign(overall=[0.655, 0.654, 0.653]), pd.DataFrame({"overall": [0.660]}))
    assert close[1] == "- Against 0.660 without SMART at the same budget: `fresh`, `same`, `off` within 0.01 of it."
    assert len(findings.dropout_lines(modes, pd.DataFrame())) == 1


def test_the_encoder_prior_is_set_beside_the_notebooks_row(isolated):
    from quarbert_lib.reporting import notebook_findings as nf
    _save("ablation.csv", [_ablation_row("smart-cosine", 3, 0.70, 0.002)])
    assert nf.prior_lines("05_cosine_sts", "cpu", "e") == []                      # no prior measured yet
    _save("encoder_prior.csv", [{"profile": "cpu", "encoder": "e", "task": "sts", "metric": "sts_pearson", "value": 0.838}])
    line, = nf.prior_lines("05_cosine_sts", "cpu", "e")
    assert line.startswith("- **The encoder's prior.** With no weight trained, the frozen encoder scores STS r 0.838; "
                           "`smart-cosine` scores 0.800 (-0.038 against it, below what the untrained encoder already "
                           "scores).")
    assert nf.prior_lines("03_task_sampling", "cpu", "e") == []




def _analysis(rows: dict[str, list[float]], column="overall", **tasks):
    """The pre-registered analysis of per-seed scores {row: [seed 0, seed 1, ...]} (other metrics constant)."""
    scores = pd.DataFrame([{"variant": v, "seed": s, "overall": 0.7, "sst_acc": 0.4, "qqp_acc": 0.8, "sts_pearson": 0.8,
                            column: x} for v, xs in rows.items() for s, x in enumerate(xs)])
    return verdicts.analyse(scores, paper=PAPER_ROWS)


PAPER_ROWS = {"baseline-pretrain": {"sst_acc": 0.318, "qqp_acc": 0.432, "sts_pearson": 0.228, "overall": 0.5},
              "baseline-finetune": {"sst_acc": 0.411, "qqp_acc": 0.543, "sts_pearson": 0.348, "overall": 0.6}}


def test_a_declared_question_is_stated_with_the_analysis_verdict(isolated):
    """The line of a declared question: its label and family, the overall word with the analysis's own effect and
    adjusted interval, each task's word, and the paper's effect; a question that helps needs no reason."""
    from quarbert_lib.reporting import notebook_findings as nf
    from quarbert_lib.study import spec
    analysis = _analysis({"baseline-pretrain": [0.60, 0.61, 0.60, 0.62, 0.61],
                          "baseline-finetune": [0.70, 0.71, 0.71, 0.72, 0.70]})
    r = analysis[(analysis["step"] == "baseline-pretrain -> baseline-finetune") & (analysis["metric"] == "overall")].iloc[0]
    assert r["verdict"] == "helps" and r["family"] == "paper"
    line, = nf.step_lines(spec.questions_of("02_multitask_baseline"), analysis, "cpu", "e")
    first, tasks, paper = line.splitlines()
    assert first == (f"- `baseline-pretrain` → `baseline-finetune` (fine-tuning the encoder; family `paper`, 7 tests): "
                     f"overall {r['effect']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], **helps**")
    assert tasks == ("  - by task (family `paper-tasks`): SST +0.000, **inconclusive**; QQP +0.000, **inconclusive**; "
                     "STS +0.000, **inconclusive**.")          # no spread: no interval, no verdict
    assert paper == "  - the paper's effect on the same step: overall +0.100, SST +0.093, QQP +0.111, STS +0.120."
    # the notebook's section states the same line, and results.md's (from the saved table) the same words
    assert nf.notebook_findings("02_multitask_baseline", "cpu", "e", analysis).startswith(line)


def test_a_step_that_does_not_help_shows_what_was_measured_beside_it_or_says_open(isolated):
    from quarbert_lib.reporting import notebook_findings as nf
    from quarbert_lib.study import spec
    flat = {"baseline-finetune": [0.70, 0.71, 0.70, 0.72, 0.71], "sampling": [0.71, 0.70, 0.71, 0.71, 0.72]}
    analysis = _analysis(flat)
    line = nf.step_lines([q for q in spec.QUESTIONS if q.step == "baseline-finetune -> sampling"], analysis, "cpu", "e")[0]
    assert line.endswith("\n  - measured beside it: open: the control at the tasks' natural sizes has no row yet.")
    natural = _analysis({**flat, "baseline-finetune-natural": [0.70, 0.71, 0.70], "sampling-natural": [0.73, 0.75, 0.74]})
    control = natural[(natural["step"] == "baseline-finetune-natural -> sampling-natural") & (natural["metric"] == "overall")].iloc[0]
    _save("train_examples.csv", [{"run": f"baseline-finetune-natural-seed{s}", "task": t, "train_examples": n, "steps": 1925,
                                  "profile": "cpu", "encoder": "e"}
                                 for s in (0, 1) for t, n in (("sst", 8544), ("para", 16193), ("sts", 6040))])
    assert nf.measured_reason("baseline-finetune", "sampling", natural, "cpu", "e") == (
        "the same comparison at the tasks' natural sizes (SST 8,544, QQP 16,193, STS 6,040 training examples: the "
        f"largest task 2.7x the smallest): overall {control['effect']:+.3f} [{control['ci_low']:+.3f}, "
        f"{control['ci_high']:+.3f}], **{control['verdict']}**")
    assert nf.measured_reason("smart", "smart-simcse", natural, "cpu", "e") is None       # nothing measured: open
    other = nf.step_lines([q for q in spec.QUESTIONS if q.step == "smart -> smart-simcse"],
                          _analysis({"smart": [0.70, 0.71, 0.72], "smart-simcse": [0.71, 0.70, 0.72]}), "cpu", "e")[0]
    assert other.endswith("\n  - why: open (not measured here).")


def test_a_comparison_outside_the_declared_questions_is_its_own_welch_test_in_other_words():
    """Notebook 04 compares `advreg-literal` with `advreg-only`, not a declared question: its own Welch test, Holm
    over its own tests, in words that are not verdicts; a declared question takes the analysis's row."""
    rows = {"a": pd.Series(_row("a", 3, 0.706, 0.005)), "b": pd.Series(_row("b", 3, 0.717, 0.004))}
    own = findings.step_sentence(rows, "b", "a", ("overall", "sst_acc"), pd.DataFrame(columns=["step", "metric"]))
    p = ttest_ind_from_stats(0.706, 0.005, 3, 0.717, 0.004, 3, equal_var=False).pvalue
    assert f"Welch p {p:.3f}, Holm {verdicts.holm([p, 1.0])[0]:.3f})" in own
    assert own.endswith(" (Welch, Holm over this comparison's 2 tests: not one of the study's declared questions)")
    assert not any(f"{w} (" in own for w in verdicts.VERDICTS)
    analysis = pd.DataFrame([{"step": "b -> a", "metric": m, "effect": -0.011, "ci_low": -0.02, "ci_high": -0.002,
                              "level": 0.99, "pairs": 3, "verdict": "hurts"} for m in ("overall", "sst_acc")])
    declared = findings.step_sentence(rows, "b", "a", ("overall", "sst_acc"), analysis)
    assert declared == ("`b` → `a`: overall -0.011, **hurts** (adjusted interval [-0.020, -0.002] at 99.00%, the study's "
                        "analysis); SST -0.011, **hurts** (adjusted interval [-0.020, -0.002] at 99.00%, the study's "
                        "analysis)")

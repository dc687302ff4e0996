"""The generated findings against hand-made tables: a step that holds over seeds, one within seed
noise, and a one-seed row."""
import pandas as pd
import pytest
from scipy.stats import ttest_ind_from_stats

from quarbert_lib import findings

PAPER = {"a": {"sst_acc": 0.5, "qqp_acc": 0.8, "sts_pearson": 0.7, "overall": 0.7},
         "b": {"sst_acc": 0.52, "qqp_acc": 0.85, "sts_pearson": 0.8, "overall": 0.74}}


def _row(variant, seeds, overall, overall_std, **task):
    base = {"sst_acc": 0.4, "qqp_acc": 0.8, "sts_pearson": 0.8}
    base.update(task)
    row = {"variant": variant, "seeds": seeds, "overall": overall, "overall_std": overall_std}
    for c, v in base.items():
        row[c], row[f"{c}_std"] = v, overall_std
    return row


def test_a_step_that_holds_a_noise_step_and_a_one_seed_row():
    table = pd.DataFrame([_row("a", 3, 0.700, 0.002), _row("b", 3, 0.720, 0.002),   # +0.020, std 0.002: holds
                          _row("c", 3, 0.722, 0.020),                                # +0.002, std 0.02: noise
                          _row("d", 1, 0.750, float("nan"))])                        # one seed
    text = findings.ladder_findings(table, [("a", "b"), ("b", "c"), ("c", "d"), ("c", "missing")], PAPER)
    lines = text.splitlines()
    assert len(lines) == 3                                           # a missing row is left out, not invented
    p_hold = ttest_ind_from_stats(0.720, 0.002, 3, 0.700, 0.002, 3, equal_var=False).pvalue
    assert lines[0].startswith("- `a` → `b`: overall +0.020, holds over seeds")
    assert f"Welch p = {p_hold:.3f}, 3 seeds a side" in lines[0]
    assert ("Beside the paper's same step (ours vs the paper's): SST +0.000 vs +0.020 (no change here); QQP +0.000 vs "
            "+0.050 (no change here); STS +0.000 vs +0.100 (no change here); overall +0.020 vs +0.040 (same direction)") in lines[0]
    assert lines[1].startswith("- `b` → `c`: overall +0.002, within seed noise")
    assert "the paper has no such step" in lines[1]
    assert lines[2].startswith("- `c` → `d`: overall +0.028, one seed only")


def test_sweep_spread_against_seed_noise():
    sweep = pd.DataFrame({"lambda": [1.0, 5.0], "overall": [0.70, 0.71], "sst_acc": [0.45, 0.40],
                          "qqp_acc": [0.8, 0.81], "sts_pearson": [0.8, 0.83]})
    text = findings.sweep_findings(sweep, "lambda", seed_std=0.002)
    assert "spread 0.010" in text and "5.0 times the seed std" in text and "larger than seed noise" in text
    assert "SST at lambda = 1" in text and "STS at lambda = 5" in text
    assert "not clearly larger" in findings.sweep_findings(sweep, "lambda", seed_std=0.01)


@pytest.mark.parametrize("p, seeds, expected", [(0.01, 3, "holds over seeds"), (0.3, 3, "within seed noise"),
                                                (float("nan"), 1, "one seed only")])
def test_verdict_words(p, seeds, expected):
    assert findings.verdict({"seeds": seeds, "seed_p_value": p}).startswith(expected)


def _save(name, rows):
    from quarbert_lib.paths import tables_dir
    tables_dir().mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(tables_dir() / name, index=False)


def _ablation_row(variant, seeds, overall, std):
    return {**_row(variant, seeds, overall, std), "encoder": "e", "profile": "cpu", "seed_list": " ".join(map(str, range(seeds))),
            "params_total": 10, "params_trainable": 5, "train_seconds": 60.0}


def test_notebook_section_states_each_steps_verdict_bootstrap_and_reason(isolated):
    """A notebook's "What this shows": the step line from findings, the bootstrap verdict from significance.csv,
    a measured reason for a known null step and "not explained" for an unknown one."""
    from quarbert_lib import notebook_findings as nf
    _save("ablation.csv", [_ablation_row("baseline-pretrain", 3, 0.60, 0.002), _ablation_row("baseline-finetune", 3, 0.70, 0.002),
                           _ablation_row("sampling", 3, 0.701, 0.02), _ablation_row("advreg-literal", 1, 0.69, float("nan"))])
    _save("significance.csv", [{"step": "baseline-finetune -> sampling", "task": t, "profile": "cpu", "encoder": "e",
                                "seed": 0, "delta": d, "significant": s} for t, d, s in
                               (("sst", 0.012, True), ("para", -0.004, False), ("sts", 0.0, False))])
    text = nf.notebook_findings("02_multitask_baseline", "cpu", "e")
    assert text.startswith("- `baseline-pretrain` → `baseline-finetune`: overall +0.100, holds over seeds")
    assert "Why" not in text                                                  # a step that holds needs no excuse
    text = nf.notebook_findings("03_task_sampling", "cpu", "e")
    assert "overall +0.001, within seed noise" in text
    assert "Paired bootstrap over dev examples (seed 0): SST +0.012 significant, QQP -0.004 not significant, " \
           "STS +0.000 not significant." in text
    assert text.endswith("Why the step does not help here is not explained by this study.")
    lines = nf.step_lines([("sampling", "advreg-literal"), ("advreg-literal", "smart")], "cpu", "e")
    assert "one seed only" in lines[0] and "Why: the paper's literal SMART is inert" in lines[0]
    assert lines[1] == "- `advreg-literal` → `smart`: no row yet for `smart`."
    assert nf.notebook_findings("10_error_analysis", "cpu", "e").startswith("_No saved results")

"""The verdict policy against reference computations: Welch and TOST on the raw seed values, Holm by hand."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quarbert_lib.reporting import verdicts

A = np.array([0.701, 0.712, 0.694])          # a step's seeds before
B = np.array([0.721, 0.716, 0.730])          # and after


def _row(name, values, column="overall"):
    return {"variant": name, column: values.mean(), f"{column}_std": values.std(ddof=1), "seeds": len(values)}


def test_effect_interval_and_difference_p_match_scipy_on_the_raw_seeds():
    test = verdicts.step_test(_row("a", A), _row("b", B), "overall")
    reference = stats.ttest_ind(B, A, equal_var=False)
    ci = reference.confidence_interval(0.95)
    assert test["effect"] == pytest.approx(B.mean() - A.mean(), abs=1e-12)
    assert (test["ci_low"], test["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert test["p"] == pytest.approx(reference.pvalue, abs=1e-12)


@pytest.mark.parametrize("margin", [0.005, 0.01, 0.03])
def test_equivalence_p_is_two_one_sided_welch_tests(margin):
    test = verdicts.step_test(_row("a", A), _row("b", B), "overall", margin=margin)
    lower = stats.ttest_ind(B, A - margin, equal_var=False, alternative="greater").pvalue   # effect > -margin
    upper = stats.ttest_ind(B, A + margin, equal_var=False, alternative="less").pvalue      # effect < +margin
    assert test["p_equivalence"] == pytest.approx(max(lower, upper), abs=1e-12)


def test_one_seed_gives_the_effect_alone():
    test = verdicts.step_test(_row("a", A[:1]), _row("b", B), "overall")
    assert test["effect"] == pytest.approx(B.mean() - A[0]) and np.isnan(test["p"]) and np.isnan(test["ci_low"])


def test_holm_by_hand():
    # sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1, but never below 0.06)
    adjusted = verdicts.holm([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, np.nan, 0.02])
    assert verdicts.holm([0.5, 0.9]).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("effect, p, p_eq, word", [
    (0.02, 0.01, 0.6, "helps"), (-0.02, 0.01, 0.6, "hurts"), (0.001, 0.3, 0.01, "equivalent"),
    (0.004, 0.01, 0.02, "equivalent"),                     # real but smaller than the margin
    (0.01, 0.3, 0.4, "inconclusive"), (0.01, np.nan, np.nan, "inconclusive")])
def test_verdict_words(effect, p, p_eq, word):
    assert verdicts.verdict(effect, p, p_eq) == word


def test_verdict_table_corrects_over_the_whole_table_and_sets_the_paper_beside():
    rng = np.random.default_rng(0)
    seeds = {"x": A, "y": B, "z": B + rng.normal(0, 0.001, 3)}
    ablation = pd.DataFrame([{**_row(v, s), **_row(v, s, "sst_acc")} for v, s in seeds.items()])
    table = verdicts.verdict_table(ablation, [("x", "y"), ("y", "z"), ("y", "missing")], columns=("overall", "sst_acc"),
                                   paper={"x": {"overall": 0.5, "sst_acc": 0.4}, "y": {"overall": 0.6, "sst_acc": np.nan}})
    assert table["step"].tolist() == ["x -> y"] * 2 + ["y -> z"] * 2
    np.testing.assert_allclose(table["p_holm"], verdicts.holm(table["p"]))
    assert table["p_holm"].ge(table["p"]).all()
    assert table.loc[0, "paper_effect"] == pytest.approx(0.1) and np.isnan(table.loc[1, "paper_effect"])
    assert verdicts.verdict_counts(table) == {
        v: int(((table["metric"] == "overall") & (table["verdict"] == v)).sum()) for v in verdicts.VERDICTS}


def test_a_table_without_steps_keeps_its_columns():
    empty = verdicts.verdict_table(pd.DataFrame([_row("x", A)]), [("x", "y")])
    assert list(empty.columns) == verdicts.COLUMNS and empty.empty
    assert empty.query("metric == 'overall'").empty and verdicts.verdict_counts(empty)["inconclusive"] == 0

"""The pre-registered analysis against reference computations (a paired t on the seeds, Bonferroni by hand), and a
comparison's own table (Welch and TOST on the raw seed values, Holm by hand)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quarbert_lib.reporting import verdicts
from quarbert_lib.study import spec

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
    (0.02, 0.01, 0.6, "above zero"), (-0.02, 0.01, 0.6, "below zero"), (0.001, 0.3, 0.01, "inside the margin"),
    (0.004, 0.01, 0.02, "inside the margin"),                     # real but smaller than the margin
    (0.01, 0.3, 0.4, "undecided"), (0.01, np.nan, np.nan, "undecided")])
def test_a_comparisons_readings_are_not_verdict_words(effect, p, p_eq, word):
    assert verdicts.reading(effect, p, p_eq) == word and word not in verdicts.VERDICTS


def test_a_comparison_table_corrects_over_the_whole_table_and_sets_the_paper_beside():
    rng = np.random.default_rng(0)
    seeds = {"x": A, "y": B, "z": B + rng.normal(0, 0.001, 3)}
    ablation = pd.DataFrame([{**_row(v, s), **_row(v, s, "sst_acc")} for v, s in seeds.items()])
    table = verdicts.comparison_table(ablation, [("x", "y"), ("y", "z"), ("y", "missing")], columns=("overall", "sst_acc"),
                                      paper={"x": {"overall": 0.5, "sst_acc": 0.4}, "y": {"overall": 0.6, "sst_acc": np.nan}})
    assert table["step"].tolist() == ["x -> y"] * 2 + ["y -> z"] * 2
    np.testing.assert_allclose(table["p_holm"], verdicts.holm(table["p"]))
    assert table["p_holm"].ge(table["p"]).all() and "verdict" not in table
    assert table.loc[0, "paper_effect"] == pytest.approx(0.1) and np.isnan(table.loc[1, "paper_effect"])


def test_a_table_without_steps_keeps_its_columns():
    empty = verdicts.comparison_table(pd.DataFrame([_row("x", A)]), [("x", "y")])
    assert list(empty.columns) == verdicts.COLUMNS and empty.empty


# -- the pre-registered analysis -------------------------------------------------------------------------------------

def _scores(rows, column="overall") -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "seed": s, column: x} for v, by_seed in rows.items() for s, x in by_seed.items()])


def test_a_question_is_a_paired_t_on_the_common_seeds_at_the_familys_bonferroni_level():
    """Effect, interval and p against scipy's paired t-test on the seeds both rows hold (seed 3 of `b` has no pair),
    the interval at 1 - 0.05 / m for the family's declared m, the adjusted p m times the raw one."""
    a, b = {0: 0.701, 1: 0.712, 2: 0.694}, {0: 0.721, 1: 0.716, 2: 0.730, 3: 0.9}
    q = spec.Question("a", "b", "paper", "a test")
    table = verdicts.analyse(_scores({"a": a, "b": b}), (q,))
    m = spec.family_size("paper")
    reference = stats.ttest_rel([b[s] for s in range(3)], [a[s] for s in range(3)])
    ci = reference.confidence_interval(1 - 0.05 / m)
    r = table.iloc[0]
    assert (r["step"], r["metric"], r["pairs"], r["tests"]) == ("a -> b", "overall", 3, m)
    assert r["effect"] == pytest.approx(np.mean([b[s] - a[s] for s in range(3)]), abs=1e-12)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert r["p"] == pytest.approx(reference.pvalue, abs=1e-12)
    assert r["p_adjusted"] == pytest.approx(min(1.0, m * reference.pvalue), abs=1e-12)
    # the word is read off the adjusted interval: the same as the adjusted p's
    assert r["verdict"] == ("helps" if r["p_adjusted"] < 0.05 and r["effect"] > 0 else "inconclusive")


@pytest.mark.parametrize("diffs, word", [
    ([0.020, 0.021, 0.022, 0.019, 0.020], "helps"), ([-0.020, -0.021, -0.022, -0.019, -0.020], "hurts"),
    ([0.001, 0.0012, 0.0009, 0.0011, 0.001], "equivalent"),           # above zero, but inside the margin
    ([0.03, -0.02, 0.01, 0.0, 0.05], "inconclusive"),
    ([0.01, 0.01], "inconclusive"),                                   # no spread: no interval, no verdict
    ([0.02], "inconclusive")])                                        # one pair: no interval
def test_the_word_is_read_off_the_adjusted_interval(diffs, word):
    before = {s: 0.7 for s in range(len(diffs))}
    after = {s: 0.7 + d for s, d in enumerate(diffs)}
    table = verdicts.analyse(_scores({"a": before, "b": after}), (spec.Question("a", "b", "paper", "x"),))
    assert table["verdict"].iloc[0] == word
    assert verdicts.word(-0.005, 0.005, 0.01) == "equivalent" and verdicts.word(np.nan, np.nan, 0.01) == "inconclusive"


def test_every_declared_question_has_its_rows_in_declared_order_even_before_its_runs_exist():
    """Words depend only on the two rows and the declared family size: a question without runs is inconclusive and
    leaves the others' words as they are."""
    table = verdicts.analyse(pd.DataFrame(columns=["variant", "seed", *verdicts.margins()]))
    expected = [(q.step, m) for q in spec.QUESTIONS for m in spec.family_metrics(q.family)]
    assert list(zip(table["step"], table["metric"])) == expected
    assert len(table) == sum(spec.family_size(f) for f in spec.FAMILIES)
    assert (table["verdict"] == "inconclusive").all() and (table["pairs"] == 0).all()
    # the paper's effect is the paper's own rows' difference (its quartet is `ensemble-smart-simcse` in its table)
    paper = {"smart-simcse": {"overall": 0.78}, "ensemble-smart-simcse": {"overall": 0.782}}
    quartet = verdicts.analyse(pd.DataFrame(columns=["variant", "seed", *verdicts.margins()]), paper=paper)
    row = quartet[(quartet["step"] == "smart-simcse -> ensemble-smart-simcse") & (quartet["metric"] == "overall")]
    assert row["paper_effect"].iloc[0] == pytest.approx(0.002)


def test_a_collapsed_constant_sts_output_is_r_0_in_the_tables_and_in_the_analysis():
    """One convention for a constant output (issue 38, item 6): Pearson r 0.0 in the scores the tables read, so the
    analysis pairs that seed like any other and its effect is finite."""
    from quarbert_lib.study.ensemble import scores
    dev = pd.DataFrame({"task": "sts", "id": ["a", "b", "c"], "gold": [0.5, 2.5, 4.0], "prediction": [3.0, 3.0, 3.0]})
    assert scores(dev)["sts_pearson"] == 0.0
    before = {0: 0.80, 1: 0.81, 2: 0.79}
    after = {0: 0.0, 1: 0.82, 2: 0.80}                       # seed 0 collapsed
    frame = _scores({"a": before, "b": after}, "sts_pearson").reindex(columns=["variant", "seed", *verdicts.margins()])
    table = verdicts.analyse(frame, (spec.Question("a", "b", "paper-tasks", "x"),))
    r = table[table["metric"] == "sts_pearson"].iloc[0]
    assert r["pairs"] == 3 and r["effect"] == pytest.approx((-0.80 + 0.01 + 0.01) / 3, abs=1e-12)
    assert r["verdict"] == "inconclusive" and np.isfinite(r["ci_low"])


def test_a_seed_whose_score_is_missing_stops_the_analysis_instead_of_dropping_the_pair():
    """A NaN beside finite seeds would silently leave the pairs (and so the word) to the others; it is refused, naming
    the row, the seed and the metric. A row that measures no such metric at all has no pairs: inconclusive."""
    before, after = {0: 0.70, 1: 0.71, 2: 0.69}, {0: np.nan, 1: 0.72, 2: 0.73}
    with pytest.raises(verdicts.MissingScore, match=r"'b' seed 0 has no overall \(NaN\)"):
        verdicts.analyse(_scores({"a": before, "b": after}), (spec.Question("a", "b", "paper", "x"),))
    none = verdicts.analyse(_scores({"a": before, "b": {s: np.nan for s in range(3)}}),
                            (spec.Question("a", "b", "paper", "x"),))
    assert none["pairs"].iloc[0] == 0 and none["verdict"].iloc[0] == "inconclusive"

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quarbert_lib.base.paths import tables_dir
from quarbert_lib.base.tasks import overall_score
from quarbert_lib.core.config import profile_config
from quarbert_lib.reporting import report
from quarbert_lib.study import experiment, results, tables


def _cfg(encoder, **kw):
    return profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(encoder),
                          train__max_steps=3, **kw)


def test_run_writes_registry_files_and_skips_when_complete(isolated, tiny_encoder_dir, monkeypatch):
    cfg = _cfg(tiny_encoder_dir)
    first = experiment.run_experiment(cfg, "nb", "run")
    path = results.run_path("smoke", "nb", "run")
    assert path == isolated / "runs" / "smoke" / "nb" / "run"
    for name in ("config.json", "metrics.json", "history.csv", "predictions-dev.csv", "model.pt",
                 "sst-test-output.csv", "sts-test-output.csv"):
        assert (path / name).exists(), name
    assert not (path / "checkpoint.pt").exists()
    assert json.loads((path / "config.json").read_text()) == cfg.to_dict()
    assert first["overall"] == pytest.approx(
        (first["sst_acc"] + first["para_acc"] + (first["sts_pearson"] + 1) / 2) / 3)
    assert any("quora-train.csv absent" in n for n in first["data_notes"])
    preds = pd.read_csv(path / "predictions-dev.csv")
    # smoke caps dev at 16 per task; the offline Quora dev is the 20% hash bucket of 40 rows
    assert preds["task"].value_counts().to_dict() == {"sst": 16, "sts": 16, "para": 10}
    sst = preds[preds["task"] == "sst"]
    probs = sst[[f"prob_{k}" for k in range(5)]].to_numpy()
    assert (probs.argmax(1) == sst["prediction"].to_numpy()).all()
    assert first["sst_acc"] == pytest.approx((sst["gold"] == sst["prediction"]).mean())

    class Boom:
        def __init__(self, *a, **k):
            raise AssertionError("a complete run must not train again")

    monkeypatch.setattr(experiment, "Trainer", Boom)
    assert experiment.run_experiment(cfg, "nb", "run") == first
    with pytest.raises(AssertionError, match="must not train"):
        experiment.run_experiment(cfg, "nb", "run", force=True)
    with pytest.raises(AssertionError, match="must not train"):   # a changed config retrains
        experiment.run_experiment(_cfg(tiny_encoder_dir, train__seed=1), "nb", "run")


def test_course_output_files_use_the_starters_strings(tmp_path):
    # the starter's multitask_classifier.py writes, for dev and test alike:
    #   f.write(f"id \t Predicted_Sentiment \n"); f.write(f"{p} , {s} \n")
    #   f.write(f"id \t Predicted_Is_Paraphrase \n") ... f.write(f"id \t Predicted_Similiary \n")
    frame = pd.DataFrame({"id": ["a1", "b2"], "prediction": [3, 0]})
    out = results.write_course_output(tmp_path, "sst", frame, ids=["a1", "b2"])
    assert out.name == "sst-test-output.csv"
    assert out.read_text() == "id \t Predicted_Sentiment \na1 , 3 \nb2 , 0 \n"
    one = pd.DataFrame({"id": ["x"], "prediction": [1]})
    expected = {"sst": "id \t Predicted_Sentiment ", "para": "id \t Predicted_Is_Paraphrase ",
                "sts": "id \t Predicted_Similiary "}
    for task, header in expected.items():
        for split in ("dev", "test"):
            path = results.write_course_output(tmp_path, task, one, split, ids=["x"])
            assert path.name == f"{task}-{split}-output.csv"
            assert path.read_text() == f"{header}\nx , 1 \n"


def test_a_course_output_answers_every_input_id_exactly_once(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "prediction": [1, 0]})
    for ids, says in ((["a", "b", "c"], "1 ids missing (c)"), (["a"], "1 unknown ids (b)")):
        with pytest.raises(results.CourseOutputError, match=r"2 answers for \d input ids: " + re.escape(says)):
            results.write_course_output(tmp_path, "sst", frame, ids=ids)
    twice = pd.DataFrame({"id": ["a", "a"], "prediction": [1, 0]})
    with pytest.raises(results.CourseOutputError, match=r"ids answered twice \(a\)"):
        results.write_course_output(tmp_path, "sst", twice, ids=["a", "a"])
    assert not any(tmp_path.iterdir())                                  # nothing written


def test_sts_course_scores_are_clipped_to_the_label_range_and_read_back(tmp_path):
    frame = pd.DataFrame({"id": ["p", "q", "r"], "prediction": [-0.16, 2.5, 5.3]})
    out = results.write_course_output(tmp_path, "sts", frame, "dev", ids=["p", "q", "r"])
    assert out.read_text() == "id \t Predicted_Similiary \np , 0.0 \nq , 2.5 \nr , 5.0 \n"
    back = results.read_course_output(out, "sts", ids=["r", "q", "p"])
    assert back.to_dict("list") == {"id": ["p", "q", "r"], "prediction": [0.0, 2.5, 5.0]}
    with pytest.raises(results.CourseOutputError, match="1 ids missing"):
        results.read_course_output(out, "sts", ids=["p", "q", "r", "s"])


@pytest.mark.parametrize("text, line, says", [
    ("id \t Predicted_Sentiment \na , 3 \n", 1, "expected 'id \\t Predicted_Similiary '"),
    ("id \t Predicted_Similiary \na , 3.5\n", 2, "expected 'id , prediction '"),
    ("id \t Predicted_Similiary \na , 7 \n", 2, "outside 0-5"),
    ("id \t Predicted_Similiary \na , x \n", 2, "could not convert"),
    ("id \t Predicted_Similiary \na , 1 , 2 \n", 2, "expected 'id , prediction '"),
])
def test_a_malformed_course_output_names_file_and_line(tmp_path, text, line, says):
    path = tmp_path / "sts-test-output.csv"
    path.write_text(text)
    with pytest.raises(results.CourseOutputError) as err:
        results.read_course_output(path, "sts")
    assert f"{path}, line {line}" in str(err.value) and says in str(err.value)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    results.write_json(tmp_path / "m.json", {"a": 1})
    results.write_json(tmp_path / "m.json", {"a": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_upsert_replaces_matching_rows(tmp_path):
    table = tmp_path / "t.csv"
    results.upsert_rows(table, [{"variant": "a", "profile": "cpu", "x": 1}, {"variant": "b", "profile": "cpu", "x": 2}],
                        ["variant", "profile"])
    df = results.upsert_rows(table, [{"variant": "a", "profile": "cpu", "x": 9}, {"variant": "a", "profile": "smoke", "x": 5}],
                             ["variant", "profile"])
    assert df.to_dict("records") == [{"variant": "b", "profile": "cpu", "x": 2}, {"variant": "a", "profile": "cpu", "x": 9},
                                     {"variant": "a", "profile": "smoke", "x": 5}]


def _metrics(sst, para, sts, seconds=10.0):
    return {"encoder": "minilm-l6", "profile": "cpu", "params_total": 100, "params_trainable": 40,
            "sst_acc": sst, "para_acc": para, "sts_pearson": sts, "train_seconds": seconds,
            "data_notes": ["quora split note"]}


def test_ablation_row_means_stds_and_overall():
    runs = [_metrics(0.5, 0.8, 0.6, 10), _metrics(0.4, 0.9, 0.8, 20)]
    row = tables.ablation_row("sampling", runs)
    assert list(row)[:11] == tables.ablation_columns()
    assert row["seeds"] == 2 and row["sst_acc"] == pytest.approx(0.45) and row["qqp_acc"] == pytest.approx(0.85)
    assert row["sst_acc_std"] == pytest.approx(0.0707107, rel=1e-5)          # sample std of (0.5, 0.4)
    o1, o2 = (0.5 + 0.8 + 0.8) / 3, (0.4 + 0.9 + 0.9) / 3
    assert row["overall"] == pytest.approx((o1 + o2) / 2)
    assert overall_score(runs[0]) == pytest.approx(o1)
    assert row["train_seconds"] == 15.0 and row["data_note"] == "quora split note"


def test_readme_results_block_is_generated(isolated, tmp_path):
    tables.save_ablation_rows([tables.ablation_row("baseline-finetune", [_metrics(0.5, 0.8, 0.6)])])
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nold\n{report.README_END}\nend\n")
    assert report.update_readme(readme)
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    # overall (0.5 + 0.8 + (0.6 + 1) / 2) / 3 = 0.700; the paper's baseline-finetune overall 0.543; 10 s of training
    # what its runs train on: the cpu profile's cap, one epoch (spec.budget)
    assert "| `baseline-finetune` | 2,400 × 1 epoch | 1 | 0.500 | 0.800 | 0.600 | 0.700 | 0.543 | 10 |" in text
    assert "Data note: quora split note." in text
    assert not report.update_readme(readme)


def _seeded(variant, scores):
    return tables.ablation_row(variant, [_metrics(*s) for s in scores])


def test_readme_verdict_block_says_what_the_verdict_table_says(isolated, tmp_path):
    """The README's opening is the paper's-claims table: each step row carries the saved analysis's own effect,
    interval and words, and the counts per family are the analysis's."""
    from quarbert_lib.base.paths import tables_dir
    tables.save_ablation_rows([_seeded("baseline-pretrain", [(0.30, 0.70, 0.40), (0.32, 0.71, 0.45), (0.31, 0.72, 0.42)]),
                               _seeded("baseline-finetune", [(0.40, 0.80, 0.80), (0.42, 0.79, 0.82), (0.41, 0.81, 0.81)])])
    scores = pd.DataFrame([{"variant": v, "seed": s, "profile": "cpu", "encoder": "minilm-l6", "sst_acc": a,
                            "qqp_acc": q, "sts_pearson": r, "overall": (a + q + (r + 1) / 2) / 3}
                           for v, rows in (("baseline-pretrain", [(0.30, 0.70, 0.40), (0.32, 0.71, 0.45), (0.31, 0.72, 0.42)]),
                                           ("baseline-finetune", [(0.40, 0.80, 0.80), (0.42, 0.79, 0.82), (0.41, 0.81, 0.81)]))
                           for s, (a, q, r) in enumerate(rows)])
    results.write_csv(tables_dir() / "seed_scores.csv", scores)
    table = report.study_verdicts("cpu", "minilm-l6")
    ft = table[(table["step"] == "baseline-pretrain -> baseline-finetune") & (table["metric"] == "overall")].iloc[0]
    text = report.verdict_section()
    claims = report.paper_claims()
    row = claims.iloc[0]
    assert row["ours"] == f"{ft.effect:+.3f} [{ft.ci_low:+.3f}, {ft.ci_high:+.3f}] (3 seeds paired)"
    assert row["verdict"] == ft.verdict and row["paper"] == f"{ft.paper_effect:+.3f}"
    assert row["by task"] == ", ".join(f"{label} {table[(table['step'] == ft.step) & (table['metric'] == m)]['verdict'].iloc[0]}"
                                       for label, m in (("SST", "sst_acc"), ("QQP", "qqp_acc"), ("STS", "sts_pearson")))
    assert claims["ours"].iloc[1] == "not trained yet"
    assert report.claims_markdown(claims) in text and report.family_counts(table) in text
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- verdict:start -->\nx\n<!-- verdict:end -->\nb\n<!-- records:start -->\n<!-- records:end -->\n")
    assert report.update_readme(readme) and text in readme.read_text()

def test_readme_names_the_projects_tests_that_are_not_inconclusive():
    """The README said "converged (8 tests): ... 3 hurts" without saying which (stop 51's review): a bullet a
    project family lists each comparison whose word is not inconclusive, its words by metric and the overall
    interval; the paper's families (their own table) and untrained or inconclusive tests are not listed."""
    from quarbert_lib.study.spec import family_size
    rows = [("paper", "a -> b", "A step", "overall", 0.05, 0.01, 0.09, 3, "helps"),
            ("project", "c -> d", "Literal SMART", "overall", -0.0002, -0.004, 0.003, 5, "equivalent"),
            ("project", "c -> d", "Literal SMART", "sst_acc", -0.0005, -0.006, 0.005, 5, "equivalent"),
            ("project", "c -> e", "Other", "overall", 0.01, -0.02, 0.04, 5, "inconclusive"),
            ("project", "c -> f", "Untrained", "overall", float("nan"), float("nan"), float("nan"), 0, "hurts"),
            ("converged", "g -> h", "SMART in the same minutes", "overall", -0.0211, -0.0326, -0.0096, 3, "hurts"),
            ("converged", "g -> h", "SMART in the same minutes", "sts_pearson", -0.015, -0.026, -0.004, 3, "hurts")]
    table = pd.DataFrame(rows, columns=["family", "step", "label", "metric", "effect", "ci_low", "ci_high", "pairs", "verdict"])
    assert report.own_question_lines(table) == [
        f"- **Beyond the paper's steps, family `project`** (every other test of its {family_size('project')} is "
        "inconclusive or, 1 of them, not trained yet): Literal SMART, `c -> d`: equivalent on overall -0.000 [-0.004, +0.003] (5 seeds paired), "
        "equivalent on SST.",
        f"- **Beyond the paper's steps, family `converged`** (every other test of its {family_size('converged')} is "
        "inconclusive): SMART in the same minutes, `g -> h`: hurts on overall -0.021 [-0.033, -0.010] (3 seeds paired), "
        "hurts on STS."]
    assert report.own_question_lines(table[table["verdict"] == "inconclusive"]) == []


def test_run_costs_and_records_blocks(isolated, tmp_path, monkeypatch):
    from quarbert_lib.study import recipes
    # the records line as it reads while notebook 13's groups are off in the cpu batch, then on its first seed
    monkeypatch.setitem(recipes.PROFILE_NOTEBOOK_PARAMS, "cpu", {"converged": False})
    table_dir = tmp_path / "reports" / "tables"
    table_dir.mkdir(parents=True)
    pd.DataFrame([{"profile": "cpu", "encoder": "minilm-l6", "notebook": nb, "run": run, "train_seconds": t, "wall_seconds": w}
                  for nb, run, t, w in (("02_x", "a-seed0", 60, 90), ("02_x", "a-seed1", 120, 150),
                                        ("05_y", "b-seed0", 30, 36))]).to_csv(table_dir / "run_costs.csv", index=False)
    text = report.run_costs_section()
    assert "| `02_x` | 2 | 3.0 | 4.0 |" in text and "| `05_y` | 1 | 0.5 | 0.6 |" in text
    assert "| **all** | **3** | **3.5** | **4.6** |" in text
    for rel in ("02_x/a-seed0/config.json", "02_x/a-seed1/config.json", "07_z/ensemble-seed0/members.json"):
        path = tmp_path / "records" / "cpu" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}" + " " * 98)           # 100 bytes each
    # the spec's notebooks that train but have no records folder are named: a clone trains their runs
    from quarbert_lib.study.spec import NOTEBOOKS
    assert report.records_section() == (
        "Run records: `records/cpu/` holds 2 runs (and 1 ensemble) of notebooks 02, 07: 0.0 MB, no weights (`python -m "
        "quarbert_lib records size`). A recorded run is restored, not trained; notebooks "
        + ", ".join(s.name[:2] for s in NOTEBOOKS if s.trains and s.name[:2] != "13") + " are not fully recorded yet: a "
        "clone trains their missing runs "
        "(hours; `make reproduce PROFILE=cpu` prints the plan first), and their executed copies under "
        "`reports/executed/`, where there are any, are not current.")
    from quarbert_lib.study.recipes import VARIANTS
    from quarbert_lib.study.results import run_name
    from quarbert_lib.study.spec import notebook_seeds
    for spec in NOTEBOOKS:
        if spec.name[:2] != "12":
            for row in (r for r in spec.rows if r in VARIANTS):
                for seed in notebook_seeds(spec.name, "cpu"):
                    (tmp_path / "records" / "cpu" / spec.name / run_name(row, seed=seed)).mkdir(parents=True, exist_ok=True)
            (tmp_path / "records" / "cpu" / spec.name).mkdir(parents=True, exist_ok=True)
    assert report.records_section().endswith("restored, not trained; notebook 12 is not fully recorded yet: a clone trains "
                                             "its missing runs (hours; `make reproduce PROFILE=cpu` prints the plan first), and "
                                             "its executed copy under `reports/executed/`, if there is one, is not "
                                             "current.")
    # notebook 12's folder with only its first recipe's runs (a batch stopped after them) is not recorded either;
    # with every recipe on every seed it is
    regime = tmp_path / "records" / "cpu" / "12_overfitting_regime"
    for seed in notebook_seeds("12_overfitting_regime", "cpu"):
        (regime / run_name("regime-plain", seed=seed)).mkdir(parents=True, exist_ok=True)
    assert "; notebook 12 is not fully recorded yet" in report.records_section()
    # notebook 13's groups off in the cpu batch (recipes.PROFILE_NOTEBOOK_PARAMS): nothing of it to record, so it is
    # never named; with its seeds set, its missing runs are
    assert "13" not in report.records_section().split("restored, not trained")[1]
    import shutil
    shutil.rmtree(tmp_path / "records" / "cpu" / "13_converged_budget")
    assert "13" not in report.records_section().split("restored, not trained")[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(recipes.PROFILE_NOTEBOOK_PARAMS, "cpu", {"converged_seeds": [0]})
        assert "notebooks 12, 13 are not fully recorded yet" in report.records_section()
    from quarbert_lib.study.recipes import REGIME_RECIPES
    for label in REGIME_RECIPES:
        for seed in notebook_seeds("12_overfitting_regime", "cpu"):
            (regime / run_name(f"regime-{label}", seed=seed)).mkdir(parents=True, exist_ok=True)
    assert report.records_section().endswith("A recorded run is restored, not trained.")
    # a row's seed missing from a notebook's records (a batch stopped half-way) leaves it unrecorded too
    (tmp_path / "records" / "cpu" / "04_smart_mbpp" / "smart-seed4").rmdir()
    assert "; notebook 04 is not fully recorded yet" in report.records_section()


def test_ablation_rows_keep_the_ladder_order(isolated):
    rows = [{"variant": v, "encoder": "e", "profile": "cpu", "overall": i, "seeds": 1, "seed_list": "0"} for i, v in
            enumerate(["ensemble", "smart", "sampling", "my-variant", "baseline-pretrain"])]
    table = tables.save_ablation_rows(rows)
    assert list(table["variant"]) == ["baseline-pretrain", "sampling", "smart", "ensemble", "my-variant"]
    table = tables.save_ablation_rows([{"variant": "sampling", "encoder": "e", "profile": "cpu", "overall": 9, "seeds": 1, "seed_list": "0"}])
    assert list(table["variant"]) == ["baseline-pretrain", "sampling", "smart", "ensemble", "my-variant"]
    assert table.set_index("variant").loc["sampling", "overall"] == 9


def test_epoch_points_are_each_epochs_evaluation(tmp_path):
    metrics = {"sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.7, "steps": 20, "train_seconds": 9.0,
               "data_notes": ["a note"]}
    history = pd.DataFrame([
        {"kind": "train", "epoch": 0, "step": 5, "loss": 1.5},
        {"kind": "eval", "epoch": 1, "step": 10, "train_seconds": 4.0, "score": 0.6,
         "sst_acc": 0.4, "para_acc": 0.7, "sts_pearson": 0.6},
        {"kind": "eval", "epoch": 2, "step": 20, "train_seconds": 9.0, "score": 0.65,
         "sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.7}])
    history.to_csv(tmp_path / "history.csv", index=False)
    points = experiment.epoch_points(tmp_path, metrics)
    assert points == [
        {"data_notes": ["a note"], "sst_acc": 0.4, "para_acc": 0.7, "sts_pearson": 0.6, "epoch": 1, "steps": 10,
         "train_seconds": 4.0},
        {"data_notes": ["a note"], "sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.7, "epoch": 2, "steps": 20,
         "train_seconds": 9.0}]
    row = tables.sweep_row({"epoch": 1}, [points[0]])
    assert row["overall"] == pytest.approx((0.4 + 0.7 + 0.8) / 3) and row["steps"] == 10

    history.iloc[:2].to_csv(tmp_path / "history.csv", index=False)      # one epoch: metrics.json itself
    assert experiment.epoch_points(tmp_path, metrics) == [{**metrics, "epoch": 1}]

    history.drop(columns="train_seconds").to_csv(tmp_path / "history.csv", index=False)
    with pytest.raises(ValueError, match="history.csv.*train_seconds"):
        experiment.epoch_points(tmp_path, metrics)


def test_summary_merges_batches_one_entry_per_notebook(tmp_path):
    from quarbert_lib.batch.reproduce import merge_summary
    path = tmp_path / "summary.json"
    merge_summary(path, [{"notebook": "01_a", "status": "ok", "seconds": 1.0, "error": ""},
                         {"notebook": "02_b", "status": "failed", "seconds": 2.0, "error": "x"}], "cpu")
    merged = merge_summary(path, [{"notebook": "02_b", "status": "ok", "seconds": 3.0, "error": ""}], "cpu")
    assert [(e["notebook"], e["status"], e["seconds"]) for e in merged] == [("01_a", "ok", 1.0), ("02_b", "ok", 3.0)]
    assert all(e["profile"] == "cpu" and "commit" in e and "finished" in e for e in merged)
    assert json.loads(path.read_text()) == merged


def test_collected_tables_drop_rows_the_study_no_longer_holds():
    """A notebook the registry holds keeps only its runs in run_costs.csv (a sweep point renamed since, as
    advreg-dropout-off-seed0 became sweep-dropout-off-seed0, left its old row behind); a notebook the registry lacks
    keeps its saved rows."""
    from quarbert_lib.reporting.figures import _held_runs
    saved = pd.DataFrame({"notebook": ["04_x", "04_x", "11_y"], "run": ["a-seed0", "old-seed0", "b-seed0"]})
    current = pd.DataFrame({"notebook": ["04_x"], "run": ["a-seed0"]})
    assert _held_runs(saved, current)[["notebook", "run"]].values.tolist() == [["04_x", "a-seed0"], ["11_y", "b-seed0"]]


def test_each_profile_but_the_studys_reports_apart(monkeypatch):
    from quarbert_lib.base import paths
    monkeypatch.delenv(paths.REPORTS_ENV, raising=False)
    assert paths.use_profile_reports("cpu") == paths.REPO_ROOT / "reports"
    monkeypatch.delenv(paths.REPORTS_ENV)
    assert paths.use_profile_reports("smoke") == paths.REPO_ROOT / "reports" / "smoke"
    assert paths.tables_dir() == paths.REPO_ROOT / "reports" / "smoke" / "tables"
    monkeypatch.setenv(paths.REPORTS_ENV, "/elsewhere")                # an explicit folder wins
    assert paths.use_profile_reports("smoke") == Path("/elsewhere")


def test_figures_for_another_profile_leave_the_readme(isolated, monkeypatch, tmp_path):
    from quarbert_lib.reporting import figures
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- results:start -->\nold\n<!-- results:end -->\n")
    tables.save_ablation_rows([tables.ablation_row("sampling", [{**_metrics(0.5, 0.8, 0.6), "profile": "smoke"}])])
    assert figures.main(["--profile", "smoke", "--readme", str(readme)]) == 0
    assert "old" in readme.read_text()


def test_drawing_writes_no_table(isolated, monkeypatch):
    """`make figures` draws from saved tables: it writes figures and results.md, never a table (collect does that)."""
    from quarbert_lib.base.paths import reports_dir
    from quarbert_lib.reporting import figures
    tables.save_ablation_rows([tables.ablation_row(v, [_metrics(0.5, 0.8, 0.6)]) for v in ("sampling", "smart")])
    before = {p: p.read_bytes() for p in (reports_dir() / "tables").glob("*")}
    calls = []
    monkeypatch.setattr(figures, "collect", lambda *a, **k: calls.append(a))
    readme = isolated / "README.md"
    readme.write_text("<!-- results:start -->\n<!-- results:end -->\n")
    assert figures.main(["--profile", "cpu", "--readme", str(readme)]) == 0
    assert calls == [] and "`sampling`" in readme.read_text() and (reports_dir() / "results.md").is_file()
    assert {p: p.read_bytes() for p in (reports_dir() / "tables").glob("*")} == before


def test_override_run_with_one_seed_never_replaces_the_three_seed_row(isolated):
    """Seeds are in the row key: a `-p seeds='[0]'` rerun writes its own row beside the study's, and readers keep the
    study's; a row that a new one supersedes leaves the table (issue 37: no 3-seed row beside the 5-seed one)."""
    study = [{**_metrics(0.5, 0.8, 0.6), "seed": s} for s in (0, 1, 2)]
    tables.save_ablation_rows([tables.ablation_row("sampling", study)])
    before = pd.read_csv(tables_dir() / "ablation.csv", dtype={"seed_list": str})
    tables.save_ablation_rows([tables.ablation_row("sampling", [{**_metrics(0.1, 0.1, 0.1), "seed": 0}])])
    after = pd.read_csv(tables_dir() / "ablation.csv", dtype={"seed_list": str})
    pd.testing.assert_frame_equal(after[after["seed_list"] == "0 1 2"].reset_index(drop=True), before)
    assert sorted(after["seed_list"]) == ["0", "0 1 2"]
    rows = tables.ablation_rows("cpu", "minilm-l6")
    assert rows["seed_list"].tolist() == ["0 1 2"] and rows["sst_acc"].iloc[0] == pytest.approx(0.5)
    # the one-seed row replaces an earlier one-seed row of the same seed, and stays out of the study's view
    tables.save_ablation_rows([tables.ablation_row("sampling", [{**_metrics(0.2, 0.2, 0.2), "seed": 0}])])
    after = pd.read_csv(tables_dir() / "ablation.csv", dtype={"seed_list": str})
    assert len(after) == 2 and after.loc[after["seed_list"] == "0", "sst_acc"].item() == pytest.approx(0.2)
    # the study's seeds (0-4 for sampling on cpu) supersede both: the older rows leave
    five = [{**_metrics(0.6, 0.8, 0.6), "seed": s} for s in range(5)]
    tables.save_ablation_rows([tables.ablation_row("sampling", five)])
    after = pd.read_csv(tables_dir() / "ablation.csv", dtype={"seed_list": str})
    assert after["seed_list"].tolist() == ["0 1 2 3 4"]


def test_canonical_rows_prefer_the_profiles_seeds_then_the_most_seeds():
    df = pd.DataFrame([{"variant": "a", "profile": "cpu", "seeds": 1, "seed_list": "0", "x": 1},
                       {"variant": "a", "profile": "cpu", "seeds": 3, "seed_list": "0 1 2", "x": 2},
                       {"variant": "a", "profile": "cpu", "seeds": 4, "seed_list": "3 4 5 6", "x": 3},
                       {"variant": "b", "profile": "cpu", "seeds": 1, "seed_list": "0", "x": 4},
                       {"variant": "b", "profile": "cpu", "seeds": 2, "seed_list": "5 6", "x": 5},
                       {"variant": "c", "profile": "cpu", "seeds": 2}])          # saved before seed lists
    got = tables.canonical_rows(df, ["variant", "profile"])
    assert got["x"].fillna(0).tolist() == [2, 5, 0] and got["seed_list"].tolist() == ["0 1 2", "5 6", "0 1"]
    # the study's seeds are the row's notebook's (spec.row_seeds): five for sampling, three for smart-cosine
    rows = pd.DataFrame([{"variant": v, "profile": "cpu", "seeds": len(sl.split()), "seed_list": sl}
                         for v in ("sampling", "smart-cosine") for sl in ("0 1 2", "0 1 2 3 4")])
    got = tables.canonical_rows(rows, ["variant", "profile"])
    assert got["seed_list"].tolist() == ["0 1 2 3 4", "0 1 2"]


def test_a_run_name_is_built_by_one_function():
    assert results.run_name("specialist", "sst", seed=0) == "specialist-sst-seed0"
    assert results.run_name("sampling", "cap600", seed=2) == "sampling-cap600-seed2"
    assert results.run_stem(results.run_name("smart-simcse", seed=1)) == "smart-simcse"
    from quarbert_lib.base.paths import REPO_ROOT
    sources = [*(REPO_ROOT / "quarbert_lib").rglob("*.py"), *(REPO_ROOT / "notebooks").glob("*.py")]
    builders = sorted(str(p.relative_to(REPO_ROOT)) for p in sources
                      if re.search(r"-seed\{|-seed0\b|\"-seed\"", p.read_text(encoding="utf-8")))
    assert builders == ["quarbert_lib/study/results.py"]            # SEED_TAG and run_name, nowhere else


def test_a_sweeps_choices_are_rescored_on_the_held_out_calibration_split(tmp_path):
    """calib_row: each run's predictions-calib.csv scored as dev is (accuracy, Pearson r, the overall score), meaned
    over the point's runs; choices_on_calib: per score, dev's pick and the calibration split's, by hand."""
    folders = []
    for i, (sst_pred, para_pred, sts_pred) in enumerate((([0, 1, 2, 2], [1, 0, 1, 0], [1.0, 2.0, 3.0, 4.5]),
                                                         ([0, 1, 1, 2], [1, 1, 1, 0], [4.0, 2.0, 3.0, 1.0]))):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        rows = [{"task": "sst", "id": f"s{j}", "gold": g, "prediction": p} for j, (g, p) in enumerate(zip([0, 1, 2, 3], sst_pred))]
        rows += [{"task": "para", "id": f"p{j}", "gold": g, "prediction": p} for j, (g, p) in enumerate(zip([1, 0, 0, 0], para_pred))]
        rows += [{"task": "sts", "id": f"t{j}", "gold": g, "prediction": p} for j, (g, p) in enumerate(zip([0.5, 2.0, 3.5, 5.0], sts_pred))]
        pd.DataFrame(rows).to_csv(folder / "predictions-calib.csv", index=False)
        folders.append(folder)
    row = tables.calib_row(folders)
    sst = np.mean([3 / 4, 2 / 4])
    qqp = np.mean([3 / 4, 2 / 4])
    r = [np.corrcoef([0.5, 2.0, 3.5, 5.0], p)[0, 1] for p in ([1.0, 2.0, 3.0, 4.5], [4.0, 2.0, 3.0, 1.0])]
    overall = np.mean([(a + b + (c + 1) / 2) / 3 for a, b, c in zip([3 / 4, 2 / 4], [3 / 4, 2 / 4], r)])
    assert row == pytest.approx({"calib_sst_acc": sst, "calib_qqp_acc": qqp, "calib_sts_pearson": np.mean(r),
                                 "calib_overall": overall}, abs=1e-12)
    assert all(np.isnan(v) for v in tables.calib_row([folders[0], tmp_path / "no-calib"]).values())
    sweep = pd.DataFrame({"lambda": [0.5, 1.0, 5.0], "sst_acc": [0.43, 0.42, 0.41], "qqp_acc": [0.79, 0.80, 0.78],
                          "sts_pearson": [0.82, 0.81, 0.83], "overall": [0.713, 0.712, 0.711],
                          "calib_sst_acc": [0.40, 0.41, 0.39], "calib_qqp_acc": [0.70, 0.72, 0.71],
                          "calib_sts_pearson": [0.80, 0.79, 0.81], "calib_overall": [0.70, 0.69, 0.71]})
    choices = tables.choices_on_calib("λ_s", sweep, ["lambda"]).set_index("score")
    assert list(choices.index) == ["sst_acc", "qqp_acc", "sts_pearson", "overall"]
    assert list(choices["dev_choice"]) == ["lambda 0.5", "lambda 1", "lambda 5", "lambda 0.5"]
    assert list(choices["calib_choice"]) == ["lambda 1", "lambda 1", "lambda 5", "lambda 5"]
    assert list(choices["agree"]) == [False, True, True, False]
    assert choices.loc["overall", "dev_choice_calib"] == 0.70 and choices.loc["overall", "calib_choice_calib"] == 0.71
    tied = tables.choices_on_calib("λ_s", sweep.assign(calib_qqp_acc=[0.72, 0.72, 0.71]), ["lambda"]).set_index("score")
    # dev picks λ 1 for QQP; on calib it ties λ 0.5, the first best: a tie agrees
    assert tied.loc["qqp_acc", "calib_choice"] == "lambda 0.5" and tied.loc["qqp_acc", "agree"]


def test_the_prior_beside_a_row_is_a_table_or_one_sentence_naming_the_command(isolated):
    """Where the encoder's prior is not measured (another encoder, a new profile), the notebook says so and how to
    measure it, instead of an empty table; measured, the table sets the row's score beside it, difference by hand."""
    said = report.prior_markdown("smoke", "my-encoder", "baseline-finetune", "overall")
    assert "`python -m quarbert_lib prior --profile smoke --encoder my-encoder`" in said and "|" not in said
    results.write_csv(tables_dir() / "encoder_prior.csv", pd.DataFrame([
        {"profile": "smoke", "encoder": "my-encoder", "task": "all", "method": "m", "metric": "overall", "value": 0.7,
         "detail": ""}]))
    assert "has no row in this profile's ablation table yet" in report.prior_markdown("smoke", "my-encoder",
                                                                                       "baseline-finetune", "overall")
    tables.save_ablation_rows([{"variant": "baseline-finetune", "profile": "smoke", "encoder": "my-encoder",
                                "overall": 0.725, "seeds": 1}])
    beside = report.prior_beside("smoke", "my-encoder", "baseline-finetune", "overall").iloc[0]
    assert beside["difference"] == pytest.approx(0.725 - 0.7, abs=1e-7)
    assert "| overall | 0.7 | baseline-finetune | 0.725 | 0.025 |" in report.prior_markdown(
        "smoke", "my-encoder", "baseline-finetune", "overall")


def test_the_longer_budget_line_compares_with_the_ladders_best_row_not_a_converged_one(isolated):
    """The bug: once notebook 13's converged-plain (every example, three epochs) was the best single-model row, the
    README said notebook 11's best point beat it "at the ladder's budget". The comparison is with the best row of
    spec.LADDER; the prior's line names the best row of all with its seed count."""
    rows = [{"variant": v, "encoder": "minilm-l6", "profile": "cpu", "overall": o, "seeds": n, "seed_list": s}
            for v, o, n, s in (("sampling", 0.72, 3, "0 1 2"), ("smart", 0.71, 3, "0 1 2"),
                               ("sampling-natural", 0.733, 3, "0 1 2"), ("converged-plain", 0.752, 1, "0"),
                               ("ensemble", 0.76, 3, "0 1 2"))]
    tables.save_ablation_rows(rows)
    table_dir = isolated / "reports" / "tables"
    pd.DataFrame([{"profile": "cpu", "encoder": "minilm-l6", "metric": m, "value": v} for m, v in
                  (("sts_pearson", 0.8), ("qqp_acc", 0.7), ("sst_acc", 0.4))]).to_csv(table_dir / "encoder_prior.csv",
                                                                                      index=False)
    pd.DataFrame([{"profile": "cpu", "encoder": "minilm-l6", "recipe": "all-data-linear", "epoch": 3,
                   "train_minutes": 26.25, "overall": 0.754}]).to_csv(table_dir / "quality_per_minute.csv", index=False)
    prior, longer = report.context_lines("cpu", "minilm-l6")
    assert "0.752 for the highest single-model row (`converged-plain`, one seed)." in prior
    assert longer.endswith("`all-data-linear` reaches 0.754 at epoch 3 after 26.2 training minutes, against 0.720 for "
                           "`sampling` (mean over 3 seeds), the best single-model row at the ladder's budget.")
    # the model chosen on the calibration split (best_model.csv, best calibration score first): its lead over the
    # next scored candidate, and its dev score against the target; a candidate without a calibration score is no rival
    pd.DataFrame([{"profile": "cpu", "encoder": "minilm-l6", "model": m, "kind": k, "runs": n, "chosen": c,
                   "calib_overall": cal, "overall": dev} for m, k, n, c, cal, dev in (
        ("quartet-converged-plain-seed0", "quartet", 4, True, 0.7512, 0.7589),
        ("converged-plain-seed0", "run", 1, False, 0.7462, 0.7523),
        ("other-seed0", "run", 1, False, None, 0.7700))]).to_csv(table_dir / "best_model.csv", index=False)
    prior, best, longer = report.context_lines("cpu", "minilm-l6")
    assert best == ("- **The best model** (notebook 13, no test): `quartet-converged-plain-seed0` (quartet, 4 runs), "
                    "chosen on the held-out calibration split (calibration overall 0.7512, 0.0050 above the next of the 2 "
                    "candidates scored there); its dev overall is 0.7589, against the project's target 0.76. Dev chose each run's "
                    "epoch, so that dev score is not untouched by selection. It is what `submit` writes.")

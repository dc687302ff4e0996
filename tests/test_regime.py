"""The overfitting regime's measurement: with train.eval_train_examples, every evaluation also scores a fixed probe
of training examples, and tables.learning_curve turns history.csv into the train-dev gap per epoch."""
import pandas as pd
import pytest

from quarbert_lib.base.tasks import overall_score
from quarbert_lib.core.config import ConfigError, profile_config
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.evaluate import metrics_of, predict
from quarbert_lib.reporting import plots
from quarbert_lib.study import results, tables
from quarbert_lib.study.experiment import load_trained, run_experiment


def test_the_training_probe_is_scored_beside_dev(isolated, tiny_encoder_dir):
    cfg = profile_config("smoke", model__encoder=str(tiny_encoder_dir), train__epochs=1, train__eval_train_examples=6)
    run_experiment(cfg, "nb", "probe-seed0")
    folder = results.run_path("smoke", "nb", "probe-seed0")
    history = pd.read_csv(folder / "history.csv")
    last = history[history["kind"] == "eval"].iloc[-1]
    # one epoch, one evaluation: the saved best weights are the evaluated ones; score the same 6 examples again
    _, model, tokenizer = load_trained(folder)
    expected = {}
    for task in cfg.tasks:
        examples = load_task(task, cfg.data).splits["train"][:6]
        data = TaskData(load_task(task, cfg.data).spec, examples, tokenizer, cfg.data.max_length)
        expected.update(metrics_of({task: predict(model, data, task, cfg.train.eval_batch_size)}))
    for key, value in expected.items():
        assert last[f"train_{key}"] == pytest.approx(value, abs=1e-6)
        assert key in last                                      # dev metrics still there, unprefixed
    metrics = results.read_json(folder / "metrics.json")
    # no score reads the probe (train_seconds and train_examples are a time and a count)
    assert not any(k.startswith("train_") and k not in ("train_seconds", "train_examples") for k in metrics)
    assert metrics["train_examples"] == {t: len(load_task(t, cfg.data).splits["train"]) for t in cfg.tasks}
    curve = tables.learning_curve(folder, "plain", 0)
    assert curve.loc[0, "gap_qqp_acc"] == pytest.approx(last["train_para_acc"] - last["para_acc"])
    assert list(curve.columns[:4]) == ["variant", "seed", "epoch", "step"]
    assert curve.loc[0, "train_overall"] == pytest.approx(overall_score({k: last[f"train_{k}"] for k in expected}))
    assert curve.loc[0, "gap_overall"] == pytest.approx(curve.loc[0, "train_overall"] - overall_score(dict(last)))


def test_the_probe_size_is_validated():
    with pytest.raises(ConfigError, match="train.eval_train_examples"):
        profile_config("smoke", train__eval_train_examples=-1)


def _curves():
    """Two recipes x three seeds x two epochs, every column known."""
    rows = []
    for variant, dev_end, train_end in (("plain", 0.60, 0.90), ("rdrop", 0.62, 0.80)):
        for seed, jitter in enumerate((-0.01, 0.0, 0.01)):
            for epoch, (dev, train) in enumerate(((0.55, 0.60), (dev_end, train_end)), start=1):
                row = {"variant": variant, "seed": seed, "epoch": epoch, "step": 10 * epoch, "train_minutes": epoch}
                for column in ("sst_acc", "qqp_acc", "sts_pearson", "overall"):
                    row.update({column: dev + jitter, f"train_{column}": train + 2 * jitter})
                    row[f"gap_{column}"] = row[f"train_{column}"] - row[column]
                rows.append(row)
    return pd.DataFrame(rows)


def test_epoch_rows_are_the_seed_means_and_stds_at_the_last_epoch():
    curves = _curves()
    rows = tables.epoch_rows(curves).set_index("variant")
    at = curves[(curves["variant"] == "rdrop") & (curves["epoch"] == 2)]
    assert rows.loc["rdrop", "seeds"] == 3 and rows.loc["rdrop", "epoch"] == 2 and rows.loc["rdrop", "seed_list"] == "0 1 2"
    assert rows.loc["rdrop", "gap_overall"] == pytest.approx(at["gap_overall"].mean())
    assert rows.loc["rdrop", "gap_overall_std"] == pytest.approx(at["gap_overall"].std(ddof=1))
    assert tables.epoch_rows(curves, epoch=1).set_index("variant").loc["plain", "overall"] == pytest.approx(0.55)


def test_the_regime_tables_say_whether_the_gap_opens_and_what_each_regulariser_does():
    from scipy.stats import ttest_ind

    from quarbert_lib.reporting import verdicts
    curves = _curves()
    # plain's gap opens while its dev still rises: not called overfitting
    assert verdicts.regime_opening(curves) == "gap only"
    last = curves[curves["epoch"] == 2]
    plain, rdrop = (last[last["variant"] == v]["gap_overall"] for v in ("plain", "rdrop"))
    p = ttest_ind(rdrop, plain, equal_var=False).pvalue                    # the reference: scipy on the seeds
    table = verdicts.regime_verdicts(curves)
    # as saved (regime_curves.csv, what notebook 12 passes): with its profile and encoder columns
    assert verdicts.regime_verdicts(curves.assign(profile="cpu", encoder="e")).equals(table)
    gap = table[table["metric"] == "gap_overall"].iloc[0]
    assert gap["p"] == pytest.approx(p) and gap["effect"] == pytest.approx(0.18 - 0.30)
    low, high = sorted(table["p"])                                         # Holm over the notebook's two tests
    assert gap["p_holm"] == pytest.approx(min(1, 2 * low) if gap["p"] == low else min(1, max(2 * low, high)))
    assert table[table["metric"] == "overall"].iloc[0]["reading"] == "undecided"
    assert gap["reading"] == "below zero"
    # each run's best epoch, averaged over seeds: both recipes peak at their last epoch here
    best = tables.early_stopping(curves).set_index("variant")
    assert best["best_epoch_overall"].to_dict() == pytest.approx({"plain": 0.6, "rdrop": 0.62})
    assert best["seeds"].tolist() == [3, 3]
    declined = _decline(curves, "plain", 0.5, 0.95)
    assert tables.early_stopping(declined).set_index("variant")["best_epoch_overall"].to_dict() == \
        pytest.approx({"plain": 0.6, "rdrop": 0.62})


def _decline(curves: pd.DataFrame, variant: str, epoch3_dev: float, epoch3_train: float) -> pd.DataFrame:
    """``curves`` with a third epoch for every run: ``variant``'s at the given dev and train scores, the others'
    as their epoch 2."""
    third = curves[curves["epoch"] == 2].copy()
    third["epoch"], third["step"] = 3, 30
    jitter = third["seed"].map({0: -0.01, 1: 0.0, 2: 0.01})
    mine = third["variant"] == variant
    for column in ("sst_acc", "qqp_acc", "sts_pearson", "overall"):
        third.loc[mine, column] = epoch3_dev + jitter[mine]
        third.loc[mine, f"train_{column}"] = epoch3_train + 2 * jitter[mine]
        third[f"gap_{column}"] = third[f"train_{column}"] - third[column]
    return pd.concat([curves, third], ignore_index=True)


def test_plain_is_said_to_overfit_only_when_its_dev_score_falls_from_its_peak():
    from quarbert_lib.reporting import verdicts as nf
    assert nf.regime_opening(_curves()) == "gap only"                     # dev still rising
    assert nf.regime_opening(_decline(_curves(), "plain", 0.58, 0.95)) == "overfits"     # 0.600 -> 0.580
    assert nf.regime_opening(_decline(_curves(), "plain", 0.595, 0.95)) == "gap only"    # within the 0.01 margin
    flat = _curves().assign(train_overall=lambda d: d["overall"] + 0.05, gap_overall=0.05)
    assert nf.regime_opening(flat) == "no gap"
    assert nf.regime_opening(_curves().assign(gap_overall=float("nan"))) == ""


def test_a_gap_narrowed_by_fitting_less_shows_both_columns_falling():
    """A regulariser that lowers the training score more than dev narrows the gap by underfitting: its dev reading
    is "below zero" beside the gap's, so the table shows it apart from a recipe that narrows the gap without costing
    dev."""
    from quarbert_lib.reporting import verdicts
    curves = _curves()
    strong = curves[curves["variant"] == "rdrop"].assign(variant="strong")
    last = strong["epoch"] == 2
    jitter = strong["seed"].map({0: -0.01, 1: 0.0, 2: 0.01})
    strong.loc[last, "overall"] = 0.45 + jitter[last]                      # dev -0.15 against plain's 0.60
    strong.loc[last, "train_overall"] = 0.50 + 2 * jitter[last]            # train -0.40 against plain's 0.90
    strong["gap_overall"] = strong["train_overall"] - strong["overall"]
    curves = pd.concat([curves, strong], ignore_index=True)
    table = verdicts.regime_verdicts(curves).set_index(["step", "metric"])
    assert table.loc[("plain -> strong", "overall"), "reading"] == "below zero"
    assert table.loc[("plain -> strong", "gap_overall"), "reading"] == "below zero"     # a narrower gap
    assert table.loc[("plain -> strong", "gap_overall"), "effect"] == pytest.approx(-0.25)   # train -0.40 minus dev -0.15
    assert table.loc[("plain -> rdrop", "overall"), "reading"] == "undecided"



def test_a_rerun_replaces_each_runs_curve_whole(isolated):
    """A rerun with fewer epochs leaves none of the old curve's rows (they would be averaged with the new ones)."""
    from quarbert_lib.base.paths import tables_dir
    curves = _curves().assign(profile="cpu", encoder="e")
    tables.save_learning_curves(_decline(_curves(), "plain", 0.5, 0.9).assign(profile="cpu", encoder="e"))
    saved = tables.save_learning_curves(curves)
    assert sorted(saved["epoch"].unique()) == [1, 2] and len(saved) == len(curves)
    # another encoder's curves are kept
    saved = tables.save_learning_curves(curves.assign(encoder="other"))
    assert len(saved) == 2 * len(curves)
    budget = pd.DataFrame([{"recipe": "all-data", "cap": "all", "seed": 0, "profile": "cpu", "encoder": "e",
                            "epoch": e, "overall": 0.7} for e in (1, 2, 3)])
    tables.save_budget_points(budget)
    again = tables.save_budget_points(budget[budget["epoch"] < 3])
    assert list(again["epoch"]) == [1, 2]
    assert (tables_dir() / "quality_per_minute.csv").exists()


def test_the_regime_figure_draws_each_recipes_dev_and_gap_as_the_means_of_its_runs(isolated):
    curves = _curves()
    fig = plots.learning_curves(curves, "regime.png")
    panels = {ax.get_title(): ax for ax in fig.axes}
    recipes = list(dict.fromkeys(curves["variant"]))
    for title, column in (("overall: dev", "overall"), ("overall: gap (train - dev)", "gap_overall"),
                          ("SST acc: gap (train - dev)", "gap_sst_acc")):
        drawn = [c.lines[0] for c in panels[title].containers]          # one errorbar per recipe, in order
        assert len(drawn) == len(recipes)
        for recipe, line in zip(recipes, drawn):
            runs = curves[curves["variant"] == recipe]
            assert list(line.get_ydata()) == pytest.approx(list(runs.groupby("epoch")[column].mean()))
    # the gap is train - dev of each run, averaged: the hand computation, not the table's column
    runs = curves[curves["variant"] == "rdrop"]
    by_hand = (runs["train_overall"] - runs["overall"]).groupby(runs["epoch"]).mean()
    assert list(panels["overall: gap (train - dev)"].containers[1].lines[0].get_ydata()) == pytest.approx(list(by_hand))
    # dodged: the recipes' points at one epoch stand apart, within a quarter epoch of it; plain is black
    first = sorted(c.lines[0].get_xdata()[0] for c in panels["overall: dev"].containers)
    assert all(b - a > 0.05 for a, b in zip(first, first[1:])) and max(abs(x - 1) for x in first) < 0.25
    assert panels["overall: dev"].containers[0].lines[0].get_color() == "black"


def test_a_target_above_every_point_is_drawn_inside_the_overall_panel_with_room_for_its_label(isolated):
    """The converged figure's target (0.76) stood above every curve, on the panel's top edge, its label cut by the
    frame: the line stands at most nine tenths of the panel's height up. A target inside the data's range leaves the
    limits as they were."""
    curves = _curves()
    alone = {ax.get_title(): ax for ax in plots.learning_curves(curves, "regime.png").axes}["overall: dev"].get_ylim()
    for target in (alone[1], alone[1] + 0.05):
        fig = plots.learning_curves(curves, "regime.png", target=(target, "target"))
        low, high = {ax.get_title(): ax for ax in fig.axes}["overall: dev"].get_ylim()
        assert (target - low) / (high - low) <= 0.9 + 1e-9 and low <= alone[0]
    inside = (alone[0] + alone[1]) / 2
    fig = plots.learning_curves(curves, "regime.png", target=(inside, "target"))
    assert {ax.get_title(): ax for ax in fig.axes}["overall: dev"].get_ylim() == pytest.approx(alone)

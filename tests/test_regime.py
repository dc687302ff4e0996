"""The overfitting regime's measurement: with train.eval_train_examples, every evaluation also scores a fixed probe
of training examples, and tables.learning_curve turns history.csv into the train-dev gap per epoch."""
import pandas as pd
import pytest

from quarbert_lib.base.tasks import overall_score
from quarbert_lib.core.config import ConfigError, profile_config
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.evaluate import metrics_of, predict
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


def test_the_regime_findings_say_whether_the_gap_opens_and_what_each_regulariser_does(isolated):
    from scipy.stats import ttest_ind

    from quarbert_lib.base.paths import tables_dir
    from quarbert_lib.reporting import notebook_findings as nf
    curves = _curves()
    tables_dir().mkdir(parents=True, exist_ok=True)
    curves.assign(profile="cpu", encoder="e").to_csv(tables_dir() / "regime_curves.csv", index=False)
    lines = nf.notebook_findings("12_overfitting_regime", "cpu", "e").split("\n")
    assert lines[0] == ("- The gap opens without a regulariser: plain's train-dev gap on the overall score is +0.050 after "
                        "epoch 1 and +0.300 after epoch 2 (train 0.900, dev 0.600); dev peaks at epoch 2 (0.600). "
                        "Mean over seeds.")
    last = curves[curves["epoch"] == 2]
    plain, rdrop = (last[last["variant"] == v]["gap_overall"] for v in ("plain", "rdrop"))
    p = ttest_ind(rdrop, plain, equal_var=False).pvalue                    # the reference: scipy on the seeds
    table = nf.regime_verdicts(curves)
    gap = table[table["metric"] == "gap_overall"].iloc[0]
    assert gap["p"] == pytest.approx(p) and gap["effect"] == pytest.approx(0.18 - 0.30)
    low, high = sorted(table["p"])                                         # Holm over the notebook's two tests
    assert gap["p_holm"] == pytest.approx(min(1, 2 * low) if gap["p"] == low else min(1, max(2 * low, high)))
    assert lines[1].startswith("- `rdrop` against plain at the last epoch: dev overall +0.020")
    assert f"gap -0.120 (95% CI [{gap['ci_low']:+.3f}, {gap['ci_high']:+.3f}]), {nf.GAP_WORDS[gap['verdict']]}" in lines[1]
    assert gap["verdict"] == "hurts" and lines[2] == "- Shown to narrow the gap here: `rdrop`."


def test_mbpp_at_the_ladders_budget_is_read_against_the_regime(isolated):
    """The ladder's `advreg-only -> smart` null names notebook 12's measurement of MBPP on top of SMART once it
    exists, and says open before."""
    from quarbert_lib.base.paths import tables_dir
    from quarbert_lib.reporting import notebook_findings as nf
    empty = pd.DataFrame(columns=["step", "metric"])
    assert nf.measured_reason("advreg-only", "smart", empty, "cpu", "e").startswith("open: MBPP holds the model")
    curves = _curves().replace({"variant": {"plain": "advreg-lambda5", "rdrop": "smart"}})
    tables_dir().mkdir(parents=True, exist_ok=True)
    curves.assign(profile="cpu", encoder="e").to_csv(tables_dir() / "regime_curves.csv", index=False)
    gap = nf.regime_verdicts(curves).set_index("metric").loc["gap_overall"]
    assert gap["step"] == "advreg-lambda5 -> smart"
    assert nf.measured_reason("advreg-only", "smart", empty, "cpu", "e") == (
        "in notebook 12's regime that overfits, MBPP on top of SMART moves the last epoch's dev overall by +0.020 "
        f"(95% CI [{nf.regime_verdicts(curves).iloc[0]['ci_low']:+.3f}, {nf.regime_verdicts(curves).iloc[0]['ci_high']:+.3f}]), "
        f"{nf.regime_verdicts(curves).iloc[0]['verdict']}, and the train-dev gap by -0.120 (95% CI "
        f"[{gap['ci_low']:+.3f}, {gap['ci_high']:+.3f}]), narrows the gap")

"""The overfitting regime's measurement: with train.eval_train_examples, every evaluation also scores a fixed probe
of training examples, and report.learning_curve turns history.csv into the train-dev gap per epoch."""
import pandas as pd
import pytest

from quarbert_lib.core.config import ConfigError, profile_config
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.evaluate import metrics_of, predict
from quarbert_lib.reporting import report
from quarbert_lib.study import results
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
    assert not any(k.startswith("train_") and k != "train_seconds" for k in metrics)   # no score reads the probe
    curve = report.learning_curve(folder, "plain", 0)
    assert curve.loc[0, "gap_qqp_acc"] == pytest.approx(last["train_para_acc"] - last["para_acc"])
    assert list(curve.columns[:4]) == ["variant", "seed", "epoch", "step"]


def test_the_probe_size_is_validated():
    with pytest.raises(ConfigError, match="train.eval_train_examples"):
        profile_config("smoke", train__eval_train_examples=-1)

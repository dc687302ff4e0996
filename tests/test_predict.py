"""Using trained models (quarbert_lib.study.serve, python -m quarbert_lib): scores equal the registry's predictions,
ensembles average as the quartet does, exports load back to the same numbers without the registry or the
encoder, and every user mistake is one line."""
import io
import json
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from quarbert_lib import __main__ as entry
from quarbert_lib.base import cli
from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.core.config import profile_config
from quarbert_lib.core.data import load_task
from quarbert_lib.study import ensemble, results, serve
from quarbert_lib.study.experiment import run_experiment

LORA = dict(lora__enabled=True, lora__r=4, lora__alpha=8.0, lora__dropout=0.0)
# name, tasks, seed, LoRA: a multitask run, a second run sharing two tasks (an ensemble of two), two LoRA runs
RUNS = (("multi", ["sst", "para", "sts"], 0, False), ("sst-sts", ["sst", "sts"], 1, False),
        ("lora-multi", ["sst", "para", "sts"], 0, True), ("lora-sts", ["sts"], 1, True))
SENTENCES = ["a great movie with a fun plot", "boring", "what a sad and slow film"]
PAIR = ("how can i learn to play fast", "what is the best way to learn")


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tiny_encoder_dir, mini_data_dir):
    """Four tiny trained runs and two ensemble folders (plain, LoRA) in a registry of their own. The runs
    use a copy of the tiny encoder, which a test moves away to show that an export does not need it."""
    root = tmp_path_factory.mktemp("serve")
    encoder = root / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    with pytest.MonkeyPatch.context() as mp:
        for env, sub in (("QUARBERT_RUNS", "runs"), ("QUARBERT_REPORTS", "reports"), ("QUARBERT_RECORDS", "records")):
            mp.setenv(env, str(root / sub))
        mp.setenv("QUARBERT_DATA", str(mini_data_dir))
        runs = {}
        for name, tasks, seed, lora in RUNS:
            cfg = profile_config("smoke", tasks=tasks, model__encoder=str(encoder), train__max_steps=3,
                                 train__seed=seed, **(LORA if lora else {}))
            run_experiment(cfg, "nb", name)
            runs[name] = results.run_path("smoke", "nb", name)
        ensembles = {}
        for name, members in (("ens", ["multi", "sst-sts"]), ("ens-lora", ["lora-multi", "lora-sts"])):
            ensembles[name] = results.run_path("smoke", "ensembles", name)
            results.write_members(ensembles[name], {m: runs[m] for m in members})
        yield SimpleNamespace(root=root, encoder=encoder, runs=runs, ensembles=ensembles)


def dev_examples(run_dir: Path, task: str):
    cfg = results.run_config(run_dir)
    return load_task(task, cfg.data).splits["dev"]


def score_dev(scorer: serve.Scorer, run_dir: Path, task: str) -> pd.DataFrame:
    """The scorer's answers for the dev texts of ``task`` (as loaded for ``run_dir``), in file order."""
    examples = dev_examples(run_dir, task)
    if task in ("para", "sts"):
        return scorer.score(pairs=[(e.sentence1, e.sentence2) for e in examples])
    return scorer.score(sentences=[e.sentence1 for e in examples])


def assert_same_as_registry(scores: pd.DataFrame, frame: pd.DataFrame, task: str) -> None:
    """``scores`` (Scorer.score's columns) against a registry predictions frame of ``task``, to 1e-6."""
    frame = frame[frame["task"] == task].reset_index(drop=True)
    assert len(scores) == len(frame) > 0
    close = lambda a, b: np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=0, atol=1e-6)  # noqa: E731
    if task == "sst":
        assert scores["sst_label"].tolist() == frame["prediction"].astype(int).tolist()
        close(scores[[f"sst_prob_{k}" for k in range(5)]], frame[[f"prob_{k}" for k in range(5)]])
    elif task == "para":
        assert scores["para_label"].tolist() == frame["prediction"].astype(int).tolist()
        close(scores["para_prob"], frame["prob"])
    else:
        close(scores["sts_raw"], frame["score"])
        close(scores["sts_score"], np.clip(frame["score"].to_numpy(float), 0.0, 5.0))


def saved_dev(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "predictions-dev.csv", dtype={"id": str})


def ensemble_dev(members: dict[str, Path]) -> pd.DataFrame:
    """The quartet's way: the members' saved dev predictions averaged by ensemble.ensemble."""
    return ensemble.ensemble(ensemble.load_predictions(members, "dev"))


@contextmanager
def without_sources(registry, monkeypatch):
    """No registry (QUARBERT_RUNS at an empty folder) and no original encoder folder."""
    hidden = registry.root / "encoder-hidden"
    shutil.move(registry.encoder, hidden)
    try:
        with monkeypatch.context() as mp:
            mp.setenv("QUARBERT_RUNS", str(registry.root / "no-runs"))
            yield
    finally:
        shutil.move(hidden, registry.encoder)


def api_scores(source) -> pd.DataFrame:
    return serve.load(source).score(SENTENCES, [PAIR])


# ---------------------------------------------------------------- scoring



def assert_same_scores(before, after):
    """Every score column of two ``Scorer.score`` frames within 1e-6 (NaN where a task has no head)."""
    numbers = [c for c in before.columns if c.startswith(("sst_", "para_", "sts_"))]
    np.testing.assert_allclose(after[numbers].to_numpy(float), before[numbers].to_numpy(float), rtol=0, atol=1e-6,
                               equal_nan=True)

def test_a_runs_scores_are_its_saved_dev_predictions(registry):
    run = registry.runs["multi"]
    scorer = serve.load(run)
    assert scorer.kind == "run" and scorer.tasks == ["sst", "para", "sts"]
    for task in ("sst", "para", "sts"):
        assert_same_as_registry(score_dev(scorer, run, task), saved_dev(run), task)
    # the clipped score is the course's output file's number
    course = results.read_course_output(run / "sts-dev-output.csv", "sts")
    np.testing.assert_allclose(score_dev(scorer, run, "sts")["sts_score"], course["prediction"], rtol=0, atol=1e-6)


def test_sts_scores_are_clipped_to_0_5_and_the_raw_output_kept(registry):
    scorer = serve.load(registry.runs["sst-sts"])
    pairs = [PAIR, (SENTENCES[0], SENTENCES[1])]
    base = scorer.score(pairs=pairs)["sts_raw"].to_numpy(float)
    bias = scorer.members["sst-sts"].model.heads["sts"].bias
    for shift, clipped in ((-10.0, 0.0), (10.0, 5.0)):       # push every raw score out of 0-5, one side and the other
        with torch.no_grad():
            bias += shift
        scores = scorer.score(pairs=pairs)
        with torch.no_grad():
            bias -= shift
        np.testing.assert_allclose(scores["sts_raw"], base + shift, rtol=0, atol=1e-5)
        assert scores["sts_score"].tolist() == [clipped, clipped]


def test_score_rows_and_columns(registry):
    scores = serve.load(registry.runs["sst-sts"]).score(SENTENCES[:2], [PAIR])
    # only the tasks the run has heads for: no paraphrase columns
    assert list(scores.columns) == ["input", "sentence1", "sentence2", "sst_label", *[f"sst_prob_{k}" for k in range(5)],
                                    "sts_score", "sts_raw"]
    assert scores["input"].tolist() == ["sentence", "sentence", "pair"]
    assert scores["sentence1"].tolist() == [*SENTENCES[:2], PAIR[0]] and scores["sentence2"].tolist()[2] == PAIR[1]
    assert scores["sst_label"].isna().tolist() == [False, False, True]
    assert scores["sts_score"].isna().tolist() == [True, True, False]
    probs = scores.loc[:1, [f"sst_prob_{k}" for k in range(5)]].to_numpy(float)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert scores.loc[:1, "sst_label"].tolist() == probs.argmax(1).tolist()
    with pytest.raises(serve.InputError, match=r"pairs\[0\] must be two sentences"):
        serve.load(registry.runs["sst-sts"]).score(pairs=["ab"])
    with pytest.raises(serve.InputError, match="sentences must be a list, got the string 'boring'"):
        serve.load(registry.runs["sst-sts"]).score(sentences="boring")


def test_an_ensemble_folder_averages_as_the_quartet(registry):
    folder = registry.ensembles["ens"]
    assert serve.resolve("ens", "smoke", str(registry.encoder)) == folder      # a registry name finds it too
    scorer = serve.load(folder)
    assert scorer.kind == "ensemble" and list(scorer.members) == ["multi", "sst-sts"]
    assert scorer.members_for("sst") == ["multi", "sst-sts"] and scorer.members_for("para") == ["multi"]
    expected = ensemble_dev(serve.read_members(folder))
    for task in ("sst", "para", "sts"):
        assert_same_as_registry(score_dev(scorer, registry.runs["multi"], task), expected, task)
    # an average, not a member: the SST probabilities differ from each member's own
    alone = saved_dev(registry.runs["multi"])
    assert not np.allclose(expected[expected["task"] == "sst"]["prob_0"], alone[alone["task"] == "sst"]["prob_0"])


def test_the_lora_quartet_runs_on_one_backbone(registry):
    folder = registry.ensembles["ens-lora"]
    scorer = serve.load(folder)
    encoders = {id(m.model.encoder) for m in scorer.members.values()}
    assert len(encoders) == 1 and [m.adapter for m in scorer.members.values()] == ["lora-multi", "lora-sts"]
    expected = ensemble_dev(serve.read_members(folder))
    for task in ("sst", "para", "sts"):
        assert_same_as_registry(score_dev(scorer, registry.runs["lora-multi"], task), expected, task)
    listed = serve.load_ensemble(serve.read_members(folder)).score(SENTENCES, [PAIR])     # no members.json needed
    pd.testing.assert_frame_equal(listed, scorer.score(SENTENCES, [PAIR]))
    single = serve.load(registry.runs["lora-sts"])
    assert_same_as_registry(score_dev(single, registry.runs["lora-sts"], "sts"), saved_dev(registry.runs["lora-sts"]), "sts")


# ---------------------------------------------------------------- export


def test_a_run_exports_in_the_hugging_face_layout_and_loads_back_alone(registry, monkeypatch, tmp_path):
    run = registry.runs["multi"]
    before = api_scores(run)
    dest = serve.export(run, tmp_path / "export")
    for name in ("quarbert.json", "config.json", "model.safetensors", "tokenizer_config.json", "heads.safetensors"):
        assert (dest / name).is_file(), name
    manifest = json.loads((dest / "quarbert.json").read_text())
    assert (manifest["format"], manifest["format_version"], manifest["kind"]) == ("quarbert-export", 1, "run")
    assert manifest["tasks"] == ["sst", "para", "sts"]
    member = manifest["members"]["multi"]
    assert member["config"] == results.read_json(run / "config.json")
    assert (member["pooling"], member["pair_encoding"], member["max_length"]) == ("mean", "siamese", 32)
    assert not list(tmp_path.glob(".*tmp"))                              # the temporary folder is gone
    with without_sources(registry, monkeypatch):
        loaded = serve.load_export(dest)
        assert loaded.kind == "export"
        after = loaded.score(SENTENCES, [PAIR])
        for task in ("sst", "para", "sts"):
            assert_same_as_registry(score_dev(loaded, run, task), saved_dev(run), task)
    assert_same_scores(before, after)


def test_an_ensemble_exports_one_folder_per_member(registry, monkeypatch, tmp_path):
    folder = registry.ensembles["ens"]
    before = api_scores(folder)
    dest = serve.export(folder, tmp_path / "ens")
    manifest = serve.read_manifest(dest)
    assert manifest["kind"] == "ensemble" and manifest["members"] == {
        "multi": {"folder": "multi", "tasks": ["sst", "para", "sts"]}, "sst-sts": {"folder": "sst-sts", "tasks": ["sst", "sts"]}}
    assert [serve.read_manifest(dest / m)["kind"] for m in ("multi", "sst-sts")] == ["run", "run"]
    expected = ensemble_dev(serve.read_members(folder))
    with without_sources(registry, monkeypatch):
        loaded = serve.load(dest)
        assert list(loaded.members) == ["multi", "sst-sts"]
        after = loaded.score(SENTENCES, [PAIR])
        for task in ("sst", "para", "sts"):
            assert_same_as_registry(score_dev(loaded, registry.runs["multi"], task), expected, task)
    assert_same_scores(before, after)


def test_the_lora_quartet_exports_one_backbone_and_its_adapters(registry, monkeypatch, tmp_path):
    folder = registry.ensembles["ens-lora"]
    before = api_scores(folder)
    dest = serve.export(folder, tmp_path / "lora")
    manifest = serve.read_manifest(dest)
    assert manifest["kind"] == "lora" and list(manifest["members"]) == ["lora-multi", "lora-sts"]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.safetensors")) == [
        "adapters/lora-multi/adapter_model.safetensors", "adapters/lora-sts/adapter_model.safetensors",
        "heads/lora-multi.safetensors", "heads/lora-sts.safetensors", "model.safetensors"]   # one backbone
    # the backbone is the plain encoder, without LoRA weights
    from safetensors import safe_open
    with safe_open(str(dest / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if "lora" in k]
    expected = ensemble_dev(serve.read_members(folder))
    with without_sources(registry, monkeypatch):
        loaded = serve.load(dest)
        assert len({id(m.model.encoder) for m in loaded.members.values()}) == 1
        after = loaded.score(SENTENCES, [PAIR])
        for task in ("sst", "para", "sts"):
            assert_same_as_registry(score_dev(loaded, registry.runs["lora-multi"], task), expected, task)
    assert_same_scores(before, after)


def test_folders_that_are_not_models_name_the_folder_and_the_missing_file(registry, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("hello")
    with pytest.raises(serve.NotAModel, match=rf"^{re.escape(str(empty))} is not an export: it has no quarbert.json"):
        serve.load_export(empty)
    for folder in (empty, stray):
        with pytest.raises(serve.NotAModel, match=rf"^{re.escape(str(folder))} is not a run, an ensemble or an export: it has no "
                                                  r"config.json \(a run\), members.json"):
            serve.load(folder)
    with pytest.raises(serve.NotAModel, match=rf"^{re.escape(str(tmp_path / 'nowhere'))}: no such folder$"):
        serve.load(tmp_path / "nowhere")
    dest = serve.export(registry.runs["sst-sts"], tmp_path / "export")
    (dest / "heads.safetensors").unlink()
    with pytest.raises(serve.NotAModel, match=rf"^export {re.escape(str(dest))} is incomplete: it has no heads.safetensors$"):
        serve.load(dest)
    manifest = json.loads((dest / "quarbert.json").read_text())
    (dest / "quarbert.json").write_text(json.dumps({**manifest, "members": {"sst-sts": {"heads": "heads.safetensors"}}}))
    with pytest.raises(serve.NotAModel, match="member 'sst-sts' has no config$"):
        serve.load(dest)
    (dest / "quarbert.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(serve.NotAModel, match="has format_version 99; this library reads version 1"):
        serve.load(dest)
    restored = tmp_path / "restored"                  # a run restored from its record: results, no weights
    restored.mkdir()
    for name in ("config.json", "metrics.json", "predictions-dev.csv"):
        shutil.copy(registry.runs["multi"] / name, restored / name)
    with pytest.raises(serve.NotAModel, match=rf"^run {re.escape(str(restored))} has no model.pt, its weights"):
        serve.load(restored)
    with pytest.raises(serve.InputError, match="already exists and is not an empty folder"):
        serve.export(registry.runs["multi"], stray)
    assert issubclass(serve.NotAModel, cli.user_errors()) and issubclass(serve.InputError, cli.user_errors())


# ---------------------------------------------------------------- command line


def test_cli_prints_a_table_of_the_apis_answers(registry, capsys):
    run = registry.runs["multi"]
    argv = ["predict", str(run), *[a for s in SENTENCES for a in ("--sentence", s)], "--pair", *PAIR]
    assert cli.run(entry.main, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    api = api_scores(run)
    assert lines[0].split() == ["#", "input", "sst", "sst", "p(0..4)", "para", "para", "p", "sts", "0-5"]
    assert "clipped to 0-5" in lines[-1] and len(lines) == 1 + 4 + 1
    for i, row in api.iterrows():
        line = lines[1 + i]
        assert line.startswith(f"{i + 1}  ")
        if row["input"] == "sentence":
            assert row["sentence1"] in line
            tail = [str(row["sst_label"])] + [f"{row[f'sst_prob_{k}']:.4f}" for k in range(5)]
        else:
            assert f"{PAIR[0]} | {PAIR[1]}" in line
            tail = [str(row["para_label"]), f"{row['para_prob']:.4f}", f"{row['sts_score']:.4f}"]
        assert line.split()[-len(tail):] == tail


def test_cli_json_lines_by_registry_name_csv_and_stdin(registry, capsys, monkeypatch, tmp_path):
    sentences_csv = tmp_path / "sentences.csv"
    sentences_csv.write_text("id,sentence\n1,\"" + SENTENCES[0] + "\"\n2," + SENTENCES[1] + "\n")
    pairs_tsv = tmp_path / "pairs.tsv"                                  # the course's layout: tabs, an index column
    pairs_tsv.write_text("\tid\tsentence1\tsentence2\n0\tq1\t" + "\t".join(PAIR) + "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(SENTENCES[2] + "\n\n"))
    argv = ["predict", "multi", "--profile", "smoke", "--encoder", str(registry.encoder), "--json",
            "--csv", str(sentences_csv), "--csv", str(pairs_tsv), "--stdin"]
    assert cli.run(entry.main, argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    api = api_scores(registry.runs["multi"])
    assert [r["sentence1"] for r in records] == [*SENTENCES, PAIR[0]] and records[3]["sentence2"] == PAIR[1]
    for record, (_, row) in zip(records, api.iterrows()):
        assert record == {k: (int(v) if k.endswith("_label") else v) for k, v in row.items() if not pd.isna(v)}
    assert set(records[0]) == {"input", "sentence1", "sst_label", *[f"sst_prob_{k}" for k in range(5)]}
    assert set(records[3]) == {"input", "sentence1", "sentence2", "para_label", "para_prob", "sts_score", "sts_raw"}


def test_cli_export_then_predict_gives_the_same_numbers(registry, capsys, tmp_path):
    dest = tmp_path / "exported"
    assert cli.run(entry.main, ["export", str(registry.runs["multi"]), str(dest)]) == 0
    assert capsys.readouterr().out.startswith(f"exported {registry.runs['multi']} to {dest} (kind run; members: multi;")
    argv = ["predict", str(dest), "--json", *[a for s in SENTENCES for a in ("--sentence", s)], "--pair", *PAIR]
    assert cli.run(entry.main, argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    api = api_scores(registry.runs["multi"])
    assert len(records) == len(api) == 4
    for record, (_, row) in zip(records, api.iterrows()):
        for key, value in record.items():
            if key.endswith(("_prob", "_score", "_raw")) or "_prob_" in key:
                assert value == pytest.approx(row[key], abs=1e-6), key
            else:
                assert value == row[key], key


def test_cli_user_errors_are_one_line_and_exit_2(registry, capsys, tmp_path):
    empty = tmp_path / "not-an-export"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "quarbert_lib", "predict", str(empty), "--sentence", "fine"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {empty} is not a run, an ensemble or an export: it has no config.json (a run), members.json "
        "(an ensemble) or quarbert.json (an export) (--debug or QUARBERT_DEBUG=1 shows the traceback)"]
    for argv, says in ((["predict", str(registry.runs["multi"])], "nothing to score"),
                       (["predict", "no-such-run", "--sentence", "x"], "no complete run or ensemble 'no-such-run'"),
                       (["predict", str(registry.runs["multi"]), "--csv", str(tmp_path / "missing.csv")], "no such file"),
                       (["export", str(registry.runs["multi"]), str(tmp_path)], "already exists and is not an empty"),
                       (["predict", str(registry.runs["multi"]), "--csv", str(_utf16(tmp_path))], "not UTF-8: it is UTF-16")):
        assert cli.run(entry.main, argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err


def _utf16(folder: Path) -> Path:
    """Excel's "Unicode text": a CSV of inputs in UTF-16."""
    path = folder / "excel.txt"
    path.write_bytes("sentence\nA film.\n".encode("utf-16"))
    return path


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_damaged_heads_are_one_line_naming_the_file(registry, capsys, tmp_path):
    """Every weight file a model is loaded from goes through core.model.load_weights (the bug hunt's kind 9: a
    damaged file is one line naming it and the fix, not torch's or safetensors' traceback): a LoRA run's heads
    (lora.LoraQuartet, which notebook 08 and a LoRA ensemble load) and an export's heads (safetensors)."""
    from quarbert_lib.base.errors import UserError
    from quarbert_lib.study.lora import HEADS_FILE, LoraQuartet
    lora = shutil.copytree(registry.runs["lora-sts"], tmp_path / "lora-sts")
    _cut(lora / HEADS_FILE)
    with pytest.raises(UserError, match=rf"^{re.escape(str(lora / HEADS_FILE))}: damaged weights .*retrain the run"):
        LoraQuartet({"lora-sts": (lora, results.run_config(lora))})
    dest = serve.export(registry.runs["multi"], tmp_path / "export")
    _cut(dest / "heads.safetensors")
    assert cli.run(entry.main, ["predict", str(dest), "--sentence", "A film."]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {dest / 'heads.safetensors'}: damaged weights"), err


@pytest.mark.parametrize("command", sorted(entry.PASS_THROUGH))
def test_other_commands_pass_their_arguments_to_the_module(command, monkeypatch):
    module = entry.PASS_THROUGH[command][0]
    calls = []
    monkeypatch.setattr(module, "main", lambda argv: calls.append(argv) or 7)
    assert cli.run(entry.main, [command, "--profile", "quick", "x"]) == 7
    assert calls == [["--profile", "quick", "x"]]


@pytest.mark.parametrize("sentences, said", [
    (pd.Series(["fine", np.nan]), r"sentences\[1\] is nan \(float\), a missing value"),
    (["fine", None], r"sentences\[1\] is None \(NoneType\), a missing value"),
    ([b"fine"], r"sentences\[0\] is b'fine' \(bytes\), bytes: decode them first"),
    ([3], r"sentences\[0\] is 3 \(int\), not a text"),
])
def test_the_scoring_api_refuses_what_is_not_a_text_naming_its_position(registry, sentences, said):
    """The bug hunt's inputs: NaN and None from a pandas column were scored as the texts "nan" and "None", bytes as
    "b'...'", and a Series raised "truth value of a Series is ambiguous". Now any iterable of texts is scored, and
    anything else is refused naming its position."""
    scorer = serve.load(registry.runs["sst-sts"])
    with pytest.raises(serve.InputError, match=said):
        scorer.score(sentences=sentences)
    with pytest.raises(serve.InputError, match=r"pairs\[0\]\[1\] is None"):
        scorer.score(pairs=[("a", None)])
    as_series = scorer.score(sentences=pd.Series(SENTENCES[:2]), pairs=iter([PAIR]))
    assert as_series.equals(scorer.score(SENTENCES[:2], [PAIR]))


def test_csv_inputs_are_read_as_the_course_loader_reads_its_files(tmp_path):
    """The bug hunt's inputs for `predict --csv`: a course-format file with a stray quote merged two rows into one
    input, silently; a CSV with all three columns scored every blank cell as an extra empty input (4 outputs for 2
    inputs); a UTF-16 file was a UnicodeDecodeError traceback. Now each line is one input or one error naming the
    file, line and column."""
    from quarbert_lib.__main__ import read_csv_inputs
    from quarbert_lib.core.data import DataError
    stray = tmp_path / "stray.tsv"
    stray.write_text('\tid\tsentence\n0\ta\t"Broken start\n1\tb\tSecond\n')
    with pytest.raises(DataError) as err:
        read_csv_inputs(stray)
    assert (err.value.line, err.value.field) == (2, "sentence") and "double quote" in err.value.reason
    three = tmp_path / "three.csv"
    three.write_text("sentence,sentence1,sentence2\nA film.,,\n,Is it?,Is it so?\n")
    assert read_csv_inputs(three) == (["A film."], [("Is it?", "Is it so?")])
    for body, line, field, said in (("A film.,Is it?,Is it so?\n", 2, "sentence", "fills both"),
                                    (",Is it?,\n", 2, "sentence2", "one side of the pair is blank")):
        (tmp_path / "bad.csv").write_text("sentence,sentence1,sentence2\n" + body)
        with pytest.raises(DataError) as err:
            read_csv_inputs(tmp_path / "bad.csv")
        assert (err.value.line, err.value.field) == (line, field) and said in err.value.reason
    with pytest.raises(DataError, match="not UTF-8: it is UTF-16"):
        read_csv_inputs(_utf16(tmp_path))

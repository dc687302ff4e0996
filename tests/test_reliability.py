"""Reliability: malformed input (property-based), SIGKILL and resume, kills during saves,
determinism, concurrent registry writers, validation before any compute."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata

import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.base.tasks import TASKS
from quarbert_lib.core import data
from quarbert_lib.core.config import ConfigError, profile_config
from quarbert_lib.core.data import DataError, load_csv
from quarbert_lib.core.model import EncoderNotFound
from quarbert_lib.study import experiment, results

CASES = {"structured": 0, "arbitrary": 0}   # inputs tried, reported by test_cases_were_tried

# -- malformed CSV files -----------------------------------------------------------------------
FAULTS = {  # fault -> (field it breaks, how the written row changes)
    "ok": (None, None),
    "missing_field": ("sentiment", lambda r: r[:3]),
    "label_out_of_range": ("sentiment", lambda r: r[:3] + ["7"]),
    "label_not_a_number": ("sentiment", lambda r: r[:3] + ["good"]),
    "label_nan": ("sentiment", lambda r: r[:3] + ["nan"]),
    "empty_sentence": ("sentence", lambda r: [r[0], r[1], "  \t ", r[3]]),
    "empty_id": ("id", lambda r: [r[0], "", r[2], r[3]]),
}
# no line break: a record is one physical line (course fields never hold one; test_data covers a quoted line break)
sentences = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), min_size=0, max_size=40)
rows = st.lists(st.tuples(sentences, st.integers(0, 4), st.sampled_from(sorted(FAULTS))), min_size=1, max_size=12)


def _write(path, records, bom: bool):
    """The file as csv.writer writes it, and the physical lines (first, last) each record covers."""
    buffer, spans = io.StringIO(newline=""), []
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\r\n")   # quotes any field with \t, \r or \n
    writer.writerow(["", "id", "sentence", "sentiment"])
    lines = lambda: len(io.StringIO(buffer.getvalue(), newline="").readlines())  # noqa: E731
    for record in records:
        first = lines() + 1
        writer.writerow(record)
        spans.append((first, lines()))
    path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8"))
    return spans


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=rows, bom=st.booleans())
def test_loader_matches_an_oracle_on_structured_faults(tmp_path, drawn, bom):
    CASES["structured"] += 1
    records, expected, faults = [], [], []
    for i, (sentence, label, fault) in enumerate(drawn):
        record = [str(i), f"id{i}", sentence, str(label)]
        field, change = FAULTS[fault]
        # the loader checks the record's shape (no field holds a tab or a line break), then a missing
        # column, then the id, then the sentence, then the label
        if any(ch in sentence for ch in "\t\r\n"):
            field = "sentence"                       # course fields never hold these
        elif all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in sentence) and \
                fault not in ("missing_field", "empty_id"):
            field = "sentence"       # a blank sentence is a fault too: nothing the tokenizer keeps (a zero-width space)
        records.append(change(record) if change else record)
        faults.append(field)
        if field is None:
            expected.append((f"id{i}", sentence.strip(), label))
    path = tmp_path / "case.csv"
    spans = _write(path, records, bom)
    starts = [first for first, _ in spans]
    first_bad = next((i for i, f in enumerate(faults) if f), None)
    if first_bad is None:
        examples, report = load_csv(path, TASKS["sst"])
        assert [(e.id, e.sentence1, e.label) for e in examples] == expected and report.skipped == []
    else:
        with pytest.raises(DataError) as err:
            load_csv(path, TASKS["sst"])
        assert (err.value.path, err.value.line, err.value.field) == (str(path), starts[first_bad], faults[first_bad])
    examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    assert [(e.id, e.sentence1, e.label) for e in examples] == expected
    assert [(line, f) for line, f, _ in report.skipped] == [(first, f) for (first, _), f in zip(spans, faults) if f]
    assert report.rows == spans[-1][1] - 1 == len(examples) + len(report.skipped)   # nothing dropped silently


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=300), header=st.sampled_from(["\tid\tsentence\tsentiment\n", "id,sentence,sentiment\n",
                                                           "\tid\tsentence\n", ""]))
def test_any_text_is_parsed_or_rejected_with_file_line_field(tmp_path, body, header):
    CASES["arbitrary"] += 1
    path = tmp_path / "any.csv"
    path.write_bytes((header + body).encode("utf-8", "surrogatepass"))
    try:
        examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    except DataError as e:                               # the only error a user sees
        assert e.path == str(path) and e.line >= 1 and e.field
        return
    assert len(examples) + len(report.skipped) == report.rows


@pytest.mark.parametrize("content, line, field, kept", [
    ("\tid\tsentence\tsentiment\n0\ta\t" + "word " * 60000 + "\t3\n1\tb\tfine\t9\n", 3, "sentiment", 1),  # huge
    ('\tid\tsentence\tsentiment\n0\ta\t"unclosed quote\t3\n', 2, "sentence", 0),                    # swallowed the label
    ("\tid\tsentence\tsentiment\n0\ta\tcafé ☕ 你好\t4\n1\tb\t\t2\n", 3, "sentence", 1),
])
def test_edge_files(tmp_path, content, line, field, kept):
    path = tmp_path / "edge.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS["sst"])
    assert (err.value.line, err.value.field) == (line, field)
    assert len(load_csv(path, TASKS["sst"], skip_bad_rows=True)[0]) == kept


def test_cases_were_tried():
    """Runs after the property tests in file order; their case counts go in the issue note."""
    print(f"malformed-input cases tried: {CASES}")
    assert CASES["structured"] >= 100 and CASES["arbitrary"] >= 100


# -- interruption ------------------------------------------------------------------------------
def _run_cli(env, cfg_path, name, wait=True):
    args = [sys.executable, "-m", "quarbert_lib", "experiment", "nb", name, "--config", str(cfg_path)]
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if wait:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    return proc


def _comparable(metrics):
    skip = {"train_seconds", "eval_seconds", "wall_seconds", "git_commit"}
    return {k: v for k, v in metrics.items() if k not in skip}


def test_sigkill_mid_epoch_then_rerun_matches_an_uninterrupted_run(tmp_path, tiny_encoder_dir, mini_data_dir):
    cfg = profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(tiny_encoder_dir),
                         data__max_train_per_task=40, train__batch_size=2, train__epochs=2, train__checkpoint_every=5)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(cfg.to_json())
    env = {**os.environ, "QUARBERT_DATA": str(mini_data_dir), "OMP_NUM_THREADS": "1"}
    clean_env, cut_env = {**env, "QUARBERT_RUNS": str(tmp_path / "clean")}, {**env, "QUARBERT_RUNS": str(tmp_path / "cut")}
    _run_cli(clean_env, cfg_path, "r")

    proc = _run_cli(cut_env, cfg_path, "r", wait=False)
    checkpoint = tmp_path / "cut" / "smoke" / "nb" / "r" / "checkpoint.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = torch.load(checkpoint, weights_only=False)["state"]
    assert 0 < state["global_step"] < 2 * 3 * 20 and not (tmp_path / "cut" / "smoke" / "nb" / "r" / "metrics.json").exists()
    _run_cli(cut_env, cfg_path, "r")                      # resumes from the checkpoint

    clean, cut = tmp_path / "clean" / "smoke" / "nb" / "r", tmp_path / "cut" / "smoke" / "nb" / "r"
    a, b = torch.load(clean / "model.pt"), torch.load(cut / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (clean / "predictions-dev.csv").read_bytes() == (cut / "predictions-dev.csv").read_bytes()
    untimed = [pd.read_csv(run / "history.csv").drop(columns="train_seconds") for run in (clean, cut)]
    pd.testing.assert_frame_equal(*untimed)         # everything but the seconds each evaluation was made at
    assert _comparable(results.read_json(clean / "metrics.json")) == _comparable(results.read_json(cut / "metrics.json"))


SAVER = textwrap.dedent("""
    import sys, torch
    from pathlib import Path
    from quarbert_lib.study.results import write_json
    from quarbert_lib.core.train import atomic_torch_save
    target = Path(sys.argv[1])
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        atomic_torch_save({"step": i, "x": torch.full((3_000_000,), float(i))}, target / "ckpt.pt")
        write_json(target / "m.json", {"step": i, "pad": "x" * 200_000})
""")


def test_a_kill_during_saves_never_leaves_a_partial_file(tmp_path):
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE)
        proc.stdout.readline()
        time.sleep(0.2 + 0.13 * attempt)                 # land at different points of the write cycle
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (tmp_path / "ckpt.pt").exists():
            saved = torch.load(tmp_path / "ckpt.pt")
            assert saved["x"].shape == (3_000_000,) and (saved["x"] == saved["step"]).all()
        if (tmp_path / "m.json").exists():
            assert len(json.loads((tmp_path / "m.json").read_text())["pad"]) == 200_000
    assert (tmp_path / "ckpt.pt").exists()


# -- determinism, concurrency, validation ------------------------------------------------------
def test_same_config_and_seed_give_identical_results(tmp_path, monkeypatch, mini_data_dir, tiny_encoder_dir):
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    cfg = profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(tiny_encoder_dir),
                         smart__enabled=True, mbpp__enabled=True)
    outs = []
    for name in ("one", "two"):
        monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / name))
        outs.append((_comparable(experiment.run_experiment(cfg, "nb", "r")),
                     (tmp_path / name / "smoke" / "nb" / "r" / "predictions-dev.csv").read_bytes()))
    assert outs[0] == outs[1]


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from quarbert_lib.study.results import upsert_rows, write_json
    table, who = Path(sys.argv[1]), sys.argv[2]
    for i in range(25):
        upsert_rows(table, [{"variant": f"{who}-{i}", "profile": "cpu", "value": i}], ["variant", "profile"])
        write_json(table.with_name("shared.json"), {"who": who, "i": i, "pad": "y" * 50_000})
""")


def test_two_processes_writing_the_registry_lose_nothing(tmp_path):
    table = tmp_path / "ablation.csv"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(table), who], cwd=REPO_ROOT) for who in ("a", "b")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    df = pd.read_csv(table)
    assert sorted(df["variant"]) == sorted(f"{w}-{i}" for w in "ab" for i in range(25))
    assert json.loads((tmp_path / "shared.json").read_text())["i"] == 24


def test_validation_happens_before_any_data_is_read(isolated, monkeypatch, tiny_encoder_dir):
    def no_data(*a, **k):
        raise AssertionError("data was read")

    monkeypatch.setattr(data, "load_task", no_data)          # what load_task_data reads every file with
    for override, field in (({"lora__r": 0}, "lora.r"), ({"train__batch_size": 0}, "train.batch_size"),
                            ({"smart__epsilon": -1.0}, "smart.epsilon"), ({"mbpp__beta": 1.5}, "mbpp.beta"),
                            ({"train__lr": -1e-5}, "train.lr")):
        cfg = profile_config("smoke", model__encoder=str(tiny_encoder_dir))
        section, _, name = next(iter(override)).partition("__")
        setattr(getattr(cfg, section), name, next(iter(override.values())))   # bypass profile_config's check
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            experiment.run_experiment(cfg, "nb", "bad")
    with pytest.raises(EncoderNotFound, match="minilm-l6"):
        experiment.run_experiment(profile_config("smoke", model__encoder="no-such/encoder"), "nb", "bad")
    with pytest.raises(ConfigError, match="'laptop'"):
        profile_config("laptop")

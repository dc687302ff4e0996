"""The speed benchmark: the naive path's batches, the same examples on every path, the FLOP
count against hand arithmetic, the targets table, and one tiny end-to-end run."""
import dataclasses
import json

import pandas as pd
import pytest
import torch

from quarbert_lib.base.tasks import TASKS
from quarbert_lib.benchmarks import bench, speed
from quarbert_lib.core.config import DataConfig
from quarbert_lib.core.data import TaskData, load_task
from quarbert_lib.core.model import load_encoder
from quarbert_lib.reporting import bench_report


@pytest.fixture(scope="module")
def sample(mini_data_dir, tiny_encoder_dir):
    _, tokenizer = load_encoder(str(tiny_encoder_dir))
    cfg = DataConfig(data_dir=str(mini_data_dir))
    data = {t: TaskData(TASKS[t], load_task(t, cfg).splits["train"][:20], tokenizer, 128) for t in ("sst", "para", "sts")}
    return tokenizer, data


def test_naive_batch_is_the_tokenizer_padded_to_128(sample):
    tokenizer, data = sample
    examples = data["para"].examples[:5]
    batch = speed.naive_collate(tokenizer, "para", examples)
    ref = tokenizer([e.sentence2 for e in examples], padding="max_length", max_length=128, truncation=True,
                    return_tensors="pt")
    assert batch["input_ids"].shape == (5, 128) and torch.equal(batch["input_ids_2"], ref["input_ids"])
    assert torch.equal(batch["attention_mask_2"], ref["attention_mask"])
    assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [e.label for e in examples]


def test_cached_ids_padded_to_128_equal_the_naive_batch(sample):
    tokenizer, data = sample
    rows = [0, 3, 7]
    cached = speed._pad_to(data["sst"].collate(rows), 128, tokenizer.pad_token_id)
    naive = speed.naive_collate(tokenizer, "sst", [data["sst"].examples[i] for i in rows])
    for key in ("input_ids", "attention_mask", "labels"):
        assert torch.equal(cached[key], naive[key]), key


def test_every_path_sees_the_same_examples(sample):
    tokenizer, data = sample
    seen = {}
    for path in speed.TRAIN_PATHS:
        steps = speed.batch_makers(path, tokenizer, data, batch_size=6, training=True)
        seen[path.name] = sorted((task, tuple(b["labels"].tolist())) for task, _, make in steps for b in [make()])
        assert sum(s for _, s, _ in steps) == 20 + 2 * 20 + 2 * 20
        widths = {make()["input_ids"].shape[1] for _, _, make in steps}
        assert (widths == {128}) == path.pad_to_max
    labels = {name: sorted(x for _, ls in s for x in ls) for name, s in seen.items()}
    assert len({tuple(v) for v in labels.values()}) == 1


def test_matmul_flops_match_hand_arithmetic():
    layer = torch.nn.Linear(8, 4, bias=False)
    x = torch.randn(3, 8, requires_grad=True)
    assert speed.matmul_flops(lambda: layer(x)) == 2 * 3 * 8 * 4
    # backward: the input's gradient and the weight's gradient are one product each
    assert speed.matmul_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 3 * 8 * 4


def test_targets_are_judged_against_the_issue():
    df = pd.DataFrame([
        {"section": "train", "path": "naive", "sentences_per_s": 10.0},
        {"section": "train", "path": "default", "sentences_per_s": 31.0, "floor_fraction": 0.39},
        {"section": "inference", "path": "naive", "sentences_per_s": 20.0},
        {"section": "inference", "path": "default", "sentences_per_s": 80.0},
        {"section": "step", "path": "advreg-only", "relative": 2.6},
        {"section": "step", "path": "SMART K=0 (noise only, R3F)", "relative": 1.9},
        {"section": "step", "path": "SMART K=1, adversarial passes without dropout", "relative": 2.4}])
    summary = {"reproduce_minutes": 44.0, "compute_minutes": 46.0, "compute_runs": 3, "best_overall": 0.7,
               "best_variant": "smart"}
    got = {w: (round(m, 3), ok) for w, m, _, ok in bench_report.targets(df, summary)}
    assert list(got.values()) == [(3.1, True), (4.0, True), (0.39, False), (2.6, False), (1.9, True), (2.4, True),
                                  (44.0, True), (46.0, False), (0.7, False)]


EAGER_PATHS = [p for p in speed.TRAIN_PATHS if not p.compile]   # torch.compile has its own test


def test_bench_end_to_end_on_the_tiny_encoder(isolated, tiny_encoder_dir, monkeypatch, capsys):
    monkeypatch.setattr(speed, "TRAIN_PATHS", EAGER_PATHS)
    df, md = bench.run_bench("smoke", str(tiny_encoder_dir), per_task=8, reps=1, cost_steps=1,
                             sections=("throughput", "steps"))
    # its plan first (no bench saved before: no time to compare with), then a line as each section is saved
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[bench]")]
    assert said[0] == (f"[bench] measuring throughput, steps with {tiny_encoder_dir} (smoke profile, cpu): 8 training "
                       f"and {bench_report.INFER_FACTOR * 8} inference examples a task, the median of 1 passes after a "
                       f"warm-up; step costs: {len(bench.STEP_SETTINGS)} settings x 1 steps x 3 repeats")
    assert [line.split(",")[0] for line in said[1:]] == ["[bench] throughput measured (1 of 2)",
                                                          "[bench] steps measured (2 of 2)"]
    assert said[2].endswith(f"saved in {isolated / 'reports' / 'tables' / 'bench.csv'}")
    assert list(df[df["section"] == "train"]["path"]) == [p.name for p in speed.TRAIN_PATHS]
    assert list(df[df["section"] == "inference"]["path"]) == ["naive", "default"]
    # the step costs are the study's one measurement, costs.csv, which the report reads: no 'step' rows in bench.csv
    assert not len(df[df["section"] == "step"])
    costs = pd.read_csv(isolated / "reports" / "tables" / "costs.csv").set_index("variant")
    assert costs.loc["sampling", "relative"] == 1.0 and list(costs.index) == ["sampling", *bench.STEP_SETTINGS]
    assert costs.loc["advreg-only", "what"] == "SMART K=1 (AdvReg)" and (costs["steps_timed"] == 1 * 3).all()
    steps = bench_report.step_rows("smoke", str(tiny_encoder_dir)).set_index("path")
    assert steps["relative"].to_dict() == costs["relative"].to_dict()
    train = df[df["section"] == "train"].set_index("path")
    assert train.loc["naive", "gflop_per_step"] > train.loc["+ dynamic padding", "gflop_per_step"]
    text = md.read_text()
    assert "## Targets" in text and "training throughput, default / naive" in text
    passes = df[df["section"] == "pass"].set_index("path")
    assert list(passes.index) == list(speed.PASSES) and passes.loc["forward", "relative"] == 1.0
    assert "### The passes a step is made of" in text
    assert (isolated / "reports" / "tables" / "bench.csv").exists()
    assert bench.main(["--profile", "smoke", "--encoder", str(tiny_encoder_dir), "--report-only"]) == 0
    assert md.read_text() == text   # rebuilt from the saved files alone
    remeasured = ["step", "pass"]       # the sections `steps` measures
    before = df[~df["section"].isin(remeasured)].reset_index(drop=True)
    last = json.loads((isolated / "reports" / "tables" / "bench_meta.json").read_text())
    capsys.readouterr()
    again, _ = bench.run_bench("smoke", str(tiny_encoder_dir), cost_steps=1, sections=("steps",))
    plan = next(line for line in capsys.readouterr().err.splitlines() if line.startswith("[bench] measuring"))
    assert plan.endswith(f". The last bench saved here (throughput, steps) took {last['seconds'] / 60:.1f} min")
    # only the step rows were remeasured; the throughput rows are the saved ones
    pd.testing.assert_frame_equal(again[~again["section"].isin(remeasured)].reset_index(drop=True), before)
    assert not len(again[again["section"] == "step"])
    assert list(pd.read_csv(isolated / "reports" / "tables" / "costs.csv")["variant"]) == list(costs.index)   # remeasured in place


def test_reproduce_time_is_judged_only_on_a_batch_of_every_notebook(isolated):
    import json

    from quarbert_lib.base.paths import reports_dir
    from quarbert_lib.batch.reproduce import discover
    executed = reports_dir() / "executed"
    executed.mkdir(parents=True)
    names = [p.stem for p in discover()]
    (executed / "summary.json").write_text(json.dumps([{"notebook": names[0], "seconds": 60.0, "status": "ok"}]))
    partial = bench_report.reproduce_summary("cpu")
    assert "reproduce_minutes" not in partial and partial["reproduce_notebooks"] == f"{names[0][:2]} 1.0"
    rows = [{"notebook": n, "seconds": 30.0 * (i + 1), "status": "ok"} for i, n in enumerate(names)]
    (executed / "summary.json").write_text(json.dumps(rows))
    assert bench_report.reproduce_summary("cpu")["reproduce_minutes"] == pytest.approx(sum(r["seconds"] for r in rows) / 60)


def _fake_trainer(monkeypatch, step_seconds):
    """bench.step_costs with a trainer whose 12 steps per fit take the next ``step_seconds``."""
    fake = iter(step_seconds)

    class FakeTrainer:
        def __init__(self, *args, callbacks, **kwargs):
            self.callbacks = callbacks
            self.state = type("S", (), {"train_seconds": 0.0})()

        def fit(self):
            for _ in range(12):
                self.state.train_seconds += next(fake)
                for c in self.callbacks:
                    c(self)

    monkeypatch.setattr(bench, "Trainer", FakeTrainer)
    monkeypatch.setattr(bench, "build_model", lambda *a, **k: (None, None))
    monkeypatch.setattr(bench, "load_task_data", lambda *a, **k: ({"train": {}}, None, None, None))
    monkeypatch.setattr(bench, "build_objective", lambda *a, **k: None)
    monkeypatch.setattr(bench, "param_groups", lambda *a, **k: None)


def test_step_cost_is_the_median_round_over_tasks(monkeypatch):
    """With step times (after 3 warm-up steps) of 1, 2, 2 | 1, 2, 2 | 9, 9, 9 seconds, a round of the
    three tasks takes 5, 5, 27 s: the median round is 5 s, so 5/3 s per step."""
    _fake_trainer(monkeypatch, [0.5, 0.5, 0.5, 1, 2, 2, 1, 2, 2, 9, 9, 9])
    df = bench.step_costs([], "cpu", steps=9, warmup=3)
    assert df["seconds_per_step"].iloc[0] == pytest.approx(5 / 3) and df["relative"].iloc[0] == 1.0


def test_step_cost_repeats_run_the_variants_in_turn(monkeypatch):
    """Fits in the order plain, SMART, plain, SMART, with steps of 1, 2, 1, 4 s: the plain step's
    median is 1 s and SMART's the median of 2, 2, 2, 4, 4, 4, i.e. 3 s. (Both plain fits first
    would give 1.5 s and 2.5 s.)"""
    _fake_trainer(monkeypatch, [x for s in (1, 2, 1, 4) for x in [s] * 12])
    df = bench.step_costs(["advreg-only"], "cpu", steps=9, warmup=3, repeats=2).set_index("variant")
    assert df.loc["sampling", "seconds_per_step"] == 1.0 and df.loc["advreg-only", "seconds_per_step"] == 3.0
    assert df.loc["advreg-only", "relative"] == 3.0 and df.loc["advreg-only", "steps_timed"] == 18


def test_bf16_rows_take_their_floor_at_the_bf16_rate(sample, tiny_encoder_dir, monkeypatch):
    """The GPU bench's extra rows, run here on the CPU: a bf16 training path and a bf16 inference
    path, the training floor divided by the bf16 GEMM rate, not the fp32 one."""
    tokenizer, data = sample
    small = {t: TaskData(TASKS[t], d.examples[:8], tokenizer, 128) for t, d in data.items()}
    monkeypatch.setattr(speed, "TRAIN_PATHS", EAGER_PATHS)
    monkeypatch.setattr(speed, "GPU_TRAIN_PATHS", [speed.GPU_TRAIN_PATHS[0],
                                                   dataclasses.replace(speed.GPU_TRAIN_PATHS[1], batch_size=8)])
    rates = {"fp32": 1e9, "bf16": 4e9}
    rows = pd.DataFrame(speed.throughput(str(tiny_encoder_dir), tokenizer, small, batch_size=4, eval_batch_size=4,
                                         reps=1, rates=rates, bf16=True))
    train = rows[rows["section"] == "train"].set_index("path")
    assert list(train.index) == [p.name for p in speed.TRAIN_PATHS + speed.GPU_TRAIN_PATHS]
    for path, rate in (("default", 1e9), ("default, bf16 autocast", 4e9)):
        r = train.loc[path]
        assert r["floor_seconds"] == pytest.approx(r["gflop_per_step"] * 1e9 * r["steps"] / rate)
    assert list(rows[rows["section"] == "inference"]["path"]) == ["naive", "default", "default, bf16 autocast"]
    assert train.loc["default", "steps"] == 3 * 2 and train.loc["default, batch 64", "steps"] == 3   # 8 rows: 4 + 4 | 8


def test_gpu_section_is_added_from_its_own_files(isolated, tiny_encoder_dir, monkeypatch):
    monkeypatch.setattr(speed, "TRAIN_PATHS", EAGER_PATHS)
    df, md = bench.run_bench("smoke", str(tiny_encoder_dir), per_task=8, reps=1, cost_steps=1, sections=("throughput",))
    assert "On a GPU" not in md.read_text()
    from quarbert_lib.base.paths import tables_dir
    from quarbert_lib.study.results import read_json, write_json
    meta = read_json(tables_dir() / "bench_meta.json")
    gpu = df.assign(device="cuda")
    gpu.to_csv(tables_dir() / "bench_gpu.csv", index=False)
    write_json(tables_dir() / "bench_gpu_meta.json", {**meta, "machine": {**meta["machine"], "gpu": "NVIDIA Test"},
                                                      "encoder": bench.RANDOM_BERT_BASE})
    text = bench.write_report("smoke", str(tiny_encoder_dir)).read_text()
    section = text[text.index("## On a GPU: NVIDIA Test"):]
    assert "random weights" in section and bench_report.train_table(gpu) in section and bench_report.inference_table(gpu) in section
    assert text.index("## Targets") < text.index("## On a GPU")   # targets are the CPU's


def test_random_encoder_has_the_configured_sizes_and_checks_the_vocabulary(tmp_path, tiny_encoder_dir, capsys):
    from transformers import BertConfig
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    encoder, tokenizer = load_encoder(str(bench.random_encoder(tmp_path / "enc", tiny_encoder_dir, config)))
    assert encoder.config.hidden_size == 16 and encoder.config.num_hidden_layers == 1 and len(tokenizer) == 30522
    from quarbert_lib.base import cli
    from quarbert_lib.base.errors import UserError
    with pytest.raises(UserError, match="vocab_size"):
        bench.random_encoder(tmp_path / "bad", tiny_encoder_dir, BertConfig(vocab_size=100))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"empty: no tokenizer there"):
        bench.random_encoder(tmp_path / "bad", empty)
    # the docs' command with a folder that is not there (the fresh-clone check, stop 50): transformers read the name
    # as a hub id, a traceback offline; now one line, before any measurement
    assert cli.run(bench.main, ["--profile", "paper", "--random-bert-base", "missing-tokenizer", "--only", "steps"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--random-bert-base missing-tokenizer: no such folder" in err[0], err


def test_compiled_path_is_timed_after_compiling_with_the_default_flops(sample, tiny_encoder_dir, monkeypatch):
    import shutil
    tokenizer, data = sample
    small = {"sst": TaskData(TASKS["sst"], data["sst"].examples[:8], tokenizer, 128)}   # one task: one graph to compile
    default, compiled = speed.TRAIN_PATHS[3], next(p for p in speed.TRAIN_PATHS if p.compile)
    monkeypatch.setattr(speed, "TRAIN_PATHS", [default, compiled])
    rows = pd.DataFrame(speed.throughput(str(tiny_encoder_dir), tokenizer, small, batch_size=4, eval_batch_size=4,
                                         reps=1, rates={"fp32": 1e9}))
    rows = rows[rows["section"] == "train"].set_index("path")
    row = rows.loc[compiled.name]
    if shutil.which("cc") or shutil.which("g++"):      # inductor needs a C compiler on the CPU
        assert "first pass (compiling)" in row["note"] and row["sentences_per_s"] > 0
        assert row["gflop_per_step"] == rows.loc["default", "gflop_per_step"]
    else:
        assert row["note"].startswith("torch.compile failed here")


def test_reproduce_summary_sums_the_registry_and_takes_the_best_of_every_table(isolated):
    from quarbert_lib.base.paths import tables_dir
    from quarbert_lib.study import results
    for notebook, run, wall in (("02_x", "a-seed0", 60.0), ("11_y", "b-seed0", 120.0)):
        results.write_json(results.run_path("cpu", notebook, run) / "metrics.json",
                           {"encoder": "minilm-l6", "seed": 0, "steps": 5, "train_seconds": wall / 2,
                            "eval_seconds": 1.0, "wall_seconds": wall})
    costs = results.run_costs("cpu")
    assert list(zip(costs["notebook"], costs["run"], costs["wall_seconds"])) == [("02_x", "a-seed0", 60.0),
                                                                                 ("11_y", "b-seed0", 120.0)]
    results.write_csv(tables_dir() / "run_costs.csv", costs)
    pd.DataFrame([{"variant": "smart", "profile": "cpu", "encoder": "minilm-l6", "overall": 0.72},
                  {"variant": "smart", "profile": "paper", "encoder": "minilm-l6", "overall": 0.99}]).to_csv(
        tables_dir() / "ablation.csv", index=False)
    budget = [{"recipe": "all-data", "cap": "all", "epoch": e, "seed": 0, "profile": "cpu", "encoder": "minilm-l6",
               "overall": o} for e, o in ((1, 0.70), (2, 0.74))]
    pd.DataFrame(budget).to_csv(tables_dir() / "quality_per_minute.csv", index=False)
    got = bench_report.reproduce_summary("cpu")
    assert got["compute_minutes"] == 3.0 and got["compute_runs"] == 2
    assert (got["best_overall"], got["best_variant"]) == (0.74, "notebook 11: all-data, cap all, epoch 2, seed 0")
    # notebook 13's chosen model counts; a candidate it did not choose does not, however high its dev score
    pd.DataFrame([{"model": "seeds-a+b", "chosen": True, "profile": "cpu", "encoder": "minilm-l6", "overall": 0.75},
                  {"model": "a-seed0", "chosen": False, "profile": "cpu", "encoder": "minilm-l6", "overall": 0.9}]).to_csv(
        tables_dir() / "best_model.csv", index=False)
    got = bench_report.reproduce_summary("cpu")
    assert (got["best_overall"], got["best_variant"]) == (0.75, "notebook 13: seeds-a+b, chosen on the calibration split")


def test_smart_pass_ratio_and_the_ascent_pass_leaves_weights_alone(sample, tiny_encoder_dir):
    # plain = forward + backward = 2 s; SMART K=1 adds 1.5 s of ascent and 2 s of adversarial pass
    assert bench_report.smart_pass_ratio(1.0, 2.0, 1.5, steps=1) == 2.75
    assert bench_report.smart_pass_ratio(1.0, 2.0, 1.5, steps=0) == 2.0
    tokenizer, data = sample
    small = {t: TaskData(TASKS[t], d.examples[:4], tokenizer, 128) for t, d in data.items()}
    model = speed.fresh_model(str(tiny_encoder_dir), list(small), True)
    steps = speed.batch_makers(speed.DEFAULT_PATH, tokenizer, small, 4, training=True)
    speed.pass_seconds(model, steps, "forward + backward to embeddings")
    assert all(p.grad is None for p in model.parameters())      # the ascent's backward reaches no weight
    speed.pass_seconds(model, steps, "forward + backward")
    assert all(p.grad is not None for p in model.encoder.encoder.parameters())


def test_the_quartet_section_says_what_is_missing_before_measuring_anything(isolated, tmp_path, monkeypatch, capsys):
    """The bug hunt's input: `make bench` from a fresh clone ran 21 minutes and then failed with a traceback
    (FileNotFoundError: .../specialist-sst-seed0/model.pt): the records restore results, not weights. Now the
    LoRA quartet's weights are looked for first: without them the section is skipped with one line naming what is
    missing and how to get it, and each measured section is saved as it finishes."""
    from quarbert_lib.benchmarks import bench
    from quarbert_lib.study.results import RunNotFound

    def absent(name, profile, encoder):                       # a fresh clone before `make reproduce`: no registry
        raise RunNotFound(f"no complete run {name!r}")

    monkeypatch.setattr(bench, "find_run", absent)
    with pytest.raises(FileNotFoundError, match=r"^the seed-0 LoRA quartet of notebook 08 \(cpu, minilm-l6\) is not in "
                                                r"the registry \(.*\): train them with notebook 08 \(profile = \"cpu\", "
                                                r"seeds = \[0\], paper_quartet = False, force = True; .*--no-quartet$"):
        bench.quartet_weights("cpu", "minilm-l6")
    folders = {}
    for name in ("lora-sst", "lora-para", "lora-sts", "lora-multitask"):
        folders[name] = tmp_path / "runs" / f"{name}-seed0"
        folders[name].mkdir(parents=True)                     # a restored record: results, no weights
    monkeypatch.setattr(bench, "find_run", lambda name, profile, encoder: folders[name.rsplit("-seed", 1)[0]])
    with pytest.raises(FileNotFoundError, match=r"12 weight files of the seed-0 LoRA quartet are not here .*--no-quartet"):
        bench.quartet_weights("cpu", "minilm-l6")
    monkeypatch.setattr(bench, "adapter_modes", lambda *a, **k: pytest.fail("measured without weights"))
    monkeypatch.setattr(bench, "write_report", lambda profile, encoder: tmp_path / "benchmarks.md")
    df, _ = bench.run_bench("cpu", "minilm-l6", sections=("quartet",))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("[bench] LoRA adapter modes skipped: 12 weight files") and df.empty
    assert err[1].startswith("[bench] measuring nothing with minilm-l6 (cpu profile, cpu)")


def test_a_bench_that_fails_part_way_keeps_the_sections_it_finished(isolated, tiny_encoder_dir, monkeypatch):
    """The bug hunt's `make bench` lost 21 minutes of measurement to a failure at its end: each section is saved as
    it finishes, so a failure in the second (here the passes of `steps`) leaves the first's rows in bench.csv."""
    from quarbert_lib.base.paths import tables_dir
    from quarbert_lib.study.results import read_json
    monkeypatch.setattr(speed, "TRAIN_PATHS", EAGER_PATHS)

    def fails(*args, **kwargs):
        raise RuntimeError("the machine went away")

    monkeypatch.setattr(bench, "pass_rows", fails)
    with pytest.raises(RuntimeError, match="the machine went away"):
        bench.run_bench("smoke", str(tiny_encoder_dir), per_task=8, reps=1, cost_steps=1, sections=("throughput", "steps"))
    saved = pd.read_csv(tables_dir() / "bench.csv")
    assert set(saved["section"]) == {"gemm", "train", "inference"}
    assert read_json(tables_dir() / "bench_meta.json")["sections"] == ["throughput"]

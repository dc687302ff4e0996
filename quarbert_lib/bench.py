"""Speed and memory measurements.

- ``step_costs``: seconds per training step of each ladder variant, relative to a plain
  multitask step, measured in one process on the same batches.
- ``serving_costs``: parameters held, resident memory and inference seconds of a set of
  ensemble members, each setup in a fresh process (``python -m quarbert_lib.bench serve``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from .config import variant_config
from .experiment import build_objective, load_task_data
from .model import build_model, pick_device
from .paths import REPO_ROOT
from .train import Trainer


def step_costs(variants: list[str], profile: str = "cpu", encoder: str = "minilm-l6", steps: int = 9,
               warmup: int = 3, baseline: str = "sampling") -> pd.DataFrame:
    """Median seconds per optimizer step after ``warmup`` steps, each variant on the same
    round-robin batches (so every task is timed equally); ``relative`` divides by ``baseline``."""
    names = list(dict.fromkeys([baseline, *variants]))
    data, rows = None, []
    for variant in names:
        cfg = variant_config(variant, profile, model__encoder=encoder, train__max_steps=warmup + steps,
                             train__sampler="round-robin")
        model, tokenizer = build_model(cfg.tasks, cfg.model, seed=0)
        if data is None:  # one tokenization for all variants (same encoder, same tokenizer)
            data, *_ = load_task_data(cfg, tokenizer)
        seconds: list[float] = []
        record = lambda t: seconds.append(t.state.train_seconds - sum(seconds))  # noqa: E731
        Trainer(model, build_objective(cfg, model), data["train"], cfg.train, device=pick_device(cfg.train.device),
                callbacks=[record]).fit()
        rows.append({"variant": variant, "profile": profile, "encoder": encoder, "steps_timed": steps,
                     "seconds_per_step": statistics.median(seconds[warmup:])})
    df = pd.DataFrame(rows)
    df["relative"] = df["seconds_per_step"] / df.loc[df["variant"] == baseline, "seconds_per_step"].iloc[0]
    return df


# -- serving the quartet: four full models against four LoRA adapters on one backbone ---------
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def serve(mode: str, members: dict[str, Path]) -> dict:
    """Load the members ('full': each run's own model; 'lora-quartet': one backbone plus every
    member's adapter) and predict every member's tasks on the dev sets. Run it in a fresh
    process (``serving_costs`` does) so that memory figures belong to this mode alone."""
    import gc

    import torch

    from .config import ExperimentConfig
    from .evaluate import predict
    from .experiment import load_task_data, load_trained
    from .lora import LoraQuartet
    from .model import load_encoder
    from .results import read_json

    configs = {n: ExperimentConfig.from_dict(read_json(Path(f) / "config.json")) for n, f in members.items()}
    first = next(iter(configs.values()))
    _, tokenizer = load_encoder(first.model.encoder)
    all_tasks = list(dict.fromkeys(t for c in configs.values() for t in c.tasks))
    data, *_ = load_task_data(dataclasses.replace(first, tasks=all_tasks), tokenizer)
    gc.collect()
    before = _rss_mb()
    if mode == "lora-quartet":
        quartet = LoraQuartet({n: (Path(f), configs[n]) for n, f in members.items()})
        models, pick = None, quartet.member
        held = list(quartet.parameters())
    elif mode == "full":
        models = {n: load_trained(Path(f))[1] for n, f in members.items()}
        pick = models.__getitem__
        held = [p for m in models.values() for p in m.parameters()]
    else:
        raise ValueError(f"unknown serving mode {mode!r}: expected 'full' or 'lora-quartet'")
    loaded = _rss_mb()
    unique = {p.data_ptr(): p.numel() for p in held}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for name, cfg in configs.items():
            model = pick(name)
            for task in cfg.tasks:
                predict(model, data["dev"][task], task, cfg.train.eval_batch_size, cfg.model.pair_encoding)
    return {"mode": mode, "members": len(members), "params_held": int(sum(unique.values())),
            "rss_models_mb": round(loaded - before, 1), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "inference_seconds": round(time.perf_counter() - t0, 1)}


def serving_costs(setups: dict[str, tuple[str, dict[str, Path]]]) -> pd.DataFrame:
    """{label: (mode, members)} -> one row each, each measured in its own fresh process."""
    rows = []
    for label, (mode, members) in setups.items():
        args = [sys.executable, "-m", "quarbert_lib.bench", "serve", "--mode", mode]
        args += [f"{n}={f}" for n, f in members.items()]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"serving {label!r} failed:\n{proc.stderr[-2000:]}")
        rows.append({"setup": label, **json.loads(proc.stdout.strip().splitlines()[-1])})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib.bench")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="load members and predict their dev sets; print one JSON line")
    s.add_argument("--mode", choices=["full", "lora-quartet"], required=True)
    s.add_argument("members", nargs="+", metavar="NAME=RUN_DIR")
    args = parser.parse_args(argv)
    members = dict(m.split("=", 1) for m in args.members)
    print(json.dumps(serve(args.mode, {n: Path(f) for n, f in members.items()})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

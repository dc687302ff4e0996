"""One experiment, end to end: config -> data -> model -> Trainer -> registry files.

This is the composition root the notebooks call. It holds no training logic of its own.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import torch

from . import results
from .config import ExperimentConfig
from .data import TaskData, load_task
from .evaluate import mean_normalized_score, metrics_of, predict
from .losses import SupervisedObjective
from .model import build_model, pick_device
from .tasks import overall_score
from .train import BEST, CHECKPOINT, Trainer


def load_task_data(cfg: ExperimentConfig, tokenizer) -> tuple[dict, dict, list[str], list[str]]:
    """({split: {task: TaskData}}, {task: examples skipped}, data notes, load summaries)."""
    by_split: dict[str, dict[str, TaskData]] = {"train": {}, "dev": {}, "test": {}}
    skipped, notes, summaries = {}, [], []
    for task in cfg.tasks:
        loaded = load_task(task, cfg.data)
        for split, examples in loaded.splits.items():
            by_split[split][task] = TaskData(loaded.spec, examples, tokenizer, cfg.data.max_length)
        skipped[task] = sum(len(r.skipped) for r in loaded.reports)
        summaries += [r.summary() for r in loaded.reports]
        if loaded.note:
            notes.append(loaded.note)
    return by_split, skipped, notes, summaries


def run_experiment(cfg: ExperimentConfig, notebook: str, run_name: str, force: bool = False,
                   callbacks: list = ()) -> dict:
    """Train and evaluate one config; return its metrics.json content.

    A run whose folder already holds metrics.json for this exact config is not trained again
    unless ``force``. A partial run (checkpoint.pt) of the same config resumes.
    """
    cfg.validate()
    path = results.run_path(notebook, run_name)
    config = cfg.to_dict()
    if not force and results.is_complete(path, config):
        print(f"[quarbert] {notebook}/{run_name}: complete, skipped (force=True retrains)")
        return results.read_json(path / "metrics.json")
    stale = (path / "config.json").exists() and results.read_json(path / "config.json") != config
    if force or stale:
        for name in ("metrics.json", CHECKPOINT, BEST):
            (path / name).unlink(missing_ok=True)
    results.write_json(path / "config.json", config)

    wall0 = time.perf_counter()
    model, tokenizer = build_model(cfg.tasks, cfg.model, seed=cfg.train.seed)
    data, skipped, notes, summaries = load_task_data(cfg, tokenizer)
    device, pair = pick_device(cfg.train.device), cfg.model.pair_encoding
    torch.manual_seed(cfg.train.seed)

    def dev_predictions(m) -> dict[str, pd.DataFrame]:
        return {t: predict(m, d, t, cfg.train.eval_batch_size, pair, device) for t, d in data["dev"].items()}

    trainer = Trainer(model, SupervisedObjective(cfg.tasks), data["train"], cfg.train,
                      evaluate=lambda m: metrics_of(dev_predictions(m)), score=mean_normalized_score,
                      out_dir=path, pair_encoding=pair, device=device, callbacks=list(callbacks))
    print(f"[quarbert] {notebook}/{run_name}: {trainer.total_steps()} steps on {device}; " + "; ".join(summaries),
          file=sys.stderr)
    state = trainer.fit()

    dev = dev_predictions(model)
    results.write_csv(path / "predictions-dev.csv", pd.concat(dev.values(), ignore_index=True))
    for task, test_data in data["test"].items():
        results.write_test_outputs(path, task, predict(model, test_data, task, cfg.train.eval_batch_size, pair, device))
    results.write_csv(path / "history.csv", pd.DataFrame(state.history))
    total, trainable = model.param_counts()
    metrics = metrics_of(dev)
    out = {
        "notebook": notebook, "run_name": run_name, "tasks": cfg.tasks, "profile": cfg.profile,
        "encoder": cfg.model.encoder, "seed": cfg.train.seed, **metrics,
        "overall": overall_score(metrics), "mean_score": mean_normalized_score(metrics),
        "params_total": total, "params_trainable": trainable, "steps": state.global_step,
        "best_step": state.best_step, "skipped_nonfinite": state.skipped_nonfinite,
        "train_seconds": round(state.train_seconds, 1), "eval_seconds": round(state.eval_seconds, 1),
        "wall_seconds": round(time.perf_counter() - wall0, 1), "data_notes": notes,
        "skipped_rows": skipped, "git_commit": results.git_commit(), "device": str(device),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    results.write_json(path / "metrics.json", out)   # last: marks the run complete
    (path / CHECKPOINT).unlink(missing_ok=True)      # resumable state is no longer needed
    return out

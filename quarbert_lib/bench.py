"""Speed measurements. ``step_costs``: seconds per training step of each ladder variant,
relative to a plain multitask step, measured in one process on the same batches."""
from __future__ import annotations

import statistics

import pandas as pd

from .config import variant_config
from .experiment import build_objective, load_task_data
from .model import build_model, pick_device
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

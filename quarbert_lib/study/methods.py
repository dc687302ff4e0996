"""Each method on one real batch: what notebooks 04-08 show in code before they show results.

Every function runs the library's own modules (SmartRegularizer, MomentumTeacher, the STS head, SimCSELoss, the
ensemble's average, PEFT's LoRA wrap) on the first training batch of each task, with the pretrained encoder and
fresh heads, in seconds on a CPU and without training a run. The model is in float64: the numbers a notebook prints
from it are then the same on every machine (another CPU's float32 sums move the sixth digit; float64's, the
fifteenth), and each function returns a table, written like any other (results.write_csv: six digits).
"""
from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import torch

from ..base.tasks import TASKS
from ..core.config import ExperimentConfig, profile_config
from ..core.data import load_task, load_task_data
from ..core.model import MultitaskBERT, build_model, cosine_score
from ..core.sampler import epoch_schedule
from ..losses import MomentumTeacher, SimCSELoss, SmartRegularizer, TaskLoss, rng_snapshot
from ..losses.smart import token_norm
from . import ensemble
from .lora import expected_lora_params, wrap_encoder
from .smart_strength import fixed_batches, measure

BATCH = 8        # examples per task in the method cells


def one_batch(profile: str, encoder: str = "minilm-l6", seed: int = 0, batch_size: int = BATCH,
              **overrides) -> tuple[MultitaskBERT, dict[str, dict], ExperimentConfig]:
    """(model, {task: batch}, config): the profile's encoder with fresh heads (``overrides`` as config fields, e.g.
    model__sts_head='cosine-sigmoid'), in float64, and the first training batch of each task (its epoch-0 order)."""
    cfg = profile_config(profile, model__encoder=encoder, train__seed=seed, train__batch_size=batch_size, **overrides)
    model, tokenizer = build_model(cfg.tasks, cfg.model, seed=seed, max_length=cfg.data.max_length)
    data, *_ = load_task_data(cfg, tokenizer)
    batches = fixed_batches(data["train"], batch_size, seed, cfg.model.pair_encoding)
    as64 = lambda b: {k: v.double() if v.is_floating_point() else v for k, v in b.items()}  # noqa: E731
    return model.double(), {t: as64(b) for t, b in batches.items()}, cfg


def smart_ascent(model: MultitaskBERT, smart, batches: dict[str, dict], seed: int = 0) -> pd.DataFrame:
    """SMART's perturbation before and after its ascent step (``smart``: a SmartConfig, e.g. the ladder's): the same
    initial noise (the regularizer's own generator, seeded) with K = 0 steps and with K = ``smart.steps``. Per task
    and stage: the mean norm of a token's δ, its size against the vector it is added to, the term λ_s · l_s(f(x + δ),
    f(x)) (l_s the head's symmetric divergence), and the term's gradient norm over the task loss's (how much of the
    update it steers). Dropout as configured (smart.dropout), from a fixed seed."""
    rows, task_grads = [], {}
    for steps in sorted({0, smart.steps}):
        torch.manual_seed(seed)
        regularizer = SmartRegularizer.from_config(dataclasses.replace(smart, steps=steps), seed=seed).double()
        for task, batch in batches.items():
            row = measure(model, regularizer, {task: batch}, task_grads)[0]
            real = batch["attention_mask"].bool()                                          # (B, T)
            delta = regularizer.last_delta["input_ids"]                                    # (B, T, H)
            rows.append({"task": task, "stage": "noise only" if steps == 0 else f"after {steps} ascent step",
                         "delta_token_norm": float(token_norm(delta, "l2")[real].mean()),
                         "delta_over_x": row["relative_size"], "smart_term": row["smart_term"],
                         "grad_ratio": row["grad_ratio"]})
    return pd.DataFrame(rows)


def teacher_divergence(model: MultitaskBERT, mbpp, batches: dict[str, dict], lr: float = 5e-5) -> pd.DataFrame:
    """MBPP's penalty μ · D(f(x; θ), f(x; θ~)) at three moments: at the start (the teacher is a copy: 0), after one
    AdamW step of the student on the task losses (the student has moved away), and after the teacher's EMA update
    θ~ ← (1 − β) θ + β θ~ (it follows by 1 − β of the gap). ``mbpp``: an MbppConfig. Without dropout, so D measures
    the weights' difference alone. The model is left as it was."""
    student = copy.deepcopy(model).eval()
    teacher = MomentumTeacher(student, mbpp.mu, mbpp.beta)
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)

    def penalties(moment: str) -> list[dict]:
        with torch.no_grad():
            return [{"moment": moment, "task": t,
                     "penalty": float(teacher(student, t, b, None, student(t, b), rng_snapshot()))}
                    for t, b in batches.items()]

    rows = penalties("start: the teacher is a copy")
    loss = sum(TaskLoss(TASKS[t].kind)(student(t, b), b["labels"]) for t, b in batches.items())
    loss.backward()
    optimizer.step()
    rows += penalties("after one student step")
    teacher.update(student)
    rows += penalties(f"after the teacher's update (β = {mbpp.beta:g})")
    return pd.DataFrame(rows)


def epoch_mix(cfg: ExperimentConfig, samplers: tuple[str, ...] = ("round-robin", "proportional"),
              steps: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What epoch 0 of each sampler takes from ``cfg``'s training splits (sampler.epoch_schedule at the run's seed,
    as the trainer calls it): per sampler and task, the task's training examples, its batches and the batches the
    epoch takes; and per sampler, the task of each of the first ``steps`` steps. The batches here are placeholders:
    which task comes at each step depends only on how many batches each task has and the seed, so the order is the
    trainer's."""
    t = cfg.train
    sizes = {task: len(load_task(task, cfg.data).splits["train"]) for task in cfg.tasks}
    batches = {task: [[i] for i in range(math.ceil(n / t.batch_size))] for task, n in sizes.items()}
    counts, order = [], []
    for sampler in samplers:
        schedule = [task for task, _ in epoch_schedule(batches, sampler, t.seed, t.sampler_temperature)]
        counts += [{"sampler": sampler, "task": task, "train_examples": n, "task_batches": len(batches[task]),
                    "epoch_batches": schedule.count(task)} for task, n in sizes.items()]
        order += [{"sampler": sampler, "step": i, "task": task} for i, task in enumerate(schedule[:steps])]
    return pd.DataFrame(counts), pd.DataFrame(order)


def cosine_maps(model: MultitaskBERT, batch: dict, points: int = 41) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cosine STS head's two maps from cos(u, v) to a 0-5 score, the paper's 5 σ(cos) and SBERT's
    2.5 (cos + 1), over cos in [-1, 1] (one row per cos and map), and the STS batch as the pretrained encoder sees it:
    each pair's cos, its gold score and both maps' scores (model.cosine_score, what the head computes)."""
    grid = torch.linspace(-1.0, 1.0, points, dtype=torch.float64)
    rows = []
    with torch.no_grad():
        u, v = model.sentence_pair(batch)                                     # (B, H) each
        cos = torch.nn.functional.cosine_similarity(u, v, dim=-1)           # (B,)
        pairs = pd.DataFrame({"cos": cos.numpy(), "gold": batch["labels"].numpy()})
        for head in ("cosine-sigmoid", "cosine-linear"):
            rows += [{"map": head, "cos": float(c), "score": float(s)} for c, s in zip(grid, cosine_score(grid, head))]
            pairs[head] = cosine_score(cos, head).numpy()
    return pd.DataFrame(rows), pairs


def simcse_batch(model: MultitaskBERT, batch: dict, temperature: float = 0.05, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """Unsupervised SimCSE on one batch of sentences: each embedded twice with independent dropout masks (train mode,
    from ``seed``), the similarity matrix cos(z1_i, z2_j) / τ (long format: i, j, sim), and SimCSELoss, the
    cross-entropy that asks each row's diagonal to win."""
    was = model.training
    model.train()
    torch.manual_seed(seed)
    with torch.no_grad():
        z1 = model.embed(batch["input_ids"], batch["attention_mask"])                 # (B, H)
        z2 = model.embed(batch["input_ids"], batch["attention_mask"])                 # (B, H), other masks
        sim = torch.nn.functional.cosine_similarity(z1.unsqueeze(1), z2.unsqueeze(0), dim=-1) / temperature  # (B, B)
        loss = float(SimCSELoss(temperature)(z1, z2))
    model.train(was)
    n = len(z1)
    return pd.DataFrame({"i": np.repeat(np.arange(n), n), "j": np.tile(np.arange(n), n),
                         "sim": sim.flatten().numpy()}), loss


def quartet_average(members: dict[str, pd.DataFrame], task: str, ids: list[str]) -> pd.DataFrame:
    """What each member said on a few dev examples of ``task`` and the quartet's plain average (ensemble.ensemble):
    one row per example and member, then the average, with the gold label."""
    frames = {name: f[(f["task"] == task) & f["id"].isin(ids)] for name, f in members.items()}
    frames = {name: f for name, f in frames.items() if len(f)}
    averaged = ensemble.ensemble(frames).assign(member="average")
    columns = ["id", "member", "gold", "prediction", *[c for c in averaged if c.startswith(("prob", "score"))]]
    rows = pd.concat([*(f.assign(member=name) for name, f in frames.items()), averaged], ignore_index=True)
    rows = rows[[c for c in columns if c in rows]].dropna(axis=1, how="all")
    return rows.sort_values(["id", "member"], key=lambda s: s.map(lambda v: (v == "average", v)), kind="stable") \
        .reset_index(drop=True)


def lora_adapters(model: MultitaskBERT, lora, task: str, batch: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LoRA (PEFT) on the model's encoder: its trainable parameters by kind (the A and B matrices against r · (d_in +
    d_out), the heads, the frozen rest), and one adapter switch on ``batch``: the model's output with the adapter
    enabled and disabled (PEFT's disable_adapter), first at its initialisation (B = 0: the same output), then with
    B moved off zero (the adapter now changes the output; disabled, it is the base model again). ``lora``: a
    LoraSettings."""
    wrapped = copy.deepcopy(model)
    wrapped.encoder = wrap_encoder(wrapped.encoder, lora).double()
    counts = {"LoRA A and B (trainable)": 0, "heads (trainable)": 0, "encoder (frozen)": 0}
    for name, p in wrapped.named_parameters():
        kind = "LoRA A and B (trainable)" if "lora_" in name else "heads (trainable)" if name.startswith("heads.") \
            else "encoder (frozen)"
        counts[kind] += p.numel()
    params = pd.DataFrame([{"parameters": k, "count": v} for k, v in counts.items()]
                          + [{"parameters": "r · (d_in + d_out) over the targeted Linear layers",
                              "count": expected_lora_params(model.encoder, lora)}])
    wrapped.eval()
    was = model.training
    model.eval()
    rows = []
    with torch.no_grad():
        for moment in ("at initialisation (B = 0)", "B moved off zero"):
            if moment != "at initialisation (B = 0)":
                torch.manual_seed(0)
                for name, p in wrapped.named_parameters():
                    if "lora_B" in name:
                        p.normal_(0, 0.01)
            on = wrapped(task, batch)
            with wrapped.encoder.disable_adapter():
                off = wrapped(task, batch)
            base = model(task, batch)
            rows.append({"moment": moment, "max |enabled - disabled|": float((on - off).abs().max()),
                         "max |disabled - base model|": float((off - base).abs().max())})
    model.train(was)
    return params, pd.DataFrame(rows)

"""How hard SMART pushes: its term and its gradient against the task loss's, on fixed batches.

A regularizer is only a finding when it acts. At the paper's literal setting (ball radius 1e-5
on word embeddings whose mean magnitude is 0.04) the SMART gradient is about 1e-6 of the task
gradient: training with it is training without it. ``measure`` puts numbers on that for any
setting; ``inert_warnings`` is the guard every SMART run passes through (its result lands in the
run's metrics.json).

Everything here runs in a forked RNG, with its own regularizer instance (own noise generator)
and ``torch.autograd.grad`` (no ``.grad`` is touched), so measuring changes nothing in training.
"""
from __future__ import annotations

import math

import pandas as pd
import torch

from ..base.tasks import TASKS
from ..core.config import ExperimentConfig
from ..core.data import load_task_data
from ..core.model import build_model
from ..losses import SmartRegularizer, TaskLoss, replayed_rng, rng_snapshot

# Below this ratio of gradient norms, ||grad R|| / ||grad L_task||, a task's SMART term is inert.
INERT_BELOW = 1e-4


def fixed_batches(train: dict, batch_size: int, seed: int, pair_encoding: str = "siamese") -> dict[str, dict]:
    """The first batch of each task's epoch-0 order: the same examples for every setting measured."""
    return {t: d.collate(d.batches(batch_size, shuffle=True, seed=seed)[0], pair_encoding) for t, d in train.items()}


def _grad_norm(loss: torch.Tensor, params: list[torch.Tensor]) -> float:
    if not loss.requires_grad:
        return 0.0
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return math.sqrt(sum(float((g.float() ** 2).sum()) for g in grads if g is not None))


def _relative_size(delta: dict, signal: dict, batch: dict) -> float:
    """Mean over real tokens of ||delta_t|| / ||x_t|| (l2 over the hidden dimension): the
    perturbation against what it is added to."""
    masks = {"input_ids": batch["attention_mask"], "input_ids_2": batch.get("attention_mask_2")}
    ratios = []
    for k, d in delta.items():
        if k not in signal or signal[k].shape != d.shape:
            return float("nan")
        real = masks[k].bool()                                                   # (B, T)
        ratios.append((d.norm(dim=-1) / signal[k].norm(dim=-1).clamp_min(1e-12))[real])
    return float(torch.cat(ratios).mean()) if ratios else float("nan")


def measure(model, regularizer: SmartRegularizer, batches: dict[str, dict], task_grads: dict | None = None) -> list[dict]:
    """Per task: the task loss, the SMART term (weight included), the ratio of their gradient norms
    over the trainable parameters, and the perturbation's relative size. The model stays in
    training mode (dropout as in a training step). ``task_grads`` ({task: (loss, grad norm)}) is a
    cache for measuring many settings on the same model and batches: filled when empty."""
    task_grads = {} if task_grads is None else task_grads
    params = [p for p in model.parameters() if p.requires_grad]
    was = model.training
    model.train()
    rows = []
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        for task, batch in batches.items():
            rng = rng_snapshot()
            if task not in task_grads:
                with replayed_rng(rng):
                    out = model(task, batch)
                task_loss = TaskLoss(TASKS[task].kind)(out, batch["labels"])
                task_grads[task] = (task_loss.item(), _grad_norm(task_loss, params))
            task_loss, task_grad = task_grads[task]
            captured: list[torch.Tensor] = []
            hook = model.embedding_module().register_forward_hook(lambda m, a, o: captured.append(o.detach()))
            try:
                with replayed_rng(rng):
                    embeds = model.input_embeddings(batch)
                    clean = model(task, batch, inputs_embeds=embeds)
            finally:
                hook.remove()
            term = regularizer(model, task, batch, embeds, clean, rng)
            smart_grad = _grad_norm(term, params)
            signal = {k: e.detach() for k, e in embeds.items()} if regularizer.space == "word" else \
                dict(zip(embeds, captured))
            rows.append({"task": task, "task_loss": task_loss, "smart_term": term.item(),
                         "task_grad_norm": task_grad, "smart_grad_norm": smart_grad,
                         "grad_ratio": smart_grad / task_grad if task_grad > 0 else float("nan"),
                         "relative_size": _relative_size(regularizer.last_delta, signal, batch)})
    model.train(was)
    return rows


def inert_warnings(rows: list[dict], threshold: float = INERT_BELOW) -> list[str]:
    """One line per task whose SMART gradient is below ``threshold`` of its task gradient."""
    return [f"SMART is inert on {r['task']}: its gradient is {r['grad_ratio']:.1e} of the task loss's "
            f"(below {threshold:g}); the run trains as if SMART were off. Raise the perturbation "
            "(smart.epsilon under 'project', smart.radius under 'normalize')." for r in rows
            if not r["grad_ratio"] >= threshold]


def sweep(cfg, settings: list[dict], batches: dict[str, dict] | None = None) -> pd.DataFrame:
    """``measure`` for each setting (SmartConfig fields overriding ``cfg.smart``, e.g.
    {'convention': 'project', 'space': 'word', 'epsilon': 1e-3}) on one model at its start and on
    the same fixed batches: one row per setting and task."""
    model, tokenizer = build_model(cfg.tasks, cfg.model, seed=cfg.train.seed, max_length=cfg.data.max_length)
    if batches is None:
        data, *_ = load_task_data(cfg, tokenizer)
        batches = fixed_batches(data["train"], cfg.train.batch_size, cfg.train.seed, cfg.model.pair_encoding)
    rows, task_grads = [], {}
    for setting in settings:
        d = cfg.to_dict()
        d["smart"].update(setting)
        one = ExperimentConfig.from_dict(d).validate()
        for row in measure(model, SmartRegularizer.from_config(one.smart, seed=one.train.seed), batches, task_grads):
            rows.append({"profile": one.profile, "encoder": one.model.encoder, "convention": one.smart.convention, "space": one.smart.space, "size": one.smart.size,
                         "weight": one.smart.weight, "steps": one.smart.steps, **row})
    return pd.DataFrame(rows)


def strength_table(cfg, project_sizes: list[float], normalize_sizes: list[float], controls: dict[str, dict]) -> pd.DataFrame:
    """Notebook 04's strength table: ``sweep`` over the ``grid`` of sizes (rows labelled 'grid' in column
    ``setting``), then each of ``controls`` ({label: SmartConfig fields}, e.g. the ladder's own settings), labelled
    by its name; one row per setting and task."""
    settings = grid(project_sizes, normalize_sizes)
    table = sweep(cfg, settings + list(controls.values()))
    labels = ["grid"] * (len(settings) * len(cfg.tasks)) + [k for k in controls for _ in cfg.tasks]
    table.insert(0, "setting", labels)
    return table


def grid(project_sizes: list[float], normalize_sizes: list[float], spaces=("word", "embedding"),
         dropout: str = "same") -> list[dict]:
    """Settings for ``sweep``: every convention, space and size. Under 'project' the ascent step is as
    large as the ball (eta = epsilon, so one step can reach its boundary); under 'normalize' the
    libraries' stabiliser 1e-6. ``dropout`` 'same' isolates the perturbation from dropout noise."""
    out = []
    for space in spaces:
        out += [{"convention": "project", "space": space, "epsilon": e, "eta": e, "dropout": dropout}
                for e in project_sizes]
        out += [{"convention": "normalize", "space": space, "radius": r, "epsilon": 1e-6, "dropout": dropout}
                for r in normalize_sizes]
    return out

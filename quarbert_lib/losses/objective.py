"""The task losses and the multitask objective the trainer calls."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..base.tasks import TASKS
from .dropout import rng_snapshot


class TaskLoss(nn.Module):
    """Cross-entropy for 'classify', binary cross-entropy on one logit for 'binary',
    mean squared error on the score for 'regress' (the paper's three heads)."""

    def __init__(self, kind: str):
        super().__init__()
        if kind not in ("classify", "binary", "regress"):
            raise ValueError(f"unknown task kind {kind!r}")
        self.kind = kind

    def forward(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.kind == "classify":
            return F.cross_entropy(outputs, labels)                       # outputs (B, C), labels (B,)
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(outputs, labels.float())  # (B,), (B,)
        return F.mse_loss(outputs, labels.float())                          # (B,), (B,)


class MultitaskObjective(nn.Module):
    """Task loss on one clean forward pass, plus each regularizer's term on that same pass.

    A regularizer is called as ``regularizer(model, task, batch, embeds, clean_out, rng)``: the word
    embeddings of the pass, its outputs and the RNG state before it; it returns a scalar added to the
    loss, in the order of ``regularizers`` (losses.registry's order when built from a config)."""

    def __init__(self, tasks: list[str], regularizers: dict[str, nn.Module] | None = None):
        super().__init__()
        self.losses = nn.ModuleDict({t: TaskLoss(TASKS[t].kind) for t in tasks})
        self.regularizers = nn.ModuleDict(regularizers or {})

    def forward(self, model: nn.Module, task: str, batch: dict) -> torch.Tensor:
        if not len(self.regularizers):
            return self.losses[task](model(task, batch), batch["labels"])
        rng = rng_snapshot()
        embeds = model.input_embeddings(batch)
        out = model(task, batch, inputs_embeds=embeds)
        loss = self.losses[task](out, batch["labels"])
        for regularizer in self.regularizers.values():
            loss = loss + regularizer(model, task, batch, embeds, out, rng)
        return loss

    def after_step(self, model: nn.Module) -> None:
        for regularizer in self.regularizers.values():
            if hasattr(regularizer, "update"):
                regularizer.update(model)

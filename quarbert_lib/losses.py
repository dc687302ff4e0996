"""Task losses and the objective the trainer calls.

The trainer only sees ``objective(model, task, batch) -> scalar loss``. Regularizers
(SMART, MBPP, SimCSE) wrap an objective; the loop never changes.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .tasks import TASKS


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


class SupervisedObjective(nn.Module):
    """The plain multitask objective: each task's own loss on its own head."""

    def __init__(self, tasks: list[str]):
        super().__init__()
        self.losses = nn.ModuleDict({t: TaskLoss(TASKS[t].kind) for t in tasks})

    def forward(self, model: nn.Module, task: str, batch: dict) -> torch.Tensor:
        return self.losses[task](model(task, batch), batch["labels"])

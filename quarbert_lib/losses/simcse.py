"""Unsupervised SimCSE: its config section (the stage and the joint loss), modules and builder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..base.configbase import _check, _help
from .registry import register


@dataclass
class SimcseConfig:
    section: ClassVar[str] = "simcse"
    title: ClassVar[str] = "Unsupervised SimCSE stage and joint loss."      # its help in ExperimentConfig

    stage: bool = _help("Run an unsupervised SimCSE stage on the training sentences before multitask training.", False)
    stage_steps: int = _help("Steps of the SimCSE stage (its budget; the paper profile raises it).", 100)
    stage_lr: float = _help("Learning rate of the SimCSE stage.", 3e-5)
    stage_batch_size: int = _help("Sentences per SimCSE batch (in-batch negatives).", 32)
    temperature: float = _help("tau of the SimCSE softmax over cosine similarities.", 0.05)
    joint_weight: float = _help("lambda_contrastive of SimCSE as a joint auxiliary loss (0: off; paper 0.1).", 0.0)

    def validate(self, experiment: Any = None) -> "SimcseConfig":
        """Raise ConfigError naming the first disallowed field ('simcse.<field>'); return self."""
        _check(self.stage_steps >= 1, "simcse.stage_steps", self.stage_steps, "an integer >= 1")
        _check(self.stage_lr > 0, "simcse.stage_lr", self.stage_lr, "a positive number")
        _check(self.stage_batch_size >= 2, "simcse.stage_batch_size", self.stage_batch_size, ">= 2 (in-batch negatives)")
        _check(self.temperature > 0, "simcse.temperature", self.temperature, "> 0")
        _check(self.joint_weight >= 0, "simcse.joint_weight", self.joint_weight, ">= 0")
        return self

    def cost_tag(self) -> str | None:
        """What this section adds to a run's cost (config.cost_kind): the stage, or the joint loss's passes."""
        return "simcse" if self.stage or self.joint_weight > 0 else None


class SimCSELoss(nn.Module):
    """Unsupervised SimCSE (Gao et al., 2021, "SimCSE: Simple Contrastive Learning of Sentence
    Embeddings", EMNLP): two dropout views of each sentence are positives, the other sentences
    of the batch negatives: cross-entropy over cos(z1_i, z2_j) / tau with labels i."""

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        self.temperature = temperature

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        sim = F.cosine_similarity(z1.unsqueeze(1), z2.unsqueeze(0), dim=-1) / self.temperature  # (B, B)
        return F.cross_entropy(sim, torch.arange(len(z1), device=z1.device))


class SimCSERegularizer(nn.Module):
    """SimCSE as a joint auxiliary loss: weight * SimCSE over the batch's first sentences,
    embedded by the model's own pooler in two passes with independent dropout."""

    def __init__(self, weight: float = 0.1, temperature: float = 0.05):
        super().__init__()
        self.weight, self.loss = weight, SimCSELoss(temperature)

    def forward(self, model, task, batch, embeds, clean_out, rng) -> torch.Tensor:
        z1 = model.embed(batch["input_ids"], batch["attention_mask"])     # (B, H)
        z2 = model.embed(batch["input_ids"], batch["attention_mask"])     # (B, H), other dropout
        return self.weight * self.loss(z1, z2)


class SimCSEObjective(nn.Module):
    """The SimCSE stage as a trainer objective: sentences only, no task head."""

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        self.loss = SimCSELoss(temperature)

    def forward(self, model, task, batch) -> torch.Tensor:
        return self.loss(model.embed(batch["input_ids"], batch["attention_mask"]),
                         model.embed(batch["input_ids"], batch["attention_mask"]))


def build(config: SimcseConfig, model: nn.Module, seed: int) -> SimCSERegularizer | None:
    """The joint loss when its weight is positive (the stage is run by experiment.run_simcse_stage, not here);
    its passes draw their dropout masks from the global RNG, so ``seed`` is not used."""
    return SimCSERegularizer(config.joint_weight, config.temperature) if config.joint_weight > 0 else None


register(SimcseConfig, build, order=30)

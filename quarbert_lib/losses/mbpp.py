"""Momentum Bregman proximal point (SMART's optimizer half): its config section, module and builder."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..base.configbase import _check, _help
from .divergences import divergence_for
from .dropout import replayed_rng
from .registry import register


@dataclass
class MbppConfig:
    section: ClassVar[str] = "mbpp"
    title: ClassVar[str] = "Momentum Bregman proximal point."      # its help in ExperimentConfig

    enabled: bool = _help("Add the momentum Bregman proximal point penalty (an EMA teacher).", False)
    mu: float = _help("Weight of the Bregman penalty D(f(x; theta), f(x; teacher)).", 1.0)
    beta: float = _help("EMA momentum: teacher = (1 - beta) * theta + beta * teacher.", 0.995)

    def validate(self, experiment: Any = None) -> "MbppConfig":
        """Raise ConfigError naming the first disallowed field ('mbpp.<field>'); return self."""
        _check(self.mu >= 0, "mbpp.mu", self.mu, ">= 0")
        _check(0 < self.beta < 1, "mbpp.beta", self.beta, "0 < beta < 1")
        return self

    def cost_tag(self) -> str | None:
        """What this section adds to a step's cost (config.cost_kind): the teacher's forward pass."""
        return "mbpp" if self.enabled else None


class MomentumTeacher(nn.Module):
    """Momentum Bregman proximal point (Jiang et al., 2020, SMART's optimizer half).

    A teacher theta~ follows the model as an EMA, theta~_t = (1 - beta) theta_t + beta theta~_{t-1},
    and the penalty mu * D(f(x; theta), f(x; theta~)) keeps each update near it. The teacher is
    a deep copy (its own storage), runs without gradients with the clean pass's dropout masks,
    and is saved with the objective's state_dict, so resume restores it.

    Why not ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn(beta)``: its first
    ``update_parameters`` copies the model instead of averaging (the teacher would need a priming call to start
    at theta_0, as SMART's does), it keeps the copy under ``.module`` with an ``n_averaged`` buffer (every SMART +
    MBPP checkpoint's layout would change), and its ``_foreach_lerp_`` rounds differently from the EMA as
    written, so the recorded MBPP runs would no longer be reproduced bit for bit from their configs. The update
    below is the recurrence above, one line.
    """

    def __init__(self, model: nn.Module, mu: float = 1.0, beta: float = 0.995, divergence=divergence_for):
        super().__init__()
        self.mu, self.beta, self.divergence = mu, beta, divergence
        self.teacher = copy.deepcopy(model).requires_grad_(False)

    def forward(self, model, task, batch, embeds, clean_out, rng) -> torch.Tensor:
        self.teacher.train(model.training)
        with torch.no_grad(), replayed_rng(rng):
            teacher_out = self.teacher(task, batch)
        return self.mu * self.divergence(task)(clean_out, teacher_out)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for (name, live), mine in zip(model.named_parameters(), self.teacher.parameters()):
            if live.requires_grad:  # frozen weights never move: nothing to average
                mine.mul_(self.beta).add_(live.detach(), alpha=1.0 - self.beta)


def build(config: MbppConfig, model: nn.Module, seed: int) -> MomentumTeacher | None:
    """The teacher, a copy of ``model`` as it is now, when enabled (``seed`` is not used: no randomness)."""
    return MomentumTeacher(model, config.mu, config.beta) if config.enabled else None


register(MbppConfig, build, order=20)

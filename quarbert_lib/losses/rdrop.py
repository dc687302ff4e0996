"""R-Drop: its config section, module and builder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..base.configbase import _check, _help
from ..base.tasks import TASKS
from .divergences import divergence_for
from .dropout import dropout_mode
from .objective import TaskLoss
from .registry import register

# The builder seeds R-Drop's generator with the run's seed plus this offset: SMART's generator is seeded
# with the run's seed itself, and two generators seeded alike would draw related dropout seeds.
SEED_OFFSET = 0x52447270            # "RDrp"


@dataclass
class RdropConfig:
    section: ClassVar[str] = "rdrop"
    title: ClassVar[str] = "R-Drop: two dropout passes kept consistent."      # its help in ExperimentConfig

    weight: float = _help(
        "alpha, the weight of R-Drop's consistency term between two dropout passes of each batch (Liang et al., "
        "2021): loss = (task loss of pass 1 + of pass 2) / 2 + alpha / 2 * (KL(P1||P2) + KL(P2||P1)). "
        "0: off (one pass, the plain task loss).", 0.0)

    def validate(self, experiment: Any = None) -> "RdropConfig":
        """Raise ConfigError naming 'rdrop.weight' unless it is >= 0; return self."""
        _check(self.weight >= 0, "rdrop.weight", self.weight, ">= 0 (0: off)")
        return self

    def cost_tag(self) -> str | None:
        """What this section adds to a step's cost (config.cost_kind): a second forward and backward pass."""
        return "rdrop" if self.weight > 0 else None


class RDropRegularizer(nn.Module):
    """R-Drop (Liang et al., 2021, "R-Drop: Regularized Dropout for Neural Networks", NeurIPS), eq. 2-3:
    two forward passes of the same batch under independent dropout masks, P1 and P2, and

        L = 1/2 (NLL(P1, y) + NLL(P2, y)) + alpha/2 (KL(P1||P2) + KL(P2||P1)).

    MultitaskObjective has already made pass 1 (``clean_out``) and added its task loss NLL1 with weight 1;
    this term adds the rest, 1/2 (NLL2 - NLL1) + alpha/2 D(P1, P2), so that the objective's total is L
    and neither the objective nor the trainer changes. NLL is the objective's TaskLoss of the task's kind.
    D is the head's divergence (losses.divergences), each a mean over the batch (the paper's code sums over
    the batch; a sum grows with the batch size, which would tie alpha to it):

    - 'classify' (SST, outputs (B, C)): the symmetric KL of the two softmax distributions, as in the paper;
    - 'binary' (Quora, one logit (B,)): the symmetric KL of Bernoulli(sigmoid(logit)), which is the KL of
      the two-class softmax over (0, logit), i.e. what the paper's formula gives for a two-class head;
    - 'regress' (STS-B score (B,)): a score has no output distribution, so D is the squared difference
      (s1 - s2)^2, the regression counterpart that the R-Drop authors' BERT/GLUE code uses for STS-B
      (huggingface_transformer_src, modeling_bert.py, bert_kl: MSE1 + MSE2 + MSE(s1, s2)). It is the
      symmetric KL of N(s1, 1) and N(s2, 1), so it enters with the same alpha/2; with alpha = 1 the total
      is that code's STS-B loss divided by 2.

    The second pass reads the same word embeddings (``embeds``; gradients flow through both passes) and
    draws its masks from the global RNG reseeded from the module's own generator inside a fork
    (dropout_mode 'fresh'), so enabling R-Drop leaves the global RNG, and with it every later dropout
    mask, where a plain step leaves it; the generator is saved with the state dict, so resume continues
    it. ``weight`` 0 returns exactly 0 without a second pass. Without dropout (eval mode, or every dropout
    probability 0) the passes agree and the term is 0. Returns a scalar; KeyError for an unknown task.
    """

    def __init__(self, weight: float = 1.0, seed: int = 0, divergence=divergence_for):
        super().__init__()
        self.weight, self.divergence = weight, divergence
        self.task_losses = nn.ModuleDict({kind: TaskLoss(kind) for kind in ("classify", "binary", "regress")})
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> dict:
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def forward(self, model, task, batch, embeds, clean_out, rng) -> torch.Tensor:
        if self.weight == 0:
            return clean_out.new_zeros(())
        nll = self.task_losses[TASKS[task].kind]
        with dropout_mode(model, "fresh", rng, self.generator):
            second = model(task, batch, inputs_embeds=embeds)          # same input, independent masks
        labels = batch["labels"]
        return 0.5 * (nll(second, labels) - nll(clean_out, labels)) + 0.5 * self.weight * self.divergence(task)(clean_out, second)


def build(config: RdropConfig, model: nn.Module, seed: int) -> RDropRegularizer | None:
    """The term when alpha > 0, its generator seeded by the run's ``seed`` (plus SEED_OFFSET)."""
    return RDropRegularizer(config.weight, seed=seed + SEED_OFFSET) if config.weight > 0 else None


register(RdropConfig, build, order=40)

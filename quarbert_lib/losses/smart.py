"""SMART's adversarial regularizer: its config section, its module and its builder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..base.configbase import _check, _help
from ..base.tasks import TASKS
from .divergences import divergence_for
from .dropout import dropout_mode
from .registry import register

CONVENTIONS = ("project", "normalize")
SPACES = ("word", "embedding")
NORMS = ("linf", "l2")
DROPOUTS = ("same", "off", "fresh")
# Measured on MiniLM (tests/test_precision.py): a uniform perturbation of size 1e-5 on the word
# embeddings moves the last hidden state by at most 1.9e-4 in fp32, but by 1.1e-2 under bf16
# autocast (rounding noise, 60x the signal); from 1e-3 on both agree within 4%.
BF16_MIN_SMART_EPSILON = 1e-3


@dataclass
class SmartConfig:
    section: ClassVar[str] = "smart"
    title: ClassVar[str] = "SMART adversarial regularization."      # its help in ExperimentConfig

    enabled: bool = _help("Add SMART adversarial regularization (Jiang et al., 2020).", False)
    weight: float = _help("lambda_s, the weight of the SMART term (the paper: 5).", 5.0)
    task_weights: dict = _help("Per-task lambda_s overriding `weight`, e.g. {'sts': 1.0}.", factory=dict)
    convention: str = _help(
        "'project': Jiang et al. as written (ascent step along the normalised gradient, then the true projection "
        "onto the epsilon-ball); 'normalize': MT-DNN / smart-pytorch (delta + eta * g, then each token divided by "
        "its norm over the hidden dimension plus epsilon, which is only a stabiliser there, times `radius`).",
        "project")
    space: str = _help(
        "Where delta is added: 'word' (the word lookup, the paper's x) or 'embedding' (the embedding layer's "
        "output, after position and type embeddings and LayerNorm, as MT-DNN and smart-pytorch do).", "word")
    epsilon: float = _help(
        "'project': radius of the perturbation ball (the paper: 1e-5). 'normalize': the stabiliser of the "
        "per-token division (both libraries: 1e-6), not a size.", 1e-5)
    radius: float = _help("'normalize': each token's perturbation norm after the step (both libraries: 1).", 1.0)
    sigma: float = _help("Std of the initial Gaussian perturbation.", 1e-5)
    eta: float = _help("Size of each ascent step on the perturbation.", 1e-3)
    steps: int = _help("K, ascent steps (0: random noise only, R3F-like; SmartRegularizer says how it differs).", 1)
    norm: str = _help("'linf' or 'l2': the ball's norm per example ('project'), or the per-token norm that "
                      "divides the step ('normalize').", "linf")
    dropout: str = _help(
        "Dropout in the adversarial passes: 'same' (the clean pass's masks, so the divergence measures the "
        "perturbation alone), 'fresh' masks (as MT-DNN and smart-pytorch), or 'off' (no dropout in the "
        "adversarial passes and in an extra clean pass that is then their target).", "same")

    @property
    def size(self) -> float:
        """How far delta reaches: epsilon under 'project', radius under 'normalize'."""
        return self.epsilon if self.convention == "project" else self.radius

    def validate(self, experiment: Any = None) -> "SmartConfig":
        """Raise ConfigError naming the first disallowed field ('smart.<field>'); return self. With the whole
        ``experiment`` (an ExperimentConfig), also the rules that involve its other sections: bf16 precision
        with a perturbation below its resolution (names 'train.precision'), SMART on a frozen encoder."""
        for name in ("weight", "epsilon", "sigma", "eta"):
            _check(getattr(self, name) >= 0, f"smart.{name}", getattr(self, name), ">= 0")
        for task, w in self.task_weights.items():
            _check(task in TASKS and w >= 0, "smart.task_weights", {task: w}, "task names with weights >= 0")
        if experiment is not None:
            precision = experiment.train.precision
            _check(not (self.enabled and precision == "bf16" and self.size < BF16_MIN_SMART_EPSILON),
                   "train.precision", precision,
                   f"'auto' or 'fp32' with SMART's perturbation size (smart.epsilon under 'project', smart.radius "
                   f"under 'normalize') {self.size:g} < {BF16_MIN_SMART_EPSILON:g}: "
                   "bf16 rounding changes the encoder's output more than such a perturbation does")
        _check(self.convention in CONVENTIONS, "smart.convention", self.convention, "'project' or 'normalize'")
        _check(self.space in SPACES, "smart.space", self.space, "'word' or 'embedding'")
        _check(self.radius >= 0, "smart.radius", self.radius, ">= 0")
        _check(self.steps >= 0, "smart.steps", self.steps, "an integer >= 0")
        _check(self.norm in NORMS, "smart.norm", self.norm, "'linf' or 'l2'")
        _check(self.dropout in DROPOUTS, "smart.dropout", self.dropout, "'same', 'off' or 'fresh'")
        if experiment is not None:
            _check(not (self.enabled and experiment.model.freeze_encoder), "smart.enabled", self.enabled,
                   "False with a frozen encoder (the perturbation needs gradients through the encoder)")
        return self

    def cost_tag(self) -> str | None:
        """What this section adds to a step's cost (config.cost_kind): K ascent steps under a dropout mode."""
        return f"smart{self.steps}-{self.dropout}" if self.enabled else None


def token_norm(x: torch.Tensor, norm: str) -> torch.Tensor:
    """Each token's norm over the hidden dimension: (B, T, H) -> (B, T, 1)."""
    return x.abs().amax(-1, keepdim=True) if norm == "linf" else x.norm(dim=-1, keepdim=True)


def normalized_step(delta: torch.Tensor, grad: torch.Tensor, eta: float, norm: str = "linf",
                    stabilizer: float = 1e-6, radius: float = 1.0) -> torch.Tensor:
    """MT-DNN's / smart-pytorch's ascent step: the raw gradient step, then each token divided by its
    norm over the hidden dimension (``stabilizer`` only keeps the division finite), times ``radius``:
    radius * (delta + eta * g) / (||delta + eta * g||_token + stabilizer). Both libraries use radius 1."""
    step = delta + eta * grad                                                   # (B, T, H)
    return radius * step / (token_norm(step, norm) + stabilizer)


class SmartRegularizer(nn.Module):
    """SMART smoothness-inducing adversarial regularizer (Jiang et al., 2020, "SMART: Robust and
    Efficient Fine-Tuning for Pre-trained Natural Language Models through Principled Regularized
    Optimization", ACL).

    R = lambda_task * l_s(f(x + delta), f(x)). delta starts as N(0, sigma^2) noise (on real tokens
    only), drawn from the regularizer's own generator (seeded by ``seed``, saved with the state
    dict), so enabling SMART changes no other randomness. Then ``steps`` ascent steps, by convention:

    - 'project' (the paper's equations): a step of ``eta`` along the gradient normalised per
      example, then the true projection onto the ``epsilon``-ball (``norm``, per example);
    - 'normalize' (MT-DNN's perturbation.py, smart-pytorch's SMARTLoss): delta + eta * g, then
      each token divided by its ``norm`` over the hidden dimension plus ``epsilon``, which is only a
      stabiliser here; ``radius`` scales the result (1 in both libraries), whatever epsilon says.

    ``space`` is where delta is added: 'word' (the word lookup, the paper's x) or 'embedding' (the
    embedding layer's output, after position and type embeddings and LayerNorm, as both libraries
    do). ``dropout`` of the adversarial passes: 'same' (the clean pass's masks), 'fresh' (new masks,
    as both libraries), or 'off' (no dropout; the target f(x) is then a dropout-free clean pass too,
    one extra forward, so the divergence sees the perturbation and nothing else). The final pass
    treats delta as a constant. A non-finite term is skipped (returns 0) and counted in ``skipped``.
    l_s is the head's divergence (losses.divergences): the symmetric KL of the softmax ('classify') or
    of the Bernoulli ('binary'), the squared difference of the scores ('regress'), mean over the batch.

    K = 0 ("R3F" in the bench and the config's help) is not exactly R3F (Aghajanyan et al., 2021,
    "Better Fine-Tuning by Reducing Representational Collapse", ICLR; reference code: fairseq's
    examples/rxf sentence_prediction_r3f.py). What is the same: one noisy pass, no ascent step, and
    the symmetric KL between the clean and the noisy softmax with gradients through both (neither
    side detached), averaged over the batch. Where it differs:

    - noise: only Gaussian N(0, sigma^2), no U(-sigma, sigma) option (fairseq's default is uniform),
      and zero on padding (R3F noises every position; padding is masked out of attention, so this
      changes nothing). Under 'project' the noise is then projected onto the epsilon-ball: with the
      defaults sigma = epsilon = 1e-5 and 'linf' every component beyond one sigma is clipped to
      +-epsilon (about 32% of them), a clipped Gaussian; with 'l2' the whole example is scaled to
      norm <= epsilon, far below sigma per component. Under 'normalize' K = 0 adds the raw noise:
      no normalisation happens without an ascent step, so ``radius`` does not apply and the ladder's
      K = 0 row (advreg-only, steps 0) perturbs by sigma = 1e-5, not by the radius 1 of its K = 1 row;
    - space: R3F noises the token embeddings (the word lookup: 'word'). The ladder's SMART uses
      'embedding', the embedding layer's output after position and type embeddings and LayerNorm;
    - the noisy pass keeps the gradient into the word-embedding table (R3F detaches the token
      embeddings before adding noise), which matters only when that table is trained;
    - dropout: R3F's noisy pass is a separate forward in training mode, i.e. fresh masks ('fresh'
      here); the default 'same' replays the clean pass's masks. With 'fresh' and a perturbation as
      small as the ladder's K = 0, the divergence is the dropout difference between the two passes
      (measured on MiniLM, 16 examples per task: the term with sigma 1e-5 equals the one with sigma 0
      to four digits, about 1e-2, while the noise alone, under 'same' masks, gives about 1e-12), i.e.
      R-Drop's consistency term (losses.rdrop) at lambda_s without R-Drop's second task loss;
    - heads: 'binary' uses the Bernoulli KL, which equals R3F's KL of a two-class softmax; for
      'regress' (STS) this adds the squared difference, where fairseq's R3F adds no term at all;
    - weight: lambda_s (5 by default) where R3F's code defaults to lambda 1.
    """

    def __init__(self, weight: float = 5.0, epsilon: float = 1e-5, sigma: float = 1e-5, eta: float = 1e-3,
                 steps: int = 1, norm: str = "linf", dropout: str = "same", task_weights: dict | None = None,
                 convention: str = "project", space: str = "word", radius: float = 1.0, seed: int = 0,
                 divergence=divergence_for):
        super().__init__()
        for name, value, allowed in (("norm", norm, NORMS), ("convention", convention, CONVENTIONS),
                                     ("space", space, SPACES), ("dropout", dropout, DROPOUTS)):
            if value not in allowed:
                raise ValueError(f"SMART {name} {value!r}: expected one of {allowed}")
        self.weight, self.epsilon, self.sigma, self.eta, self.steps = weight, epsilon, sigma, eta, steps
        self.norm, self.dropout, self.task_weights, self.divergence = norm, dropout, dict(task_weights or {}), divergence
        self.convention, self.space, self.radius = convention, space, radius
        self.generator = torch.Generator().manual_seed(seed)
        self.skipped = 0
        self.last_delta: dict[str, torch.Tensor] = {}        # the final perturbation, for diagnostics

    @classmethod
    def from_config(cls, config: SmartConfig, seed: int = 0) -> "SmartRegularizer":
        """The section's term whether or not it is enabled (the strength guard measures it either way)."""
        return cls(config.weight, config.epsilon, config.sigma, config.eta, config.steps, config.norm, config.dropout,
                   config.task_weights, config.convention, config.space, config.radius, seed=seed)

    def get_extra_state(self) -> dict:
        return {"generator": self.generator.get_state(), "skipped": self.skipped}

    def set_extra_state(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.skipped = state["skipped"]

    def _norm(self, x: torch.Tensor) -> torch.Tensor:           # (B, T, H) -> (B, 1, 1)
        flat = x.flatten(1)
        n = flat.abs().amax(1) if self.norm == "linf" else flat.norm(dim=1)
        return n.view(-1, 1, 1)

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """The true projection onto {||delta_b|| <= epsilon} for each example b."""
        if self.norm == "linf":
            return delta.clamp(-self.epsilon, self.epsilon)
        return delta * (self.epsilon / self._norm(delta).clamp_min(1e-12)).clamp(max=1.0)

    def noise(self, like: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """The initial perturbation: N(0, sigma^2) from the own generator, zero on padding."""
        z = torch.randn(like.shape, generator=self.generator, dtype=like.dtype).to(like.device)
        delta = z * self.sigma * real
        return self.project(delta) if self.convention == "project" else delta

    def ascend(self, delta: torch.Tensor, grad: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.convention == "project":
            return self.project((delta + self.eta * grad / self._norm(grad).clamp_min(1e-12)) * real)
        return normalized_step(delta, grad, self.eta, self.norm, self.epsilon, self.radius) * real

    def _pass(self, model, task, batch, embeds, delta):
        if self.space == "word":
            return model(task, batch, inputs_embeds={k: embeds[k] + delta[k] for k in embeds})
        return model(task, batch, inputs_embeds=embeds, offsets=delta)

    def forward(self, model, task, batch, embeds, clean_out, rng) -> torch.Tensor:
        weight = self.task_weights.get(task, self.weight)
        if weight == 0:
            return clean_out.new_zeros(())
        div = self.divergence(task)
        masks = {"input_ids": batch["attention_mask"], "input_ids_2": batch.get("attention_mask_2")}
        real = {k: masks[k].unsqueeze(-1).to(e.dtype) for k, e in embeds.items()}          # (B, T, 1)
        base = {k: e.detach() for k, e in embeds.items()}
        if self.dropout == "off":      # the target without dropout too: only the perturbation differs
            with dropout_mode(model, "off", rng):
                clean_out = model(task, batch, inputs_embeds=embeds)
        delta = {k: self.noise(e, real[k]) for k, e in base.items()}
        target = clean_out.detach()
        for _ in range(self.steps):
            for d in delta.values():
                d.requires_grad_(True)
            with dropout_mode(model, self.dropout, rng, self.generator):
                out = self._pass(model, task, batch, base, delta)
            grads = torch.autograd.grad(div(out, target), list(delta.values()))
            delta = {k: self.ascend(d.detach(), g, real[k]) for (k, d), g in zip(delta.items(), grads)}
        self.last_delta = {k: d.detach() for k, d in delta.items()}
        with dropout_mode(model, self.dropout, rng, self.generator):
            adv = self._pass(model, task, batch, embeds, self.last_delta)
        term = weight * div(adv, clean_out)
        if not torch.isfinite(term):
            self.skipped += 1
            return clean_out.new_zeros(())
        return term


def build(config: SmartConfig, model: nn.Module, seed: int) -> SmartRegularizer | None:
    """The section's term when enabled; its noise generator seeded by the run's ``seed``."""
    return SmartRegularizer.from_config(config, seed) if config.enabled else None


register(SmartConfig, build, order=10)

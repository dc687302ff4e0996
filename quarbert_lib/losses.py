"""Task losses, divergences, and the regularizers of the ablation ladder.

The trainer only sees ``objective(model, task, batch) -> scalar loss`` (and calls
``objective.after_step(model)`` after each optimizer step when it exists). A
``MultitaskObjective`` runs one clean forward pass, whose outputs feed both the task loss
and every regularizer: SMART's target and MBPP's student are that same pass.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager

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


# -- divergences between two outputs of the same head (float32, mean over the batch) -------------
def symmetric_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p||q) + KL(q||p) of two softmax distributions (B, C), averaged over the batch."""
    log_p, log_q = F.log_softmax(logits_p.float(), -1), F.log_softmax(logits_q.float(), -1)
    return ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum(-1).mean()


def symmetric_bernoulli_kl(logit_p: torch.Tensor, logit_q: torch.Tensor) -> torch.Tensor:
    """KL(p||q) + KL(q||p) of Bernoulli(sigmoid(logit)) (B,): the one-logit head's own
    distribution, never a softmax over a single logit (which is constant)."""
    a, b = logit_p.float(), logit_q.float()
    p, q = torch.sigmoid(a), torch.sigmoid(b)
    # log p - log q and log(1-p) - log(1-q), via logsigmoid for stability
    d_pos = F.logsigmoid(a) - F.logsigmoid(b)
    d_neg = F.logsigmoid(-a) - F.logsigmoid(-b)
    return ((p - q) * d_pos + ((1 - p) - (1 - q)) * d_neg).mean()


def mse_divergence(score_p: torch.Tensor, score_q: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(score_p.float(), score_q.float())


DIVERGENCES = {"classify": symmetric_kl, "binary": symmetric_bernoulli_kl, "regress": mse_divergence}


def divergence_for(task: str):
    return DIVERGENCES[TASKS[task].kind]


# -- dropout control for extra passes ---------------------------------------------------------
def rng_snapshot() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


@contextmanager
def replayed_rng(snapshot: dict):
    """Run a block with the RNG as it was at ``snapshot`` (same dropout masks as that pass),
    then put the RNG back where it was, so the extra pass does not shift later randomness."""
    saved = rng_snapshot()
    torch.set_rng_state(snapshot["cpu"])
    if "cuda" in snapshot:
        torch.cuda.set_rng_state_all(snapshot["cuda"])
    try:
        yield
    finally:
        torch.set_rng_state(saved["cpu"])
        if "cuda" in saved:
            torch.cuda.set_rng_state_all(saved["cuda"])


@contextmanager
def dropout_mode(model: nn.Module, mode: str, snapshot: dict, generator: torch.Generator | None = None):
    """Dropout of an extra pass. 'same': the clean pass's masks (replayed from ``snapshot``);
    'off': none (eval mode); 'fresh': new masks, drawn from a global RNG reseeded from
    ``generator`` inside a fork, so the extra pass leaves the global RNG where it was."""
    if mode == "same":
        with replayed_rng(snapshot):
            yield
    elif mode == "off":
        was = model.training
        model.eval()
        try:
            yield
        finally:
            model.train(was)
    else:
        seed = int(torch.randint(2**62, (1,), generator=generator)) if generator is not None else None
        with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
            if seed is not None:
                torch.manual_seed(seed)
            yield


# -- regularizers ---------------------------------------------------------------------------
CONVENTIONS = ("project", "normalize")
SPACES = ("word", "embedding")


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
    """

    def __init__(self, weight: float = 5.0, epsilon: float = 1e-5, sigma: float = 1e-5, eta: float = 1e-3,
                 steps: int = 1, norm: str = "linf", dropout: str = "same", task_weights: dict | None = None,
                 convention: str = "project", space: str = "word", radius: float = 1.0, seed: int = 0,
                 divergence=divergence_for):
        super().__init__()
        for name, value, allowed in (("norm", norm, ("linf", "l2")), ("convention", convention, CONVENTIONS),
                                     ("space", space, SPACES), ("dropout", dropout, ("same", "off", "fresh"))):
            if value not in allowed:
                raise ValueError(f"SMART {name} {value!r}: expected one of {allowed}")
        self.weight, self.epsilon, self.sigma, self.eta, self.steps = weight, epsilon, sigma, eta, steps
        self.norm, self.dropout, self.task_weights, self.divergence = norm, dropout, dict(task_weights or {}), divergence
        self.convention, self.space, self.radius = convention, space, radius
        self.generator = torch.Generator().manual_seed(seed)
        self.skipped = 0
        self.last_delta: dict[str, torch.Tensor] = {}        # the final perturbation, for diagnostics

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


class MomentumTeacher(nn.Module):
    """Momentum Bregman proximal point (Jiang et al., 2020, SMART's optimizer half).

    A teacher theta~ follows the model as an EMA, theta~_t = (1 - beta) theta_t + beta theta~_{t-1},
    and the penalty mu * D(f(x; theta), f(x; theta~)) keeps each update near it. The teacher is
    a deep copy (its own storage), runs without gradients with the clean pass's dropout masks,
    and is saved with the objective's state_dict, so resume restores it.
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


class MultitaskObjective(nn.Module):
    """Task loss on one clean forward pass, plus each regularizer's term on that same pass."""

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



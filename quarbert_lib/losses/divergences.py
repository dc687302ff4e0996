"""Divergences between two outputs of the same head (float32, mean over the batch), one per task kind.

SMART compares a clean and a perturbed pass with them, MBPP the model and its teacher, R-Drop two
dropout passes. Each returns a scalar: the per-example divergence averaged over the batch, so a term's
size does not grow with the batch.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from ..base.tasks import TASKS


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
    """(s_p - s_q)^2 of two scores (B,), averaged over the batch: the symmetric KL of the unit-variance
    Gaussians N(s_p, 1) and N(s_q, 1) (each direction is (s_p - s_q)^2 / 2), the regression head's
    counterpart of the two KLs above."""
    return F.mse_loss(score_p.float(), score_q.float())


DIVERGENCES = {"classify": symmetric_kl, "binary": symmetric_bernoulli_kl, "regress": mse_divergence}


def divergence_for(task: str):
    """The divergence of ``task``'s head kind (KeyError for an unknown task)."""
    return DIVERGENCES[TASKS[task].kind]

"""Task losses, divergences, and the regularizers of the ablation ladder.

The trainer only sees ``objective(model, task, batch) -> scalar loss`` (and calls
``objective.after_step(model)`` after each optimizer step when it exists). A
``MultitaskObjective`` runs one clean forward pass, whose outputs feed both the task loss
and every regularizer: SMART's target, MBPP's student and R-Drop's first pass are that same pass.

Each regularizer lives in its own module with its config section and builder, and registers itself
(losses.registry): smart (SMART), mbpp (momentum Bregman proximal point), simcse (SimCSE's joint loss),
rdrop (R-Drop). Every module of this folder is imported here, in name order, so a new regularizer is one new
module: ``config`` builds its section of ExperimentConfig from the registry. Nothing here imports ``config``.
"""
from __future__ import annotations

import importlib
import pkgutil

from .divergences import DIVERGENCES, divergence_for, mse_divergence, symmetric_bernoulli_kl, symmetric_kl
from .dropout import dropout_mode, replayed_rng, rng_snapshot
from .mbpp import MbppConfig, MomentumTeacher
from .objective import MultitaskObjective, TaskLoss
from .rdrop import RdropConfig, RDropRegularizer
from .registry import Regularizer, register, regularizers
from .simcse import SimcseConfig, SimCSELoss, SimCSEObjective, SimCSERegularizer
from .smart import (BF16_MIN_SMART_EPSILON, CONVENTIONS, SPACES, SmartConfig, SmartRegularizer, normalized_step,
                    token_norm)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):     # a new regularizer's module registers here
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "DIVERGENCES", "divergence_for", "mse_divergence", "symmetric_bernoulli_kl", "symmetric_kl",
    "dropout_mode", "replayed_rng", "rng_snapshot", "MultitaskObjective", "TaskLoss",
    "Regularizer", "register", "regularizers",
    "BF16_MIN_SMART_EPSILON", "CONVENTIONS", "SPACES", "SmartConfig", "SmartRegularizer", "normalized_step", "token_norm",
    "MbppConfig", "MomentumTeacher", "SimcseConfig", "SimCSELoss", "SimCSEObjective", "SimCSERegularizer",
    "RdropConfig", "RDropRegularizer",
]

"""Dropout control for the extra forward passes of regularizers: replay a pass's masks, switch
dropout off, or draw fresh masks without moving the global RNG."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


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

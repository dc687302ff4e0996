"""Data parallelism for the generic Trainer, under `torchrun` or `accelerate launch`.

Both launchers start one process per device and set RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT; ``setup`` joins the process group from them (gloo on CPU, NCCL on CUDA) and is a
no-op in a single process. Every rank follows the same seeded schedule and takes its slice of
each global batch; after the backward pass the gradients are averaged across ranks, each
rank's weighted by its share of the batch, which is exactly the gradient of the global batch's
mean loss (up to float summation order). A plain all-reduce instead of a DDP wrapper keeps
every objective working unchanged: SMART's and SimCSE's extra forward passes, and steps where
only one task's head is used. Only rank 0 evaluates and writes files.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def setup(device: torch.device) -> bool:
    """Join the process group the launcher describes; False (and nothing done) in one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return True


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def shard(idx: list[int]) -> list[int]:
    """This rank's rows of a global batch: every world_size-th row, starting at its rank."""
    return idx[rank()::world_size()]


def all_finite(finite: bool, device: torch.device) -> bool:
    """True only when every rank's loss is finite, so that all ranks skip a step together."""
    if world_size() == 1:
        return finite
    flag = torch.tensor([1.0 if finite else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def average_gradients(params: list[torch.nn.Parameter], share: float) -> None:
    """grad <- sum over ranks of share_r * grad_r, in one flat all-reduce. ``share`` is this rank's
    rows / the global batch's rows, so the result is the global mean loss's gradient. A parameter
    that no rank touched (another task's head) keeps grad None, so AdamW skips it as it does in
    one process instead of moving it on stale momentum."""
    if world_size() == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    touched = torch.tensor([float(p.grad is not None) for p in params], device=grads[0].device)   # (P,)
    flat = torch.cat([g.reshape(-1) * share for g in grads] + [touched])                         # (sum numel + P,)
    dist.all_reduce(flat)
    used = (flat[-len(params):] > 0).tolist()        # one host read, not one per parameter
    offset = 0
    for p, g, touched_anywhere in zip(params, grads, used):
        p.grad = flat[offset:offset + g.numel()].view_as(p).clone() if touched_anywhere else None
        offset += g.numel()

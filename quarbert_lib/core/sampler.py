"""Multitask batch schedules: which task's batch comes at each step of an epoch.

A schedule is a list of (task, row indices). It is a pure function of the per-task
batch lists and the seed, so a resumed run can rebuild it and skip to its position.
Callers seed the per-task batch lists with ``seed + epoch`` (as smart-pytorch and
sentence-transformers do), so every epoch differs and every rerun is identical.
"""
from __future__ import annotations

import random


def epoch_schedule(task_batches: dict[str, list[list[int]]], sampler: str, seed: int,
                   temperature: float = 2.0) -> list[tuple[str, list[int]]]:
    """
    - 'sequential': every batch of the first task, then the second, ... (the paper's plain
      baseline: one pass over each task in turn).
    - 'round-robin': the paper's batch-level sampling: as many batches from each task as the
      smallest task has, interleaved t1, t2, t3, t1, ... so each task gets equal exposure.
    - 'proportional': every batch of every task, in a seeded random order, so each task
      appears in proportion to its size.
    - 'temperature': as many steps as all tasks' batches together; each step draws a task with
      probability proportional to n_task ** (1 / temperature) (1: proportional, large: uniform)
      and takes that task's next batch, cycling through its batches when they run out.
    """
    tasks = list(task_batches)
    if sampler == "sequential":
        return [(t, b) for t in tasks for b in task_batches[t]]
    if sampler == "round-robin":
        n = min(len(task_batches[t]) for t in tasks)
        return [(t, task_batches[t][i]) for i in range(n) for t in tasks]
    if sampler == "proportional":
        order = [(t, b) for t in tasks for b in task_batches[t]]
        random.Random(seed).shuffle(order)
        return order
    if sampler == "temperature":
        rng = random.Random(seed)
        weights = [len(task_batches[t]) ** (1.0 / temperature) for t in tasks]
        cursor = {t: 0 for t in tasks}
        order = []
        for t in rng.choices(tasks, weights=weights, k=sum(len(b) for b in task_batches.values())):
            batches = task_batches[t]
            order.append((t, batches[cursor[t] % len(batches)]))
            cursor[t] += 1
        return order
    raise ValueError(f"unknown sampler {sampler!r}: expected sequential, round-robin, proportional or temperature")

"""The one training loop. It knows nothing about tasks.

It is handed: a model, an ``objective(model, task, batch) -> loss``, a dict of training
data (anything with ``batches(batch_size, shuffle, seed)`` and ``collate(idx, pair_encoding)``),
an ``evaluate(model) -> metrics`` and a ``score(metrics) -> float`` that picks the best
checkpoint. Single-task and multitask runs, and every regularizer, use this same loop.

Resumable: every ``checkpoint_every`` steps and at each epoch end it saves, atomically,
the model, optimizer, position in the epoch's schedule and all RNG states, with a fingerprint
of what it belongs to (the caller's config and the model's parameter names and shapes). A new
Trainer on the same directory with the same fingerprint continues from there and ends
bit-identical on CPU; one with another fingerprint starts afresh and says so.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..base.errors import UserError
from . import distributed
from .config import TrainConfig
from .model import autocast, load_weights, resolve_precision
from .sampler import epoch_schedule

CHECKPOINT, BEST = "checkpoint.pt", "model.pt"


class NonFiniteLossError(UserError, RuntimeError):
    """Training diverged: non-finite losses in a row, weights that became non-finite, or a non-finite dev score.
    The run is left incomplete (no metrics.json), its last good checkpoint kept."""


class TrainingInterrupted(UserError):
    """Training stopped by an interrupt (Ctrl-C, a notebook's stop button): one line saying where running again
    resumes (the last checkpoint), not a traceback from inside a training step."""


class NothingToTrain(UserError, ValueError):
    """A task of the training data has no examples, so its schedule is empty (a user error)."""


def check_trainable(train_data: dict) -> None:
    """Raise NothingToTrain naming each task whose training data holds no example: a run with an
    empty task would take 0 of its steps (round-robin) or none at all, and be recorded as trained."""
    empty = [t for t, d in train_data.items() if len(d) == 0]
    if not train_data or empty:
        files = ", ".join(f"{t} ({getattr(getattr(train_data[t], 'spec', None), 'files', {}).get('train', 'no file')})"
                          for t in empty)
        raise NothingToTrain(f"no training examples for task(s) {files or '(none given)'}: nothing to train; "
                             "fix the file or leave the task out of `tasks`")


def state_fingerprint(model: torch.nn.Module, belongs_to: dict | None) -> str:
    """SHA-256 (hex) of what resumable state belongs to: ``belongs_to`` (a config dict, JSON-able) and the
    model's parameter names and shapes (another encoder never loads into it)."""
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    text = json.dumps({"config": belongs_to, "shapes": shapes}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class TrainState:
    epoch: int = 0                 # epochs completed
    step_in_epoch: int = 0         # schedule position inside the current epoch
    global_step: int = 0
    best_score: float = -math.inf
    best_step: int = -1
    skipped_nonfinite: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    wall_seconds: float = 0.0       # the trainer's wall seconds at the last checkpoint, over every process so far
    running_loss: float = 0.0       # sum and count of losses since the last history entry,
    running_count: int = 0          # saved so a resumed run logs the same means
    running_by_task: dict = field(default_factory=dict)   # task -> [loss sum, count]: per-task means in history
    history: list = field(default_factory=list)


def atomic_torch_save(obj, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: never a partial file. Serialised in memory first:
    torch.save names the zip's folder after the file it writes, so saving to the temporary (per-process) name made
    the same weights into other bytes in another process (a worker's model.pt, its weights.json hash)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buffer.getbuffer())
    os.replace(tmp, path)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    def __init__(self, model: torch.nn.Module, objective: Callable, train_data: dict, cfg: TrainConfig,
                 evaluate: Callable[[torch.nn.Module], dict] | None = None,
                 score: Callable[[dict], float] | None = None, out_dir: str | os.PathLike | None = None,
                 pair_encoding: str = "siamese", device: torch.device | str = "cpu",
                 callbacks: list[Callable] = (), max_consecutive_nonfinite: int = 20, log_every: int = 25,
                 param_groups: list[dict] | None = None, precision: str | None = None,
                 belongs_to: dict | None = None):
        """``belongs_to``: what a checkpoint in ``out_dir`` must have been written for to be resumed (the
        run's config); checkpoints are fingerprinted with it and the model's shapes (state_fingerprint).
        Raises NothingToTrain when a task of ``train_data`` is empty."""
        check_trainable(train_data)
        self.model, self.objective, self.train_data, self.cfg = model, objective, train_data, cfg
        self.evaluate, self.score = evaluate, score or (lambda m: -m.get("loss", 0.0))
        self.out_dir = Path(out_dir) if out_dir else None
        self.pair_encoding, self.device = pair_encoding, torch.device(device)
        # 'fp32' or 'bf16' (autocast around the forward and loss; weights, gradients and AdamW stay fp32)
        self.precision = precision or resolve_precision(cfg.precision, self.device)
        self.callbacks, self.max_consecutive_nonfinite, self.log_every = list(callbacks), max_consecutive_nonfinite, log_every
        self.model.to(self.device)
        if isinstance(objective, torch.nn.Module):
            objective.to(self.device)  # regularizers with state (the MBPP teacher) live there
        self.params = [p for p in model.parameters() if p.requires_grad]
        # param_groups: optional AdamW groups ({"params": [...], "lr": ...}); default one group at cfg.lr
        groups = param_groups or [{"params": self.params}]
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.state = TrainState()
        # wall clock: this process's since here, plus what earlier processes spent up to their last checkpoint
        self._clock, self.resumed_wall_seconds = time.perf_counter(), 0.0
        self._total_steps: int | None = None
        self.checkpointed_step: int | None = None      # the step of the last checkpoint saved or resumed from
        self.fingerprint = state_fingerprint(model, belongs_to if belongs_to is not None else asdict(cfg))

    # -- schedule ---------------------------------------------------------------
    def schedule(self, epoch: int) -> list[tuple[str, list[int]]]:
        seed = self.cfg.seed + epoch
        per_task = {t: d.batches(self.cfg.batch_size, shuffle=True, seed=seed) for t, d in self.train_data.items()}
        return epoch_schedule(per_task, self.cfg.sampler, seed, self.cfg.sampler_temperature)

    def total_steps(self) -> int:
        per_epoch = len(self.schedule(0))
        total = per_epoch * self.cfg.epochs
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    def lr_factor(self, step: int) -> float:
        """The learning rate's multiplier at optimizer step ``step`` (0-based). A pure function of
        the step, so a resumed run needs no scheduler state."""
        if self.cfg.lr_schedule == "constant":
            return 1.0
        total = self._total_steps                  # set by fit(), which has built the schedule once
        warmup = int(self.cfg.warmup_ratio * total)
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    # -- checkpoints --------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if self.out_dir is None or not distributed.is_main():
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.state.wall_seconds = self.resumed_wall_seconds + time.perf_counter() - self._clock
        atomic_torch_save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                           "objective": self._objective_state(), "state": asdict(self.state), "rng": _rng_state(),
                           "fingerprint": self.fingerprint},
                          self.out_dir / CHECKPOINT)
        self.checkpointed_step = self.state.global_step

    def interrupted_message(self) -> str:
        """What an interrupt says: where training stopped and where running again resumes it."""
        where = f"training interrupted at step {self.state.global_step} of {self._total_steps}"
        if self.checkpointed_step is None:
            return (f"{where}, before its first checkpoint: running it again starts over (a checkpoint is saved "
                    f"every {self.cfg.checkpoint_every} steps and at each epoch's end)")
        return (f"{where}: running it again resumes from step {self.checkpointed_step}, its last checkpoint "
                f"({self.out_dir / CHECKPOINT})")

    def _objective_state(self) -> dict | None:
        return self.objective.state_dict() if isinstance(self.objective, torch.nn.Module) else None

    def try_resume(self) -> bool:
        path = self.out_dir / CHECKPOINT if self.out_dir else None
        if path is None or not path.exists():
            return False
        try:
            ckpt = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as e:              # cut short (a full disk, a kill mid-copy): never resumed, never fatal
            if distributed.is_main():
                path.replace(path.with_name(path.name + ".damaged"))
                (self.out_dir / BEST).unlink(missing_ok=True)
            print(f"[quarbert] {path} is damaged ({type(e).__name__}: {str(e)[:80]}): set aside as "
                  f"{path.name}.damaged, training from the start")
            return False
        if ckpt.get("fingerprint") != self.fingerprint:
            # written for another config or model: resuming would train (or skip training) the wrong weights
            if distributed.is_main():
                for stale in (path, self.out_dir / BEST):
                    stale.unlink(missing_ok=True)
            print(f"[quarbert] {path} was written for another config or encoder: not resumed, training from the start")
            return False
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("objective") is not None:
            self.objective.load_state_dict(ckpt["objective"])
        self.state = TrainState(**ckpt["state"])
        # a resumed run's wall includes its earlier processes' (up to their last checkpoint; the steps after it are
        # trained again here): without it, a run resumed late recorded less wall time than training time
        self._clock, self.resumed_wall_seconds = time.perf_counter(), self.state.wall_seconds
        _set_rng_state(ckpt["rng"])
        self.checkpointed_step = self.state.global_step
        print(f"[quarbert] resumed from {path} at epoch {self.state.epoch}, step {self.state.global_step}")
        return True

    # -- loop -----------------------------------------------------------------------
    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _step(self, task: str, idx: list[int]) -> float | None:
        rows = distributed.shard(idx)      # all of idx in one process; this rank's slice under torchrun
        self.optimizer.zero_grad(set_to_none=True)
        loss = None
        if rows:
            batch = self._to_device(self.train_data[task].collate(rows, self.pair_encoding))
            with autocast(self.device, self.precision):
                loss = self.objective(self.model, task, batch)
        finite = loss is None or bool(torch.isfinite(loss))
        if not distributed.all_finite(finite, self.device):
            return None
        if loss is not None:
            loss.backward()
        distributed.average_gradients(self.params, len(rows) / len(idx))
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        factor = self.lr_factor(self.state.global_step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        self.optimizer.step()
        if not bool(torch.stack([p.isfinite().all() for p in self.params]).all()):
            raise NonFiniteLossError(
                f"the weights became non-finite at step {self.state.global_step + 1} (its loss, "
                f"{loss.item() if loss is not None else 0.0:.4g}, was finite): the step was too large; lower train.lr "
                f"({self.cfg.lr:g}) or train.head_lr, or set train.grad_clip; the last good checkpoint is kept in "
                f"{self.out_dir}")
        if hasattr(self.objective, "after_step"):
            self.objective.after_step(self.model)  # e.g. the MBPP teacher's EMA update
        return loss.item() if loss is not None else 0.0

    def _evaluate(self) -> None:
        if self.evaluate is None or not distributed.is_main():
            return
        t0 = time.perf_counter()
        self.model.eval()
        metrics = self.evaluate(self.model)
        self.model.train()
        self.state.eval_seconds += time.perf_counter() - t0
        score = self.score(metrics)
        if not math.isfinite(score):        # never "best", never a finished run's score
            raise NonFiniteLossError(
                f"the dev score is {score} at step {self.state.global_step} (epoch {self.state.epoch}): the model's "
                f"outputs are not finite; lower train.lr ({self.cfg.lr:g}) or set train.grad_clip")
        self.state.history.append({"kind": "eval", "epoch": self.state.epoch, "step": self.state.global_step,
                                   "train_seconds": round(self.state.train_seconds, 1), "score": score, **metrics})
        if score > self.state.best_score:
            self.state.best_score, self.state.best_step = score, self.state.global_step
            if self.out_dir is not None:
                atomic_torch_save(self.model.state_dict(), self.out_dir / BEST)

    def fit(self) -> TrainState:
        """Train to the end of the budget (resuming if a checkpoint exists); load the best weights."""
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.try_resume()
        self.model.train()
        total, consecutive_bad = self.total_steps(), 0
        self._total_steps = total
        # off on other ranks; elsewhere tqdm's own default, which TQDM_DISABLE sets (core.workers: one bar of runs)
        bar = tqdm(total=total, initial=self.state.global_step, desc="train", unit="step", mininterval=5, leave=False,
                   **({} if distributed.is_main() else {"disable": True}))
        st = self.state
        budget_left = lambda: self.cfg.max_steps is None or self.state.global_step < self.cfg.max_steps  # noqa: E731
        try:
            while self.state.epoch < self.cfg.epochs and budget_left():
                schedule = self.schedule(self.state.epoch)
                while self.state.step_in_epoch < len(schedule) and budget_left():
                    task, idx = schedule[self.state.step_in_epoch]
                    t0 = time.perf_counter()
                    loss = self._step(task, idx)
                    self.state.train_seconds += time.perf_counter() - t0
                    self.state.step_in_epoch += 1
                    self.state.global_step += 1
                    bar.update(1)
                    if loss is None:
                        self.state.skipped_nonfinite += 1
                        consecutive_bad += 1
                        if consecutive_bad >= self.max_consecutive_nonfinite:
                            raise NonFiniteLossError(
                                f"{consecutive_bad} consecutive non-finite losses (last task {task!r}, step "
                                f"{self.state.global_step}); the last good checkpoint is kept in {self.out_dir}")
                    else:
                        consecutive_bad = 0
                        st.running_loss, st.running_count = st.running_loss + loss, st.running_count + 1
                        total, count = st.running_by_task.get(task, [0.0, 0])
                        st.running_by_task[task] = [total + loss, count + 1]
                    if st.global_step % self.log_every == 0 and st.running_count:
                        mean = st.running_loss / st.running_count
                        # each task's own loss (cross-entropy, BCE, MSE are not on one scale: the mean mixes them)
                        per_task = {f"loss_{t}": s / n for t, (s, n) in st.running_by_task.items() if n}
                        st.history.append({"kind": "train", "epoch": st.epoch, "step": st.global_step, "loss": mean, **per_task})
                        bar.set_postfix(loss=f"{mean:.3f}")
                        st.running_loss, st.running_count, st.running_by_task = 0.0, 0, {}
                    for callback in self.callbacks:
                        callback(self)
                    if self.state.global_step % self.cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                if self.state.step_in_epoch >= len(schedule):
                    self.state.epoch += 1
                    self.state.step_in_epoch = 0
                self._evaluate()
                self.save_checkpoint()
        except KeyboardInterrupt:
            bar.close()
            raise TrainingInterrupted(self.interrupted_message()) from None
        bar.close()
        distributed.barrier()   # rank 0 has written the best weights
        if self.out_dir is not None and (self.out_dir / BEST).exists():
            self.model.load_state_dict(load_weights(self.out_dir / BEST, self.device))
        return self.state

"""Training and inference throughput: the naive path against the project's default path, one
change at a time, and the FLOP floor of a step.

The naive path is the course starter code's: tokenize every batch as it comes, pad every
sentence to 128 tokens, batches in file order, every parameter trainable, evaluation under
``no_grad``. The default path tokenizes once, groups batches by length and pads each to its
own longest row, freezes the word embeddings (cpu profile), and evaluates longest-first
under ``inference_mode``. All paths see the same examples and run the same model and loss.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..base.tasks import TASKS
from ..core.config import ModelConfig
from ..core.data import Example, TaskData
from ..core.model import MultitaskBERT, autocast, load_encoder
from ..losses import TaskLoss

NAIVE_LENGTH = 128


@dataclass
class StepPath:
    """One way to run training or inference steps (a row of bench.csv)."""
    name: str
    tokenize_each_step: bool
    pad_to_max: bool
    length_grouped: bool
    freeze_word_embeddings: bool
    help: str
    attn: str = "sdpa"
    precision: str = "fp32"
    batch_size: int | None = None     # None: the profile's
    compile: bool = False             # torch.compile the model (dynamic shapes)
    pair_batching: bool = False       # both sides of a siamese pair in one encoder call


TRAIN_PATHS = [
    StepPath("naive", True, True, False, False, "course starter: tokenize per step, pad to 128, file order"),
    StepPath("+ tokenize once", False, True, False, False, "token ids cached; still padded to 128"),
    StepPath("+ dynamic padding", False, False, True, False, "length-grouped batches, each padded to its longest row"),
    StepPath("default", False, False, True, True, "+ frozen word embeddings (the cpu profile's default)"),
    StepPath("default, eager attention", False, False, True, True, "the default with eager instead of SDPA attention",
          attn="eager"),
    StepPath("default, torch.compile", False, False, True, True,
             "the default, the model compiled by torch.compile (inductor, dynamic shapes)", compile=True),
]
NAIVE_PATH, DEFAULT_PATH = TRAIN_PATHS[0], TRAIN_PATHS[3]   # the inference rows compare these two
# On a CUDA GPU only (bf16 autocast runs ~6x slower than fp32 on this CPU). Batch 64 and pairs in
# one call too: at batch 16 a bert-base step on an H200 is bound by kernel launches, not by
# arithmetic (on this FLOP-bound CPU, padding both sides to the longer one did not pay).
GPU_TRAIN_PATHS = [StepPath("default, bf16 autocast", False, False, True, True,
                            "the default under bf16 autocast (fp32 weights and optimizer)", precision="bf16"),
                   StepPath("default, batch 64", False, False, True, True, "the default with batches of 64",
                            batch_size=64),
                   StepPath("default, bf16 autocast, batch 64", False, False, True, True,
                            "bf16 autocast with batches of 64", precision="bf16", batch_size=64),
                   StepPath("default, pairs in one call", False, False, True, True,
                            "the default, both sides of a siamese pair encoded in one (2B, T) call", pair_batching=True)]


def sentences_in(task: str, n_examples: int) -> int:
    return n_examples * (2 if TASKS[task].is_pair else 1)


def naive_collate(tokenizer, task: str, examples: list[Example]) -> dict:
    """The starter code's batch: the tokenizer run now, every row padded to 128 tokens."""
    def encode(texts):
        return tokenizer(texts, padding="max_length", max_length=NAIVE_LENGTH, truncation=True, return_tensors="pt")
    one = encode([e.sentence1 for e in examples])
    batch = {"input_ids": one["input_ids"], "attention_mask": one["attention_mask"]}    # (B, 128)
    if TASKS[task].is_pair:
        two = encode([e.sentence2 for e in examples])
        batch |= {"input_ids_2": two["input_ids"], "attention_mask_2": two["attention_mask"]}
    if examples[0].label is not None:
        dtype = torch.long if TASKS[task].kind == "classify" else torch.float32
        batch["labels"] = torch.tensor([e.label for e in examples], dtype=dtype)
    return batch


def batch_makers(path: StepPath, tokenizer, sample: dict[str, TaskData], batch_size: int,
                 training: bool) -> list[tuple[str, int, Callable[[], dict]]]:
    """[(task, sentences, make_batch)] in step order; make_batch runs inside the timed region,
    because tokenizing and padding are part of what a path costs."""
    out = []
    for task, data in sample.items():
        if path.length_grouped:
            order = data.batches(batch_size, shuffle=training, seed=0)
        else:
            idx = list(range(len(data)))
            order = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
        for rows in order:
            if path.tokenize_each_step:
                make = (lambda r=rows, t=task, d=data: naive_collate(tokenizer, t, [d.examples[i] for i in r]))
            elif path.pad_to_max:
                make = (lambda r=rows, d=data: _pad_to(d.collate(r), NAIVE_LENGTH, d.pad_id))
            else:
                make = (lambda r=rows, d=data: d.collate(r))
            out.append((task, sentences_in(task, len(rows)), make))
    # round-robin over tasks, as the default sampler does
    by_task = {t: [m for m in out if m[0] == t] for t in sample}
    return [m for group in zip(*by_task.values()) for m in group]


def _pad_to(batch: dict, width: int, pad_id: int) -> dict:
    """Right-pad every (B, T) tensor of a batch to (B, width)."""
    out = {}
    for k, v in batch.items():
        if v.dim() == 2:
            fill = pad_id if k.startswith("input_ids") else 0
            v = torch.nn.functional.pad(v, (0, width - v.shape[1]), value=fill)
        out[k] = v
    return out


def fresh_model(encoder: str, tasks: list[str], freeze_word_embeddings: bool, attn: str = "sdpa",
                device: torch.device | str = "cpu", pair_batching: bool = False) -> MultitaskBERT:
    enc, _ = load_encoder(encoder, attn_implementation=attn)
    torch.manual_seed(0)
    model = MultitaskBERT(enc, tasks, ModelConfig(encoder=encoder, freeze_word_embeddings=freeze_word_embeddings,
                                                  pair_batching=pair_batching))
    return model.to(device)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so that a timer measures it (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def train_pass(model, steps, optimizer, losses, device: torch.device | str = "cpu", precision: str = "fp32") -> float:
    """Seconds for one pass of training steps (batch building and the copy to ``device`` included)."""
    model.train()
    synchronize(device)
    t0 = time.perf_counter()
    for task, _, make in steps:
        batch = {k: v.to(device, non_blocking=True) for k, v in make().items()}
        with autocast(device, precision):
            loss = losses[task](model(task, batch), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - t0


def infer_pass(model, steps, inference_mode: bool, device: torch.device | str = "cpu", precision: str = "fp32") -> float:
    model.eval()
    synchronize(device)
    t0 = time.perf_counter()
    with (torch.inference_mode() if inference_mode else torch.no_grad()), autocast(device, precision):
        for task, _, make in steps:
            batch = {k: v.to(device, non_blocking=True) for k, v in make().items() if k != "labels"}
            model(task, batch)
    synchronize(device)
    return time.perf_counter() - t0


# The passes a SMART step is made of (quarbert_lib.losses.SmartRegularizer), each timed over the
# same batches: 'forward' builds the autograd graph in train mode; 'backward' reaches every
# trainable parameter (the clean and adversarial passes); 'backward to embeddings' reaches the
# perturbation only (the ascent step); 'forward, eval mode' drops dropout.
PASSES = ("forward", "forward + backward", "forward + backward to embeddings", "forward, eval mode")


def pass_seconds(model, steps, kind: str, device: torch.device | str = "cpu") -> float:
    """Seconds of one pass of ``kind`` (from PASSES) over ``steps``, batches built beforehand.
    The loss is the squared output (the passes' cost does not depend on which loss)."""
    batches = [(task, {k: v.to(device) for k, v in make().items() if k != "labels"}) for task, _, make in steps]
    model.train(kind != "forward, eval mode")
    synchronize(device)
    t0 = time.perf_counter()
    for task, batch in batches:
        embeds = {k: e.detach().requires_grad_(kind.endswith("to embeddings"))
                  for k, e in model.input_embeddings(batch).items()}
        loss = model(task, batch, inputs_embeds=embeds).float().pow(2).sum()
        if kind == "forward + backward":
            model.zero_grad(set_to_none=True)
            loss.backward()
        elif kind.endswith("to embeddings"):
            torch.autograd.grad(loss, list(embeds.values()))
    synchronize(device)
    return time.perf_counter() - t0


def median_seconds(run: Callable[[], float], reps: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        run()
    return statistics.median(run() for _ in range(reps))


def matmul_flops(fn: Callable[[], None]) -> int:
    """FLOPs of the matrix products (mm, bmm, addmm, SDPA, ...) that ``fn`` runs, forward and
    backward, as torch's FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def gemm_rate(n: int = 1536, reps: int = 10, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of an n x n matrix product on ``device``, median of ``reps`` after a warm-up."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def throughput(encoder: str, tokenizer, sample: dict[str, TaskData], batch_size: int = 16,
               eval_batch_size: int = 64, reps: int = 3, rates: dict[str, float] | None = None,
               infer_sample: dict[str, TaskData] | None = None, device: torch.device | str = "cpu",
               bf16: bool | None = None) -> list[dict]:
    """Rows of bench.csv: sentences/s of each training path and of naive vs default inference,
    plus the FLOP floor of each training path (matrix FLOPs / GEMM rate) and the share reached.
    Inference runs over ``infer_sample`` (default: ``sample``): it should hold several eval
    batches per task, as a dev set does, or longest-first batching has nothing to group.
    With ``bf16`` (default: on a CUDA ``device``) the default path also runs under bf16 autocast,
    its floor taken at the bf16 GEMM rate. ``rates``: {'fp32': FLOP/s, 'bf16': FLOP/s}, measured
    here when missing."""
    infer_sample = infer_sample or sample
    bf16 = torch.device(device).type == "cuda" if bf16 is None else bf16
    rates = dict(rates or {})
    if "fp32" not in rates:
        rates["fp32"] = gemm_rate(device=device)
    if bf16 and "bf16" not in rates:
        rates["bf16"] = gemm_rate(device=device, dtype=torch.bfloat16)
    tasks = list(sample)
    rows, flops_by_path = [], {}
    for path in TRAIN_PATHS + (GPU_TRAIN_PATHS if bf16 else []):
        model = fresh_model(encoder, tasks, path.freeze_word_embeddings, path.attn, device, path.pair_batching)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        losses = {t: TaskLoss(TASKS[t].kind) for t in tasks}
        steps = batch_makers(path, tokenizer, sample, path.batch_size or batch_size, training=True)
        sentences = sum(s for _, s, _ in steps)
        row = {"section": "train", "path": path.name, "sentences": sentences, "steps": len(steps), "note": path.help}
        if path.compile:
            # FlopCounterMode does not see inside compiled kernels: the FLOPs are the eager
            # default's (the same products); the first pass compiles and is timed apart.
            model = torch.compile(model, dynamic=True)
            try:
                first = train_pass(model, steps, optimizer, losses, device, path.precision)
            except Exception as e:   # e.g. no C++ compiler for inductor on this machine
                rows.append(row | {"note": f"torch.compile failed here: {type(e).__name__}: {str(e)[:200]}"})
                continue
            row["note"] += f"; first pass (compiling) {first:.1f} s"
        run = lambda: train_pass(model, steps, optimizer, losses, device, path.precision)  # noqa: E731
        seconds = median_seconds(run, reps, warmup=0 if path.compile else 1)
        flops = flops_by_path["default"] if path.compile else matmul_flops(run)
        flops_by_path[path.name] = flops
        rate = rates[path.precision]
        rows.append(row | {"seconds": seconds, "sentences_per_s": sentences / seconds,
                           "gflop_per_step": flops / len(steps) / 1e9, "floor_seconds": flops / rate,
                           "floor_fraction": flops / rate / seconds})
        del model, optimizer
    infer_paths = [("naive", NAIVE_PATH, False, batch_size), ("default", DEFAULT_PATH, True, eval_batch_size)]
    if bf16:
        infer_paths.append(("default, bf16 autocast", GPU_TRAIN_PATHS[0], True, eval_batch_size))
    for name, path, inference_mode, size in infer_paths:
        model = fresh_model(encoder, tasks, True, path.attn, device)
        steps = batch_makers(path, tokenizer, infer_sample, size, training=False)
        sentences = sum(s for _, s, _ in steps)
        seconds = median_seconds(lambda: infer_pass(model, steps, inference_mode, device, path.precision), reps)
        rows.append({"section": "inference", "path": name, "sentences": sentences, "steps": len(steps),
                     "seconds": seconds, "sentences_per_s": sentences / seconds,
                     "note": ("tokenize per batch, pad to 128, no_grad, batch %d" % size) if name == "naive"
                     else "cached ids, longest-first batches of %d, inference_mode" % size
                     + (", bf16 autocast" if path.precision == "bf16" else "")})
    return rows

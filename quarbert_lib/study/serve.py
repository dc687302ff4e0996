"""Use a trained model: score new sentences and pairs, export a model to a self-contained folder, load it back.

A model source is one of three kinds of folder:

- a **run**: a registry run folder, runs/<profile>/<notebook>/<run>/, complete (metrics.json) with its
  weights: model.pt, or for a LoRA run its adapter/ folder and heads.pt;
- an **ensemble**: a folder with members.json (results.write_members: member run folders relative to the
  registry), such as notebook 07's runs/<profile>/07_quartet_ensemble/ensemble-seed<N>/;
- an **export**: a folder written by ``export``, which needs neither the registry nor the original encoder.

Scores are the registry's own: each member predicts through data.TaskData and evaluate.predict with its run's
max_length, eval batch size, pair encoding and precision, and where several members predict a task their
outputs are averaged by ensemble.combine (class probabilities, paraphrase probability, STS score: the
quartet's plain average). So scoring a run's dev sentences gives its predictions-dev.csv, and scoring
the quartet's gives its ensemble's. LoRA members that share an encoder, pooling and pair encoding are
served from one frozen backbone (lora.LoraQuartet).

Export layout (the Hugging Face layout: ``AutoModel.from_pretrained(folder)`` and
``AutoTokenizer.from_pretrained(folder)`` load the encoder and its tokenizer without this library):

    quarbert.json            format, format_version, kind, and per member: tasks, pooling, pair encoding,
                             STS head, max_length, eval batch size and the run's whole ExperimentConfig
    config.json, model.safetensors, tokenizer files    the encoder (kind 'lora': the frozen backbone)
    heads.safetensors        the task heads (kind 'run')
    adapters/<adapter>/      each member's adapter, PEFT's save_pretrained (kind 'lora')
    heads/<adapter>.safetensors                        each member's heads (kind 'lora')
    <member>/                one export per member (kind 'ensemble'; no encoder at the top)
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from peft import PeftModel
from safetensors.torch import save_file

from ..base.paths import runs_dir
from ..base.tasks import TASKS
from ..core.config import ConfigError, ExperimentConfig
from ..core.data import Example, TaskData
from ..core.evaluate import predict
from ..core.model import MultitaskBERT, load_encoder, load_weights
from ..core.train import BEST
from .ensemble import combine
from .experiment import effective_precision, load_trained
from .lora import ADAPTER_DIR, HEADS_FILE, LoraQuartet, _known_peft_warnings
from .results import RunNotFound, find_run, read_json, run_config, write_json

EXPORT_FILE = "quarbert.json"
EXPORT_FORMAT, EXPORT_VERSION = "quarbert-export", 1
MEMBERS_FILE = "members.json"
HEADS_SAFETENSORS = "heads.safetensors"
ADAPTERS_DIR, MEMBER_HEADS_DIR = "adapters", "heads"
# What save_pretrained writes and an export therefore needs (transformers writes safetensors by default).
ENCODER_FILES = ("config.json", "model.safetensors", "tokenizer_config.json")


class NotAModel(RunNotFound):
    """A folder that is not a run, an ensemble or an export, or that lacks a file it needs (a user error:
    the message names the folder and the file)."""


class InputError(ConfigError):
    """Inputs that cannot be scored or a destination that cannot be written (a user error: one line)."""


@dataclass
class Member:
    """One model of a scorer. ``model`` predicts ``cfg.tasks``; ``adapter`` is the PEFT adapter to
    activate first when LoRA members share one encoder (None for a plain model)."""
    name: str
    cfg: ExperimentConfig
    model: MultitaskBERT
    tokenizer: Any
    adapter: str | None = None

    @property
    def tasks(self) -> list[str]:
        return list(self.cfg.tasks)

    def ready(self) -> MultitaskBERT:
        """The model with this member's adapter active."""
        if self.adapter is not None:
            self.model.encoder.set_adapter(self.adapter)
        return self.model

    def predict(self, task: str, examples: list[Example], device: torch.device | str = "cpu") -> pd.DataFrame:
        """evaluate.predict's frame for ``examples``, batched exactly as the run predicted its splits."""
        data = TaskData(TASKS[task], examples, self.tokenizer, self.cfg.data.max_length)
        return predict(self.ready(), data, task, self.cfg.train.eval_batch_size, self.cfg.model.pair_encoding,
                       device, effective_precision(self.cfg, device))


class Scorer:
    """Scores sentences and pairs with one model or the average of several (an ensemble).

    ``members``: {name: Member}; ``source``: the folder it was loaded from; ``kind``: 'run', 'ensemble'
    or 'export'. Build one with ``load`` (any folder) or ``load_export``.
    """

    def __init__(self, members: dict[str, Member], source: Path | None = None, kind: str = "run",
                 device: torch.device | str = "cpu"):
        if not members:
            raise ValueError("a scorer needs at least one member")
        self.members, self.source, self.kind, self.device = dict(members), source, kind, device

    @property
    def tasks(self) -> list[str]:
        """The tasks some member predicts, in TASKS order."""
        return [t for t in TASKS if any(t in m.tasks for m in self.members.values())]

    def members_for(self, task: str) -> list[str]:
        return [n for n, m in self.members.items() if task in m.tasks]

    def predict(self, task: str, examples: list[Example]) -> pd.DataFrame:
        """The registry's frame for ``examples`` (id, task, gold, prediction, prob_k / prob / score): one
        member's own, or the members' average by ensemble.combine as the quartet's predictions are made.
        Raises KeyError for a task no member predicts."""
        names = self.members_for(task)
        if not names:
            raise KeyError(f"no member of {self.source or 'this scorer'} predicts {task!r} (tasks: {self.tasks})")
        frames = [self.members[n].predict(task, examples, self.device) for n in names]
        return frames[0] if len(frames) == 1 else combine(frames, task)

    def score(self, sentences: Iterable[str] | None = None,
              pairs: Iterable[Sequence[str]] | None = None) -> pd.DataFrame:
        """One row per input, the sentences first, then the pairs, each in the order given.

        Columns: input ('sentence' or 'pair'), sentence1, sentence2 (None for a sentence), then per task
        of the model (a sentence task's columns are NA on pair rows and the other way round):
        - a sentence task (SST: 5 classes): ``<task>_label`` (the argmax class, 0-4 for SST) and
          ``<task>_prob_0`` .. ``<task>_prob_<C-1>`` (softmax probabilities, summing to 1);
        - paraphrase: ``para_label`` (1 when ``para_prob`` > 0.5) and ``para_prob`` (sigmoid probability);
        - STS: ``sts_score``, the head's output clipped to 0-5 as the course's output files clip it
          (results.write_course_output), and ``sts_raw``, the unclipped output that predictions-*.csv
          hold and the reported Pearson r is computed from.
        ``sentences`` and ``pairs`` may be any iterable (a list, a tuple, a pandas Series, a generator). Raises
        InputError, naming the position, for a bare string where a list is expected, a pair that is not two texts,
        or a value that is not a text (NaN or None from a missing cell, bytes, a number): nothing is scored as
        the text "nan", "None" or "b'...'".
        """
        for name, given in (("sentences", sentences), ("pairs", pairs)):
            if isinstance(given, (str, bytes)):          # iterating it would score each character
                raise InputError(f"{name} must be a list, got the string {given!r}")
        sentences = [_text(s, f"sentences[{i}]") for i, s in enumerate(() if sentences is None else sentences)]
        pairs = [_pair(p, f"pairs[{i}]") for i, p in enumerate(() if pairs is None else pairs)]
        ns, n = len(sentences), len(sentences) + len(pairs)
        out = pd.DataFrame({"input": ["sentence"] * ns + ["pair"] * len(pairs),
                            "sentence1": sentences + [a for a, _ in pairs],
                            "sentence2": [None] * ns + [b for _, b in pairs]})
        for task in self.tasks:
            spec = TASKS[task]
            texts = pairs if spec.is_pair else [(s, None) for s in sentences]
            rows = np.arange(ns, n) if spec.is_pair else np.arange(ns)
            frame = self.predict(task, [Example(str(i), a, b) for i, (a, b) in enumerate(texts)]) if texts else None
            for column, values, dtype in _task_columns(task, frame):
                out[column] = _spread(n, rows, values, dtype)
        return out


def _text(value, where: str) -> str:
    """``value`` when it is a text; else InputError naming ``where`` (a missing cell's NaN or None, bytes, a
    number would otherwise be scored as its printed form)."""
    if not isinstance(value, str):
        hint = ("a missing value: drop or fill the missing rows first" if value is None or
                (isinstance(value, float) and value != value) else
                "bytes: decode them first (e.g. value.decode('utf-8'))" if isinstance(value, bytes) else
                "not a text")
        raise InputError(f"{where} is {value!r} ({type(value).__name__}), {hint}")
    return value


def _pair(p, where: str = "a pair") -> tuple[str, str]:
    """(s1, s2) of one pair; a bare string is refused, since it would unpack as characters."""
    if isinstance(p, (str, bytes)) or not hasattr(p, "__len__") or len(p) != 2:
        raise InputError(f"{where} must be two sentences, got {p!r}")
    first, second = p
    return _text(first, f"{where}[0]"), _text(second, f"{where}[1]")


def _task_columns(task: str, frame: pd.DataFrame | None) -> list[tuple[str, Any, str]]:
    """(column, values or None, dtype) of one task's answers in ``Scorer.score``."""
    spec = TASKS[task]
    get = (lambda c: None) if frame is None else (lambda c: frame[c].to_numpy())  # noqa: E731
    if spec.kind == "classify":
        return [(f"{task}_label", get("prediction"), "Int64")] + \
               [(f"{task}_prob_{k}", get(f"prob_{k}"), "float64") for k in range(spec.num_labels)]
    if spec.kind == "binary":
        return [(f"{task}_label", get("prediction"), "Int64"), (f"{task}_prob", get("prob"), "float64")]
    raw = get("score")
    clipped = None if raw is None else np.clip(raw.astype("float64"), *spec.label_range)
    return [(f"{task}_score", clipped, "float64"), (f"{task}_raw", raw, "float64")]


def _spread(n: int, rows: np.ndarray, values, dtype: str) -> pd.Series:
    """A column of length ``n``: ``values`` at ``rows``, NA elsewhere (float32 outputs widen exactly)."""
    full = [None] * n
    for row, value in zip(rows, [] if values is None else values):
        full[row] = value
    return pd.Series(full, dtype=dtype)


# ---------------------------------------------------------------- loading from the registry

def folder_kind(folder: Path) -> str:
    """'export', 'ensemble' or 'run' by the file that marks each; NotAModel for any other folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotAModel(f"{folder}: no such folder")
    for name, kind in ((EXPORT_FILE, "export"), (MEMBERS_FILE, "ensemble"), ("config.json", "run")):
        if (folder / name).is_file():
            return kind
    raise NotAModel(f"{folder} is not a run, an ensemble or an export: it has no config.json (a run), "
                    f"{MEMBERS_FILE} (an ensemble) or {EXPORT_FILE} (an export)")


def resolve(source: str | os.PathLike, profile: str = "cpu", encoder: str = "minilm-l6") -> Path:
    """The folder of ``source``: an existing path as is; otherwise a registry name, a complete run
    (results.find_run) or else an ensemble folder (members.json) of ``profile`` whose members all use
    ``encoder``. Raises NotAModel when neither is found."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    name = str(source)
    if "/" in name or os.sep in name:
        raise NotAModel(f"{path}: no such folder")
    try:
        return find_run(name, profile, encoder)
    except RunNotFound:
        pass
    for members in sorted((runs_dir() / profile).glob(f"*/*/{MEMBERS_FILE}")):
        if members.parent.name == name and _members_use(members.parent, encoder):
            return members.parent
    raise NotAModel(f"no complete run or ensemble {name!r} ({profile}, {encoder}) under {runs_dir()}: train it "
                    "first (its notebook), give its folder, or pick another --profile / --encoder")


def _members_use(ensemble_dir: Path, encoder: str) -> bool:
    try:
        folders = read_members(ensemble_dir)
    except NotAModel:
        return False
    return all((f / "metrics.json").is_file() and read_json(f / "metrics.json").get("encoder") == encoder
               for f in folders.values())


def read_members(ensemble_dir: Path) -> dict[str, Path]:
    """{member: run folder} of an ensemble folder's members.json (paths relative to the registry, or
    absolute). Raises NotAModel naming a member whose folder is missing."""
    ensemble_dir = Path(ensemble_dir)
    listed = read_json(ensemble_dir / MEMBERS_FILE)
    if not isinstance(listed, dict) or not listed:
        raise NotAModel(f"{ensemble_dir / MEMBERS_FILE}: expected {{member: run folder}}, got {listed!r}")
    members = {name: runs_dir() / rel for name, rel in listed.items()}
    for name, folder in members.items():
        if not folder.is_dir():
            raise NotAModel(f"{ensemble_dir / MEMBERS_FILE}: member {name!r} is {folder}, which does not exist "
                            f"(members are relative to the registry {runs_dir()}; QUARBERT_RUNS moves it)")
    return members


def _run_config(folder: Path) -> ExperimentConfig:
    """A complete run's config, after checking that the files loading it needs are there."""
    for name, why in (("config.json", "a run's config"), ("metrics.json", "written when a run completes")):
        if not (folder / name).is_file():
            raise NotAModel(f"run {folder} has no {name} ({why}): finish training it first")
    cfg = run_config(folder)
    needed = [f"{ADAPTER_DIR}/adapter_config.json", HEADS_FILE] if cfg.lora.enabled else [BEST]
    for rel in needed:
        if not (folder / rel).is_file():
            raise NotAModel(f"run {folder} has no {rel}, its weights: a run restored from its record keeps "
                            "results only; retrain it (force=True) to score with it")
    return cfg


def _adapter_name(name: str, taken: set[str]) -> str:
    """A PEFT adapter name for a member: module names hold no '.', and 'default' would be saved unnamed."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    safe = "member" if safe in ("", "default") else safe
    out, i = safe, 1
    while out in taken:
        out, i = f"{safe}_{i}", i + 1
    taken.add(out)
    return out


def load_runs(folders: dict[str, Path], device: torch.device | str = "cpu") -> dict[str, Member]:
    """Members from registry run folders. A plain run loads through experiment.load_trained (its best
    weights); LoRA runs that share encoder, pooling and pair encoding load onto one backbone
    (lora.LoraQuartet), each with its adapter and heads. Raises NotAModel for a folder without weights."""
    configs = {name: _run_config(Path(folder)) for name, folder in folders.items()}
    members: dict[str, Member] = {}
    groups: dict[tuple, dict[str, str]] = {}       # backbone -> {adapter: member}
    taken: set[str] = set()
    for name, cfg in configs.items():
        if cfg.lora.enabled:
            key = (cfg.model.encoder, cfg.model.pooling, cfg.model.pair_encoding)
            groups.setdefault(key, {})[_adapter_name(name, taken)] = name
        else:
            cfg, model, tokenizer = load_trained(Path(folders[name]), device)
            members[name] = Member(name, cfg, model, tokenizer)
    for group in groups.values():
        quartet = LoraQuartet({a: (Path(folders[n]), configs[n]) for a, n in group.items()}).to(device)
        for adapter, name in group.items():
            members[name] = Member(name, configs[name], quartet.members[adapter], quartet.tokenizer, adapter)
    return {name: members[name] for name in folders}   # members.json's order


def load_ensemble(folders: dict[str, str | os.PathLike], device: torch.device | str = "cpu") -> Scorer:
    """A scorer averaging the given registry runs {member: run folder}, as an ensemble folder's members.json
    would list them (the LoRA quartet of notebook 08, which writes no members.json, for instance)."""
    return Scorer(load_runs({name: Path(f) for name, f in folders.items()}, device), None, "ensemble", device)


def load(source: str | os.PathLike, device: torch.device | str = "cpu") -> Scorer:
    """A scorer from a run folder, an ensemble folder or an export folder (see the module's docstring).
    Raises NotAModel for any other folder or one that lacks a file it needs."""
    folder = Path(source)
    kind = folder_kind(folder)
    if kind == "export":
        return load_export(folder, device)
    folders = read_members(folder) if kind == "ensemble" else {folder.name: folder}
    return Scorer(load_runs(folders, device), folder, kind, device)


# ---------------------------------------------------------------- exports

def read_manifest(folder: Path) -> dict:
    """An export's quarbert.json, checked: its format and version, and each file it names.
    Raises NotAModel naming the folder and what is missing or wrong."""
    folder = Path(folder)
    path = folder / EXPORT_FILE
    if not folder.is_dir():
        raise NotAModel(f"{folder}: no such folder")
    if not path.is_file():
        raise NotAModel(f"{folder} is not an export: it has no {EXPORT_FILE} (`python -m quarbert_lib export "
                        "RUN DEST` writes one)")
    try:
        manifest = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NotAModel(f"{path} is not JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise NotAModel(f"{path} is not a QuarBERT export (no \"format\": \"{EXPORT_FORMAT}\")")
    if manifest.get("format_version") != EXPORT_VERSION:
        raise NotAModel(f"{path} has format_version {manifest.get('format_version')!r}; this library reads "
                        f"version {EXPORT_VERSION}: export the run again with this version")
    kind = manifest.get("kind")
    if kind not in ("run", "lora", "ensemble"):
        raise NotAModel(f"{path}: unknown kind {kind!r} (expected 'run', 'lora' or 'ensemble')")
    members = manifest.get("members")
    if not isinstance(members, dict) or not members:
        raise NotAModel(f"{path}: no members")
    needed = [] if kind == "ensemble" else list(ENCODER_FILES)
    keys = {"ensemble": ("folder",), "run": ("heads", "config"), "lora": ("heads", "config", "adapter", "adapter_name")}
    for name, entry in members.items():
        lacking = [k for k in keys[kind] if not isinstance(entry, dict) or k not in entry]
        if lacking:
            raise NotAModel(f"{path}: member {name!r} has no {', '.join(lacking)}")
        needed += [entry["folder"] + "/" + EXPORT_FILE] if kind == "ensemble" else [entry["heads"]]
        if kind == "lora":
            needed.append(entry["adapter"] + "/adapter_config.json")
    for rel in needed:
        if not (folder / rel).is_file():
            raise NotAModel(f"export {folder} is incomplete: it has no {rel}")
    return manifest


def load_export(folder: str | os.PathLike, device: torch.device | str = "cpu") -> Scorer:
    """A scorer from an export folder alone: no registry, no access to the original encoder.
    Raises NotAModel for a folder that is not a complete export."""
    folder = Path(folder)
    return Scorer(_export_members(folder, device), folder, "export", device)


def _export_members(folder: Path, device) -> dict[str, Member]:
    manifest = read_manifest(folder)
    entries, kind = manifest["members"], manifest["kind"]
    if kind == "ensemble":
        members = {}
        for name, entry in entries.items():
            inner = _export_members(folder / entry["folder"], device)
            for sub, m in inner.items():
                key = name if len(inner) == 1 else f"{name}/{sub}"
                members[key] = Member(key, m.cfg, m.model, m.tokenizer, m.adapter)
        return members
    # the absolute path: load_encoder reads the alias 'minilm-l6' as the packaged model, never a folder
    encoder, tokenizer = load_encoder(str(folder.resolve()))
    if kind == "lora":
        adapters = {name: entry["adapter_name"] for name, entry in entries.items()}
        first = next(iter(entries))
        with _known_peft_warnings():
            encoder = PeftModel.from_pretrained(encoder, str(folder / entries[first]["adapter"]),
                                                adapter_name=adapters[first])
            for name in list(entries)[1:]:
                encoder.load_adapter(str(folder / entries[name]["adapter"]), adapter_name=adapters[name])
    members = {}
    for name, entry in entries.items():
        cfg = ExperimentConfig.from_dict(entry["config"])
        model = MultitaskBERT(encoder, cfg.tasks, cfg.model)       # LoRA members share the one encoder
        model.heads.load_state_dict(load_weights(folder / entry["heads"]))
        members[name] = Member(name, cfg, model.to(device).eval(), tokenizer,
                               entry["adapter_name"] if kind == "lora" else None)
    return members


def _describe(member: Member) -> dict:
    """What a reader of quarbert.json needs at a glance, beside the full config."""
    cfg = member.cfg
    return {"tasks": member.tasks, "pooling": cfg.model.pooling, "pair_encoding": cfg.model.pair_encoding,
            "sts_head": cfg.model.sts_head, "max_length": cfg.data.max_length,
            "eval_batch_size": cfg.train.eval_batch_size, "encoder_source": cfg.model.encoder,
            "config": cfg.to_dict()}


def _manifest(kind: str, members: dict, source) -> dict:
    return {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "kind": kind,
            "tasks": [t for t in TASKS if any(t in m.get("tasks", []) for m in members.values())],
            "source": None if source is None else str(source), "members": members}


def _save_heads(model: MultitaskBERT, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.heads.state_dict().items()}, str(path))


def _write_run(name: str, m: Member, folder: Path, source) -> None:
    m.model.encoder.save_pretrained(folder)
    m.tokenizer.save_pretrained(folder)
    _save_heads(m.model, folder / HEADS_SAFETENSORS)
    write_json(folder / EXPORT_FILE, _manifest("run", {name: {**_describe(m), "heads": HEADS_SAFETENSORS}}, source))


def _write_lora(members: dict[str, Member], folder: Path, source) -> None:
    """One backbone (the PEFT encoder with its adapters unloaded), each adapter and each member's heads."""
    first = next(iter(members.values()))
    peft_encoder = first.model.encoder
    # unload() strips the adapters in place: a copy keeps the scorer usable
    copy.deepcopy(peft_encoder).unload().save_pretrained(folder)
    first.tokenizer.save_pretrained(folder)
    entries = {}
    for name, m in members.items():
        with _known_peft_warnings():
            # PEFT writes a named adapter to <directory>/<adapter> (never named 'default': see _adapter_name)
            peft_encoder.save_pretrained(str(folder / ADAPTERS_DIR), selected_adapters=[m.adapter])
        heads = f"{MEMBER_HEADS_DIR}/{m.adapter}.safetensors"
        _save_heads(m.model, folder / heads)
        entries[name] = {**_describe(m), "adapter_name": m.adapter, "adapter": f"{ADAPTERS_DIR}/{m.adapter}",
                         "heads": heads}
    write_json(folder / EXPORT_FILE, _manifest("lora", entries, source))


def _write(members: dict[str, Member], folder: Path, source) -> None:
    """One export of ``members`` in ``folder``: kind 'lora' when all are adapters on one encoder (a single
    LoRA member too), 'run' for a single plain member, else 'ensemble' with one export per member."""
    one_backbone = len({id(m.model.encoder) for m in members.values()}) == 1
    if one_backbone and all(m.adapter is not None for m in members.values()):
        _write_lora(members, folder, source)
    elif len(members) == 1:
        name, m = next(iter(members.items()))
        _write_run(name, m, folder, source)
    else:
        entries, taken = {}, set()
        for name, m in members.items():
            sub = _adapter_name(name, taken)          # a folder name as safe as an adapter name
            _write({name: m}, folder / sub, None)
            entries[name] = {"folder": sub, "tasks": m.tasks}
        write_json(folder / EXPORT_FILE, _manifest("ensemble", entries, source))


def export(source: str | os.PathLike | Scorer, dest: str | os.PathLike, device: torch.device | str = "cpu") -> Path:
    """Write ``source`` (a run, ensemble or export folder, or a Scorer) to ``dest`` as a self-contained
    export (layout: the module's docstring); return ``dest``. A plain run becomes kind 'run'; LoRA runs
    on one backbone (a LoRA run, the LoRA quartet) kind 'lora'; any other ensemble kind 'ensemble', one
    export per member. Written beside ``dest`` and renamed into place, so ``dest`` is never partial.
    Raises InputError when ``dest`` exists and is not empty, NotAModel for a source that is no model."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"export destination {dest} already exists and is not an empty folder: give a new one")
    scorer = source if isinstance(source, Scorer) else load(source, device)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write(scorer.members, tmp, scorer.source)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------- printing

def _fmt(value, digits: int = 4) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def to_table(scores: pd.DataFrame, width: int = 64) -> str:
    """``Scorer.score``'s frame as a fixed-width table: one row per input, for each task its label and
    probabilities (4 decimals) or its clipped STS score; cells that do not apply are blank."""
    tasks = [t for t in TASKS if any(c.startswith(f"{t}_") for c in scores.columns)]
    rows = []
    for i, r in enumerate(scores.to_dict("records"), start=1):
        text = r["sentence1"] if r["input"] == "sentence" else f"{r['sentence1']} | {r['sentence2']}"
        row = {"#": i, "input": _short(text, width)}
        for t in tasks:
            spec = TASKS[t]
            if spec.kind == "classify":
                row[t] = "" if pd.isna(r[f"{t}_label"]) else str(int(r[f"{t}_label"]))
                row[f"{t} p(0..{spec.num_labels - 1})"] = " ".join(
                    _fmt(r[f"{t}_prob_{k}"]) for k in range(spec.num_labels)).strip()
            elif spec.kind == "binary":
                row[t] = "" if pd.isna(r[f"{t}_label"]) else str(int(r[f"{t}_label"]))
                row[f"{t} p"] = _fmt(r[f"{t}_prob"])
            else:
                row[f"{t} 0-5"] = _fmt(r[f"{t}_score"])
        rows.append(row)
    table = _fixed_width(rows) if rows else "(no inputs)"
    if any(TASKS[t].kind == "regress" for t in tasks):
        table += ("\nSTS scores are clipped to 0-5 as in the course's output files; --json also gives the "
                  "unclipped head output (sts_raw).")
    return table


def _fixed_width(rows: list[dict]) -> str:
    """Left-aligned columns two spaces apart, a header line first."""
    columns = list(rows[0])
    cells = [[str(c) for c in columns]] + [[str(r[c]) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in cells)


def to_json_lines(scores: pd.DataFrame) -> str:
    """One JSON object per input: ``Scorer.score``'s columns without the NA ones (a sentence has no
    sentence2 and no pair answers); labels as integers, probabilities and scores as floats."""
    lines = []
    for r in scores.to_dict("records"):
        record = {}
        for key, value in r.items():
            if pd.isna(value):
                continue
            record[key] = int(value) if key.endswith("_label") else value if isinstance(value, str) else float(value)
        lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
    return "\n".join(lines)

"""Notebook 08's measurements of the LoRA quartet that need its weights: the parameter split (backbone, adapters,
heads), the checks that the quartet on one backbone answers as its training runs did, and serving costs.

Weights are not committed (records hold configs, metrics and predictions), so a clone has none: the notebook
measures once where the weights are on this machine and saves the tables (``MEASURED``), and afterwards, and
elsewhere, reads the saved tables, as it reads any other record. ``measure=True`` in the notebook measures again.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..base.errors import UserError
from ..core.evaluate import predict
from ..core.model import load_encoder
from ..core.train import BEST
from . import results
from .experiment import load_task_data, load_trained
from .lora import ADAPTER_DIR, HEADS_FILE, LoraQuartet

# What a measuring run of notebook 08 saves under reports/tables and a run without weights reads back.
MEASURED = ("lora_params.csv", "lora_checks.csv", "ensemble_cost.csv")


def missing_weights(folders: dict[str, Path]) -> list[str]:
    """The files a measurement needs that are not on this machine: each run's best weights (model.pt) and, for a
    LoRA run, its adapter folder and heads file. Empty when all are there."""
    missing = []
    for folder in map(Path, folders.values()):
        needed = [folder / BEST] + ([folder / ADAPTER_DIR, folder / HEADS_FILE]
                                    if (folder / ADAPTER_DIR).exists() or "lora" in folder.name else [])
        missing += [str(p) for p in needed if not p.exists()]
    return missing


def should_measure(measure: bool | None, folders: dict[str, Path], setting: dict) -> bool:
    """``measure`` None: measure only where some table of MEASURED holds no row of ``setting`` yet and every
    weight is here (a measurement is a record: a re-execution reads it back, as notebooks 04 and 06 read theirs).
    True: measure, or raise UserError naming the first missing file. False: read the saved tables."""
    missing = missing_weights(folders)
    if measure and missing:
        raise UserError(f"measure=True needs the runs' weights, and {missing[0]} is missing ({len(missing)} files "
                        "in all): retrain notebooks 07 and 08 with force=True, or leave measure=None to read the "
                        "tables a measuring run saved")
    if measure is None:
        return not missing and not all(results.is_measured(name, setting) for name in MEASURED)
    return bool(measure)


def save_measured(measured: dict[str, pd.DataFrame], setting: dict) -> None:
    """Each table of ``measured`` ({name: table}, MEASURED's names) under reports/tables with ``setting`` (profile,
    encoder, recipe, seed, LoRA settings) as columns (results.save_measured), so that a reader finds the
    measurement of its own setting."""
    for name, table in measured.items():
        results.save_measured(name, setting, table)


def read_measured(setting: dict) -> tuple[pd.DataFrame, ...]:
    """The MEASURED tables' rows of ``setting``, in MEASURED's order (results.read_measured: UserError naming the
    table that has none; on a clone, notebook 08 measures where the runs' weights are, measure=True)."""
    return tuple(results.read_measured(name, setting) for name in MEASURED)


def load_quartet(members: dict[str, Path]) -> LoraQuartet:
    """The LoRA quartet of ``members`` ({name: run folder}), each with the config it was trained with."""
    return LoraQuartet({n: (Path(f), load_trained(f)[0]) for n, f in members.items()})


def param_counts(quartet: LoraQuartet) -> pd.DataFrame:
    """One row: parameters of the backbone, the adapters (every ``lora_`` tensor), the heads and the whole
    quartet, each shared tensor counted once."""
    adapters = sum(p.numel() for n, p in quartet.encoder.named_parameters() if "lora_" in n)
    heads = sum(p.numel() for p in quartet.heads.parameters())
    total = sum(p.numel() for p in quartet.parameters())
    return pd.DataFrame([{"backbone": total - adapters - heads, "adapters": adapters, "heads": heads, "total": total}])


def checks(quartet: LoraQuartet, members: dict[str, Path], encoder: str, mixed_task: str = "sts",
           merge_member: str = "multitask") -> pd.DataFrame:
    """Max |difference| of three equalities that should hold to float precision: each member reloaded on the
    shared backbone against its training run's saved dev predictions; one mixed-adapter batch against each
    adapter alone (``mixed_task``: its members ``mixed_task`` and ``merge_member``); and ``merge_member`` with
    its adapter merged into the base weights (``merge_and_unload``) against unmerged."""
    saved = {n: pd.read_csv(Path(f) / "predictions-dev.csv") for n, f in members.items()}
    configs = {n: load_trained(f)[0] for n, f in members.items()}
    _, tokenizer = load_encoder(encoder)
    data, *_ = load_task_data(configs[merge_member], tokenizer)
    rows = []
    for name, cfg in configs.items():
        model = quartet.member(name)
        for task in cfg.tasks:
            again = predict(model, data["dev"][task], task, 64, cfg.model.pair_encoding)
            before = saved[name][saved[name]["task"] == task]["prediction"].to_numpy(dtype=float)
            rows.append({"member": name, "task": task, "check": "reloaded adapter vs training run",
                         "max_abs_diff": float(abs(again["prediction"].to_numpy(dtype=float) - before).max())})
    batch = data["dev"][mixed_task].collate(list(range(8)))
    with torch.inference_mode():
        mixed = quartet.mixed_forward(mixed_task, batch, [mixed_task, merge_member])
        for name in (mixed_task, merge_member):
            alone = quartet.member(name)(mixed_task, batch)
            rows.append({"member": name, "task": mixed_task, "check": "mixed-adapter batch vs adapter alone",
                         "max_abs_diff": float((mixed[name] - alone).abs().max())})
    cfg, unmerged, _ = load_trained(members[merge_member])
    _, merged, _ = load_trained(members[merge_member])
    merged.encoder = merged.encoder.merge_and_unload()
    with torch.inference_mode():
        for task in cfg.tasks:
            b = data["dev"][task].collate(list(range(min(16, len(data["dev"][task])))))
            b = {k: v for k, v in b.items() if k != "labels"}
            rows.append({"member": merge_member, "task": task, "check": "merged vs unmerged",
                         "max_abs_diff": float((merged(task, b) - unmerged(task, b)).abs().max())})
    return pd.DataFrame(rows)

"""One experiment, end to end: config -> data -> model -> Trainer -> registry files.

This is the composition root the notebooks call. It holds no training logic of its own.
From a shell: ``python -m quarbert_lib experiment NOTEBOOK RUN_NAME --config CONFIG.json [--force]``
(or ``--profile cpu --variant smart`` instead of a config file).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..base.errors import UserError
from ..base.notebook import in_kernel
from ..base.notebook import notes as note_stream
from ..base.paths import resolve_data_dir
from ..base.tasks import SENTENCES, overall_score
from ..core import distributed
from ..core.config import ExperimentConfig, TrainConfig
from ..core.data import Example, TaskData, data_identity, load_task, load_task_data
from ..core.evaluate import mean_normalized_score, metrics_of, predict
from ..core.model import build_model, encoder_identity, load_weights, pick_device, resolve_precision
from ..core.train import BEST, CHECKPOINT, NonFiniteLossError, Trainer, check_trainable
from ..core.workers import run_all
from ..losses import MultitaskObjective, SimCSEObjective, SmartRegularizer
from . import ensemble, records, results, smart_strength, tables
from .lora import save_lora
from .recipes import BUDGET_CAPS, BUDGET_RECIPES, variant_config
from .spec import EPOCH_ROWS, DeclaredRun, expand, trained_by


def smart_regularizer(cfg: ExperimentConfig) -> SmartRegularizer:
    """The config's SMART term, its noise generator seeded by the run's seed."""
    return SmartRegularizer.from_config(cfg.smart, seed=cfg.train.seed)


def smart_setting(cfg: ExperimentConfig) -> str:
    """SMART in one line for tables: 'project/word eps=1e-05 lambda=5', 'normalize/embedding r=1 lambda=5', 'off'."""
    sm = cfg.smart
    if not sm.enabled:
        return "off"
    size = f"eps={sm.epsilon:g}" if sm.convention == "project" else f"r={sm.radius:g}"
    return f"{sm.convention}/{sm.space} {size} lambda={sm.weight:g}" + ("" if sm.dropout == "same" else f" dropout={sm.dropout}")


def build_objective(cfg: ExperimentConfig, model: torch.nn.Module) -> MultitaskObjective:
    """The task losses plus the regularizers the config enables, each built by its registered builder from its
    section, in the registry's order (losses.registry: SMART, MBPP, SimCSE, R-Drop), seeded by the run's seed."""
    regularizers = {}
    for entry, section in cfg.regularizer_sections():
        module = entry.build(section, model, cfg.train.seed)
        if module is not None:                  # None: the section is off
            regularizers[entry.name] = module
    return MultitaskObjective(cfg.tasks, regularizers)


def sentence_pool(train: dict[str, TaskData], tokenizer, max_length: int) -> TaskData:
    """Every distinct training sentence of the tasks (both sides of pairs), for the SimCSE stage."""
    seen: dict[str, None] = {}
    for data in train.values():
        for e in data.examples:
            for s in (e.sentence1, e.sentence2):
                if s:
                    seen.setdefault(s)
    return TaskData(SENTENCES, [Example(str(i), s) for i, s in enumerate(seen)], tokenizer, max_length)


def param_groups(model: torch.nn.Module, cfg: ExperimentConfig) -> list[dict] | None:
    """Heads at train.head_lr, everything else at train.lr (None when they are equal)."""
    if cfg.train.head_lr is None or cfg.train.head_lr == cfg.train.lr:
        return None
    heads = [p for p in model.heads.parameters() if p.requires_grad]
    ids = {id(p) for p in heads}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": rest, "lr": cfg.train.lr}, {"params": heads, "lr": cfg.train.head_lr}]


def run_simcse_stage(cfg: ExperimentConfig, model, train: dict[str, TaskData], tokenizer, out_dir: Path,
                     device) -> dict:
    """Unsupervised SimCSE on the training sentences, in the same generic loop (resumable)."""
    sc = cfg.simcse
    stage_cfg = TrainConfig(lr=sc.stage_lr, epochs=1000, max_steps=sc.stage_steps, batch_size=sc.stage_batch_size,
                            grad_clip=cfg.train.grad_clip, seed=cfg.train.seed,
                            checkpoint_every=cfg.train.checkpoint_every, precision=cfg.train.precision)
    pool = sentence_pool(train, tokenizer, cfg.data.max_length)
    stage = Trainer(model, SimCSEObjective(sc.temperature), {"sentences": pool}, stage_cfg, out_dir=out_dir,
                    device=device, belongs_to={"simcse_stage_of": cfg.to_dict()})
    state = stage.fit()
    return {"simcse_sentences": len(pool), "simcse_steps": state.global_step,
            "simcse_seconds": round(state.train_seconds, 1)}


def smart_guard(cfg: ExperimentConfig, model, train: dict[str, TaskData], device) -> dict:
    """SMART's strength at the start of training (smart_strength.measure on each task's first batch) and a
    warning per task where it is inert, for metrics.json. Measuring changes nothing in the run."""
    batches = smart_strength.fixed_batches(train, cfg.train.batch_size, cfg.train.seed, cfg.model.pair_encoding)
    batches = {t: {k: v.to(device) for k, v in b.items()} for t, b in batches.items()}
    rows = smart_strength.measure(model.to(device), smart_regularizer(cfg), batches)
    warnings = smart_strength.inert_warnings(rows)
    for line in warnings:
        print(f"[quarbert] WARNING: {line}", file=sys.stderr)
    return {"smart_strength": {r["task"]: r["grad_ratio"] for r in rows}, "warnings": warnings}


SPLITS = ("dev", "test", "calib")


def effective_precision(cfg: ExperimentConfig, device) -> str:
    """'fp32' or 'bf16': cfg.train.precision on ``device`` (see model.resolve_precision)."""
    return resolve_precision(cfg.train.precision, device, cfg.smart.size if cfg.smart.enabled else None)


def write_predictions(model, data: dict, cfg: ExperimentConfig, path: Path, device,
                      splits: tuple[str, ...] = SPLITS, known: dict | None = None) -> dict[str, dict[str, pd.DataFrame]]:
    """predictions-<split>.csv (with probabilities or scores) for each split that has data, and
    the course's output files for the dev and test splits. ``known``: {split: frames} already
    predicted with these weights."""
    out, precision = {}, effective_precision(cfg, device)
    for split in splits:
        frames = (known or {}).get(split) or {
            t: predict(model, d, t, cfg.train.eval_batch_size, cfg.model.pair_encoding, device, precision)
            for t, d in data[split].items()}
        # as written (fixed precision, results.rounded): the course files and a run restored from its record say the same
        frames = {t: results.rounded(f) for t, f in frames.items()}
        for task, frame in frames.items():
            numbers = frame.drop(columns=["gold"], errors="ignore").select_dtypes("number").to_numpy(float)
            if not np.isfinite(numbers).all():
                raise NonFiniteLossError(f"{path}: {int((~np.isfinite(numbers)).any(axis=1).sum())} of the {len(frame)} "
                                         f"{split} predictions of {task} are not finite: the weights have diverged; the "
                                         "run is not complete (lower train.lr or set train.grad_clip)")
        out[split] = frames
        if frames:
            results.write_csv(path / f"predictions-{split}.csv", pd.concat(frames.values(), ignore_index=True))
        if split in ("dev", "test"):            # the course starter's output files
            for task, frame in frames.items():
                results.write_course_output(path, task, frame, split, ids=[e.id for e in data[split][task].examples])
    return out


def load_trained(path: Path, device: str = "cpu"):
    """(config, model with its best weights, tokenizer) of a finished run folder."""
    cfg = results.run_config(path)
    model, tokenizer = build_model(cfg.tasks, cfg.model, seed=cfg.train.seed, lora=cfg.lora,
                                   max_length=cfg.data.max_length)
    model.load_state_dict(load_weights(Path(path) / BEST, device))
    return cfg, model.to(device).eval(), tokenizer


def ensure_predictions(path: Path, splits: tuple[str, ...] = SPLITS) -> None:
    """Write the prediction files a finished run lacks (runs made before a split existed),
    from its saved best weights: predicting, never retraining. A split none of the run's tasks has data for
    (Quora's test file is absent offline; a run on every training example keeps none back for calibration) is
    not missing, so a run restored from its record, which has no weights, needs none here. Raises UserError
    when a split with data has no predictions and the run has no weights to make them."""
    path = Path(path)
    missing = tuple(s for s in splits if not (path / f"predictions-{s}.csv").exists())
    if not missing:
        return
    cfg = results.run_config(path)
    with_data = {split for task in cfg.tasks for split in load_task(task, cfg.data).splits}
    missing = tuple(s for s in missing if s in with_data)
    if not missing:
        return
    if not (path / BEST).exists():
        raise UserError(f"{path}: no predictions-{'/'.join(missing)}.csv and no weights ({BEST}) to make them from: "
                        f"a run restored from its record has results only; retrain it (force=True)")
    cfg, model, tokenizer = load_trained(path)
    data, *_ = load_task_data(cfg, tokenizer)
    write_predictions(model, data, cfg, path, "cpu", missing)


def run_experiment(cfg: ExperimentConfig, notebook: str, run_name: str, force: bool = False,
                   callbacks: list = ()) -> dict:
    """Train and evaluate one config; return its metrics.json content.

    A run whose folder already holds metrics.json for this exact config is not trained again
    unless ``force``. A partial run (checkpoint.pt) of the same config resumes.
    """
    cfg.validate()
    resolve_data_dir(cfg.data.data_dir)   # no data: say so before any model is loaded or step is taken
    path = results.run_path(cfg.profile, notebook, run_name)
    config = cfg.to_dict()
    device, pair = pick_device(cfg.train.device), cfg.model.pair_encoding
    precision = effective_precision(cfg, device)
    distributed.setup(device)            # under torchrun / accelerate launch; a no-op otherwise
    if not force and records.restore_run(cfg.profile, notebook, run_name, config):
        if not in_kernel():     # a notebook's plan (batch.plan.show) already counted its done runs, in one line
            print(f"[quarbert] {notebook}/{run_name}: complete, skipped (its record or registry folder; force=True retrains)")
        return results.read_json(path / "metrics.json")
    main = distributed.is_main()
    stale = (path / "config.json").exists() and not results.same_config(results.read_json(path / "config.json"), config)
    if (path / "metrics.json").exists() and not stale:     # same config, but the encoder's or data's files changed
        try:
            recorded = results.read_json(path / "metrics.json")
            stale = results.encoder_changed(recorded, config) or results.data_changed(recorded, config)
        except ValueError:
            stale = False
    if main and (force or stale) and path.exists():
        # every derived file goes: results, checkpoints, best weights, sub-stages (simcse-stage/), adapters
        shutil.rmtree(path)
    if main:
        results.write_json(path / "config.json", config)
    distributed.barrier()                # every rank sees the same folder before resuming from it

    wall0 = time.perf_counter()
    model, tokenizer = build_model(cfg.tasks, cfg.model, seed=cfg.train.seed, lora=cfg.lora,
                                   max_length=cfg.data.max_length)
    data, skipped, notes, summaries = load_task_data(cfg, tokenizer)
    torch.manual_seed(cfg.train.seed)

    last_eval: dict = {}
    # the first N training examples of each task, scored beside dev at every evaluation (the train-dev gap)
    n_probe = cfg.train.eval_train_examples
    train_probe = {t: TaskData(d.spec, d.examples[:n_probe], tokenizer, cfg.data.max_length)
                   for t, d in data["train"].items()} if n_probe else {}

    def evaluate(m) -> dict:
        """Dev metrics for the trainer (and train_<metric> on the training probe, which no score reads);
        keeps the dev predictions of the weights it evaluated."""
        frames = {t: predict(m, d, t, cfg.train.eval_batch_size, pair, device, precision)
                  for t, d in data["dev"].items()}
        last_eval.update(frames=frames)
        probe = {t: predict(m, d, t, cfg.train.eval_batch_size, pair, device, precision) for t, d in train_probe.items()}
        return {**metrics_of(frames), **{f"train_{k}": v for k, v in metrics_of(probe).items()}}

    check_trainable(data["train"])       # an empty task: say so before any stage or step
    stage = {}
    if cfg.simcse.stage:
        stage = run_simcse_stage(cfg, model, data["train"], tokenizer, path / "simcse-stage", device)
    guard = smart_guard(cfg, model, data["train"], device) if cfg.smart.enabled else {}
    objective = build_objective(cfg, model)
    trainer = Trainer(model, objective, data["train"], cfg.train,
                      evaluate=evaluate, score=mean_normalized_score,
                      out_dir=path, pair_encoding=pair, device=device, callbacks=list(callbacks),
                      param_groups=param_groups(model, cfg), precision=precision, belongs_to=config)
    print(f"[quarbert] {notebook}/{run_name}: {trainer.total_steps()} steps on {device} ({precision}); " + "; ".join(summaries),
          file=note_stream())
    state = trainer.fit()
    if not main:                         # rank 0 predicts and writes the results
        return {"rank": distributed.rank(), "steps": state.global_step}

    # The final evaluation already predicted dev with the best weights when they are the last ones.
    reuse = {"dev": last_eval["frames"]} if last_eval and state.best_step == state.global_step else {}
    predictions = write_predictions(model, data, cfg, path, device, known=reuse)
    dev = predictions["dev"]
    if cfg.lora.enabled:
        save_lora(model, path)
    results.write_csv(path / "history.csv", pd.DataFrame(state.history))
    total, trainable = model.param_counts()
    metrics = metrics_of(dev)
    if bad := {k: v for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)}:
        raise NonFiniteLossError(f"{path}: dev {', '.join(f'{k} {v}' for k, v in bad.items())}: not a finite score, so "
                                 "the run is not complete")
    out = {
        "notebook": notebook, "run_name": run_name, "tasks": cfg.tasks, "profile": cfg.profile,
        "encoder": cfg.model.encoder, "encoder_identity": encoder_identity(cfg.model.encoder),
        "data_identity": data_identity(cfg.tasks, cfg.data), "seed": cfg.train.seed,
        **metrics,
        "overall": overall_score(metrics), "mean_score": mean_normalized_score(metrics),
        "params_total": total, "params_trainable": trainable, "steps": state.global_step,
        "train_examples": {t: len(d) for t, d in data["train"].items()},
        "best_step": state.best_step, "skipped_nonfinite": state.skipped_nonfinite,
        "train_seconds": round(state.train_seconds, 1), "eval_seconds": round(state.eval_seconds, 1),
        "wall_seconds": round(time.perf_counter() - wall0 + trainer.resumed_wall_seconds, 1),
        "data_notes": notes, **stage, **guard,
        "smart_setting": smart_setting(cfg),
        "smart_skipped_nonfinite": getattr(objective.regularizers["smart"], "skipped", 0)
        if "smart" in objective.regularizers else 0,
        "skipped_rows": skipped, "git_commit": results.git_commit(), "device": str(device),
        "precision": precision, "torch": torch.__version__, "threads": torch.get_num_threads(), "processes": distributed.world_size(),
    }
    results.write_json(path / "metrics.json", out)   # last: marks the run complete
    (path / CHECKPOINT).unlink(missing_ok=True)      # resumable state is no longer needed
    if records.writable(cfg.profile):
        records.save(path, records.record_path(cfg.profile, notebook, run_name))
    return out


# The notebook whose runs are budget points (budget_points), not spec.Runs groups.
BUDGET_NOTEBOOK = "11_quality_per_cpu_minute"


def find_or_train(notebook: str, named: list[tuple[str, ExperimentConfig]], params: dict) -> list[tuple[dict, Path]]:
    """Each (run name, config) of ``notebook``, found done or trained: [(its metrics, its folder)], in order. A config
    that a finished run already has, in any notebook's folder under any name (results.RunIndex: a sweep point that is
    a ladder row, notebook 13's seed 0 that is notebook 11's budget point), or an earlier entry has, is that run (its
    folder and name), never trained twice; ``force`` in ``params`` retrains. The runs to train go to workers side by
    side (core.workers: ``workers`` in ``params``, else QUARBERT_WORKERS, else one per core), each the run it would be
    trained alone."""
    force = bool(params.get("force", False))
    if named and not force:
        records.restore_missing(named[0][1].profile)     # a twin may be recorded, not yet restored
    index = results.RunIndex(named[0][1].profile) if named else None
    keys = [results.config_key(cfg.to_dict()) for _, cfg in named]
    folders, configs = {}, {}       # a config key -> the folder that holds (or will hold) its run, and the config
    for k, (name, cfg) in zip(keys, named):
        if k not in folders:
            configs[k] = cfg
            own = results.run_path(cfg.profile, notebook, name)
            folders[k] = (None if force else index.find(cfg.to_dict(), own)) or own
    todo = [k for k in folders if force or not results.is_complete(folders[k], configs[k].to_dict())]
    trained = dict(zip(todo, run_all(run_experiment, [((configs[k], notebook, folders[k].name), {"force": force})
                                                      for k in todo],
                                     workers=params.get("workers"), what=f"{notebook} runs")))
    return [(trained[k] if k in trained else results.read_json(folders[k] / "metrics.json"), folders[k]) for k in keys]


def train_runs(notebook: str, key: str | list[str], params: dict) -> list[tuple[DeclaredRun, dict, Path]]:
    """Train (or find done: find_or_train) every run of the notebook's declared group ``key`` (or groups: a list,
    trained together) (spec.NOTEBOOKS, expanded with the notebook's parameters ``params``, its globals(): what the
    planner plans): [(the declared run, its metrics, its folder)], in declaration order."""
    runs = [run for k in ([key] if isinstance(key, str) else key) for run in expand(notebook, params, k)]
    return [(declared, *found) for declared, found in
            zip(runs, find_or_train(notebook, [(d.name, d.config) for d in runs], params))]


def quartets(notebook: str, key: str, params: dict, multitask: str | None = None,
             suffix: str = "") -> dict[int, tuple[dict[str, Path], dict[str, dict]]]:
    """Each seed's quartet of the notebook's member group ``key`` (train_runs; its points are the members):
    {seed: ({member: run folder}, {member: metrics})}; a specialist's member name is its task plus ``suffix``. The
    multitask member is the group's own 'multitask' point (notebook 08's LoRA member) or, with ``multitask`` (a
    ladder row), that row's finished run of the same seed (notebook 07)."""
    out: dict[int, tuple[dict[str, Path], dict[str, dict]]] = {}
    for declared, metrics, folder in train_runs(notebook, key, params):
        name = declared.point["member"]
        member = name if name == "multitask" else name + suffix
        folders, found = out.setdefault(declared.seed, ({}, {}))
        folders[member], found[member] = folder, metrics
    for seed, (folders, found) in out.items():
        if multitask:
            ladder = results.run_path(params["profile"], trained_by(multitask), results.run_name(multitask, seed=seed))
            if not (ladder / "metrics.json").exists():
                raise results.RunNotFound(f"the quartet's multitask member {ladder} is not a finished run: run the "
                                          f"notebook that trains it ({ladder.parent.name}) first")
            folders["multitask"], found["multitask"] = ladder, results.read_json(ladder / "metrics.json")
        for folder in folders.values():
            ensure_predictions(folder)
    return out


def write_ensemble(out_dir: Path, members: dict[str, Path]) -> pd.DataFrame:
    """The plain average of ``members`` (ensemble.ensemble) written as an ensemble folder: members.json (so it is
    recorded, served and submitted like a run), predictions-dev.csv, predictions-calib.csv where every member has
    one, and the course's dev and test files. Returns its dev predictions."""
    plain = ensemble.ensemble(ensemble.load_predictions(members, "dev"))
    results.write_csv(out_dir / "predictions-dev.csv", plain)
    if all((Path(f) / "predictions-calib.csv").exists() for f in members.values()):
        results.write_csv(out_dir / "predictions-calib.csv", ensemble.ensemble(ensemble.load_predictions(members, "calib")))
    results.write_members(out_dir, members)
    test = ensemble.ensemble(ensemble.load_predictions(members, "test", missing_ok=True))
    for split, frames in (("dev", plain), ("test", test)):
        for task, frame in frames.groupby("task"):
            results.write_course_output(out_dir, task, frame, split, ids=frame["id"])  # members agree: combine checks
    return plain


def write_quartet(profile: str, notebook: str, row: str, seed: int, members: dict[str, Path],
                  metrics: dict[str, dict], params: tuple[int, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """One seed's quartet, averaged and written as the row's folder '<row>-seed<N>' in the registry
    (write_ensemble). Returns (its dev predictions, a metrics.json-like record for tables.ablation_row). ``params``:
    (total, trainable) when the members share weights (LoRA), else the members' sums."""
    plain = write_ensemble(results.run_path(profile, notebook, results.run_name(row, seed=seed)), members)
    listed = list(metrics.values())
    total, trainable = params or (sum(m["params_total"] for m in listed), sum(m["params_trainable"] for m in listed))
    return plain, tables.ensemble_metrics(ensemble.scores(plain), listed, total, trainable)


def choose_best(notebook: str, profile: str, encoder: str) -> tuple[pd.DataFrame, Path | None]:
    """The study's best model, chosen on the calibration split (never on dev) among tables.choice_candidates: the
    candidates table (its 'chosen' column marks the best, saved to reports/tables/best_model.csv for this profile and
    encoder) and the chosen model's folder, written as an ensemble folder of ``notebook`` when it averages several
    runs. (table, None) when no candidate has a calibration score yet."""
    table = tables.choice_candidates(profile, encoder)
    scored = table.dropna(subset=[tables.CALIB_PREFIX + "overall"])
    table = table.assign(chosen=False, profile=profile, encoder=encoder)
    if scored.empty:
        return table, None
    best = scored.index[0]
    table.loc[best, "chosen"] = True
    members = {Path(m).name: results.runs_dir() / m for m in table.loc[best, "members"].split(";")}
    folder = next(iter(members.values())) if len(members) == 1 else results.run_path(profile, notebook, table.loc[best, "model"])
    if len(members) > 1:
        write_ensemble(folder, members)
    results.save_measured("best_model.csv", {"profile": profile, "encoder": encoder},
                          table.drop(columns=["profile", "encoder"]))
    return table, folder


def sweep(notebook: str, key: str, params: dict, spread: bool = False, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """The notebook's declared sweep ``key`` (train_runs), one row per point: tables.sweep_row of its seeds' runs
    with the point's setting ({column: value}, the profile and the encoder). ``spread``: rows are
    tables.ablation_row's instead (each metric's seed std and the seed list, so a point can be tested against a
    ladder row), named after the point's run (its name without the seed). ``keep``: metrics.json fields copied from
    each point's first run (e.g. 'params_trainable'). Each row also holds the point's scores on the held-out
    calibration split (tables.calib_row: 'calib_<column>'), where a dev-selected choice is checked."""
    by_point: dict[tuple, list] = {}
    for declared, metrics, folder in train_runs(notebook, key, params):
        by_point.setdefault(tuple(declared.point.items()), []).append((declared, metrics, folder))
    rows = []
    for point, found in by_point.items():
        setting = {**dict(point), "profile": params["profile"], "encoder": params["encoder"]}
        runs = [m for _, m, _ in found]
        rows.append((setting | tables.ablation_row(results.run_stem(found[0][0].name), runs) if spread else
                     tables.sweep_row(setting, runs)) | {k: runs[0][k] for k in keep}
                    | tables.calib_row([folder for _, _, folder in found]))
    return pd.DataFrame(rows)


def run_ladder_rows(notebook: str, variants: list[str], params: dict) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Train (or find done) every seed of each row (each a declared group of the notebook: spec.NOTEBOOKS), upsert
    their rows, and the epoch rows read off them (spec.EPOCH_ROWS), into reports/tables/ablation.csv; return the rows just made with this profile's and encoder's rows
    that the notebook's steps compare them against, and the run folders."""
    rows, folders = [], {}
    profile, encoder = params["profile"], params["encoder"]
    trained = train_runs(notebook, list(variants), params)        # every row's runs in one pool of workers
    for variant in variants:
        mine = [(m, folder) for declared, m, folder in trained if declared.group == variant]
        if not mine:                # its group is off (spec.Runs.when): no runs, no row
            continue
        rows.append(tables.ablation_row(variant, [m for m, _ in mine]))
        folders.update({folder.name: folder for _, folder in mine})
        # the epoch rows read off this row's runs (spec.EPOCH_ROWS): each seed's dev scores at that epoch's end
        rows += [tables.ablation_row(row, [m | tables.epoch_scores(folder, epoch) for m, folder in mine])
                 for row, (base, epoch) in EPOCH_ROWS.items() if base == variant]
    if rows:
        tables.save_ablation_rows(rows)
    shown = tuple(r["variant"] for r in rows)
    return tables.shown_rows(notebook, profile, encoder, rows=shown, own=rows), folders


def budget_points(params: dict) -> list[tuple[str, int | None, str, ExperimentConfig, pd.DataFrame | None]]:
    """Notebook 11's points under its parameters (profile, encoder, seed, recipes: None for the profile's
    recipes.BUDGET_CAPS, reuse_saved, force): (recipe, cap, run name, config, saved rows) per recipe (a name of
    recipes.BUDGET_RECIPES or a ladder variant) and cap on the training examples per task (None: every example).
    ``saved rows``: with reuse_saved, the points an earlier curve saved (quality_per_minute.csv) for a point whose
    run this registry lacks (not even started), read instead of trained; else None. The planner plans the points
    without saved rows (batch.plan), budget_curve trains or reads them."""
    profile, encoder, seed = params["profile"], params["encoder"], params["seed"]
    force = bool(params.get("force", False))
    saved = saved_budget_points(profile, encoder, seed) if params.get("reuse_saved") and not force else None
    out = []
    for recipe, caps in (params.get("recipes") or BUDGET_CAPS[profile]).items():
        variant, overrides = BUDGET_RECIPES.get(recipe, (recipe, {}))
        for cap in caps:
            name = results.run_name(recipe, f"cap{cap or 'all'}", seed=seed)
            cfg = variant_config(variant, profile, model__encoder=encoder, train__seed=seed,
                                 data__max_train_per_task=cap, **overrides)
            earlier = None if saved is None else saved[(saved["recipe"] == recipe) & (saved["cap"] == str(cap or "all"))]
            started = results.run_path(profile, BUDGET_NOTEBOOK, name).exists()    # a started run resumes instead
            out.append((recipe, cap, name, cfg, earlier if earlier is not None and len(earlier) and not started else None))
    return out


def budget_curve(notebook: str, params: dict) -> pd.DataFrame:
    """Quality against CPU time: each of notebook 11's points (budget_points) trained, read from a finished run of
    the same config in any notebook's folder (the ladder row at the profile's own cap, the natural-size control on
    every example: results.RunIndex), or read from the points an earlier curve saved. A
    run of several epochs gives one point per epoch, from its dev evaluation at that epoch's end (history.csv),
    timed at that moment. One row per point: recipe, cap, epoch, optimizer steps, train minutes, dev scores,
    source."""
    profile, encoder, seed, force = params["profile"], params["encoder"], params["seed"], bool(params.get("force", False))
    if not force:
        records.restore_missing(profile)     # a run standing for a point may be recorded, not yet restored
    index = results.RunIndex(profile)
    # a point's saved rows stand for it only where no finished run of its config exists (budget_points)
    points = [(recipe, cap, earlier if force or index.find(cfg.to_dict(), results.run_path(profile, notebook, name)) is None
               else None, cfg, name) for recipe, cap, name, cfg, earlier in budget_points(params)]
    found = iter(find_or_train(notebook, [(name, cfg) for *_, earlier, cfg, name in points if earlier is None], params))
    rows = []
    for recipe, cap, earlier, cfg, name in points:
        if earlier is not None:
            rows += earlier.assign(source="saved table").to_dict("records")
            continue
        metrics, run_dir = next(found)
        setting = {"recipe": recipe, "cap": cap or "all", "profile": profile, "encoder": encoder, "seed": seed}
        for point in epoch_points(run_dir, metrics):
            rows.append(tables.sweep_row({**setting, "epoch": point["epoch"]}, [point])
                        | {"train_minutes": point["train_seconds"] / 60, "source": "registry"})
    return pd.DataFrame(rows)


def saved_budget_points(profile: str, encoder: str, seed: int) -> pd.DataFrame:
    """The points of quality_per_minute.csv for this profile, encoder and seed (caps as text: '600', 'all')."""
    table = results.read_table("quality_per_minute.csv", profile, encoder)
    if table is None:
        return pd.DataFrame(columns=["recipe", "cap"])
    return table[table["seed"] == seed].astype({"cap": str})


def epoch_points(run_dir: Path, metrics: dict) -> list[dict]:
    """The run's dev metrics at each epoch end, as metrics.json-like dicts (steps, train_seconds
    at that evaluation). A one-epoch run is its metrics.json (whose scores are the best weights')."""
    history = pd.read_csv(run_dir / "history.csv")
    evals = history[history["kind"] == "eval"]
    if len(evals) <= 1:
        return [{**metrics, "epoch": 1}]
    if "train_seconds" not in evals:
        raise ValueError(f"{run_dir / 'history.csv'}: eval rows have no 'train_seconds' column (a run made "
                         "before it was recorded): retrain it with force=True")
    bookkeeping = ("kind", "epoch", "step", "loss", "score", "train_seconds")
    return [{"data_notes": metrics.get("data_notes", []),
             **{k: v for k, v in e.items() if k not in bookkeeping and pd.notna(v)},     # the dev metrics
             "epoch": int(e["epoch"]), "steps": int(e["step"]), "train_seconds": float(e["train_seconds"])}
            for e in evals.to_dict("records")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib experiment",
                                     description="Train and evaluate one config into the registry (resumes).")
    parser.add_argument("notebook", help="registry folder, e.g. 02_multitask_baseline")
    parser.add_argument("run_name")
    parser.add_argument("--config", help="an ExperimentConfig JSON file (as saved in config.json)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--variant", help="a ladder variant under --profile, instead of --config")
    parser.add_argument("--force", action="store_true", help="retrain even when complete")
    args = parser.parse_args(argv)
    if args.config:
        cfg = ExperimentConfig.from_dict(json.loads(Path(args.config).read_text()))
    else:
        cfg = variant_config(args.variant or "sampling", args.profile)
    print(json.dumps(run_experiment(cfg, args.notebook, args.run_name, force=args.force), indent=2))
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

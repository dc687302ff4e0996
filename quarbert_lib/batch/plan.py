"""The batch's plan before any compute, and its ETA while it runs (bookkeeping of `make reproduce`).

``plan(notebooks, profile, overrides)`` lists every run each notebook will ask the registry for, with
the notebook's own parameters (its parameters cell, the profile's notebook parameters, then the command
line's), marks each done or to train, and estimates its wall seconds: its optimizer steps times a
seconds-per-step that the registry recorded for the same run (or, failing that, the same notebook),
plus its recorded evaluation and loading time, all scaled by ``speed`` (this machine against the one
that recorded them; ``calibrate`` measures it in a few warm-up steps). The runs are the ones spec.NOTEBOOKS
declares (declared_runs: the same list the notebooks train); tests/test_plan.py checks it against the registry
that the smoke pipeline leaves, run by run.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import math
import statistics
from pathlib import Path

import jupytext
import pandas as pd

from ..base.errors import UserError
from ..base.paths import NOTEBOOK_DIR, REPO_ROOT, STUDY_PROFILE, profile_reports_dir, reports_dir, runs_dir, shown, tables_dir
from ..base.tasks import TASKS
from ..benchmarks.bench import step_costs
from ..core.config import PROFILES, ExperimentConfig, cost_kind, profile_config
from ..core.data import load_task
from ..core.workers import default_workers, makespan
from ..study import records
from ..study.experiment import BUDGET_NOTEBOOK, budget_points
from ..study.results import RunIndex, config_key, run_costs, run_path, run_stem
from ..study.spec import BY_NAME, expand

# Seconds of a notebook's own work beside its runs (tables, figures, ensembling, checks) when nothing recorded it.
DEFAULT_NOTEBOOK_SECONDS = 30.0
# Each profile's last recorded batch, notebook by notebook (record_notebook_seconds): committed, because a
# batch of a profile other than the study's writes only ignored reports.
NOTEBOOK_SECONDS_CSV = REPO_ROOT / "reports" / "tables" / "notebook_seconds.csv"


@dataclasses.dataclass
class PlannedRun:
    notebook: str
    name: str
    config: ExperimentConfig
    steps: int
    done: bool = False
    seconds: float = 0.0            # estimated wall seconds (0 when done)


def notebook_parameters(path: Path) -> dict:
    """The literal defaults of a jupytext notebook's parameters cell."""
    for cell in jupytext.read(path).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            out = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    return {}


def notebook_arguments(declared: dict, profile: str, profile_params: dict | None = None,
                       overrides: dict | None = None) -> dict:
    """The parameters the batch passes one notebook whose parameters cell declares the names in ``declared``:
    the profile, then the profile's notebook parameters (recipes.PROFILE_NOTEBOOK_PARAMS), then the command
    line's ``overrides``, each only where the notebook declares that name. Papermill would inject any other
    name with one warning that names no notebook, and the notebook would never read it."""
    # the batch writes where it writes (notebook.start's "batch": reports/ for the study), never a person's local folder
    given = {"profile": profile, "reports": "batch", **(profile_params or {}), **(overrides or {})}
    return {name: value for name, value in given.items() if name in declared}


def declared_runs(notebook: str, p: dict) -> list[tuple[str, str, ExperimentConfig]]:
    """(notebook, run name, config) of every run ``notebook`` trains or reuses with parameters ``p``: the runs
    spec.NOTEBOOKS declares for it (spec.expand, the list the notebook's cells train through experiment.train_runs),
    and notebook 11's budget points (experiment.budget_points, which its budget_curve trains)."""
    if notebook not in BY_NAME:      # a notebook the spec does not declare trains nothing the planner can count
        return []
    if notebook == BUDGET_NOTEBOOK:
        return [(notebook, name, cfg) for _, _, name, cfg, saved in budget_points(p) if saved is None]
    return [(run.notebook, run.name, run.config) for run in expand(notebook, p)]


_SPLIT_SIZES: dict[tuple, dict[str, int]] = {}


def _split_sizes(task: str, cfg: ExperimentConfig) -> dict[str, int]:
    key = (task, json.dumps(dataclasses.asdict(cfg.data), sort_keys=True, default=str))
    if key not in _SPLIT_SIZES:
        _SPLIT_SIZES[key] = {name: len(rows) for name, rows in load_task(task, cfg.data).splits.items()}
    return _SPLIT_SIZES[key]


def _sentences(cfg: ExperimentConfig, split: str, cap: int | None = None) -> int:
    """Sentences the encoder reads for one pass over ``split`` of every task of ``cfg`` (the first ``cap``
    examples of each when given; a task without that split, 0), a pair counting two."""
    limit = math.inf if cap is None else cap
    return sum((2 if TASKS[t].is_pair else 1) * min(_split_sizes(t, cfg).get(split, 0), limit) for t in cfg.tasks)


def prediction_units(cfg: ExperimentConfig) -> int:
    """Sentences a run encodes besides training: its dev and test splits (evaluation and the saved
    predictions), a pair counting two. What a run costs beside its steps scales with it (the quick
    profile caps dev and test at 400 per task)."""
    return _sentences(cfg, "dev") + _sentences(cfg, "test")


def _steps_per_epoch(cfg: ExperimentConfig) -> int:
    t = cfg.train
    batches = {task: math.ceil(_split_sizes(task, cfg)["train"] / t.batch_size) for task in cfg.tasks}
    return len(batches) * min(batches.values()) if t.sampler == "round-robin" else sum(batches.values())


def steps_of(cfg: ExperimentConfig) -> int:
    """Optimizer steps of a config, as the trainer counts them (sampler.epoch_schedule's length per epoch
    times the epochs, capped by max_steps), from the training split sizes alone."""
    total = _steps_per_epoch(cfg) * cfg.train.epochs
    return min(total, cfg.train.max_steps) if cfg.train.max_steps else total


def epochs_started(cfg: ExperimentConfig) -> int:
    """Epochs a run starts, as many as the trainer's dev evaluations: it evaluates at the end of each (max_steps
    may end the last one early)."""
    per_epoch = _steps_per_epoch(cfg)
    return math.ceil(steps_of(cfg) / per_epoch) if per_epoch else 0     # an empty task: nothing to train


def evaluations_of(cfg: ExperimentConfig) -> float:
    """Dev evaluations a run makes (epochs_started), in units of one evaluation of its dev sets: with a training
    probe each also scores the first ``train.eval_train_examples`` training examples of each task (pairs
    counting two)."""
    probe = _sentences(cfg, "train", cfg.train.eval_train_examples) if cfg.train.eval_train_examples else 0
    dev = _sentences(cfg, "dev")
    return epochs_started(cfg) * (1 + probe / dev if dev else 1)


def recorded_costs(profile: str) -> pd.DataFrame:
    """Per-run costs recorded so far: the registry's runs of this profile (results.run_costs), then this
    profile's saved reports/tables/run_costs.csv, then the committed study's (a fresh clone's only record)."""
    frames = [run_costs(profile)]
    for saved in dict.fromkeys([tables_dir() / "run_costs.csv", REPO_ROOT / "reports" / "tables" / "run_costs.csv"]):
        if saved.exists():
            frames.append(pd.read_csv(saved))
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    return df.drop_duplicates(["notebook", "run"], keep="first").reset_index(drop=True)


def estimate_seconds(notebook: str, run: str, steps: int, costs: pd.DataFrame, speed: float = 1.0,
                     kind: str | None = None, cfg: ExperimentConfig | None = None) -> float:
    """Wall seconds of one run: steps x the seconds per step of the recorded runs with the same name (any
    seed) in the same notebook, else of the same cost kind (config.cost_kind), else of that notebook's runs,
    else of all; plus their seconds beside training (loading, evaluations, predictions); times ``speed``. With
    ``cfg``, those are the records' seconds of loading and predictions plus their seconds per dev evaluation
    times the run's evaluations (evaluations_of), and scaled by its prediction_units against those of the
    records' profile.

    Of the matching records it takes the median. The fastest record (this function's earlier choice, on the
    argument that sharing the cores only slows a run) came out 21 % low on the runs of the measured `quick`
    batch from a fresh clone (2,100 against 2,546 s), the median 10 % low: this machine's speed varies by
    about that much between days, and the median of three seeds still ignores one record that shared the
    cores."""
    if costs.empty:
        raise ValueError("no recorded run costs: run `python -m quarbert_lib reproduce --calibrate` or train one run first")
    costs = costs[costs["steps"] > 0]
    same_kind = costs[costs["kind"] == kind] if kind and "kind" in costs else costs.iloc[0:0]
    for match in (costs[(costs["notebook"] == notebook) & (costs["run"].map(run_stem) == run_stem(run))], same_kind,
                  costs[costs["notebook"] == notebook], costs):
        if len(match):
            break
    per_step = float((match["train_seconds"] / match["steps"]).median())
    # evaluation, predictions, loading: set by the tasks' dev and test sets, not by how a step trains, so any
    # record of the same tasks (kind's first word) counts
    same_tasks = costs[costs["kind"].fillna("").str.split(" ").str[0] == kind.split(" ")[0]] \
        if kind and "kind" in costs else costs.iloc[0:0]
    beside = pd.concat([match, same_tasks]).drop_duplicates()
    rest = float((beside["wall_seconds"] - beside["train_seconds"]).median())
    timed = beside.dropna(subset=["eval_seconds"])
    # of which dev evaluations, one per epoch: a run of several epochs with a training probe (notebook 12) makes
    # six, not the ladder's one. Seconds per evaluation come from the records that counted theirs (history.csv)
    # without a probe (whose seconds would count it twice); a run's evaluations are evaluations_of(cfg), else
    # as many as its records made
    if len(timed) and cfg is not None:
        counted = timed[timed["evaluations"].fillna(0) > 0] if "evaluations" in timed else timed.iloc[0:0]
        counted = counted[counted["probe"].fillna(0) == 0] if "probe" in counted else counted
        per_evaluation = float((counted["eval_seconds"] / counted["evaluations"]).median()) if len(counted) else \
            float(timed["eval_seconds"].median())                   # records from before the count: one each
        rest = float((timed["wall_seconds"] - timed["train_seconds"] - timed["eval_seconds"]).median()) \
            + per_evaluation * evaluations_of(cfg)
    if cfg is not None and "profile" in match and match["profile"].notna().any():
        recorded_profile = match["profile"].mode().iloc[0]
        if recorded_profile in PROFILES and recorded_profile != cfg.profile:
            reference = profile_config(recorded_profile, tasks=cfg.tasks)
            rest *= prediction_units(cfg) / prediction_units(reference)
    return speed * (steps * per_step + rest)


def notebook_overheads(profile: str | None = None) -> dict[str, float]:
    """Seconds each notebook spent beside training: as this profile's summary.json records it (each notebook's
    last execution that changed its executed copy), else as NOTEBOOK_SECONDS_CSV holds it for ``profile`` (a fresh clone's record of a batch
    that writes only ignored reports, such as `quick`), else as the committed study's summary.json has it.
    A notebook's own work (08's serving cost, 06's step costs) depends on its profile's dev sets and
    settings: the study's seconds were three times the `quick` batch's."""
    out: dict[str, float] = {}
    study = profile_reports_dir(STUDY_PROFILE) / "executed" / "summary.json"
    if study.exists():
        out.update(_overheads(json.loads(study.read_text())))
    if profile and NOTEBOOK_SECONDS_CSV.exists():
        recorded = pd.read_csv(NOTEBOOK_SECONDS_CSV)
        out.update(_overheads(recorded[recorded["profile"] == profile].to_dict("records")))
    own = reports_dir() / "executed" / "summary.json"
    if own != study and own.exists():       # this profile's records last, so they win
        out.update(_overheads(json.loads(own.read_text())))
    return out


def _overheads(entries: list[dict]) -> dict[str, float]:
    return {e["notebook"]: float(e["overhead_seconds"]) for e in entries if pd.notna(e.get("overhead_seconds"))}


def record_notebook_seconds(summary: Path) -> pd.DataFrame:
    """Copy a batch's per-notebook seconds (its summary.json) into NOTEBOOK_SECONDS_CSV, replacing that
    profile's rows, so that a fresh clone plans that profile with them. Only notebooks that ended `ok`."""
    try:
        listed = json.loads(Path(summary).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{summary}: no such file: a batch writes its summary.json into its executed/ folder (make "
                        "reproduce PROFILE=quick writes reports/quick/executed/summary.json)") from None
    except ValueError as e:                 # not JSON, or not UTF-8
        raise UserError(f"{summary}: not a batch's summary.json ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(listed, list) or not all(isinstance(e, dict) for e in listed):
        raise UserError(f"{summary}: not a batch's summary.json (expected a list of one object a notebook)")
    entries = [e for e in listed if e.get("status") == "ok"]
    if not entries:
        raise UserError(f"{summary}: no notebook ended ok, nothing to record")
    profiles = {e.get("profile") for e in entries}
    if len(profiles) != 1 or None in profiles:
        raise UserError(f"{summary}: expected one profile in its entries' 'profile' field, found {sorted(map(str, profiles))}")
    # an older batch's entries may lack a field: it is left empty, never a KeyError
    new = pd.DataFrame(entries).reindex(columns=["profile", "notebook", "seconds", "trained_runs", "overhead_seconds",
                                                 "commit", "finished"])
    if NOTEBOOK_SECONDS_CSV.exists():
        old = pd.read_csv(NOTEBOOK_SECONDS_CSV)
        new = pd.concat([old[old["profile"] != new["profile"].iloc[0]], new], ignore_index=True)
    NOTEBOOK_SECONDS_CSV.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(NOTEBOOK_SECONDS_CSV, index=False)
    return new


def plan(notebooks: list[Path], profile: str, overrides: dict | None = None, speed: float = 1.0,
         notebook_params: dict | None = None) -> list[PlannedRun]:
    """Every planned run of the batch, done or to train, with its estimated seconds. Each notebook is planned
    with its parameters cell's defaults and, of ``notebook_params`` and ``overrides``, only the names it
    declares (notebook_arguments: what the batch passes it). As the registry does it (results.RunIndex), a run is
    what its config is, whatever its name: one with the config of a run planned before it in the batch (a sweep point
    that is its notebook's ladder row; notebook 11's point that is notebook 03's row) is that run and is not planned
    again, and one whose config a finished run of the registry has, in any notebook's folder, is done."""
    costs, planned, seen = recorded_costs(profile), [], set()
    index = RunIndex(profile)
    for path in notebooks:
        declared = notebook_parameters(path)
        # what the notebook will run with (reproduce passes it the same notebook_arguments); declared_runs names
        # every run under the batch's profile, so that stays even where a notebook does not declare it
        params = {**declared, **notebook_arguments(declared, profile, notebook_params, overrides), "profile": profile}
        for notebook, name, cfg in declared_runs(path.stem, params):
            key = config_key(cfg.to_dict())
            if key in seen:
                continue
            seen.add(key)
            done = index.find(cfg.to_dict(), run_path(profile, notebook, name)) is not None
            steps = steps_of(cfg)
            planned.append(PlannedRun(notebook, name, cfg, steps, done,
                                      0.0 if done else estimate_seconds(notebook, name, steps, costs, speed,
                                                                        cost_kind(cfg), cfg)))
    return planned


def notebook_estimates(planned: list[PlannedRun], notebooks: list[str], speed: float = 1.0,
                       profile: str | None = None) -> pd.DataFrame:
    """Per notebook: runs done, runs to train, and estimated minutes (its runs plus its own work)."""
    overhead = notebook_overheads(profile)
    rows = []
    for nb in notebooks:
        mine = [r for r in planned if r.notebook == nb]
        own = speed * overhead.get(nb, DEFAULT_NOTEBOOK_SECONDS)
        rows.append({"notebook": nb, "done": sum(r.done for r in mine), "to_train": sum(not r.done for r in mine),
                     "own_seconds": own, "minutes": (sum(r.seconds for r in mine) + own) / 60})
    return pd.DataFrame(rows)


def format_plan(planned: list[PlannedRun], table: pd.DataFrame) -> str:
    lines = []
    for row in table.itertuples():
        lines.append(f"{row.notebook}: {row.done} done, {row.to_train} to train, ~{row.minutes:.1f} min")
        lines += [f"    {'done ' if r.done else 'train'} {r.name} ({r.steps} steps"
                  + ("" if r.done else f", ~{r.seconds / 60:.1f} min") + ")" for r in planned if r.notebook == row.notebook]
    lines.append(f"total: {int(table['done'].sum())} runs done, {int(table['to_train'].sum())} to train, "
                 f"~{table['minutes'].sum():.1f} min")
    return "\n".join(lines)


def show(notebook: str, namespace: dict) -> list[PlannedRun]:
    """What a notebook's cells will train, said before they train: the plan of ``notebook`` (the planner of
    `make reproduce --dry-run`) with the values its parameters have now in ``namespace`` (the notebook's globals()),
    the profile's recorded runs restored first, as
    the batch restores them (they count as done; 07 reads 03's runs). Prints the runs done as one count, each run to train
    with its steps and estimated minutes, and where the results go; returns the plan."""
    declared = notebook_parameters(NOTEBOOK_DIR / f"{notebook}.py")
    params = {name: namespace.get(name, default) for name, default in declared.items()}
    profile = params["profile"]
    records.restore_missing(profile)     # as the batch does first: a notebook may read another's runs (07: 03's)
    planned = plan([NOTEBOOK_DIR / f"{notebook}.py"], profile, overrides=params)
    todo = [r for r in planned if not r.done]
    workers = namespace.get("workers") or default_workers()
    minutes, alone = makespan([r.seconds for r in todo], workers) / 60, sum(r.seconds for r in todo) / 60
    side_by_side = f" in {workers} workers side by side ({alone:.1f} min one at a time)" if workers > 1 and len(todo) > 1 else ""
    lines = [f"plan: {len(planned) - len(todo)} runs done (trained or restored from their records), {len(todo)} to train"
             + (f", about {minutes:.1f} min on this machine{side_by_side}" if todo else ": nothing trains")]
    lines += [f"    train {r.name} ({r.steps} steps, ~{r.seconds / 60:.1f} min)" for r in todo]
    if params.get("reports") != "batch":        # the batch's output names no folder of the machine it ran on
        lines.append(f"runs: {shown(runs_dir() / profile / notebook)}/ (ignored by git); tables and figures: "
                     f"{shown(reports_dir())}/")
    print("\n".join(lines))
    return planned


def calibrate(profile: str, encoder: str, costs: pd.DataFrame, steps: int = 6) -> float:
    """This machine's speed against the recorded costs: a few measured steps of the plain `sampling` row,
    over the recorded seconds per step of that row (1.0 when nothing recorded it)."""
    recorded = costs[costs["run"].map(run_stem) == "sampling"] if len(costs) else costs
    if recorded.empty:
        return 1.0
    measured = float(step_costs([], profile, encoder, steps=steps, warmup=2)["seconds_per_step"].iloc[0])
    return measured / statistics.median(recorded["train_seconds"] / recorded["steps"])

"""The results registry: one folder per run, written atomically, collected into tables.

runs/<notebook>/<run_name>/
    config.json          the ExperimentConfig
    history.csv          training loss and dev evaluations
    predictions-dev.csv  id, task, gold, prediction, probabilities or score
    <task>-{dev,test}-output.csv  the course starter's output files
    metrics.json         written last: its presence (with a matching config) marks the run complete
    model.pt             best weights (not committed; runs/ is ignored)
"""
from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import subprocess
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from ..base.errors import UserError
from ..base.paths import REPO_ROOT, runs_dir, tables_dir
from ..base.tasks import TASKS
from ..core.config import ConfigError, ExperimentConfig, cost_kind
from ..core.data import data_identity
from ..core.model import encoder_identity

SEED_TAG = "-seed"   # a run name ends in -seed<N>: run_name builds it, run_stem takes it off


def run_name(*parts, seed: int) -> str:
    """The one way a run is named: its parts joined by '-', then '-seed<N>', e.g. run_name('specialist',
    'sst', seed=0) = 'specialist-sst-seed0', run_name('sampling', 'cap600', seed=2) = 'sampling-cap600-seed2'."""
    return "-".join(str(p) for p in parts) + f"{SEED_TAG}{int(seed)}"


def run_stem(name: str) -> str:
    """A run name without its seed: 'specialist-sst-seed0' -> 'specialist-sst'."""
    return name.rsplit(SEED_TAG, 1)[0]


def run_path(profile: str, notebook: str, run_name: str) -> Path:
    """A run's folder: runs/<profile>/<notebook>/<run_name>. The profile is part of the path so a
    smoke rerun of a notebook never retrains over (or replaces) the cpu or paper runs."""
    return runs_dir() / profile / notebook / run_name


def atomic_write_text(path: Path, text: str) -> None:
    """Temporary file in the same folder, then rename: readers never see a partial file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def deterministic_gzip(data: bytes) -> bytes:
    """Gzip with no file name, mtime 0 and a fixed level: the same data give the same bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as handle:
        handle.write(data)
    return out.getvalue()


def write_json(path: Path, obj) -> None:
    """``obj`` as JSON (sorted keys), atomically. A non-finite number (JSON has none: json would write NaN, which
    no strict reader parses) is a ValueError naming the file, and nothing is written."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)
    except ValueError as e:
        raise ValueError(f"{path}: not written, it would hold a non-finite number ({e})") from None
    atomic_write_text(path, text + "\n")


# Every CSV the project writes holds its floats at single precision (the shortest text of the nearest float32: 6 to
# 9 significant digits), a float of magnitude below ZERO_BELOW as 0, and a whole number as it is. Another CPU (other
# vector units, another BLAS kernel, another order of summing) moves a mean, a Pearson r or a p-value in its 15th
# digit, and a difference of equal numbers from 0 to 1e-17: written in full, a table, and all that is drawn or said
# from it, would depend on the machine. Rounded to float32's 24 bits, a value moves only when it lies within that
# noise of a rounding boundary (about 1e-9 of the time); and the models' own outputs, float32 to begin with, are
# written exactly as they are, so a prediction copied or restored reads the same everywhere (a decimal rounding to six
# digits splits a float32 such as 0.2667015 at a tie, and the last bit decides).
ZERO_BELOW = 1e-12


def fixed_precision(value: float) -> float:
    """``value`` as it is written and read back: the nearest float32's shortest text, 0.0 below 1e-12 (and for -0.0);
    a whole number, an infinity or NaN as it is."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")) or value.is_integer():
        return value + 0.0
    return 0.0 if abs(value) < ZERO_BELOW else float(str(np.float32(value)))


def fixed_values(obj):
    """A JSON-like value with every float at fixed_precision (a calibration written to a run folder)."""
    if isinstance(obj, float):
        return fixed_precision(obj)
    if isinstance(obj, dict):
        return {k: fixed_values(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [fixed_values(v) for v in obj]
    return obj


def mean_seconds(values) -> float:
    """The mean of seconds recorded at 0.1 s, to 0.1 s, in exact arithmetic: each value's tenths an integer, their
    mean a fraction rounded half to even. A float's last digits (another CPU, another order of summing) cannot move
    it across a tie: 4059.1 and 3943.4 average 4001.25, written 4001.2 on every machine."""
    tenths = [round(float(v) * 10) for v in values]
    return float(round(Fraction(sum(tenths), 10 * len(tenths)), 1))


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every float column at fixed_precision: what write_csv writes, and what a reader of the file
    gets back."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = [fixed_precision(v) for v in out[column].to_numpy(dtype=float)]
    return out


def write_csv(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Write ``frame`` at fixed precision (rounded) and return it as written: a figure or a display drawn from the
    returned frame is drawn from the table."""
    frame = rounded(frame)
    atomic_write_text(path, frame.to_csv(index=False))
    return frame


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def run_config(folder: Path) -> ExperimentConfig:
    """The config a run folder was trained with: its config.json read back through ExperimentConfig (fields
    added since then take their defaults, which keep the old behaviour). Raises FileNotFoundError when the
    folder has no config.json, and ConfigError naming the file when it holds no valid config."""
    path = Path(folder) / "config.json"
    try:
        return ExperimentConfig.from_dict(read_json(path))
    except (ConfigError, TypeError, ValueError) as e:      # ValueError: not JSON (json.JSONDecodeError)
        raise ConfigError(f"{path}: not a run's config: {e}") from e


def same_config(saved: dict, config: dict) -> bool:
    """Equal once the saved config is read back through ExperimentConfig, so fields added to
    the dataclasses later (with defaults that keep the old behaviour) do not invalidate runs."""
    try:
        saved = ExperimentConfig.from_dict(saved).to_dict()
    except (ConfigError, TypeError):
        return False
    return json.loads(json.dumps(saved)) == json.loads(json.dumps(config))


def is_complete(path: Path, config: dict) -> bool:
    """True when metrics.json exists and config.json holds the same config, both whole: a metrics.json cut short
    (a copy interrupted, a full disk) is no finished run, so the run trains (or is restored) again."""
    path = Path(path)
    if not (path / "metrics.json").exists() or not (path / "config.json").exists():
        return False
    try:
        metrics = json.loads((path / "metrics.json").read_text())
        return same_config(read_json(path / "config.json"), config) and not encoder_changed(metrics, config) \
            and not data_changed(metrics, config)
    except (ValueError, UnicodeDecodeError):
        return False


def encoder_changed(metrics: dict, config: dict) -> bool:
    """Whether the run recorded another encoder than the one its config names is now (model.encoder_identity: a
    local folder's files hashed), e.g. new weights written under the same path. A run recorded before identities
    were recorded is judged by its config alone."""
    recorded = metrics.get("encoder_identity")
    return recorded is not None and recorded != encoder_identity(config["model"]["encoder"])


def data_changed(metrics: dict, config: dict) -> bool:
    """Whether the course files the run's tasks read differ from those it recorded (data.data_identity). A run
    recorded before identities were recorded, or judged where no data are found, is judged by its config alone."""
    recorded = metrics.get("data_identity")
    if recorded is None:
        return False
    cfg = ExperimentConfig.from_dict(config)
    current = data_identity(cfg.tasks, cfg.data)
    return current is not None and current != recorded


def config_key(config: dict) -> str:
    """A config as canonical JSON, read back through ExperimentConfig first (fields added since take their
    defaults): two runs with the same key are one run (with the same encoder identity: is_complete)."""
    return json.dumps(ExperimentConfig.from_dict(config).to_dict(), sort_keys=True, default=str)


class RunIndex:
    """The complete runs of one profile's registry by what they are (config_key), not what they are called: a run
    is found wherever it was trained, under whatever name (a sweep point that equals a ladder row, notebook 11's
    `all-data-linear-capall-seed0` that is notebook 13's `converged-plain-seed0`). Built once by one scan of the
    registry's folders in sorted order; ``find`` checks each candidate whole (is_complete: metrics.json, the config
    and the encoder's identity), so a folder changed since the scan is never taken for done."""

    def __init__(self, profile: str):
        self.profile, self.by_key = profile, {}
        for run in sorted((runs_dir() / profile).glob("*/*")):
            if (run / "metrics.json").exists() and (run / "config.json").exists():
                try:
                    self.by_key.setdefault(config_key(read_json(run / "config.json")), []).append(run)
                except (ConfigError, TypeError, ValueError):       # not a run's config: never a twin
                    continue

    def find(self, config: dict, own: Path | None = None) -> Path | None:
        """The complete run of ``config``: ``own`` (the folder its notebook would train it in) when that is one,
        else the first of the others in sorted order, else None."""
        if own is not None and is_complete(own, config):
            return Path(own)
        return next((run for run in self.by_key.get(config_key(config), []) if is_complete(run, config)), None)

    def seeds(self) -> list[int]:
        """The seeds of the indexed runs, sorted."""
        return sorted({ExperimentConfig.from_dict(json.loads(key)).train.seed for key in self.by_key})


class CourseOutputError(UserError, ValueError):
    """A course output file that is malformed or does not answer every input id exactly once."""


def _check_answers(target: Path, answered: list[str], ids) -> None:
    """Raise CourseOutputError unless ``answered`` holds each of ``ids`` exactly once and nothing else."""
    expected = [str(i) for i in ids]
    counts = pd.Series(answered, dtype=object).value_counts()
    twice = sorted(counts[counts > 1].index)
    missing = sorted(set(expected) - set(answered))
    extra = sorted(set(answered) - set(expected))
    if twice or missing or extra or len(answered) != len(expected):
        parts = [f"{len(v)} {what} ({', '.join(v[:3])}{', ...' if len(v) > 3 else ''})"
                 for what, v in (("ids missing", missing), ("ids answered twice", twice), ("unknown ids", extra)) if v]
        raise CourseOutputError(f"{target}: {len(answered)} answers for {len(expected)} input ids: " + "; ".join(parts))


def write_course_output(path: Path, task: str, predictions: pd.DataFrame, split: str = "test", *, ids) -> Path:
    """The course starter's output file for a split ('sst-dev-output.csv', 'sts-test-output.csv', ...): its
    header line, spelling included ('Predicted_Similiary'), then 'id , prediction ' per line.

    ``ids``: the input file's ids; each must be answered exactly once, with a finite number (else
    CourseOutputError, nothing written). A regression score is clipped to the task's label range (STS: 0-5), the range the course's
    files use; predictions-*.csv keep the raw score, from which the reported Pearson r is computed.
    """
    spec = TASKS[task]
    name, header = spec.test_output
    target = Path(path) / name.replace("-test-", f"-{split}-")
    answered = [str(i) for i in predictions["id"]]
    _check_answers(target, answered, ids)
    values = predictions["prediction"]
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(float)
    if not np.isfinite(numbers).all():
        bad = int(np.flatnonzero(~np.isfinite(numbers))[0])
        raise CourseOutputError(f"{target}: the prediction for id {answered[bad]} is {values.iloc[bad]!r}, not a finite "
                                f"number ({int((~np.isfinite(numbers)).sum())} of {len(numbers)}): the model's outputs "
                                "are not finite, so nothing is written")
    # a class is written as an integer even when read back from a CSV whose column also holds STS scores
    values = values.clip(*spec.label_range) if spec.kind == "regress" else values.astype(int)
    lines = [header] + [f"{i} , {p} " for i, p in zip(answered, values)]
    atomic_write_text(target, "\n".join(lines) + "\n")
    return target


def read_course_output(path: Path, task: str, ids=None) -> pd.DataFrame:
    """A course output file back as (id, prediction) rows, checked line by line: the task's header, then
    'id , prediction ' with a number in the task's range. ``ids``: also check each is answered exactly
    once. Raises CourseOutputError naming the file, the line and what is wrong."""
    path, spec = Path(path), TASKS[task]
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = spec.test_output[1]
    if not lines or lines[0] != header:
        raise CourseOutputError(f"{path}, line 1: header {lines[0] if lines else ''!r}, expected {header!r}")
    lo, hi = spec.label_range
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split(" , ")
        try:
            if len(fields) != 2 or not fields[0].strip() or not fields[1].endswith(" "):
                raise ValueError("expected 'id , prediction '")
            value = float(fields[1])
            if not lo <= value <= hi or (spec.kind != "regress" and value != int(value)):
                raise ValueError(f"prediction {fields[1].strip()!r} outside {lo:g}-{hi:g}")
        except ValueError as e:
            raise CourseOutputError(f"{path}, line {n}: {line!r}: {e}") from None
        rows.append((fields[0], value))
    frame = pd.DataFrame(rows, columns=["id", "prediction"])
    if ids is not None:
        _check_answers(path, frame["id"].tolist(), ids)
    return frame


CODE_PATHS = ("quarbert_lib", "notebooks", "requirements.txt", "pyproject.toml")


def git_commit() -> str:
    """The short commit of the code, with '-dirty' when the library, notebooks or pins differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
        # the code that makes results: the library (new modules too), the notebooks and the pins; reports/ and
        # records/ are this pipeline's own output, so rewriting them does not make the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE_PATHS], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (out.stdout.strip() or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextmanager
def locked(path: Path):
    """An exclusive lock on ``<path>.lock`` for a read-modify-write of ``path`` (POSIX flock),
    so two processes upserting the same table never lose each other's rows."""
    lock = Path(path).with_name(f".{Path(path).name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_table(name: str, profile: str | None = None, encoder: str | None = None) -> pd.DataFrame | None:
    """reports/tables/<name>, narrowed to ``profile`` and ``encoder`` where given and the table has those
    columns; None when the file is absent or has no columns (a table saved with no rows)."""
    path = tables_dir() / name
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    for column, value in (("profile", profile), ("encoder", encoder)):
        if value is not None and column in df:
            df = df[df[column] == value]
    return df.reset_index(drop=True)


def upsert_rows(table: Path, rows: list[dict], key: list[str], order=None) -> pd.DataFrame:
    """Replace the rows of ``table`` (a CSV) whose key columns match, append the rest; keep order,
    or sort with ``order(frame) -> frame`` when given."""
    new = pd.DataFrame(rows)
    with locked(Path(table)):
        if Path(table).exists():
            old = pd.read_csv(table)
            if set(key) <= set(old.columns):
                keys = set(map(tuple, new[key].astype(str).to_numpy()))
                old = old[[tuple(r) not in keys for r in old[key].astype(str).to_numpy()]]
            new = pd.concat([old, new], ignore_index=True)
        if order is not None:
            new = order(new).reset_index(drop=True)
        new = write_csv(Path(table), new)            # as written (fixed precision)
    return new


RUN_COST_COLUMNS = ["profile", "notebook", "run", "encoder", "seed", "steps", "train_seconds", "eval_seconds",
                    "wall_seconds", "kind", "evaluations", "probe"]


def run_costs(profile: str) -> pd.DataFrame:
    """One row per complete run of ``profile`` in the registry: where it is, its encoder and
    seed, optimizer steps, its training, evaluation and wall seconds (from metrics.json), its cost kind, how
    many dev evaluations the evaluation seconds add up (history.csv's eval rows) and the training examples per
    task each of them also scored (train.eval_train_examples: 0, none)."""
    rows = []
    for p in sorted((runs_dir() / profile).glob("*/*/metrics.json")):
        m = read_json(p)
        cfg = run_config(p.parent) if (p.parent / "config.json").exists() else None
        history = p.parent / "history.csv"
        evaluations = int((pd.read_csv(history)["kind"] == "eval").sum()) if history.exists() else None
        rows.append({"profile": profile, "notebook": p.parent.parent.name, "run": p.parent.name,
                     "encoder": m["encoder"], "seed": m.get("seed"), "steps": m.get("steps"),
                     **{k: m.get(k) for k in ("train_seconds", "eval_seconds", "wall_seconds")},
                     "kind": cost_kind(cfg) if cfg else "", "evaluations": evaluations,
                     "probe": cfg.train.eval_train_examples if cfg else None})
    return pd.DataFrame(rows, columns=RUN_COST_COLUMNS)


def write_members(ensemble_dir: Path, members: dict[str, Path]) -> Path:
    """members.json of an ensemble folder: each member's run folder, relative to the registry (the error
    browser's member view reads it)."""
    path = Path(ensemble_dir) / "members.json"
    write_json(path, {name: str(Path(folder).resolve().relative_to(runs_dir().resolve())) for name, folder in members.items()})
    return path


class RunNotFound(UserError, FileNotFoundError):
    """A result that needs a run the registry does not hold yet (a user error: the message names the notebook)."""


def find_run(run_name: str, profile: str, encoder: str) -> Path:
    """The folder of a complete run by name, profile and encoder, in any notebook's folder."""
    found = [p.parent for p in sorted(runs_dir().rglob("metrics.json"))
             if p.parent.name == run_name and (m := read_json(p))["profile"] == profile and m["encoder"] == encoder]
    if not found:
        raise RunNotFound(f"no complete run {run_name!r} ({profile}, {encoder}) under {runs_dir()}: "
                                "run the notebook that trains it first")
    return found[0]


# -- measurements kept as records: timings and strengths that a re-execution reads unless asked to measure ----------

def _of_setting(table: pd.DataFrame, setting: dict) -> pd.Series:
    """Which rows of ``table`` carry ``setting``: every key a column holding its value (numbers compared as numbers,
    so 8 matches 8.0 and 5e-4 matches 0.0005 as a CSV gives them back; anything else as text)."""
    match = pd.Series(True, index=table.index)
    for key, value in setting.items():
        if key not in table.columns:
            return pd.Series(False, index=table.index)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            column = pd.to_numeric(table[key], errors="coerce")
            match &= (column - float(value)).abs() <= 1e-12 * max(1.0, abs(float(value)))
        else:
            match &= table[key].astype(str) == str(value)
    return match


# A measurement table holds one measurement per profile and encoder: the latest.
MEASURED_KEY = ("profile", "encoder")


def save_measured(name: str, setting: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """Save ``rows`` to reports/tables/<name>, each carrying ``setting`` as columns, in place of the table's rows of
    the same profile and encoder (MEASURED_KEY: one measurement each, the latest) and of rows saved before tables
    carried their setting; returns the rows saved."""
    rows = rows.assign(**setting)
    key = {k: setting[k] for k in MEASURED_KEY if k in setting}
    path = tables_dir() / name
    with locked(path):
        old = read_table(name)
        if old is not None:
            legacy = old[[c for c in setting if c in old.columns]].isna().any(axis=1) | \
                ~pd.Series(set(setting) <= set(old.columns), index=old.index)
            old = old[~(_of_setting(old, key) | legacy)]
        write_csv(path, rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True))
    return rounded(rows).reset_index(drop=True)         # the rows as saved: what read_measured gives back


def read_measured(name: str, setting: dict) -> pd.DataFrame:
    """reports/tables/<name>'s rows of ``setting``. Raises UserError naming the table and the setting when it has
    none (never measured, or measured with other settings): measure it where that is possible (measure=True)."""
    table = read_table(name)
    rows = None if table is None else table[_of_setting(table, setting)].reset_index(drop=True)
    if rows is None or rows.empty:
        raise UserError(f"{tables_dir() / name}: no measurement of {setting}; measure it (measure=True)")
    return rows


def is_measured(name: str, setting: dict) -> bool:
    """Whether reports/tables/<name> holds a row of ``setting``."""
    saved = read_table(name)
    return saved is not None and bool(_of_setting(saved, setting).any())


def measured(name: str, setting: dict, measure: bool | None, make) -> tuple[pd.DataFrame, bool]:
    """A measurement kept as a record (a timing, a strength): ``make()`` measured and saved (save_measured) when
    ``measure`` is True, or None and no row of ``setting`` is saved; else the saved rows (read_measured).
    Returns (rows, whether measured here)."""
    if measure or (measure is None and not is_measured(name, setting)):
        return save_measured(name, setting, make()), True
    return read_measured(name, setting), False

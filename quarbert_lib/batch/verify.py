"""`make reproduce`'s check of the committed study: a sample of its recorded runs trained again and compared with
their records.

    python -m quarbert_lib verify [--profile cpu] [--budget-minutes 6] [--runs NB/RUN ...]

Re-executing the notebooks from the records (the batch) shows that the reports are what the records give; it does
not show that the records are what the code trains. This retrains a sample: for each notebook with recorded runs,
its cheapest run (by the record's wall seconds), cheapest notebooks first, while the recorded minutes fit
``--budget-minutes``; each in a scratch registry (no record is read or written), with the record's own config.
Each is then compared with its record:

- **exactly**: the dev predictions are the record's value for value, at the precision they are written (training is
  deterministic on one machine: the machine that made the records gives this);
- **within tolerance**: another machine's float arithmetic moves predictions a little; every dev metric within
  TOLERANCE of the record's;
- **differs**: neither; the line names the metrics that moved and by how much.

It ends with ``N of M retrained runs reproduce their records`` and exits 1 when one differs.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ..base.errors import UserError
from ..base.paths import RUNS_ENV
from ..base.tasks import metrics_key, study_columns
from ..study import records
from ..study.experiment import run_experiment
from ..study.results import read_json, rounded, run_config, run_name

# How far a dev metric of a run retrained on another machine may sit from its record's and still count as
# reproducing it. Another CPU rounds differently, and 450 steps of training amplify that: a run can move by up to
# about a seed's spread (the study's rows: SST's seed std 0.003-0.035). So elsewhere this catches a broken recipe
# (a changed default, a wrong data split), not the last digits; on the machine that made the records a run
# reproduces exactly or the check says it differs.
TOLERANCE = 0.02
DEFAULT_BUDGET_MINUTES = 6.0


class NothingToVerify(UserError):
    """No recorded run to retrain (or one named that is not recorded)."""


@dataclass
class Recorded:
    notebook: str
    run: str
    folder: Path
    minutes: float          # the record's wall minutes: what retraining it costs here


def recorded_runs(profile: str) -> list[Recorded]:
    """Every recorded run of ``profile`` that trains (an ensemble's record has no config.json), in sorted order."""
    root = records.records_dir() / profile
    found = []
    for folder in sorted(root.glob("*/*")):
        if (folder / "config.json").exists() and (folder / "metrics.json").exists():
            metrics = read_json(folder / "metrics.json")
            found.append(Recorded(folder.parent.name, folder.name, folder,
                                  float(metrics.get("wall_seconds") or metrics.get("train_seconds") or 0) / 60))
    return found


def sample(runs: list[Recorded], budget_minutes: float) -> list[Recorded]:
    """Each notebook's cheapest recorded run, cheapest first, while their recorded minutes fit the budget (the
    first always: a check that retrains nothing checks nothing)."""
    cheapest: dict[str, Recorded] = {}
    for r in runs:
        if r.notebook not in cheapest or r.minutes < cheapest[r.notebook].minutes:
            cheapest[r.notebook] = r
    chosen, spent = [], 0.0
    for r in sorted(cheapest.values(), key=lambda r: (r.minutes, r.notebook)):
        if chosen and spent + r.minutes > budget_minutes:
            continue
        chosen.append(r)
        spent += r.minutes
    return chosen


@contextmanager
def scratch_registry():
    """A temporary run registry and records folder: nothing is restored into it, nothing recorded from it."""
    saved = {k: os.environ.get(k) for k in (RUNS_ENV, records.RECORDS_ENV)}
    with tempfile.TemporaryDirectory(prefix="quarbert-verify-") as tmp:
        os.environ[RUNS_ENV], os.environ[records.RECORDS_ENV] = str(Path(tmp) / "runs"), str(Path(tmp) / "records")
        try:
            yield Path(tmp)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def compare(record: Path, metrics: dict, predictions: Path) -> tuple[str, dict[str, float]]:
    """('exactly' | 'within tolerance' | 'differs', {metric: retrained - recorded}) for one retrained run."""
    recorded = read_json(record / "metrics.json")
    moved = {c: float(metrics[metrics_key(c)]) - float(recorded[metrics_key(c)]) for c in study_columns()
             if metrics.get(metrics_key(c)) is not None and recorded.get(metrics_key(c)) is not None}
    if metrics.get("overall") is not None and recorded.get("overall") is not None:
        moved["overall"] = float(metrics["overall"]) - float(recorded["overall"])
    saved = record / "predictions-dev.csv.gz"
    if saved.exists() and predictions.exists() and as_written(gzip.decompress(saved.read_bytes())) == predictions.read_bytes():
        return "exactly", moved
    return ("within tolerance" if moved and all(abs(d) <= TOLERANCE for d in moved.values()) else "differs"), moved


def as_written(data: bytes) -> bytes:
    """A predictions file's text as results.write_csv writes it today (fixed precision): a record written before
    that precision (a float64 column in full) compares with a retrained run's file value for value."""
    return rounded(pd.read_csv(io.BytesIO(data), dtype={"id": str})).to_csv(index=False).encode("utf-8")


@contextmanager
def record_threads(record: Path):
    """Train with the threads the record trained with (its metrics.json 'threads'; a run trained in a worker had its
    share of the cores): another thread count sums in another order."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(read_json(record / "metrics.json").get("threads") or before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def verify(profile: str, chosen: list[Recorded]) -> list[dict]:
    """Retrain each chosen run from its record's config in a scratch registry and compare; one dict per run."""
    out = []
    for r in chosen:
        cfg = run_config(r.folder)
        with scratch_registry() as tmp, record_threads(r.folder):
            metrics = run_experiment(cfg, r.notebook, r.run, force=True)
            verdict, moved = compare(r.folder, metrics, tmp / "runs" / profile / r.notebook / r.run / "predictions-dev.csv")
        out.append({"notebook": r.notebook, "run": r.run, "verdict": verdict, "moved": moved})
        largest = max(moved.items(), key=lambda kv: abs(kv[1]), default=("overall", 0.0))
        print(f"[verify] {r.notebook}/{r.run}: reproduces its record {verdict}" if verdict != "differs" else
              f"[verify] {r.notebook}/{r.run}: DIFFERS from its record (largest move: {largest[0]} {largest[1]:+.4f}, "
              f"tolerance ±{TOLERANCE:g})", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib verify", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--budget-minutes", type=float, default=DEFAULT_BUDGET_MINUTES,
                        help="the recorded minutes of retraining to spend (default %(default)s)")
    parser.add_argument("--runs", nargs="*", help="NOTEBOOK/RUN of the records to retrain instead of the sample")
    args = parser.parse_args(argv)
    runs = recorded_runs(args.profile)
    if args.runs:
        by_name = {f"{r.notebook}/{r.run}": r for r in runs}
        unknown = [name for name in args.runs if name not in by_name]
        if unknown:
            raise NothingToVerify(f"no recorded run {', '.join(unknown)} under {records.records_dir() / args.profile}"
                                  f" (NOTEBOOK/RUN, e.g. 02_multitask_baseline/{run_name('baseline-pretrain', seed=0)})")
        chosen = [by_name[name] for name in args.runs]
    else:
        chosen = sample(runs, args.budget_minutes)
    if not chosen:
        raise NothingToVerify(f"no recorded runs under {records.records_dir() / args.profile} to retrain")
    left = sorted({r.notebook for r in runs} - {r.notebook for r in chosen})
    print(f"[verify] retraining {len(chosen)} recorded runs (about {sum(r.minutes for r in chosen):.1f} min by their "
          f"records): {', '.join(f'{r.notebook}/{r.run}' for r in chosen)}"
          + (f"; not this time (over the budget): {', '.join(left)}" if left else ""), flush=True)
    results = verify(args.profile, chosen)
    good = sum(r["verdict"] != "differs" for r in results)
    print(f"[verify] {good} of {len(results)} retrained runs reproduce their records "
          f"({sum(r['verdict'] == 'exactly' for r in results)} exactly: the same dev predictions as written)")
    return 0 if good == len(results) else 1


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

"""Run records: what a finished run of the committed study leaves in the repository.

A run folder in the registry (runs/<profile>/<notebook>/<run>/, ignored by git) holds weights and
checkpoints beside the results. Its **record**, records/<profile>/<notebook>/<run>/ (committed for the
study profiles), keeps the results alone:

    config.json, metrics.json, members.json, calibration.json ...   every JSON file, as is (weights.json: the
                                                                     weights' SHA-256, ensemble.record_weights_hash)
    history.csv.gz, predictions-<split>.csv.gz ...                   every CSV, gzip-compressed

never weights, checkpoints, adapters or sub-stage folders, and never the course's output files, which are
rebuilt from predictions-<split>.csv on restore. Gzip files are written with mtime 0, so the same results
give the same bytes.

A run is done when its record holds the same config: ``restore`` writes the record back into the
registry (results, course outputs; no weights), and the notebooks read it there as they read a run they
trained. So a fresh clone re-executes the committed study without training, and a changed config
retrains only what changed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from ..base.errors import UserError
from ..base.paths import REPO_ROOT, profile_reports_dir, reports_dir, runs_dir
from .ensemble import record_weights_hash
from .results import (atomic_write_bytes, atomic_write_text, deterministic_gzip, git_commit, is_complete, read_json,
                      run_path, same_config, write_course_output)

RECORDS_ENV = "QUARBERT_RECORDS"
# Profiles whose records live in the repository: the committed study, and the paper's settings on a GPU.
RECORDED_PROFILES = ("cpu", "paper")
COURSE_OUTPUT_SUFFIX = "-output.csv"


def records_dir() -> Path:
    return Path(os.environ.get(RECORDS_ENV) or REPO_ROOT / "records")


def writable(profile: str) -> bool:
    """Whether runs of ``profile`` leave records: a study profile, written where the profile's committed reports
    are written (the batch; never a person's notebook writing to reports/local/, base/notebook.py), from a clean
    tree (results.git_commit), since records are committed and must come from committed code; or a
    QUARBERT_RECORDS folder named elsewhere."""
    if profile not in RECORDED_PROFILES:
        return False
    if os.environ.get(RECORDS_ENV):
        return True
    return reports_dir().resolve() == profile_reports_dir(profile).resolve() and not git_commit().endswith("-dirty")


def record_path(profile: str, notebook: str, run_name: str) -> Path:
    """records/<profile>/<notebook>/<run_name>: the same layout as the registry's run folders."""
    return records_dir() / profile / notebook / run_name


def _recorded_files(run_dir: Path) -> list[Path]:
    """The run folder's result files: top-level JSON and CSV, without the course outputs."""
    return sorted(p for p in run_dir.iterdir() if p.is_file() and not p.name.startswith(".")
                  and (p.suffix == ".json" or (p.suffix == ".csv" and not p.name.endswith(COURSE_OUTPUT_SUFFIX))))


def save(run_dir: Path, record_dir: Path) -> Path:
    """Write the record of a finished run folder (one holding metrics.json or members.json) to
    ``record_dir``, replacing an older record there. Raises FileNotFoundError for an unfinished run."""
    run_dir, record_dir = Path(run_dir), Path(record_dir)
    if not any((run_dir / name).exists() for name in ("metrics.json", "members.json")):
        raise FileNotFoundError(f"{run_dir} is not a finished run (no metrics.json or members.json)")
    record_weights_hash(run_dir)         # the weights stay behind; their hash goes with the record
    files = _recorded_files(run_dir)
    if record_dir.exists():
        shutil.rmtree(record_dir)
    for src in files:
        data = src.read_bytes()
        if src.suffix == ".csv":
            atomic_write_bytes(record_dir / f"{src.name}.gz", deterministic_gzip(data))
        else:
            atomic_write_bytes(record_dir / src.name, data)
    return record_dir


class RecordDamaged(UserError):
    """A committed record whose file cannot be read whole (a gzip or JSON cut short)."""


def restore(record_dir: Path, run_dir: Path) -> Path:
    """Write a record back into a registry folder: its JSON files, its CSVs decompressed, and the course
    output files of its dev and test predictions (each input id answered once, as when it was trained)."""
    record_dir, run_dir = Path(record_dir), Path(run_dir)
    names = sorted(p.name for p in record_dir.iterdir() if p.is_file())
    texts = {}              # every file read and checked before anything is written: a damaged record restores nothing
    for name in names:
        try:
            data = (record_dir / name).read_bytes()
            text = (gzip.decompress(data) if name.endswith(".csv.gz") else data).decode("utf-8")
            if name.endswith(".json"):
                json.loads(text)
        except (OSError, EOFError, ValueError) as e:       # a gzip cut short, JSON cut short, bytes that are not UTF-8
            raise RecordDamaged(f"{record_dir / name}: damaged record ({type(e).__name__}: {str(e)[:80]}): "
                                f"`git checkout -- {record_dir}` brings back the committed copy, or retrain the run") from None
        texts[name[:-3] if name.endswith(".csv.gz") else name] = text
    run_dir.mkdir(parents=True, exist_ok=True)
    # metrics.json last: its presence marks the run complete, so an interrupted restore is not one
    for name in sorted(texts, key=lambda n: n == "metrics.json"):
        atomic_write_text(run_dir / name, texts[name])
    for split in ("dev", "test"):
        path = run_dir / f"predictions-{split}.csv"
        if path.exists():
            frame = pd.read_csv(path, dtype={"id": str})
            for task, rows in frame.groupby("task", sort=False):
                write_course_output(run_dir, task, rows, split, ids=rows["id"])
    return run_dir


def find(profile: str, notebook: str, run_name: str, config: dict | None = None) -> Path | None:
    """The record of this run, or None; with ``config``, only a record of that same config."""
    path = record_path(profile, notebook, run_name)
    if not (path / "config.json").exists() and not (path / "members.json").exists():
        return None
    if config is not None and not ((path / "config.json").exists()
                                   and same_config(read_json(path / "config.json"), config)):
        return None
    return path


def restore_run(profile: str, notebook: str, run_name: str, config: dict) -> bool:
    """Make the registry hold this run from its record when it has none of the same config: True when the
    registry now holds it complete (restored or already there)."""
    target = run_path(profile, notebook, run_name)
    if is_complete(target, config):
        return True
    record = find(profile, notebook, run_name, config)
    if record is None:
        return False
    restore(record, target)
    return is_complete(target, config)          # a record of another encoder under the same name is not this run


def restore_missing(profile: str, notebook: str | None = None) -> list[Path]:
    """Restore every record of ``profile`` (of one notebook folder, or all) whose registry folder holds no
    finished run (no metrics.json nor members.json). A registry run is never overwritten: it may be newer."""
    root = records_dir() / profile
    folders = [root / notebook] if notebook else sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    restored = []
    for folder in folders:
        for record in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            target = run_path(profile, folder.name, record.name)
            if not any((target / n).exists() for n in ("metrics.json", "members.json")):
                restored.append(restore(record, target))
    return restored


def export(profile: str) -> list[Path]:
    """Save the record of every finished run of ``profile`` in the registry (the batch's last step; also
    ``python -m quarbert_lib records export``)."""
    root = runs_dir() / profile
    finished = sorted({p.parent for p in root.glob("*/*/*.json") if p.name in ("metrics.json", "members.json")})
    return [save(run_dir, record_path(profile, run_dir.parent.name, run_dir.name)) for run_dir in finished]


def size_bytes(profile: str | None = None) -> int:
    """Bytes of the records (of one profile, or all)."""
    root = records_dir() / profile if profile else records_dir()
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib records",
                                     description="Save the registry's finished runs as records, or restore records into it.")
    parser.add_argument("command", choices=["export", "restore", "size"])
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args(argv)
    if args.command == "export":
        done = export(args.profile)
        print(f"{len(done)} records of {runs_dir() / args.profile} saved under {records_dir() / args.profile}")
    elif args.command == "restore":
        done = restore_missing(args.profile)
        print(f"{len(done)} runs restored into {runs_dir() / args.profile} (results only: no weights)")
    print(f"records/{args.profile}: {size_bytes(args.profile) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

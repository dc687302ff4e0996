"""The dev predictions the reports rest on, saved beside them so a fresh clone can browse without training.

runs/ is not committed; reports/ is. ``save(profile, encoder)`` (run by `make figures`) copies the dev
predictions of seed 0 of every ladder row, of the quartet ensembles and of their members from the registry
to reports/predictions/<notebook>/<run>/predictions-dev.csv.gz (at the tables' fixed precision, gzip with a fixed
timestamp, so unchanged predictions give the same bytes on any machine and git sees no change), with a run.json naming profile, encoder and seed, and the
ensembles' members.json. ``find(run, profile, encoder)`` and ``sources(profile)`` read a registry run where
one exists and the saved copy otherwise; with neither, ``find`` raises a RunNotFound naming the notebook.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from ..base.paths import reports_dir, runs_dir
from .recipes import VARIANTS
from .results import (RunNotFound, atomic_write_bytes, deterministic_gzip, find_run, read_json, rounded, run_name,
                      run_stem, write_json)
from .spec import ENSEMBLES as ENSEMBLE_NOTEBOOKS
from .spec import trained_by

DEV = "predictions-dev.csv"
SAVED = DEV + ".gz"
CALIBRATED = "predictions-dev-calibrated.csv"     # an ensemble's, with the calibration fitted on `calib` (notebook 07)
MAX_BYTES = 5 * 1024 * 1024
# The runs whose predictions are saved: seed 0 of each ladder row, and the two quartet ensembles with their members.
ENSEMBLES = {run_name(row, seed=0): notebook for row, notebook in ENSEMBLE_NOTEBOOKS.items()}


def saved_dir() -> Path:
    return reports_dir() / "predictions"


def _save_csv(source: Path, target: Path) -> None:
    """A run's predictions file, gzipped, at the tables' fixed precision (results.rounded): the saved copy of an
    ensemble's predictions, averaged anew at each execution, is then the same on every machine."""
    frame = rounded(pd.read_csv(source, dtype={"id": str}))
    atomic_write_bytes(target, deterministic_gzip(frame.to_csv(index=False).encode("utf-8")))


def _save_run(folder: Path, profile: str) -> Path:
    """Copy one registry folder's dev predictions (and members.json) into the saved store."""
    notebook, run = folder.parent.name, folder.name
    target = saved_dir() / notebook / run
    _save_csv(folder / DEV, target / SAVED)
    if target.joinpath(SAVED).stat().st_size > MAX_BYTES:
        raise ValueError(f"{target / SAVED} is over {MAX_BYTES} bytes: too large to commit")
    metrics = folder / "metrics.json"
    meta = read_json(metrics) if metrics.exists() else {}
    write_json(target / "run.json", {"profile": profile, "notebook": notebook, "run": run,
                                     "encoder": meta.get("encoder"), "seed": meta.get("seed")})
    if (folder / "members.json").exists():
        shutil.copyfile(folder / "members.json", target / "members.json")
    if (folder / CALIBRATED).exists():
        _save_csv(folder / CALIBRATED, target / (CALIBRATED + ".gz"))
    return target / SAVED


def save(profile: str, encoder: str) -> list[Path]:
    """Save the predictions of every run the reports rest on that the registry holds; return the files."""
    folders = []
    for variant in VARIANTS:
        try:
            folders.append(find_run(run_name(variant, seed=0), profile, encoder))
        except RunNotFound:
            pass
    for run, notebook in ENSEMBLES.items():
        folder = runs_dir() / profile / notebook / run
        if (folder / DEV).exists():
            folders.append(folder)
            if (folder / "members.json").exists():
                folders += [runs_dir() / member for member in read_json(folder / "members.json").values()]
    return [_save_run(f, profile) for f in dict.fromkeys(folders) if (f / DEV).exists()]


def member_file(member: str) -> Path:
    """A members.json entry ('<profile>/<notebook>/<run>') as a predictions file: the registry's, else saved."""
    registry = runs_dir() / member / DEV
    return registry if registry.exists() else saved_dir() / Path(*Path(member).parts[1:]) / SAVED


def find(run: str, profile: str, encoder: str) -> Path:
    """The dev predictions file of a run: the registry's when it holds the run, else the saved copy."""
    notebook = ENSEMBLE_NOTEBOOKS.get(run_stem(run))
    if notebook and (runs_dir() / profile / notebook / run / DEV).exists():   # an ensemble has no metrics.json
        return runs_dir() / profile / notebook / run / DEV
    try:
        return find_run(run, profile, encoder) / DEV
    except RunNotFound:
        pass
    for meta in sorted(saved_dir().glob(f"*/{run}/run.json")):
        m = read_json(meta)
        if m["profile"] == profile and m.get("encoder") in (encoder, None):
            return meta.parent / SAVED
    notebook = trained_by(run) or "the notebook that trains it"
    raise RunNotFound(f"no dev predictions of {run!r} ({profile}, {encoder}) in {runs_dir()} or {saved_dir()}: "
                      f"run notebook {notebook} (`make reproduce ONLY={notebook[:2]}`)")


def calibrated_beside(predictions: Path) -> Path | None:
    """An ensemble's calibrated dev predictions beside its plain ones (a registry file or a saved copy), or None."""
    path = Path(predictions).parent / (CALIBRATED + (".gz" if Path(predictions).name.endswith(".gz") else ""))
    return path if path.exists() else None


def sources(profile: str) -> dict[str, Path]:
    """Every 'notebook/run' with dev predictions: the registry's runs and ensembles, then the saved ones
    that the registry does not hold."""
    root = runs_dir() / profile
    found = {str(p.parent.relative_to(root)): p for p in sorted(root.rglob(DEV))} if root.exists() else {}
    for meta in sorted(saved_dir().glob("*/*/run.json")):
        if read_json(meta)["profile"] == profile and (meta.parent / SAVED).exists():
            found.setdefault(str(meta.parent.relative_to(saved_dir())), meta.parent / SAVED)
    return found

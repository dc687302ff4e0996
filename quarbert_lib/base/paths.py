"""Where things live: the repository root, the course data, runs/ and reports/.

Each location can be moved with an environment variable, so tests and batch reruns can
point the whole pipeline somewhere else without touching code.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ENV, RUNS_ENV, REPORTS_ENV = "QUARBERT_DATA", "QUARBERT_RUNS", "QUARBERT_REPORTS"
# The file every candidate data dir must hold to count as one.
_MARKER = "ids-sst-train.csv"


def data_dir_candidates(explicit: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The resolution order, as (source, path) pairs."""
    out = []
    if explicit:
        out.append(("argument", Path(explicit)))
    if os.environ.get(DATA_ENV):
        out.append((f"env {DATA_ENV}", Path(os.environ[DATA_ENV])))
    out.append(("./data", Path.cwd() / "data"))
    if (REPO_ROOT / "data") != (Path.cwd() / "data"):
        out.append(("<repo>/data", REPO_ROOT / "data"))
    out.append(("../shared/data/cs224n", REPO_ROOT.parent / "shared" / "data" / "cs224n"))
    return out


class DataNotFound(UserError, FileNotFoundError):
    """No course data where the resolution order looked (a user error: the message says the fix)."""


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """First candidate that exists. An explicit argument or env var must exist: no fallback past it."""
    tried = []
    for source, path in data_dir_candidates(explicit):
        if (path / _MARKER).is_file():
            return path
        if source == "argument" or source.startswith("env "):
            raise DataNotFound(
                f"data dir from {source} ({path}) has no {_MARKER}; "
                "run `python -m quarbert_lib data download` or fix the path")
        tried.append(f"{source}: {path}")
    raise DataNotFound(
        "no course data found; tried " + "; ".join(tried)
        + f". Set {DATA_ENV} or run `python -m quarbert_lib data download --dest data`.")


# The committed study's profile: its tables, figures, results.md and executed notebooks are reports/ itself.
# Every other profile's batch writes under reports/<profile>/ (ignored by git), so a smoke run never
# touches the committed study.
STUDY_PROFILE = "cpu"


def shown(path: Path) -> str:
    """A path as the batch and the notebooks print and record it: relative to the repository when inside it, so a
    clone elsewhere writes the same text."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def profile_reports_dir(profile: str) -> Path:
    return REPO_ROOT / "reports" if profile == STUDY_PROFILE else REPO_ROOT / "reports" / profile


def use_profile_reports(profile: str) -> Path:
    """Point reports_dir() (and the notebooks' kernels, which inherit the environment) at this profile's
    reports, unless QUARBERT_REPORTS already names a folder."""
    if not os.environ.get(REPORTS_ENV):
        os.environ[REPORTS_ENV] = str(profile_reports_dir(profile))
    return reports_dir()


NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def discover(only: list[str] | None = None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """notebooks/NN_*.py in number order, optionally filtered by number or name prefix."""
    found = sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.py"))
    if only:
        found = [p for p in found if any(p.stem.startswith(o) for o in only)]
        if not found:
            raise SystemExit(f"no notebook matches {only} in {notebook_dir}")
    return found


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV) or REPO_ROOT / "runs")


# The reports folder a notebook chose (notebook.start, from its `reports` parameter); None: QUARBERT_REPORTS, else
# reports/ (the command line, the batch, the tests).
_CHOSEN: Path | None = None


def use_reports(folder: Path | None) -> Path:
    """This process's reports folder from now on (None: back to QUARBERT_REPORTS, else reports/)."""
    global _CHOSEN
    _CHOSEN = None if folder is None else Path(folder)
    return reports_dir()


def reports_dir() -> Path:
    return _CHOSEN or Path(os.environ.get(REPORTS_ENV) or REPO_ROOT / "reports")


def tables_dir() -> Path:
    return reports_dir() / "tables"


def figures_dir() -> Path:
    return reports_dir() / "figures"

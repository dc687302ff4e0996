"""What a notebook does first: where its reports go, and how its errors read.

Every numbered notebook's first code cell is ``reports_dir = notebook.start(NOTEBOOK, profile, reports)``:

- ``reports = "local"`` (the parameters cell's default: a person in JupyterLab) writes tables and figures under
  ``reports/local/<profile>/``, which git ignores. The first time, that folder starts as a copy of the profile's
  committed tables and saved predictions, so a notebook finds the rows it compares against (notebook 04 the
  `sampling` row of 03) while everything it writes stays in the copy;
- ``reports = "batch"`` (what `make reproduce` passes) writes where the batch writes: ``reports/`` for the committed
  study (the batch executes it only from committed code), ``reports/<profile>/`` for the other profiles, or the
  folder QUARBERT_REPORTS names (the tests' copies);
- any other string is a folder of the person's choosing.

In a notebook kernel a user's mistake (every ``UserError``: a bad parameter, a missing run, an interrupted training)
shows as its one line, not a traceback; the cell still fails, so a batch stops there as before.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
from IPython import get_ipython

from .errors import UserError
from .paths import REPO_ROOT, REPORTS_ENV, profile_reports_dir, shown, use_reports

LOCAL = REPO_ROOT / "reports" / "local"
# pandas' display defaults inside a notebook kernel, set explicitly (start)
DISPLAY = {"display.width": 80, "display.max_columns": 20}
# What a new local folder starts from: the profile's committed tables and saved dev predictions.
SEEDED = ("tables", "predictions")


def resolve(reports: str, profile: str) -> Path:
    """The folder a notebook's ``reports`` parameter names (module docstring)."""
    if reports == "local":
        return LOCAL / profile
    if reports == "batch":
        return Path(os.environ.get(REPORTS_ENV) or profile_reports_dir(profile))
    if not isinstance(reports, (str, os.PathLike)) or not str(reports).strip():
        raise UserError(f"reports = {reports!r}: use \"local\" (reports/local/<profile>/, ignored by git), \"batch\" "
                        "(where `make reproduce` writes) or a folder's path")
    return Path(reports).expanduser()


def seed(folder: Path, profile: str) -> list[str]:
    """Copy the profile's committed tables and saved predictions into a new reports folder (nothing where the
    folder already holds them); the names of what was copied."""
    copied = []
    for name in SEEDED:
        source, target = profile_reports_dir(profile) / name, folder / name
        if source.is_dir() and not target.exists():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
            copied.append(name)
    return copied


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (a notebook in JupyterLab, or one papermill executes)."""
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def notes():
    """Where a note goes (a data note, a run starting): standard output in a notebook, where standard error shows
    as an error box; standard error on the command line, where it keeps out of a command's output."""
    return sys.stdout if in_kernel() else sys.stderr


def _one_line(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for a UserError: its type and message, without the traceback."""
    shell.showtraceback((etype, value, tb), exception_only=True)


def start(notebook: str, profile: str, reports: str = "local") -> Path:
    """Point this process's reports at the folder ``reports`` names, seed a new local folder, show user errors as
    one line, and say where the notebook writes; returns the folder."""
    folder = resolve(reports, profile)
    use_reports(folder)                         # what paths.reports_dir() gives in this kernel from now on
    # a table's text form at a kernel's own defaults, whatever imported pandas first (pandas fits it to a terminal's
    # width when it was imported outside a kernel): the same executed notebook on every machine
    for option, value in DISPLAY.items():
        pd.set_option(option, value)
    if in_kernel():                             # every UserError as one line; elsewhere nothing changes
        get_ipython().set_custom_exc((UserError,), _one_line)
    if reports != "batch":
        copied = seed(folder, profile)
        print(f"{notebook} writes its tables and figures to {shown(folder)}/"
              + (" (ignored by git)" if folder.is_relative_to(LOCAL) else "")
              + (f"; {' and '.join(copied)} copied from the committed {profile} study to start from" if copied else ""))
    return folder

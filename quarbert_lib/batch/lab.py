"""`make lab`: JupyterLab for a person exploring the study, set up so that the notebooks open as notebooks.

    python -m quarbert_lib lab [JUPYTERLAB OPTIONS ...]     (make lab)

- the server runs from the project's venv (its python is the notebooks' kernel, ``python3``), rooted at the
  repository and opened on ``notebooks/``;
- a double-click on a ``.py`` file opens it with jupytext's notebook view ("Jupytext Notebook"): the percent-format
  ``notebooks/NN_*.py`` are the notebooks' only source;
- a notebook starts the project's kernel without asking which: the venv's python installed as the kernel
  ``quarbert`` (KERNEL), which jupytext gives every script notebook whose language is Python, as it does the kernel
  whose program is the server's own python;
- nothing is written beside a source: jupytext.toml pairs no ``.ipynb``, and autosave is off, so an edit reaches the
  tracked ``.py`` only when the person saves it (Ctrl-S); a notebook run by a person writes its tables and figures
  under ``reports/local/<profile>/`` (its ``reports`` parameter, base/notebook.py), ignored by git.

The settings are JupyterLab's ``overrides.json`` (defaults a person can still change in the settings editor), written
to a folder of their own (``.cache/lab/``, ignored by git) and named with ``--LabApp.app_settings_dir``; a person's
own JupyterLab settings elsewhere are left alone.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from ..base.paths import REPO_ROOT

SETTINGS_DIR = REPO_ROOT / ".cache" / "lab"
KERNEL = "quarbert"
KERNEL_NAME = "QuarBERT (the project's venv)"
OPENED = "notebooks"
JUPYTEXT_VIEWER = "Jupytext Notebook"

OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": JUPYTEXT_VIEWER}, "autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
    # no news or update toasts over the notebook (and no request leaves the machine for them)
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def write_settings(folder: Path = SETTINGS_DIR) -> Path:
    """``folder``/overrides.json with OVERRIDES; returns the folder (for --LabApp.app_settings_dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2, sort_keys=True) + "\n")
    return folder


def install_kernel(prefix: str = sys.prefix) -> Path:
    """The project's kernel (this python, by its absolute path) under ``prefix``/share/jupyter/kernels/; returns its
    folder. Idempotent."""
    return Path(KernelSpecManager().install_kernel_spec(_kernel_files(), KERNEL, prefix=prefix))


def _kernel_files() -> str:
    folder = SETTINGS_DIR / "kernel"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_NAME, "language": "python", "metadata": {"debugger": True}}, indent=1) + "\n")
    return str(folder)


def arguments(root: Path = REPO_ROOT, settings: Path = SETTINGS_DIR) -> list[str]:
    """JupyterLab's command-line options for the project's lab (the settings folder must exist: write_settings)."""
    return [f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}",
            f"--LabApp.default_url=/lab/tree/{OPENED}", "--LabApp.news_url=",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]


def main(argv: list[str] | None = None) -> int:
    settings = write_settings()
    install_kernel()
    command = [sys.executable, "-m", "jupyterlab", *arguments(REPO_ROOT, settings), *(argv or [])]
    print(f"[lab] JupyterLab on {OPENED}/: double-click a notebook (NN_*.py) to open it; a notebook you run writes "
          "under reports/local/<profile>/ (ignored by git). Ctrl-C stops the server.", flush=True)
    os.execv(command[0], command)
    return 0        # not reached: the server replaces this process


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

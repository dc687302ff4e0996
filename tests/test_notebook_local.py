"""A person's notebook run never touches the committed study: from a fresh clone, notebook 02 executed with
profile="smoke", and again with seeds=[0], as a person would in JupyterLab (the `reports` parameter left at its
default, no environment variable set), leaves `git status` clean; its tables go to reports/local/<profile>/ and show
its own rows."""
import os
import shutil
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill
import pytest

from quarbert_lib.base.paths import REPO_ROOT, resolve_data_dir


def _clone_of_the_working_tree(target: Path) -> Path:
    """A git clone whose HEAD is this working tree (its tracked and untracked-but-not-ignored files), committed: what
    a fresh clone of it would hold."""
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(target)], check=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
        elif not source.exists():
            (target / name).unlink(missing_ok=True)              # deleted in the working tree
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "the working tree"], cwd=target, check=True)
    return target


def _execute(clone: Path, notebook: str, parameters: dict, out: Path) -> nbformat.NotebookNode:
    node = jupytext.read(clone / "notebooks" / notebook)
    node.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return papermill.execute_notebook(node, str(out), parameters=parameters, kernel_name="python3", cwd=str(clone),
                                      progress_bar=False)


@pytest.mark.slow
def test_a_person_running_notebook_02_leaves_a_fresh_clone_clean(tmp_path, monkeypatch):
    clone = _clone_of_the_working_tree(tmp_path / "clone")
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout == ""
    # a person's environment: the clone's own package, runs, records and reports; the course data found for it
    for name in ("QUARBERT_RECORDS", "QUARBERT_REPORTS", "QUARBERT_RUNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUARBERT_DATA", str(resolve_data_dir()))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(clone), os.environ.get("PYTHONPATH")])))
    committed = (clone / "reports" / "tables" / "ablation.csv").read_bytes()

    smoke = _execute(clone, "02_multitask_baseline.py", {"profile": "smoke"}, tmp_path / "smoke.ipynb")
    one_seed = _execute(clone, "02_multitask_baseline.py", {"seeds": [0]}, tmp_path / "seed0.ipynb")

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone, capture_output=True,
                            text=True).stdout
    assert status == "", f"a person's notebook run changed the clone:\n{status}"
    assert (clone / "reports" / "tables" / "ablation.csv").read_bytes() == committed
    local = {p: pd.read_csv(clone / "reports" / "local" / p / "tables" / "ablation.csv", dtype={"seed_list": str})
             for p in ("smoke", "cpu")}
    assert set(local["smoke"]["profile"]) >= {"smoke"}
    rows = local["cpu"][(local["cpu"]["variant"] == "baseline-finetune") & (local["cpu"]["seed_list"] == "0")]
    assert len(rows) == 1 and int(rows["seeds"].iloc[0]) == 1
    # each notebook shows its own rows: one seed each, not the study's five
    shown = [o for c in one_seed.cells if c.cell_type == "code" and "ablation_markdown(mine)" in c.source
             for o in c.outputs if "text/markdown" in o.get("data", {})]
    table = shown[0]["data"]["text/markdown"]
    assert "| baseline-finetune | minilm-l6 | cpu | 1 |" in table and "| cpu | 5 |" not in table
    # and their figures inline, as saved to the local folder
    images = [o["metadata"]["figure"] for nb in (smoke, one_seed) for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images == ["ablation_baselines.png", "multitask_baseline_curves.png"] * 2

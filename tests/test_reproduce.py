"""The batch runner's bookkeeping: executed notebooks against their sources."""
import jupytext
import nbformat
import pytest
from test_staleness import AWAITING_RECORDS

from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.batch import reproduce

SOURCE = '''# %% tags=["parameters"]
profile = "cpu"

# %%
x = 1

# %% [markdown]
# text

# %%
print(x + 1)
'''


def _executed(source_text: str, path):
    """What papermill writes: the source's cells, plus an injected-parameters cell after the parameters."""
    nb = jupytext.reads(source_text, fmt="py:percent")
    injected = nbformat.v4.new_code_cell('profile = "smoke"\n', metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(1, injected)
    nbformat.write(nb, path)
    return path


def test_an_executed_notebook_matches_its_source_until_a_code_cell_is_edited(tmp_path):
    source = tmp_path / "01_demo.py"
    source.write_text(SOURCE)
    executed = _executed(SOURCE, tmp_path / "01_demo.ipynb")
    assert reproduce.source_mismatches(source, executed) == []          # the injected cell does not count
    source.write_text(SOURCE.replace("x = 1", "x = 2"))
    assert reproduce.source_mismatches(source, executed) == ["code cell 2 differs: source 'x = 2'..."]
    source.write_text(SOURCE + "\n# %%\nprint('one more')\n")
    assert reproduce.source_mismatches(source, executed) == ["4 code cells in 01_demo.py, 3 in 01_demo.ipynb"]
    source.write_text(SOURCE.replace("# text", "# other prose"))       # prose is not code
    assert reproduce.source_mismatches(source, executed) == []
    assert reproduce.source_mismatches(source, tmp_path / "missing.ipynb") == [f"{tmp_path / 'missing.ipynb'} does not exist"]


def test_stale_notebooks_and_the_check_command(tmp_path, monkeypatch, capsys):
    sources, executed = tmp_path / "notebooks", tmp_path / "reports" / "executed"
    sources.mkdir(), executed.mkdir(parents=True)
    for name in ("01_a", "02_b"):
        (sources / f"{name}.py").write_text(SOURCE)
        _executed(SOURCE, executed / f"{name}.ipynb")
    (sources / "02_b.py").write_text(SOURCE.replace("x + 1", "x + 2"))
    assert list(reproduce.stale_notebooks(sorted(sources.glob("*.py")), executed)) == ["02_b"]
    monkeypatch.setenv("QUARBERT_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=sources: sorted(notebook_dir.glob("*.py")))
    assert reproduce.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "stale: reports/executed/02_b.ipynb: code cell 3 differs" in out and "1 of 2 executed notebooks match" in out


def test_committed_executed_notebooks_match_their_sources():
    """Every numbered notebook has a committed executed copy whose code is its source's (but those awaiting records)."""
    notebooks = reproduce.discover()
    missing = [p.stem for p in notebooks if not (REPO_ROOT / "reports" / "executed" / f"{p.stem}.ipynb").exists()
               and p.stem not in AWAITING_RECORDS]       # a new notebook awaiting its runs has no executed copy yet
    assert not missing, f"never executed: {missing}"
    stale = reproduce.stale_notebooks(notebooks, REPO_ROOT / "reports" / "executed")
    # a notebook awaiting its records cannot be re-executed from them yet (test_staleness keeps that list honest)
    stale = {nb: cells for nb, cells in stale.items() if nb not in AWAITING_RECORDS}
    assert not stale, f"executed notebooks that do not match their source (rerun them): {stale}"


def test_noise_counts_finds_progress_bars_and_warnings(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                                                     "text/plain": "train: 100%|##########| 9/9"}),
        nbformat.v4.new_output("stream", name="stderr", text="Loading: 50%|#####     | 1/2\n"),
        nbformat.v4.new_output("stream", name="stderr", text="FutureWarning: x is deprecated\nUserWarning: y\n"),
        nbformat.v4.new_output("stream", name="stdout", text="overall 0.72 (a 95% CI)\n"),
    ]
    nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert reproduce.noise_counts(tmp_path / "n.ipynb") == {"progress_bars": 2, "warnings": 2}


@pytest.mark.parametrize("args, reproduce_profile, figures_profile, verifies", [
    ([], "cpu", "cpu", True),                  # the default main job checks the committed study, and retrains a sample
    (["PROFILE=quick"], "quick", "quick", False),   # the one-hour smaller study, one flag away
    (["PROFILE=smoke"], "smoke", "smoke", False),
])
def test_make_reproduce_defaults_to_checking_the_committed_study(args, reproduce_profile, figures_profile, verifies):
    import subprocess
    make = lambda target: subprocess.run(["make", "-n", "-B", target, *args], cwd=REPO_ROOT, text=True,  # noqa: E731
                                         capture_output=True, check=True).stdout
    commands = make("reproduce").splitlines()
    assert any(f"-m quarbert_lib reproduce --profile {reproduce_profile}" in c for c in commands)
    assert any(f"-m quarbert_lib figures --profile {reproduce_profile}" in c for c in commands)
    assert any(f"-m quarbert_lib verify --profile {reproduce_profile} --budget-minutes 3.5" in c for c in commands) \
        == verifies
    assert any(f"-m quarbert_lib figures --profile {figures_profile}" in c for c in make("figures").splitlines())


def test_the_batch_runner_defaults_to_the_committed_study(monkeypatch, capsys):
    monkeypatch.setenv("QUARBERT_REPORTS", "")          # unset for use_profile_reports, restored after the test
    assert reproduce.main(["--list"]) == 0
    assert capsys.readouterr().out.startswith(
        f"[reproduce] profile cpu: tables, figures and executed notebooks go to {REPO_ROOT / 'reports'}\n")
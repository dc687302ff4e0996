"""Staleness is checked, not trusted: what is committed under reports/, README.md and docs/ must be what the code
makes from the committed tables.

- ``make figures`` run on a copy of the committed reports, with no run registry, rebuilds results.md, the README's
  and docs' generated blocks and every figure it draws byte for byte;
- each executed notebook's closing verdict table is the committed analysis's rows for its questions. A notebook
  whose runs are not all in records/ cannot be re-executed from a clone; it is listed in AWAITING_RECORDS, and the
  test fails when that list and the planner's runs to train on the records disagree, so the exemption can neither
  outlive its reason nor miss a notebook;
- the committed study re-executed from its records (every notebook but those AWAITING_RECORDS, nothing trained)
  writes every table, figure, results.md, executed notebook, summary.json and record byte for byte as committed:
  what `make reproduce PROFILE=cpu` on a fresh clone does, with `git status` as the judge.
"""
import ast
import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quarbert_lib.base.paths import REPO_ROOT, discover
from quarbert_lib.batch import plan, reproduce
from quarbert_lib.study.recipes import PROFILE_NOTEBOOK_PARAMS
from quarbert_lib.reporting import figures, report
from quarbert_lib.study import records
from quarbert_lib.study.spec import NOTEBOOK_NAMES, NOTEBOOKS, questions_of

import other_machine  # tests/other_machine.py
import reversed_listing  # tests/reversed_listing.py

REPORTS = REPO_ROOT / "reports"
# Notebooks that train runs whose records are not committed yet (so their executed copies predate the code):
# their runs are retrained into records/ and the notebooks re-executed, then they leave this set.
AWAITING_RECORDS: set[str] = set()
TRAINS_NOTHING = {s.name for s in NOTEBOOKS if not s.trains}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """make figures on a copy of the committed reports, README.md and docs/, with an empty run registry."""
    root = tmp_path_factory.mktemp("stale")
    shutil.copytree(REPORTS, root / "reports")
    shutil.copytree(REPO_ROOT / "docs", root / "docs")
    shutil.copy(REPO_ROOT / "README.md", root / "README.md")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUARBERT_REPORTS", str(root / "reports"))
        mp.setenv("QUARBERT_RUNS", str(root / "no-runs"))
        mp.setenv("QUARBERT_RECORDS", str(REPO_ROOT / "records"))
        assert figures.main(["--profile", "cpu", "--readme", str(root / "README.md")]) == 0
    return root


def test_results_readme_and_docs_are_what_make_figures_makes(rebuilt):
    for rel in ("reports/results.md", "README.md", "docs/timing.md", "reports/benchmarks.md"):
        assert (rebuilt / rel).read_text() == (REPO_ROOT / rel).read_text(), f"{rel} is stale: run `make figures`"


def test_every_figure_make_figures_draws_is_current(rebuilt):
    stale = [p.name for p in sorted((rebuilt / "reports" / "figures").glob("*.png"))
             if p.read_bytes() != (REPORTS / "figures" / p.name).read_bytes()]
    assert stale == [], f"figures differ from what make figures draws now: {stale}"


def _displayed_verdicts(notebook: str) -> str:
    executed = json.loads((REPORTS / "executed" / f"{notebook}.ipynb").read_text())
    for cell in executed["cells"]:
        if cell["cell_type"] == "code" and "questions_markdown(" in "".join(cell["source"]):
            return "".join(next(o for o in cell["outputs"] if "text/markdown" in o.get("data", {}))["data"]["text/markdown"])
    raise AssertionError(f"{notebook}: no verdict table in its executed copy")


def test_the_exemptions_are_exactly_the_notebooks_with_runs_to_train(tmp_path, monkeypatch):
    """What a fresh clone's `make reproduce PROFILE=cpu` would train: the planner on a registry holding only the
    committed records. A notebook with a run still to train (a seed added to the spec, a changed config) is
    awaiting records; every other notebook must train nothing."""
    monkeypatch.setenv("QUARBERT_REPORTS", str(REPORTS))
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("QUARBERT_RECORDS", str(REPO_ROOT / "records"))
    records.restore_missing("cpu")
    planned = plan.plan(discover(), "cpu", notebook_params=PROFILE_NOTEBOOK_PARAMS.get("cpu", {}))
    assert {r.notebook for r in planned if not r.done} == AWAITING_RECORDS, \
        sorted((r.notebook, r.name) for r in planned if not r.done and r.notebook not in AWAITING_RECORDS)
    assert not TRAINS_NOTHING & {r.notebook for r in planned}
    # and the other way round: every trained run a notebook recorded is one the planner counts (notebook 04 once read
    # its λ points on three seeds while the planner counted five: two runs a seed trained and no notebook read)
    recorded = {(d.parent.name, d.name) for d in (REPO_ROOT / "records" / "cpu").glob("*/*") if (d / "config.json").exists()}
    names = {(r.notebook, r.name) for r in planned}
    assert sorted(run for run in recorded - names if run[0] not in AWAITING_RECORDS) == []


@pytest.mark.parametrize("notebook", sorted(nb for nb in set(NOTEBOOK_NAMES) - AWAITING_RECORDS if questions_of(nb)))
def test_executed_notebooks_show_the_verdicts_of_the_committed_tables(notebook, monkeypatch):
    """A notebook computes its questions' verdicts from the registry's runs; the committed analysis (seed_scores.csv,
    verdicts.csv) must give the same table, word for word."""
    monkeypatch.setenv("QUARBERT_REPORTS", str(REPORTS))
    monkeypatch.setenv("QUARBERT_RUNS", str(REPO_ROOT / "no-such-registry"))
    saved = report.questions_markdown(notebook, "cpu", "minilm-l6", report.study_verdicts("cpu", "minilm-l6"))
    assert _displayed_verdicts(notebook) == saved, \
        f"reports/executed/{notebook}.ipynb shows verdicts the committed tables no longer give: re-execute it"


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, but the tables' lock files (ignored by git: `.*.lock`)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".lock"))}


def test_re_executing_the_committed_study_from_its_records_changes_nothing(tmp_path, monkeypatch, capsys):
    """Issue 23's check, by re-execution, on another machine: a copy of reports/ and records/, a run registry that
    starts empty (so every run is restored from its record and nothing trains), every notebook of the study not
    awaiting records executed as the batch does; afterwards reports/ must equal what is committed, file for file and
    byte for byte, and so must every record the batch rewrote (the others stay as they were). A number that moved, a notebook whose displayed output is stale, a table
    a notebook would rewrite, or an output that differs from one execution to the next (a clock, an absolute path, a
    random id) fails it, named.

    The machine is another one (tests/other_machine.py): every float the records hold is moved one unit in its last
    place, as another CPU's sums move them, and every folder is listed in the reverse of the file system's order, in
    this process and in the notebooks' kernels alike. So committed outputs may depend neither on a float's last
    digits nor on a listing's order. In CI the working tree is the commit; locally, the comparison is with the working
    tree's reports/."""
    reports, records_copy = tmp_path / "reports", tmp_path / "records"
    shutil.copytree(REPORTS, reports)
    other_machine.perturbed_copy(REPO_ROOT / "records", records_copy)
    records_before = _files(records_copy)
    site = other_machine.reversed_listing(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    listdir, scandir = reversed_listing.reversed_functions()
    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setenv("QUARBERT_REPORTS", str(reports))
    monkeypatch.setenv("QUARBERT_RECORDS", str(records_copy))
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "runs"))
    only = [spec.name.split("_")[0] for spec in NOTEBOOKS if spec.name not in AWAITING_RECORDS]
    rc = reproduce.main(["--profile", "cpu", "--only", *only])
    assert rc == 0, "\n".join(line for line in capsys.readouterr().err.splitlines() if "FAILED" in line)
    # reports/ as committed; of records/, what the batch rewrote (an ensemble's, averaged anew from its members) as
    # committed too, whatever the perturbed inputs, and the rest as it was (the copy's perturbed values)
    committed_records, after_records = _files(REPO_ROOT / "records"), _files(records_copy)
    rewritten = {n: v for n, v in after_records.items() if records_before.get(n) != v}
    for (before, after), name in (((_files(REPORTS), _files(reports)), "reports"),
                                  (({**records_before, **{n: committed_records.get(n, b"") for n in rewritten}},
                                    after_records), "records")):
        changed = sorted(name for name in before.keys() & after.keys() if before[name] != after[name])
        first = next((name for name in changed if not name.endswith((".png", ".gz"))), None)
        lines = [] if first is None else list(difflib.unified_diff(
            before[first].decode().splitlines(), after[first].decode().splitlines(), first, "re-executed", lineterm="", n=1))
        assert (changed, sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())) == ([], [], []), \
            (f"re-executing the study changes {name}/ (changed, new, removed files): re-execute and commit; "
             "the first changed text file:\n" + "\n".join(lines[:30]))


def test_the_other_machine_is_another_machine(tmp_path):
    """The simulation itself: a perturbed record differs from the committed one in its results' last digits only
    (configs and labels as they were), and a process started with the reversed listing lists a folder backwards."""
    record = next(p for p in sorted((REPO_ROOT / "records" / "cpu" / "02_multitask_baseline").iterdir()))
    copy = other_machine.perturbed_copy(record, tmp_path / "record")
    assert (copy / "config.json").read_bytes() == (record / "config.json").read_bytes()
    metrics, moved = records.read_json(record / "metrics.json"), records.read_json(copy / "metrics.json")
    assert moved["overall"] != metrics["overall"] and moved["overall"] == pytest.approx(metrics["overall"], rel=1e-15)
    assert moved["steps"] == metrics["steps"]
    for folder in ("a", "b", "c"):
        (tmp_path / "listed" / folder).mkdir(parents=True)
    site = other_machine.reversed_listing(tmp_path / "site")
    code = "import os, sys; print(os.listdir(sys.argv[1]))"
    native = subprocess.run([sys.executable, "-c", code, str(tmp_path / "listed")], capture_output=True, text=True,
                            check=True).stdout
    listed = subprocess.run([sys.executable, "-c", code, str(tmp_path / "listed")], capture_output=True, text=True,
                            check=True, env=dict(os.environ, PYTHONPATH=str(site))).stdout
    assert ast.literal_eval(listed) == ast.literal_eval(native)[::-1] != ast.literal_eval(native)

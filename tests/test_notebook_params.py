"""The batch runner's -p parameters: checked against the notebooks' parameters cells before any compute,
and passed only to the notebooks that declare them."""
import pytest

from quarbert_lib.base import cli
from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.batch import plan, reproduce
from quarbert_lib.study.spec import NOTEBOOK_NAMES
from quarbert_lib.study.recipes import PROFILE_NOTEBOOK_PARAMS

NB_A = '''# %% tags=["parameters"]
profile = "cpu"
seeds = [0]
max_train = None
only_a = False

# %%
print(profile, seeds, max_train, only_a)
'''

NB_B = '''# %% tags=["parameters"]
seeds = None

# %%
print(seeds)
'''

DEBUG_HINT = f" (--debug or {cli.DEBUG_ENV}=1 shows the traceback)"


@pytest.fixture
def batch(isolated, monkeypatch):
    """Two notebooks in a temporary folder (01_a declares profile, seeds, max_train, only_a; 02_b only
    seeds), and a record of what would run: execute's (notebook, parameters), plan's and declared_runs' calls."""
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    sources = isolated / "notebooks"
    sources.mkdir()
    (sources / "01_a.py").write_text(NB_A)
    (sources / "02_b.py").write_text(NB_B)
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=sources: sorted(
        p for p in notebook_dir.glob("*.py") if not only or any(p.stem.startswith(o) for o in only)))
    calls = {"execute": [], "plan": [], "declared_runs": []}

    def execute(path, parameters, output_dir, kernel="python3"):
        calls["execute"].append((path.stem, parameters))
        return {"notebook": path.stem, "status": "ok", "seconds": 0.0, "error": "",
                "executed": str(output_dir / f"{path.stem}.ipynb")}

    real_plan = plan.plan

    def planned(*args, **kwargs):
        calls["plan"].append(args)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(reproduce, "execute", execute)
    monkeypatch.setattr(plan, "plan", planned)
    monkeypatch.setattr(plan, "declared_runs", lambda notebook, p: calls["declared_runs"].append((notebook, dict(p))) or [])
    return calls


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def _valid(stems) -> list[str]:
    """The -p names the given real notebooks declare (plan.notebook_parameters), profile aside, sorted."""
    return sorted({name for stem in stems for name in plan.notebook_parameters(REPO_ROOT / "notebooks" / f"{stem}.py")}
                  - {"profile"})


@pytest.fixture
def nothing_runs(isolated, monkeypatch):
    """A record of every call to the data check, the planner and the executor (each a stub)."""
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    ran = []
    from quarbert_lib.core import data
    monkeypatch.setattr(data, "ensure_data", lambda *a, **k: ran.append(("ensure_data", a)))
    monkeypatch.setattr(plan, "plan", lambda *a, **k: ran.append(("plan", a)))
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: ran.append(("execute", a)))
    return ran


def test_seed_for_seeds_stops_the_whole_batch_before_any_compute(nothing_runs, capsys):
    """`reproduce -p seed='[7]'` over every notebook: only notebook 11 declares seed, as one int (0), so a list
    there is the typo for seeds. Exit 2, one line naming seed, suggesting seeds and listing the valid names."""
    assert cli.run(reproduce.main, ["--profile", "smoke", "-p", "seed=[7]"]) == 2
    valid = _valid(NOTEBOOK_NAMES)
    assert "seeds" in valid and "seed" in valid
    assert _error_line(capsys) == (f"error: -p seed=[7]: list where 11_quality_per_cpu_minute declares seed = 0 "
                                   f"(did you mean seeds?); valid names: {', '.join(valid)}{DEBUG_HINT}")
    assert nothing_runs == []


def test_seed_is_unknown_to_notebooks_01_and_02(nothing_runs, capsys):
    assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "01", "02", "-p", "seed=[7]"]) == 2
    valid = _valid(["01_single_task_sentiment", "02_multitask_baseline"])
    assert "seeds" in valid and "seed" not in valid
    assert _error_line(capsys) == (f"error: -p seed (did you mean seeds?): not a parameter of the selected notebooks "
                                   f"(01 02); valid names: {', '.join(valid)}{DEBUG_HINT}")
    assert nothing_runs == []


def test_an_unknown_name_lists_the_valid_ones_and_runs_nothing(batch, capsys):
    assert cli.run(reproduce.main, ["--profile", "smoke", "-p", "seeds=[1]", "-p", "seed=[7]", "-p", "lr=0.1"]) == 2
    assert _error_line(capsys) == ("error: -p seed (did you mean seeds?), lr: not a parameter of the selected notebooks "
                                   f"(01 02); valid names: max_train, only_a, seeds{DEBUG_HINT}")
    # a name only an unselected notebook declares is unknown to this batch
    assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "02", "-p", "only_a=True"]) == 2
    assert _error_line(capsys) == f"error: -p only_a: not a parameter of the selected notebooks (02); valid names: seeds{DEBUG_HINT}"
    assert cli.run(reproduce.main, ["--profile", "smoke", "--dry-run", "-p", "seed=[7]"]) == 2
    assert _error_line(capsys).startswith("error: -p seed (did you mean seeds?): ")
    assert batch == {"execute": [], "plan": [], "declared_runs": []}


def test_each_notebook_gets_only_the_parameters_it_declares(batch, capsys):
    """only_a and the quick profile's max_train go to 01_a only; profile too, since 02_b does not declare it."""
    assert cli.run(reproduce.main, ["--profile", "quick", "-p", "seeds=[3]", "-p", "only_a=True"]) == 0
    cap = PROFILE_NOTEBOOK_PARAMS["quick"]["max_train"]
    assert cap is not None
    assert batch["execute"] == [("01_a", {"profile": "quick", "max_train": cap, "seeds": [3], "only_a": True}),
                                ("02_b", {"seeds": [3]})]
    # the plan sees what each notebook will run with (its defaults, then what it is passed), under the batch's profile
    assert batch["declared_runs"] == [("01_a", {"profile": "quick", "max_train": cap, "seeds": [3], "only_a": True}),
                                 ("02_b", {"seeds": [3], "profile": "quick"})]
    out = capsys.readouterr().out
    assert "[reproduce] 02_b.py with {'seeds': [3]} ...\n" in out
    assert "[reproduce] -p only_a goes to 01_a only: the other selected notebooks do not declare it\n" in out
    assert "-p seeds goes to" not in out


def test_notebook_arguments_keeps_the_declared_names_only():
    declared = {"profile": "cpu", "seeds": None, "recipe": "best"}
    assert plan.notebook_arguments(declared, "quick", {"recipe": "sampling", "max_train": 400},
                                   {"seeds": [1], "only_a": True}) == {"profile": "quick", "seeds": [1], "recipe": "sampling"}
    assert plan.notebook_arguments({"seeds": None}, "quick", {"recipe": "sampling"}, {"encoder": "x"}) == {}


@pytest.mark.parametrize("item, message", [
    ("seeds", "-p 'seeds': expected NAME=VALUE, e.g. -p seeds='[0, 1]'"),
    ("=[7]", "-p '=[7]': expected NAME=VALUE, e.g. -p seeds='[0, 1]'"),
    ("seeds=[0, 1", "-p 'seeds=[0, 1': the value '[0, 1' is neither a Python literal (a number, a list, True, None, "
                    "a quoted string) nor a bare name or path"),
    ("max_train=4e2x", "-p 'max_train=4e2x': the value '4e2x' is neither a Python literal (a number, a list, True, "
                       "None, a quoted string) nor a bare name or path"),
    ("max-train=400", "-p 'max-train=400': 'max-train' is not a parameter name (a Python identifier)"),
    ("profile=smoke", "-p 'profile=smoke': use --profile, which the plan, the reports folder and every notebook follow"),
    ("only_a=1", "-p only_a=1: int where 01_a declares only_a = False; valid names: max_train, only_a, seeds"),
    ("seeds=3", "-p seeds=3: a list of seeds (integers >= 0) is expected, e.g. -p seeds='[3]'; valid names: max_train, only_a, seeds"),
])
def test_a_malformed_parameter_is_one_line_and_runs_nothing(batch, capsys, item, message):
    assert cli.run(reproduce.main, ["--profile", "smoke", "-p", "seeds=[1]", "-p", item]) == 2
    assert _error_line(capsys) == f"error: {message}{DEBUG_HINT}"
    assert batch == {"execute": [], "plan": [], "declared_runs": []}


def test_parameter_values_are_literals_or_bare_names():
    assert reproduce.parse_parameters(["seeds=[0, 1]", "encoder=bert-base-uncased", "source=/tmp/run/x.csv",
                                       "recipe='best'", "force=True", "max_train=None", "lr = -1e-4",
                                       "seeds=[2]"]) == {
        "seeds": [2], "encoder": "bert-base-uncased", "source": "/tmp/run/x.csv", "recipe": "best", "force": True,
        "max_train": None, "lr": -1e-4}


@pytest.mark.parametrize("value, default, expected", [
    ([7], 0, False), (7, 0, True), (True, 0, False), (1.5, 0, False),     # an int default
    (1, 1e-3, True), (2e-3, 1e-3, True), ("1e-3", 1e-3, False),           # a float default
    (1, False, False), (True, False, True),                               # a bool default
    ((0, 1), [0], True), (0, [0], False), ([0, 1], None, True),          # lists, and None: anything
    ("bert-base-uncased", "minilm-l6", True), (["x"], "minilm-l6", False), (None, "best", True),
])
def test_fits(value, default, expected):
    assert reproduce.fits(value, default) is expected


def test_a_batch_executes_each_notebook_once_the_readers_after_every_notebook_that_trains(isolated, monkeypatch, capsys):
    """09 draws notebook 11's curve and 10 browses 11's and 12's runs: the notebooks that only read (10, then 09,
    which gathers every table) execute after every notebook that trains, each once (spec.batch_order); executing 11
    alone says that 09 is where its runs would show."""
    from quarbert_lib.study import spec
    executed = []
    monkeypatch.setattr(reproduce, "execute", lambda path, params, out, kernel="python3": executed.append(path.stem) or
                        {"notebook": path.stem, "status": "ok", "seconds": 0.0, "error": "", "executed": str(out / "x")})
    monkeypatch.setattr(plan, "declared_runs", lambda notebook, p: [])
    assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "09", "10", "11", "12"]) == 0
    assert executed == ["11_quality_per_cpu_minute", "12_overfitting_regime", "10_error_analysis", "09_results"]
    assert "gathers every table" not in capsys.readouterr().out
    executed.clear()
    assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "11"]) == 0
    assert executed == ["11_quality_per_cpu_minute"]
    assert ("[reproduce] 09_results gathers every table into results.md: execute it too (--only ... 09) to see the "
            "new runs there\n") in capsys.readouterr().out
    assert spec.batch_order(list(reversed(spec.NOTEBOOK_NAMES))) == [
        *spec.NOTEBOOK_NAMES[:8], "11_quality_per_cpu_minute", "12_overfitting_regime", "13_converged_budget",
        "10_error_analysis", "09_results"]
    assert spec.batch_order(["03_task_sampling", "02_x", "01_y"]) == ["01_y", "02_x", "03_task_sampling"]


def test_a_notebook_that_trains_reads_only_the_notebooks_before_it():
    """One pass in batch_order is enough only while every question's earlier row is trained by a notebook numbered
    no later than the one that adds its later row (and shows its verdict): a question across them, backwards, would
    show a verdict on a row its batch had not trained yet."""
    from quarbert_lib.study import spec
    for q in spec.QUESTIONS:
        assert spec.trained_by(q.before) <= spec.trained_by(q.after), q.step
    assert all(spec.BY_NAME[n].trains for n in spec.batch_order(list(spec.NOTEBOOK_NAMES))[:-2])

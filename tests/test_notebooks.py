"""Each numbered notebook executes through the batch runner (papermill) on the tiny encoder."""
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from quarbert_lib.batch import reproduce
from quarbert_lib.study import spec
from quarbert_lib.study.recipes import PROFILE_NOTEBOOK_PARAMS

NOTEBOOKS = [p.stem for p in reproduce.discover()]


def test_notebooks_hold_no_definitions():
    for path in reproduce.discover():
        code = path.read_text()
        assert "\ndef " not in code and "\nclass " not in code, path.name
        assert '# %% tags=["parameters"]' in code, path.name


# The smoke pipeline's notebook parameters besides the encoder: small sweeps.
SMALL_SWEEPS = {"imbalance_control": True, "lambdas": [1.0, 5.0], "learning_rates": [1e-3], "dropouts": [0.1, 0.3], "sweep_steps": 3, "cost_steps": 2,
                "project_sizes": [1e-5, 1e-2], "normalize_sizes": [1.0], "radii": [0.1, 1.0]}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mini_data_dir, tiny_encoder_dir):
    """Every notebook, in order, through the batch runner in one isolated registry (as
    `make reproduce PROFILE=smoke` does), on the tiny encoder with small sweeps."""
    root = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUARBERT_DATA", str(mini_data_dir))
        mp.setenv("QUARBERT_RUNS", str(root / "runs"))
        mp.setenv("QUARBERT_REPORTS", str(root / "reports"))
        params = [a for k, v in {**SMALL_SWEEPS, "encoder": str(tiny_encoder_dir)}.items() for a in ("-p", f"{k}={v!r}")]
        code = reproduce.main(["--profile", "smoke", *params])
    summary = json.loads((root / "reports" / "executed" / "summary.json").read_text())
    return code, {s["notebook"]: s for s in summary}, root


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_smoke(notebook, pipeline, tiny_encoder_dir):
    code, summary, root = pipeline
    assert summary[notebook]["status"] == "ok", summary[notebook]["error"]
    executed = json.loads((root / "reports" / "executed" / f"{notebook}.ipynb").read_text())
    # it ends with its own "What this shows" prose, then, where it answers declared questions, their verdict table
    # computed from the runs it trained (every question of the smoke study has its two rows by then)
    closing = next(i for i, c in enumerate(executed["cells"]) if "## What this shows" in "".join(c["source"]))
    shown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in executed["cells"][closing + 1:]
                    for o in c.get("outputs", []))
    if spec.questions_of(notebook):
        assert shown.startswith("The study's verdicts on this notebook's questions") and "not trained yet" not in shown, \
            shown[:300]
    tables = root / "reports" / "tables"
    ablation = pd.read_csv(tables / "ablation.csv").set_index("variant")
    if notebook.startswith("01"):
        df = pd.read_csv(tables / "single_task.csv")
        assert sorted(zip(df["task"], df["mode"])) == [("cfimdb", "finetune"), ("cfimdb", "pretrain"),
                                                       ("sst", "finetune"), ("sst", "pretrain")]
    if notebook.startswith("02"):
        assert list(pd.read_csv(tables / "ablation.csv").columns[:11]) == [
            "variant", "encoder", "profile", "seeds", "params_total", "params_trainable",
            "sst_acc", "qqp_acc", "sts_pearson", "overall", "train_seconds"]
        assert ablation["data_note"].str.contains("quora-train.csv absent").all()
        assert ablation.loc["baseline-pretrain", "params_trainable"] < ablation.loc["baseline-finetune", "params_trainable"]
    ladder = {"02": ["baseline-pretrain", "baseline-finetune"], "03": ["sampling"], "04": ["advreg-literal", "advreg-only", "smart"],
              "05": ["smart-cosine"], "06": ["smart-simcse", "smart-cosine-simcse"],
              "07": ["ensemble", "ensemble-smart-simcse"], "08": ["ensemble-lora", "ensemble-lora-smart-simcse"]}
    for variant in ladder.get(notebook[:2], []):
        assert 0 <= ablation.loc[variant, "sst_acc"] <= 1, variant
    if notebook.startswith("11"):
        budget = pd.read_csv(tables / "quality_per_minute.csv")
        assert list(zip(budget["recipe"], budget["cap"].astype(str), budget["epoch"])) == [
            ("sampling", "12", 1), ("sampling", "24", 1), ("all-data", "24", 1), ("all-data", "24", 2), ("all-data", "24", 3)]
        # one three-epoch run, one point per epoch, each timed at its evaluation
        epochs = budget[budget["recipe"] == "all-data"]
        assert epochs["steps"].is_monotonic_increasing and epochs["train_minutes"].is_monotonic_increasing
        assert list(epochs["steps"]) == [epochs["steps"].iloc[0] * k for k in (1, 2, 3)]
        # the profile's own cap is the ladder's `sampling` run, read from the registry, not retrained
        ladder_run = json.loads((root / "runs" / "smoke" / "03_task_sampling" / "sampling-seed0" / "metrics.json").read_text())
        at_cap = budget[budget["cap"].astype(str) == "24"].iloc[0]
        assert at_cap["overall"] == pytest.approx(ladder_run["overall"])
        assert at_cap["train_minutes"] == pytest.approx(ladder_run["train_seconds"] / 60)
        trained = sorted(p.name for p in (root / "runs" / "smoke" / "11_quality_per_cpu_minute").iterdir())
        assert trained == ["all-data-cap24-seed0", "sampling-cap12-seed0"]
        assert budget.loc[budget["cap"].astype(str) == "12", "steps"].iloc[0] < at_cap["steps"]
    if notebook.startswith("03"):
        emb = pd.read_csv(tables / "word_embeddings.csv").set_index("word_embeddings")
        assert list(emb.index) == ["frozen", "trainable"]
        assert emb.loc["trainable", "params_trainable"] - emb.loc["frozen", "params_trainable"] == 30522 * 32
    if notebook.startswith("04"):
        folder = root / "runs" / "smoke" / "04_smart_mbpp"
        lambdas = pd.read_csv(tables / "lambda_sweep.csv").set_index("lambda")
        assert list(lambdas.index) == [1.0, 5.0]
        ladder_run = json.loads((folder / "advreg-only-seed0" / "metrics.json").read_text())
        assert lambdas.loc[5.0, "overall"] == pytest.approx(ladder_run["overall"])    # the ladder run, reused
        assert not (folder / "sweep-lambda5-seed0").exists()
        assert set(ladder_run["smart_strength"]) == {"sst", "para", "sts"} and isinstance(ladder_run["warnings"], list)
        assert ladder_run["smart_setting"] == "normalize/embedding r=1 lambda=5 dropout=fresh"
        assert ablation.loc["advreg-literal", "smart"] == "project/word eps=1e-05 lambda=5"
        radius = pd.read_csv(tables / "radius_sweep.csv").set_index("radius")
        smart_dropout = pd.read_csv(tables / "smart_dropout.csv").set_index("smart_dropout")
        assert list(smart_dropout.index) == ["fresh", "same", "off"]
        assert smart_dropout.loc["fresh", "overall"] == pytest.approx(radius.loc[1.0, "overall"])   # one run, reused
        assert not (folder / "sweep-dropout-fresh-seed0").exists() and (folder / "sweep-dropout-off-seed0").exists()
        strength = pd.read_csv(tables / "smart_strength.csv")
        assert len(strength[strength["setting"] == "grid"]) == 2 * 3 * 3         # 2 spaces x 3 sizes x 3 tasks
        assert set(strength["setting"]) >= {"advreg-literal", "advreg-only"}
        assert (root / "reports" / "figures" / "smart_strength.png").exists()
        executed = (root / "reports" / "executed" / "04_smart_mbpp.ipynb").read_text()
        assert "## 3 · λ_s sweep" in executed and "The study's verdicts on this notebook's questions" in executed
        grid = pd.read_csv(tables / "lr_dropout.csv")
        assert sorted(zip(grid["lr"], grid["dropout"])) == [(1e-3, 0.1), (1e-3, 0.3)]
        assert (grid["steps"] == 3).all()
        assert (root / "reports" / "figures" / "lambda_sweep.png").exists()
    if notebook.startswith("06"):
        costs = pd.read_csv(tables / "costs.csv").set_index("variant")
        assert costs.loc["sampling", "relative"] == 1.0
        # the study's one measurement of step costs: the ladder's rows and the bench's other settings, one table
        from quarbert_lib.benchmarks import bench
        assert list(costs.index) == ["sampling", *bench.STEP_SETTINGS]
        assert set(bench.LADDER_STEPS) <= set(costs.index) and (costs["steps_timed"] == 2 * bench.COST_REPEATS).all()
        run = json.loads((root / "runs" / "smoke" / "06_simcse" / "smart-simcse-seed0" / "metrics.json").read_text())
        assert run["simcse_steps"] == 2 and run["simcse_sentences"] > 0
    if notebook.startswith("07"):
        members = [m for m in ablation.index if m.startswith("ensemble")]
        assert ablation.loc["ensemble", "params_total"] > 3 * ablation.loc["sampling", "params_total"]
        subsets = pd.read_csv(tables / "ensemble_subsets.csv")
        assert len(subsets) == 15 + 1 and {"ensemble", "ensemble-smart-simcse"} <= set(members)
        # the paper's quartet averages smart-simcse members: its specialists were trained with that recipe
        paper = json.loads((root / "runs" / "smoke" / "07_quartet_ensemble" / "ensemble-smart-simcse-seed0" /
                            "members.json").read_text())
        assert paper["multitask"] == "smoke/06_simcse/smart-simcse-seed0"
        assert paper["sst-specialist"] == "smoke/07_quartet_ensemble/specialist-smart-simcse-sst-seed0"
    if notebook.startswith("13"):
        curves = pd.read_csv(tables / "converged_curves.csv")
        assert sorted(set(zip(curves["variant"], curves["epoch"]))) == [
            ("converged-plain", 1), ("converged-plain", 2), ("converged-plain", 3), ("converged-smart", 1), ("converged-smart", 2)]
        smart_first = curves[(curves["variant"] == "converged-smart") & (curves["epoch"] == 1)]
        assert ablation.loc["converged-smart-epoch1", "overall"] == pytest.approx(smart_first["overall"].mean(), abs=1e-6)
        # the smoke profile caps these runs at 24 examples a task (recipes.CAPPED_PROFILES): the examples over the cap are
        # the calibration split (data.calibration_size), never trained on, and a model is chosen on it
        outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]])
        assert "Chosen on the calibration split" in outputs and "calib_overall" in outputs
        best = pd.read_csv(tables / "best_model.csv")
        assert len(best) >= 2 and best["calib_overall"].notna().all()
        # seed 0's converged quartet (the notebook's quartet_seeds): its three specialists trained, and it is a candidate
        assert sorted(p.name for p in (root / "runs" / "smoke" / "13_converged_budget").glob("converged-specialist-*")) == [
            f"converged-specialist-{t}-seed0" for t in ("para", "sst", "sts")]
        assert "quartet-converged-plain-seed0" in outputs
        assert (root / "reports" / "figures" / "converged_curves.png").exists()
    if notebook.startswith("09"):
        text = (root / "reports" / "results.md").read_text()
        assert "## At a converged budget" in text
        assert "## Table 2: the ablation ladder" in text and "## Figure 3" in text
        assert "## The paper's claims" in text and "### Family `paper` (7 tests" in text
        scores = pd.read_csv(root / "reports" / "tables" / "seed_scores.csv")
        assert {"baseline-pretrain", "sampling", "ensemble", "ensemble-lora-smart-simcse"} <= set(scores["variant"])
    if notebook.startswith("08"):
        row = ablation.loc["ensemble-lora"]
        assert row["params_trainable"] / row["params_total"] <= 0.05
        from quarbert_lib.study import ensemble  # the row is the mean of the per-seed ensembles (smoke: seed 0)
        plain = pd.read_csv(root / "runs" / "smoke" / "08_lora" / "ensemble-lora-seed0" / "predictions-dev.csv",
                            dtype={"id": str})
        assert row["seeds"] == 1 and row["sst_acc"] == pytest.approx(ensemble.scores(plain)["sst_acc"])
        checks = pd.read_csv(tables / "lora_checks.csv")
        assert (checks["max_abs_diff"] <= 1e-5).all(), checks
        cost = pd.read_csv(tables / "ensemble_cost.csv").set_index("setup")
        assert cost.loc["LoRA quartet, one backbone", "params_vs_one"] < 1.3
        assert cost.loc["LoRA quartet, one backbone", "memory_vs_one"] < 1.3
        assert cost.loc["four full models", "memory_vs_one"] == pytest.approx(4.0, rel=0.01)
        assert cost.loc["four full models", "params_vs_one"] == pytest.approx(4.0, rel=0.01)
    if notebook.startswith("10"):
        summary = pd.read_csv(tables / "error_summary.csv")
        assert summary["source"].iloc[0].startswith("07_quartet_ensemble/")
        assert 0 <= summary["sst_errors_within_one_level"].iloc[0] <= 1
        assert len(pd.read_csv(tables / "sts_worst.csv")) == 10


def test_a_batch_stopped_part_way_keeps_the_notebooks_it_finished_in_the_summary(isolated, tmp_path, monkeypatch):
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name in ("01_done", "02_stopped"):
        (folder / f"{name}.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nx = 1\n')
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=folder: sorted(folder.glob("*.py")))
    execute = reproduce.execute

    def interrupted_at_the_second(path, *args, **kwargs):      # Ctrl-C while the second notebook runs
        if path.stem == "02_stopped":
            raise KeyboardInterrupt
        return execute(path, *args, **kwargs)
    monkeypatch.setattr(reproduce, "execute", interrupted_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        reproduce.main(["--profile", "smoke"])
    summary = json.loads((isolated / "reports" / "executed" / "summary.json").read_text())
    assert [(s["notebook"], s["status"]) for s in summary] == [("01_done", "ok")]


def test_a_re_execution_that_reproduces_a_notebook_leaves_it_and_its_summary_entry_alone(isolated, tmp_path, monkeypatch):
    """The second batch re-executes both notebooks: 01 (same outputs) keeps its file and entry byte for byte,
    02 (a random output) is rewritten with a new entry."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "01_same.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nprint("same")\n')
    (folder / "02_random.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nimport uuid\nprint(uuid.uuid4())\n')
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=folder: sorted(folder.glob("*.py")))
    executed = isolated / "reports" / "executed"
    assert reproduce.main(["--profile", "smoke"]) == 0
    first = {p.name: p.read_bytes() for p in executed.iterdir()}
    entries = {e["notebook"]: e for e in json.loads(first["summary.json"])}
    monkeypatch.setattr(reproduce.time, "strftime", lambda *args: "2099-01-01T00:00:00Z")   # a later batch
    assert reproduce.main(["--profile", "smoke"]) == 0
    second = {p.name: p.read_bytes() for p in executed.iterdir()}
    assert sorted(second) == ["01_same.ipynb", "02_random.ipynb", "summary.json"]        # no scratch copy left
    assert second["01_same.ipynb"] == first["01_same.ipynb"]
    assert second["02_random.ipynb"] != first["02_random.ipynb"]
    # the same bytes could also be a rewrite: the kept entry (the first batch's time) says it was left alone
    after = {e["notebook"]: e for e in json.loads(second["summary.json"])}
    assert after["01_same"] == entries["01_same"]
    assert after["02_random"]["finished"] == "2099-01-01T00:00:00Z" != entries["02_random"]["finished"]
    assert "unchanged" not in after["02_random"]


def test_an_execution_interrupted_part_way_keeps_the_last_copy_and_leaves_no_scratch(tmp_path, monkeypatch):
    source, out_dir = tmp_path / "01_x.py", tmp_path / "executed"
    source.write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nx = 1\n')
    out_dir.mkdir()
    (out_dir / "01_x.ipynb").write_text("the last copy")

    def ctrl_c_after_the_first_cell(node, output_path, **kwargs):       # papermill has written part of it
        Path(output_path).write_text("half")
        raise KeyboardInterrupt
    monkeypatch.setattr(reproduce.papermill, "execute_notebook", ctrl_c_after_the_first_cell)
    with pytest.raises(KeyboardInterrupt):
        reproduce.execute(source, {}, out_dir)
    assert {p.name: p.read_text() for p in out_dir.iterdir()} == {"01_x.ipynb": "the last copy"}


def test_normalize_executed_keeps_outputs_and_drops_what_changes_between_executions():
    """Hand-built: random cell ids, papermill's and nbclient's clock readings, papermill's paths, stdout cut in
    two by a flush, the Python patch release, and widgets whose model ids are renumbered in reading order (a
    displayed VBox, its child, that child's layout and its closed style, which has no saved state; a model no
    displayed widget reaches is dropped)."""
    box, child, layout, orphan, closed = "b" * 32, "c" * 32, "a" * 32, "d" * 32, "e" * 32
    clock = {"duration": 0.1, "start_time": "2026-12-01T00:00:00", "end_time": "2026-12-01T00:00:01"}
    view = {"model_id": box, "version_major": 2, "version_minor": 0}
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title", id="f00d", metadata={"papermill": {**clock, "status": "completed"}}),
        nbformat.v4.new_code_cell("show()", id="beef", execution_count=1,
                                  metadata={"execution": {"iopub.execute_input": "2026-12-01T00:00:00Z"},
                                            "papermill": {**clock, "exception": False, "status": "completed"}},
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                                           nbformat.v4.new_output("stream", name="stdout", text="b\n"),
                                           nbformat.v4.new_output("stream", name="stderr", text="c\n"),
                                           nbformat.v4.new_output("display_data", data={
                                               reproduce.WIDGET_VIEW: view, "text/plain": "VBox()"}),
                                           nbformat.v4.new_output("stream", name="stdout", text="d\n")])])
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["papermill"] = {**clock, "input_path": {"cells": []}, "output_path": "/somewhere/x.ipynb",
                                "parameters": {"profile": "cpu"}, "version": "2.6.0"}
    nb.metadata["widgets"] = {reproduce.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        orphan: {"model_name": "LayoutModel", "state": {}},
        child: {"model_name": "HTMLModel", "state": {"layout": f"IPY_MODEL_{layout}", "style": f"IPY_MODEL_{closed}",
                                                     "value": "<b>x</b>"}},
        box: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{child}"]}},
        layout: {"model_name": "LayoutModel", "state": {}}}}}
    got = reproduce.normalize_executed(nb, reproduce.REPO_ROOT / "notebooks" / "x.py")
    ids = [f"{i:032x}" for i in range(4)]
    assert [c["id"] for c in got.cells] == ["cell-0", "cell-1"]
    assert got.cells[0].metadata == {"papermill": {"status": "completed"}}
    assert got.cells[1].metadata == {"papermill": {"exception": False, "status": "completed"}}
    # a kernel's flushes cut stdout where timing falls: consecutive chunks of one stream are one output
    assert [(o["output_type"], o.get("name"), o.get("text")) for o in got.cells[1].outputs] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "c\n"), ("display_data", None, None), ("stream", "stdout", "d\n")]
    assert got.cells[1].outputs[2]["data"] == {reproduce.WIDGET_VIEW: {**view, "model_id": ids[0]}, "text/plain": "VBox()"}
    assert got.metadata["papermill"] == {"input_path": "notebooks/x.py", "parameters": {"profile": "cpu"}, "version": "2.6.0"}
    assert got.metadata["widgets"][reproduce.WIDGET_STATE]["state"] == {
        ids[0]: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{ids[1]}"]}},
        ids[1]: {"model_name": "HTMLModel", "state": {"layout": f"IPY_MODEL_{ids[2]}", "style": f"IPY_MODEL_{ids[3]}",
                                                      "value": "<b>x</b>"}},
        ids[2]: {"model_name": "LayoutModel", "state": {}}}                 # the lost style: renamed, no state
    assert reproduce.missing_widget_models(got) == [ids[3]]
    assert "version" not in got.metadata["language_info"]
    nbformat.validate(got)


def _widget_notebook(lost: bool) -> nbformat.NotebookNode:
    """A notebook displaying one HBox of two HTML widgets; ``lost``: the second one's state never arrived."""
    box, first, second = "b" * 32, "c" * 32, "d" * 32
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
        "display_data", data={reproduce.WIDGET_VIEW: {"model_id": box, "version_major": 2, "version_minor": 0},
                              "text/plain": "HBox()"})])])
    states = {box: {"model_name": "HBoxModel", "state": {"children": [f"IPY_MODEL_{first}", f"IPY_MODEL_{second}"]}},
              first: {"model_name": "HTMLModel", "state": {"value": "1"}},
              second: {"model_name": "HTMLModel", "state": {"value": "2"}}}
    if lost:
        del states[second]
    nb.metadata["widgets"] = {reproduce.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": states}}
    return nb


@pytest.mark.parametrize("executions, status", [([True, False], "ok"), ([True, True], "failed"), ([False], "ok")],
                         ids=["lost-then-whole", "lost-twice", "whole"])
def test_an_execution_whose_widget_messages_were_lost_runs_once_more_then_fails(tmp_path, monkeypatch, capsys,
                                                                                 executions, status):
    """CI (stop 48): the executed notebook 10 lacked two rows of its error grid (12 widget models), so it differed
    from the committed one. Such an execution is run once more, and reported failed, named, if its widget state is
    still incomplete."""
    source = tmp_path / "01_x.py"
    source.write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nshow()\n')
    lost = list(executions)
    monkeypatch.setattr(reproduce.papermill, "execute_notebook",
                        lambda node, output_path, **kw: nbformat.write(_widget_notebook(lost.pop(0)), output_path))
    got = reproduce.execute(source, {}, tmp_path / "executed")
    assert lost == [] and got["status"] == status
    said = "its saved widget state lacks 1 of the models its displayed widgets reference"
    assert (said in got["error"]) == (status == "failed")
    err = capsys.readouterr().err
    assert err.count(f"[reproduce] 01_x: {said}") == executions.count(True) and ("executing it again" in err) == executions[0]
    saved = nbformat.read(tmp_path / "executed" / "01_x.ipynb", as_version=4)
    assert len(saved.metadata["widgets"][reproduce.WIDGET_STATE]["state"]) == (2 if status == "failed" else 3)


def test_failed_notebook_is_reported_and_others_run(isolated, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "01_ok.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nx = 1\n')
    (folder / "02_bad.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nraise RuntimeError("broken on purpose")\n')
    (folder / "03_ok.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\ny = 2\n')
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=folder: sorted(folder.glob("*.py")))
    assert reproduce.main(["--profile", "smoke"]) == 1
    summary = json.loads((isolated / "reports" / "executed" / "summary.json").read_text())
    assert [(s["notebook"], s["status"]) for s in summary] == [("01_ok", "ok"), ("02_bad", "failed"), ("03_ok", "ok")]
    assert "RuntimeError" in summary[1]["error"] and "broken on purpose" in summary[1]["error"]
    assert "FAILED 02_bad" in capsys.readouterr().err


def test_figures_rebuild_from_saved_results(pipeline, tiny_encoder_dir, monkeypatch, tmp_path):
    """`make figures`: results.md, figures and the analysis from saved results only."""
    code, summary, root = pipeline
    monkeypatch.setenv("QUARBERT_RUNS", str(root / "runs"))
    monkeypatch.setenv("QUARBERT_REPORTS", str(root / "reports"))
    from quarbert_lib.reporting import figures
    from quarbert_lib.study import experiment
    monkeypatch.setattr(experiment, "Trainer", None)          # nothing may train
    figures.collect("smoke", str(tiny_encoder_dir))      # the batch's gathering (notebook 09)
    out = figures.rebuild("smoke", str(tiny_encoder_dir))
    text = out.read_text()
    for heading in ("Table 1", "Table 2", "Table 3", "Figure 3", "Figure 4", "## The pre-registered analysis", "Cost per step",
                    "Quality per CPU-minute", "What the results cost", "SMART: which reading of the paper",
                    "| baseline-finetune -> sampling | batch-level task sampling | overall |"):
        assert heading in text, heading
    costs = pd.read_csv(root / "reports" / "tables" / "run_costs.csv")
    metrics = sorted((root / "runs" / "smoke").glob("*/*/metrics.json"))
    assert len(costs) == len(metrics) and set(costs["profile"]) == {"smoke"}
    first = json.loads(metrics[0].read_text())
    assert costs.iloc[0]["wall_seconds"] == pytest.approx(first["wall_seconds"])
    verdicts = pd.read_csv(root / "reports" / "tables" / "verdicts.csv")
    from quarbert_lib.study import spec
    assert list(zip(verdicts["step"], verdicts["metric"])) == [(q.step, m) for q in spec.QUESTIONS
                                                             for m in spec.family_metrics(q.family)]
    assert (root / "reports" / "figures" / "prediction_distributions_ensemble.png").exists()
    assert (root / "reports" / "figures" / "quality_per_minute.png").exists()


def test_a_clone_without_runs_rebuilds_figures_and_browses_the_saved_predictions(pipeline, tiny_encoder_dir, mini_data_dir,
                                                                                 monkeypatch, tmp_path):
    """runs/ is not committed: make figures and notebook 10 work from reports/ alone (its saved predictions)."""
    import shutil

    from quarbert_lib.reporting import figures
    from quarbert_lib.study import experiment
    code, summary, root = pipeline
    reports = tmp_path / "reports"
    shutil.copytree(root / "reports", reports)
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "no-runs"))
    monkeypatch.setenv("QUARBERT_REPORTS", str(reports))
    monkeypatch.setattr(experiment, "Trainer", None)                     # nothing may train
    saved = sorted(p.relative_to(reports / "predictions").parts[:2] for p in (reports / "predictions").glob("*/*/*.gz"))
    assert ("07_quartet_ensemble", "ensemble-seed0") in saved and ("03_task_sampling", "sampling-seed0") in saved
    tables = {p: p.read_bytes() for p in (reports / "tables").glob("*")}
    text = figures.rebuild("smoke", str(tiny_encoder_dir)).read_text()
    assert "## Figure 4: prediction distributions" in text
    assert {p: p.read_bytes() for p in (reports / "tables").glob("*")} == tables       # drawing writes no table
    assert reproduce.main(["--profile", "smoke", "--only", "10"]) == 0
    executed = json.loads((reports / "executed" / "10_error_analysis.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    assert "source: 07_quartet_ensemble/ensemble-seed0" in printed


@pytest.mark.slow
def test_notebook_08_without_weights_reads_what_a_measuring_run_saved(pipeline, tiny_encoder_dir, mini_data_dir,
                                                                      monkeypatch, tmp_path):
    """A clone has records, not weights: notebook 08 then reads lora_params/lora_checks/ensemble_cost.csv (saved
    by the run that measured them) and makes the same ensemble-lora row, training nothing."""
    import shutil

    from quarbert_lib.study import ensemble, experiment, lora_checks
    code, summary, root = pipeline
    shutil.copytree(root / "runs", tmp_path / "runs")
    for folder in (tmp_path / "runs").glob("*/*/*"):     # as a record leaves a run: its weights' hash, no weights
        ensemble.record_weights_hash(folder)
        for name in ("model.pt", "checkpoint.pt", "heads.pt"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "adapter", ignore_errors=True)
    shutil.copytree(root / "reports", tmp_path / "reports")
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("QUARBERT_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setattr(experiment, "Trainer", None)                     # nothing may train
    measured = {n: (root / "reports" / "tables" / n).read_bytes() for n in lora_checks.MEASURED}
    assert reproduce.main(["--profile", "smoke", "--only", "08", "-p", f"encoder={str(tiny_encoder_dir)!r}"]) == 0
    assert {n: (tmp_path / "reports" / "tables" / n).read_bytes() for n in lora_checks.MEASURED} == measured
    executed = json.loads((tmp_path / "reports" / "executed" / "08_lora.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    assert "read from the tables a measuring run saved" in printed
    row = lambda base: pd.read_csv(base / "reports" / "tables" / "ablation.csv").set_index("variant").loc["ensemble-lora"]  # noqa: E731
    assert row(tmp_path).equals(row(root))


def test_the_plan_is_what_the_pipeline_trained(pipeline, tiny_encoder_dir, mini_data_dir, monkeypatch, tmp_path):
    """The planner lists exactly the runs the notebooks trained (all done afterwards), and on a registry with some
    runs incomplete, exactly those are to train."""
    import shutil

    from quarbert_lib.batch import plan
    code, summary, root = pipeline
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    monkeypatch.setenv("QUARBERT_RUNS", str(root / "runs"))
    monkeypatch.setenv("QUARBERT_REPORTS", str(root / "reports"))
    overrides = {**SMALL_SWEEPS, "encoder": str(tiny_encoder_dir)}
    planned = plan.plan(reproduce.discover(), "smoke", overrides, notebook_params=PROFILE_NOTEBOOK_PARAMS["smoke"])
    registry = {(p.parent.parent.name, p.parent.name) for p in (root / "runs" / "smoke").glob("*/*/metrics.json")}
    assert {(r.notebook, r.name) for r in planned} == registry
    assert all(r.done for r in planned) and all(r.seconds == 0 for r in planned)
    # each run evaluated dev as often as the planner counts (notebook 12's epochs, the sweeps' max_steps)
    history = lambda r: pd.read_csv(root / "runs" / "smoke" / r.notebook / r.name / "history.csv")  # noqa: E731
    assert {(r.notebook, r.name): plan.epochs_started(r.config) for r in planned} == \
        {(r.notebook, r.name): int((history(r)["kind"] == "eval").sum()) for r in planned}
    shutil.copytree(root / "runs", tmp_path / "runs")
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "runs"))
    unfinished = {("03_task_sampling", "sampling-seed0"), ("04_smart_mbpp", "sweep-radius0.1-seed0"),
                  ("08_lora", "lora-sts-seed0")}
    for notebook, run in unfinished:
        (tmp_path / "runs" / "smoke" / notebook / run / "metrics.json").unlink()
    planned = plan.plan(reproduce.discover(), "smoke", overrides, notebook_params=PROFILE_NOTEBOOK_PARAMS["smoke"])
    assert {(r.notebook, r.name) for r in planned if not r.done} == unfinished
    assert all(r.seconds > 0 for r in planned if not r.done)
    table = plan.notebook_estimates(planned, [p.stem for p in reproduce.discover()])
    assert table.set_index("notebook").loc["08_lora", "to_train"] == 1 and table["to_train"].sum() == 3

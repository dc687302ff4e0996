"""Adding a ladder step is one spec entry (and its notebook): the recipe in study/recipes.py, the notebook's
NotebookSpec with its row, and the declared question. Nothing else names it: the planner plans its runs from the
spec, the notebook's one library call trains exactly those runs, the analysis gives the question its verdict and the
ablation table its row."""
import pandas as pd
import pytest

from quarbert_lib.batch import plan
from quarbert_lib.reporting import report
from quarbert_lib.study import recipes, results, spec, tables
from quarbert_lib.study.experiment import run_ladder_rows

NOTEBOOK_SOURCE = '''# %% [markdown]
# # 13 · A new step: sampling with a stronger dropout

# %% tags=["parameters"]
profile = "smoke"
encoder = "minilm-l6"
seeds = [0, 1]
force = False

# %%
from quarbert_lib.study.experiment import run_ladder_rows

mine, run_dirs = run_ladder_rows("13_new_step", ["sampling-dropout"], globals())
'''


@pytest.fixture
def new_step(monkeypatch, tmp_path):
    """The step as a new engineer adds it: a recipe, a NotebookSpec with its row, a question, a notebook file."""
    monkeypatch.setitem(recipes.VARIANTS, "sampling-dropout", {**recipes.VARIANTS["sampling"], "model__hidden_dropout": 0.3})
    entry = spec.NotebookSpec("13_new_step", "A new step", ("sampling-dropout",))
    monkeypatch.setattr(spec, "NOTEBOOKS", (*spec.NOTEBOOKS, entry))
    monkeypatch.setitem(spec.BY_NAME, entry.name, entry)
    question = spec.Question("sampling", "sampling-dropout", "project", "a stronger dropout on task sampling")
    monkeypatch.setattr(spec, "QUESTIONS", (*spec.QUESTIONS, question))
    path = tmp_path / "13_new_step.py"
    path.write_text(NOTEBOOK_SOURCE)
    return path


def test_a_ladder_step_is_one_spec_entry_planned_trained_analysed_and_tabled(isolated, tiny_encoder_dir, new_step):
    encoder = str(tiny_encoder_dir)
    params = {"profile": "smoke", "encoder": encoder, "seeds": [0, 1]}
    run_ladder_rows("03_task_sampling", ["sampling"], params)          # the row the question compares it with
    # planned: from the spec entry and the notebook's parameters cell, before anything trains
    planned = plan.plan([new_step], "smoke", overrides={"encoder": encoder})
    assert [(r.notebook, r.name, r.done) for r in planned] == [
        ("13_new_step", "sampling-dropout-seed0", False), ("13_new_step", "sampling-dropout-seed1", False)]
    assert planned[0].config.model.hidden_dropout == 0.3 and planned[0].config.train.sampler == "round-robin"
    # trained: the notebook's one call trains exactly the planned runs, on the tiny encoder
    rows, folders = run_ladder_rows("13_new_step", ["sampling-dropout"], params)
    assert sorted(folders) == ["sampling-dropout-seed0", "sampling-dropout-seed1"]
    assert all(results.is_complete(folders[r.name], r.config.to_dict()) for r in planned)
    assert all(r.done for r in plan.plan([new_step], "smoke", overrides={"encoder": encoder}))
    # tabled: its row, the mean over its two seeds, beside the row its question compares it with
    metrics = [results.read_json(f / "metrics.json") for f in folders.values()]
    row = tables.ablation_rows("smoke", encoder).set_index("variant").loc["sampling-dropout"]
    assert row["seeds"] == 2 and row["overall"] == pytest.approx(sum(m["overall"] for m in metrics) / 2, abs=1e-6)
    assert list(rows["variant"]) == ["sampling", "sampling-dropout"]
    # analysed: the declared question gets its verdict from the one analysis, paired on both seeds, over the
    # family's declared size (which now counts it)
    verdicts = report.notebook_verdicts("13_new_step", "smoke", encoder)
    overall = verdicts[(verdicts["step"] == "sampling -> sampling-dropout") & (verdicts["metric"] == "overall")].iloc[0]
    scores = tables.seed_scores("smoke", encoder, ["sampling", "sampling-dropout"]).pivot(
        index="seed", columns="variant", values="overall")
    assert overall["pairs"] == 2 and overall["tests"] == spec.family_size("project") == 40
    assert overall["effect"] == pytest.approx((scores["sampling-dropout"] - scores["sampling"]).mean(), abs=1e-6)
    assert overall["verdict"] in ("helps", "hurts", "equivalent", "inconclusive")
    assert isinstance(verdicts, pd.DataFrame) and set(verdicts["metric"]) == {"overall", "sst_acc", "qqp_acc", "sts_pearson"}

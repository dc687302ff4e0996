"""A fourth task: appending CFIMDB (a binary sentiment task of the course data) to tasks.STUDY_TASKS is all it takes
for the study to train it with the others, table it, test its steps and describe it. The task's TaskSpec carries its
column, label, short name and margin; the tables, verdicts and figures loop over the study's tasks."""
import numpy as np
import pandas as pd
import pytest

from quarbert_lib.base import tasks
from quarbert_lib.core.config import profile_config
from quarbert_lib.reporting import plots, report
from quarbert_lib.study.experiment import run_ladder_rows


@pytest.fixture
def four_tasks():
    tasks.STUDY_TASKS.append("cfimdb")          # the one change a real fourth task makes (tasks.py)
    try:
        yield
    finally:
        tasks.STUDY_TASKS.remove("cfimdb")


def test_a_fourth_task_is_trained_tabled_tested_and_described(isolated, tiny_encoder_dir, four_tasks):
    assert profile_config("smoke").tasks == ["sst", "para", "sts", "cfimdb"]
    encoder = str(tiny_encoder_dir)
    for notebook, variant in (("02_multitask_baseline", "baseline-finetune"), ("03_task_sampling", "sampling")):
        rows, folders = run_ladder_rows(notebook, [variant], {"profile": "smoke", "encoder": encoder, "seeds": [0, 1]})
    metrics = [pd.read_json(f / "metrics.json", typ="series") for f in folders.values()]
    assert all("cfimdb_acc" in m for m in metrics)
    # trained: each sampling run's overall is the mean of the four tasks' normalised metrics
    m = metrics[0]
    assert m["overall"] == pytest.approx((m["sst_acc"] + m["para_acc"] + (m["sts_pearson"] + 1) / 2 + m["cfimdb_acc"]) / 4)
    # tabled: the row's cfimdb column is the mean over its seeds, and the markdown shows it
    row = rows.set_index("variant").loc["sampling"]
    assert row["cfimdb_acc"] == pytest.approx(np.mean([x["cfimdb_acc"] for x in metrics]))
    table = report.ablation_markdown(rows)
    assert "| CFIMDB acc |" in table and "| paper CFIMDB |" in table
    # tested: the declared step has a verdict on the new task, with the task's own margin, computed from the runs
    family = report.notebook_verdicts("03_task_sampling", "smoke", encoder)
    mine = family[(family["step"] == "baseline-finetune -> sampling") & (family["metric"] == "cfimdb_acc")]
    assert len(mine) == 1 and mine["margin"].iloc[0] == tasks.TASKS["cfimdb"].margin and mine["pairs"].iloc[0] == 2
    assert len(family[family["step"] == "baseline-finetune -> sampling"]) == 5      # overall and four tasks
    # described: the notebook's findings and the ladder figure name it
    text = report.questions_markdown("03_task_sampling", "smoke", encoder)
    assert "| baseline-finetune -> sampling | batch-level task sampling | cfimdb_acc |" in text
    fig = plots.ablation_bars(rows, "four.png", paper={})
    assert "CFIMDB acc" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]

"""The study spec (quarbert_lib.study.spec) is the one description of the study that the planner, the reports and
the saved predictions read."""
from quarbert_lib.batch import plan
from quarbert_lib.batch.reproduce import discover
from quarbert_lib.core.config import VARIANTS
from quarbert_lib.reporting import report
from quarbert_lib.study import spec, tables


def test_every_notebook_is_described_once_and_every_row_is_a_variant_or_an_ensemble():
    assert tuple(p.stem for p in discover()) == spec.NOTEBOOK_NAMES == plan.STUDY_NOTEBOOKS
    rows = [row for nb in spec.NOTEBOOKS for row in nb.rows]
    assert len(rows) == len(set(rows))
    assert set(rows) - set(VARIANTS) == set(spec.ENSEMBLES) == {"ensemble", "ensemble-lora"}
    assert set(spec.LADDER) <= set(rows)
    for before, after in (s for nb in spec.NOTEBOOKS for s in nb.steps):
        assert after in rows and before in rows, (before, after)


def test_who_trains_a_run():
    assert spec.trained_by("smart-cosine-linear-seed2") == "05_cosine_sts"     # not smart-cosine's nor smart's
    assert spec.trained_by("smart-cosine-seed0") == "05_cosine_sts"
    assert spec.trained_by("smart-seed1") == "04_smart_mbpp"
    assert spec.trained_by("ensemble-lora-seed0") == "08_lora" and spec.trained_by("ensemble-seed0") == "07_quartet_ensemble"
    assert spec.trained_by("specialist-sst-seed0") == "07_quartet_ensemble"
    assert spec.trained_by("sweep-lambda0.5-seed0") == "04_smart_mbpp"
    assert spec.trained_by("nothing-seed0") is None


def test_the_verdict_family_follows_the_spec():
    steps = spec.study_steps("sampling")
    assert steps[0] == ("baseline-pretrain", "baseline-finetune") and steps[-1] == ("ensemble", "ensemble-lora")
    assert ("sampling", "ensemble") in steps and ("smart-cosine", "smart-cosine-linear") in steps
    assert list(spec.STEPS) == steps[1:-2]
    assert spec.study_steps(None)[-2] == spec.STEPS[-1]                       # no quartet step without a best row
    import pandas as pd
    table = pd.DataFrame({"variant": ["baseline-finetune", "sampling", "ensemble"], "overall": [0.70, 0.72, 0.73]})
    assert report.study_steps(table) == [("baseline-finetune", "sampling"), ("sampling", "ensemble")]


def test_a_notebook_shows_its_rows_and_those_its_steps_compare_against(isolated):
    """Not the whole study's table: notebook 08 shows ensemble-lora and the ensemble it is compared with; notebook
    07 shows the quartet and the recipe it averages (passed as ``also``)."""
    metrics = {"encoder": "e", "profile": "cpu", "seed": 0, "params_total": 10, "params_trainable": 5,
               "sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.6, "train_seconds": 1.0}
    tables.save_ablation_rows([tables.ablation_row(v, [metrics]) for v in
                               ("baseline-finetune", "sampling", "smart", "ensemble", "ensemble-lora")])
    assert tables.shown_rows("08_lora", "cpu", "e")["variant"].tolist() == ["ensemble", "ensemble-lora"]
    assert tables.shown_rows("07_quartet_ensemble", "cpu", "e", also=("sampling",))["variant"].tolist() == \
        ["sampling", "ensemble"]
    assert tables.shown_rows("03_task_sampling", "cpu", "e")["variant"].tolist() == ["baseline-finetune", "sampling"]
    tables.save_ablation_rows([tables.ablation_row(v, [metrics]) for v in ("baseline-finetune-natural", "sampling-natural")])
    assert tables.shown_rows("03_task_sampling", "cpu", "e", rows=("sampling",))["variant"].tolist() == \
        ["baseline-finetune", "sampling"]                                  # the natural-size control has its own section
    assert tables.shown_rows("03_task_sampling", "cpu", "e", rows=("sampling-natural",))["variant"].tolist() == \
        ["baseline-finetune-natural", "sampling-natural"]

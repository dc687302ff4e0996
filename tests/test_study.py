"""The study spec (quarbert_lib.study) is the one description of the study that the planner, the reports and
the saved predictions read."""
from quarbert_lib import plan, report, study
from quarbert_lib.config import VARIANTS
from quarbert_lib.reproduce import discover


def test_every_notebook_is_described_once_and_every_row_is_a_variant_or_an_ensemble():
    assert tuple(p.stem for p in discover()) == study.NOTEBOOK_NAMES == plan.STUDY_NOTEBOOKS
    rows = [row for nb in study.NOTEBOOKS for row in nb.rows]
    assert len(rows) == len(set(rows))
    assert set(rows) - set(VARIANTS) == set(study.ENSEMBLES) == {"ensemble", "ensemble-lora"}
    assert set(study.LADDER) <= set(rows)
    for before, after in (s for nb in study.NOTEBOOKS for s in nb.steps):
        assert after in rows and before in rows, (before, after)


def test_who_trains_a_run():
    assert study.trained_by("smart-cosine-linear-seed2") == "05_cosine_sts"     # not smart-cosine's nor smart's
    assert study.trained_by("smart-cosine-seed0") == "05_cosine_sts"
    assert study.trained_by("smart-seed1") == "04_smart_mbpp"
    assert study.trained_by("ensemble-lora-seed0") == "08_lora" and study.trained_by("ensemble-seed0") == "07_quartet_ensemble"
    assert study.trained_by("specialist-sst-seed0") == "07_quartet_ensemble"
    assert study.trained_by("sweep-lambda0.5-seed0") == "04_smart_mbpp"
    assert study.trained_by("nothing-seed0") is None


def test_the_verdict_family_follows_the_spec():
    steps = study.study_steps("sampling")
    assert steps[0] == ("baseline-pretrain", "baseline-finetune") and steps[-1] == ("ensemble", "ensemble-lora")
    assert ("sampling", "ensemble") in steps and ("smart-cosine", "smart-cosine-linear") in steps
    assert list(study.STEPS) == steps[1:-2]
    assert study.study_steps(None)[-2] == study.STEPS[-1]                       # no quartet step without a best row
    import pandas as pd
    table = pd.DataFrame({"variant": ["baseline-finetune", "sampling", "ensemble"], "overall": [0.70, 0.72, 0.73]})
    assert report.study_steps(table) == [("baseline-finetune", "sampling"), ("sampling", "ensemble")]

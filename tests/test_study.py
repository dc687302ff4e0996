"""The study spec (quarbert_lib.study.spec) is the one description of the study that the planner, the reports and
the saved predictions read."""
from quarbert_lib.batch.reproduce import discover
from quarbert_lib.study.recipes import VARIANTS
from quarbert_lib.reporting import report
from quarbert_lib.study import spec, tables


def test_every_notebook_is_described_once_and_every_row_is_a_variant_an_ensemble_or_an_epoch_row():
    assert tuple(p.stem for p in discover()) == spec.NOTEBOOK_NAMES
    rows = [row for nb in spec.NOTEBOOKS for row in nb.rows]
    assert len(rows) == len(set(rows))
    assert set(rows) - set(VARIANTS) - set(spec.EPOCH_ROWS) == set(spec.ENSEMBLES) == {
        "ensemble", "ensemble-lora", "ensemble-smart-simcse", "ensemble-lora-smart-simcse"}
    # an epoch row reads a recipe row of its own notebook
    assert all(base in VARIANTS and spec.trained_by(base) == spec.trained_by(row)
               for row, (base, _) in spec.EPOCH_ROWS.items())
    assert set(spec.LADDER) <= set(rows)


def test_who_trains_a_run():
    assert spec.trained_by("smart-cosine-linear-seed2") == "05_cosine_sts"     # not smart-cosine's nor smart's
    assert spec.trained_by("smart-cosine-seed0") == "05_cosine_sts"
    assert spec.trained_by("smart-seed1") == "04_smart_mbpp"
    assert spec.trained_by("ensemble-lora-seed0") == "08_lora" and spec.trained_by("ensemble-seed0") == "07_quartet_ensemble"
    assert spec.trained_by("specialist-sst-seed0") == "07_quartet_ensemble"
    assert spec.trained_by("sweep-lambda0.5-seed0") == "04_smart_mbpp"
    assert spec.trained_by("nothing-seed0") is None


def test_the_questions_are_declared_once_with_their_families():
    """Every declared question compares two rows some notebook trains; the paper's steps are the paper's Table 2
    rows read as its names read; each family's size is its questions times its metrics; every question is shown
    by the notebook that adds its later row."""
    rows = {row for nb in spec.NOTEBOOKS for row in nb.rows}
    for q in spec.QUESTIONS:
        assert q.family in spec.FAMILIES
        assert {q.before, q.after} <= rows | {r for r in (q.before, q.after) if r.startswith("sweep-")}, q
        assert spec.trained_by(q.before) and spec.trained_by(q.after), q
    paper = [(q.before, q.after) for q in spec.QUESTIONS if q.family == "paper"]
    assert paper == [("baseline-pretrain", "baseline-finetune"), ("baseline-finetune", "sampling"), ("sampling", "smart"),
                     ("smart", "smart-cosine"), ("smart", "smart-simcse"), ("smart-simcse", "ensemble-smart-simcse"),
                     ("ensemble-smart-simcse", "ensemble-lora-smart-simcse")]
    assert [(q.before, q.after) for q in spec.QUESTIONS if q.family == "paper-tasks"] == paper
    assert {f: spec.family_size(f) for f in spec.FAMILIES} == {"paper": 7, "paper-tasks": 21, "project": 36, "converged": 8}
    shown = [q for nb in spec.NOTEBOOK_NAMES for q in spec.questions_of(nb)]
    assert sorted(shown, key=spec.QUESTIONS.index) == list(spec.QUESTIONS) and len(shown) == len(set(shown))
    # the paper's rows each question reads, in the paper's own table
    table = report.paper_dev()
    assert all({q.before, q.after} <= set(table) for q in spec.QUESTIONS if q.paper)


def test_a_notebook_shows_its_rows_and_those_its_steps_compare_against(isolated):
    """Not the whole study's table: notebook 08 shows ensemble-lora and the ensemble it is compared with; notebook
    07 shows the quartet and the recipe it averages (passed as ``also``)."""
    metrics = {"encoder": "e", "profile": "cpu", "seed": 0, "params_total": 10, "params_trainable": 5,
               "sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.6, "train_seconds": 1.0}
    tables.save_ablation_rows([tables.ablation_row(v, [metrics]) for v in
                               ("baseline-finetune", "sampling", "smart", "ensemble", "ensemble-lora")])
    assert tables.shown_rows("08_lora", "cpu", "e")["variant"].tolist() == ["ensemble", "ensemble-lora"]   # no paper row yet
    assert tables.shown_rows("07_quartet_ensemble", "cpu", "e", also=("sampling",))["variant"].tolist() == \
        ["sampling", "ensemble"]
    assert tables.shown_rows("03_task_sampling", "cpu", "e")["variant"].tolist() == ["baseline-finetune", "sampling"]
    tables.save_ablation_rows([tables.ablation_row(v, [metrics]) for v in ("baseline-finetune-natural", "sampling-natural")])
    assert tables.shown_rows("03_task_sampling", "cpu", "e", rows=("sampling",))["variant"].tolist() == \
        ["baseline-finetune", "sampling"]                                  # the natural-size control has its own section
    assert tables.shown_rows("03_task_sampling", "cpu", "e", rows=("sampling-natural",))["variant"].tolist() == \
        ["baseline-finetune-natural", "sampling-natural"]


def test_each_rows_budget_is_read_off_its_config():
    """The README's table mixed four budgets without saying so (stop 51's review): `converged-plain` at 0.754 beside
    per-epoch means of at most 0.752 read as a contradiction. Each row now says what its runs train on."""
    assert spec.budget("sampling", "cpu") == "2,400 × 1 epoch"
    assert spec.budget("sampling-natural", "cpu") == "all, round-robin × 1 epoch"      # the smallest task's batches an epoch
    assert spec.budget("baseline-finetune-natural", "cpu") == "all × 1 epoch"        # sequential: every batch
    assert spec.budget("converged-plain", "cpu") == "all but calib × best of 3 epochs"
    assert spec.budget("converged-smart-epoch1", "cpu") == "all but calib × epoch 1 of 2"
    assert spec.budget("ensemble", "cpu") == "its members'"
    # smoke keeps its cap for rows on every example (recipes.CAPPED_PROFILES): the examples over it are the calib split
    assert spec.budget("converged-plain", "smoke") == "24 × best of 3 epochs"
    assert spec.budget("sampling", "paper") == "all but calib, round-robin × best of 10 epochs"

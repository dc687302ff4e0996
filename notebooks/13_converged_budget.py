# %% [markdown]
# # 13 · At a converged budget: does SMART help? (rows `converged-plain`, `converged-smart`)
#
# The ladder trains one epoch on 2,400 examples a task (450 steps); the paper trains about ten epochs on all data.
# SMART's paper presents it as a guard against overfitting in fine-tuning, so every inconclusive step of the ladder
# invites one objection: its budget. This notebook trains both recipes on every example of every task each epoch (the proportional sampler
# takes every batch of every task, in a seeded shuffled order) with BERT's linear warmup and decay, plain for three
# epochs and SMART with MBPP (the ladder's `smart` recipe) for two, the epochs notebook 11 gave the same recipes
# (set by cost: a SMART step costs several plain ones here, as the rows' training seconds below show), on three
# seeds. Whether each has stopped rising is what its curves below show: "converged" names the budget, not a measured
# fact about either recipe. 500 examples of each task are held out of training (the calibration split, as the
# `paper` profile holds them out), so that a model chosen from these runs is chosen there, not on dev. Notebook 11's
# `all-data-linear` points are the same recipes on one seed without that hold-out.
#
# The questions were declared before any of these runs trained (`quarbert_lib/study/spec.py`, family `converged`):
# SMART against plain at each recipe's dev-selected best epoch (as every row of the study), and in about the same
# training minutes. A SMART step costs several plain ones (the rows' training seconds measure how many), so
# SMART's first epoch took about the minutes of plain's three: the row `converged-smart-epoch1` is each SMART run's
# dev score at its first epoch's end (its history.csv), not a run of its own, set against plain's row, the best of
# plain's three epochs, so each recipe gives its best within about the same minutes. A recipe row's training
# seconds are its whole run's (every epoch), its scores its best epoch's; the epoch row's seconds are its epoch's end. The offline Quora split caveat of notebook 02 applies to every row.
#
# The six runs take hours here, one at a time (the plan below gives the minutes of any run it would train); they
# train across sessions and are recorded as each seed of both recipes ends. The committed study executes this
# notebook on the seeds recorded so far (`converged_seeds`, the `cpu` profile's batch parameters), so it trains
# nothing; the plan cell prints those seeds. Set `converged_seeds` to them to see the recorded runs without training;
# the default, all three seeds, trains the missing ones, and the plan cell says which and for how long first.
#
# The best model is also sought among quartets at this budget, as notebook 07 builds them at the ladder's: three
# specialists (the `converged-plain` recipe on one task each, runs `converged-specialist-<task>-seed<N>`) with
# `converged-plain`'s run of the same seed, averaged. `quartet_seeds` says which seeds' specialists to train
# (`[]`: none); the `cpu` batch sets the seeds whose specialists are recorded, so that it trains nothing (the plan
# cell prints them). A quartet of seed N needs `converged-plain`'s seed N, which `quartet_seeds` does not train: the
# quartet exists once both are done.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
converged_seeds = None   # None: the notebook's three (hours here); the seeds recorded so far (the plan cell prints them) train nothing
converged = True         # False: train and show no runs (the quick profile's batch sets it: its three and two epochs on every example are over an hour)
quartet_seeds = [0]      # the converged quartets' seeds: three specialists each, with converged-plain of that seed ([]: none)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.base.tasks import TASKS
from quarbert_lib.batch import plan
from quarbert_lib.reporting import plots, report
from quarbert_lib.study import experiment, methods, tables
from quarbert_lib.study.recipes import PROFILE_NOTEBOOK_PARAMS, variant_config
from quarbert_lib.study.results import write_csv
from quarbert_lib.study.spec import TARGET_OVERALL

NOTEBOOK = "13_converged_budget"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# ## What one epoch sees
# The ladder's round-robin sampler takes, each epoch, as many batches of every task as the smallest task has
# (STS), so on these full splits an epoch of it leaves most of Quora's batches out (the ladder's 2,400-example cap
# makes its tasks equal instead). The converged recipes' proportional sampler takes every batch of
# every task once an epoch, shuffled with the seed and the epoch. Below, the library's own `epoch_schedule` on
# the converged recipes' training splits (every example; the ladder's runs cap each task at 2,400, so its epoch is
# shorter), as the trainer calls it for epoch 0 (`methods.epoch_mix`): the batches of each task one epoch takes
# under both samplers, and which task each of its first steps trains (`train_examples`: each training split, less
# the 500 examples a task held out as the calibration split).

# %%
counts, order = methods.epoch_mix(variant_config("converged-plain", profile, model__encoder=encoder))
counts = write_csv(tables_dir() / "epoch_mix.csv", counts)
order = write_csv(tables_dir() / "epoch_mix_steps.csv", order)
display(counts.pivot(index="task", columns="sampler", values="epoch_batches").add_suffix(" batches")
        .join(counts.drop_duplicates("task").set_index("task")["train_examples"]).rename(index=lambda t: TASKS[t].short))
plots.epoch_mix(counts, order);

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());
print("the seeds the committed study executes this notebook on (recorded: nothing trains): converged_seeds",
      PROFILE_NOTEBOOK_PARAMS.get(profile, {}).get("converged_seeds", "all its seeds"), "quartet_seeds",
      PROFILE_NOTEBOOK_PARAMS.get(profile, {}).get("quartet_seeds", "the notebook's"))

# %%
mine, run_dirs = experiment.run_ladder_rows(NOTEBOOK, ["converged-plain", "converged-smart"], globals())
display(Markdown(report.ablation_markdown(mine)))

# %% [markdown]
# ## Dev score per epoch, against training minutes
# Each point is an epoch's end, its dev score the mean over the seeds, its bars their spread in score and in
# minutes (this machine's speed drifts between sessions, so the minutes of runs trained on different days differ by
# more than their recipes make them). The dashed line is the project's target.

# %%
trained = experiment.train_runs(NOTEBOOK, ["converged-plain", "converged-smart"], globals())
curves = pd.concat([tables.learning_curve(folder, run.group, run.seed) for run, _, folder in trained] or [pd.DataFrame()],
                   ignore_index=True).dropna(axis=1, how="all").assign(profile=profile, encoder=encoder)
if converged:
    tables.save_learning_curves(curves, "converged_curves.csv")
    display(curves.drop(columns=["profile", "encoder"]).round(4))
    plots.learning_curves(curves, "converged_curves.png", base="converged-plain", x="train_minutes",
                          target=(TARGET_OVERALL, f"target {TARGET_OVERALL}"));
    display(tables.last_epoch_change(curves).round(4))

# %% [markdown]
# ## The best model these runs give, chosen on the calibration split
# The candidates: each run, each recipe's seeds averaged (as notebook 07 averages a quartet), every run averaged
# (both recipes' runs together) and each converged quartet (a seed's three specialists with its `converged-plain`
# run), each scored on the calibration split (the 500 examples a task that every one of these runs held out of
# training) and on dev. The best calibration score chooses (`experiment.choose_best`); dev reports it, beside the
# project's target. Each run's weights are its dev-selected best epoch's, as every row's are: dev picked the epoch,
# the calibration split picks the model. The chosen model is what `python -m quarbert_lib submit` writes the course
# files of. Calibration scores on 500 examples a task are noisy: the margin printed under the table is the chosen
# model's lead over the next candidate, a difference on one split, not a test.

# %%
specialists = experiment.train_runs(NOTEBOOK, "converged-specialist", globals())
display(pd.DataFrame([{"run": run.name, "task": TASKS[run.point["member"]].label,
                       "dev": m.get(TASKS[run.point["member"]].metric_name), "train_seconds": m.get("train_seconds")}
                      for run, m, _ in specialists], columns=["run", "task", "dev", "train_seconds"]).round(4))

# %%
if converged:
    candidates, best_folder = experiment.choose_best(NOTEBOOK, profile, encoder)
    display(candidates[["model", "kind", "runs", "chosen", "calib_overall", "overall"]].round(4))
    if best_folder is not None:
        chosen = candidates[candidates["chosen"]].iloc[0]
        runner_up = tables.choice_lead(candidates)
        lead = "" if runner_up is None else f", {runner_up[1]:.4f} above the next candidate, {runner_up[0]}"
        display(Markdown(f"Chosen on the calibration split: **{chosen['model']}** (calibration overall "
                         f"{chosen['calib_overall']:.4f}{lead}); its dev overall is {chosen['overall']:.4f}, against the "
                         f"project's target {TARGET_OVERALL}."))

# %% [markdown]
# ## What this shows
# The rows table gives each recipe's dev scores at its best epoch (mean and std over the seeds) and its training
# seconds; `converged-smart-epoch1` is SMART at its first epoch's end, whose training seconds sit beside plain's
# whole run (its row is plain's best of its three epochs). The figure shows whether each recipe stopped rising; the
# table under it gives each recipe's overall dev change at its last epoch (the mean over seeds) and how many seeds
# rose: a recipe higher in every seed may gain from more epochs, so its row may understate it (a task's score may
# rise while the overall falls). The calibration split and dev can
# rank the candidates differently: the choice is the calibration split's, as declared. The table below is the study's pre-registered
# analysis of the two questions: the seed-paired effect, its interval adjusted over the family's declared tests,
# and the one word. With fewer than two seeds paired there is no interval, and the word is "inconclusive" by
# construction: a question not yet answered, never "no effect".

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))

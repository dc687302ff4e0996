# %% [markdown]
# # 01 · Single-task sentiment: frozen versus fine-tuned encoder (the paper's Table 1)
#
# Before multitask learning, the study measures each sentiment task on its own: SST-5
# (five classes, movie-review phrases) and CFIMDB (binary, full IMDB reviews). Two modes:
#
# - **pretrain**: the encoder is frozen; only the linear head learns (lr `frozen_lr`);
# - **finetune**: the encoder learns too, all but its word-embedding table (the profile's `model.freeze_word_embeddings`;
#   the trainable count below says how many weights that leaves).
#
# The encoder defaults to the packaged all-MiniLM-L6-v2 (offline); the paper used
# bert-base-uncased (`profile = "paper"` on a GPU). Results go through the registry in
# `runs/01_single_task_sentiment/`, so rerunning this notebook skips finished runs.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"    # minilm-l6 (packaged) | bert-base-uncased | a local path
seeds = [0]
frozen_lr = 1e-3
frozen_epochs = 3
max_train = None         # cap on training examples per task (None: the profile's; the quick profile sets 400)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)

# %%
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.batch import plan
from quarbert_lib.reporting import plots, report
from quarbert_lib.study import experiment, tables

NOTEBOOK = "01_single_task_sentiment"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## Train the four configurations (× seeds)

# %%
# the four configurations' runs, as spec.NOTEBOOKS declares them: task x mode (pretrain: the encoder frozen,
# frozen_lr for frozen_epochs; finetune: the profile's), on each seed
trained = experiment.train_runs(NOTEBOOK, "single-task", globals())
by_setting = {}
for run, metrics, folder in trained:
    by_setting.setdefault((run.point["task"], run.point["mode"]), []).append(metrics)
run_dirs = {f"{run.point['task']}-{run.point['mode']}": folder for run, _, folder in trained}
rows = [tables.single_task_row(task, mode, runs) for (task, mode), runs in by_setting.items()]

# %% [markdown]
# ## Table 1: dev accuracy

# %%
tables.save_single_task_rows(rows)
mine = tables.single_task_rows(profile, encoder)
display(Markdown(report.single_task_markdown(mine)))

# %%
plots.single_task_bars(mine);

# %% [markdown]
# ## Training curves (from each run's `history.csv`)

# %%
plots.training_curves(run_dirs, "single_task_curves.png");

# %% [markdown]
# ## What this shows
# Table 1 sets the frozen encoder (a linear probe on its embeddings) beside the fine-tuned one, task by task, with
# each row's trainable parameters: the difference is what updating the encoder's own weights buys on a single
# task. With one seed a row (the `seeds` column), read it as a description: no interval, no verdict. The paper
# reports no single-task row; its frozen-versus-fine-tuned comparison is notebook 02's multitask baseline, which
# has seeds and a verdict.

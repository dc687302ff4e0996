# %% [markdown]
# # 03 · Batch-level task sampling (row `sampling`)
#
# The baseline (notebook 02) trains sequentially: all SST batches, then all Quora, then all
# STS, so each task is followed by long stretches of the others. The paper's batch-level
# sampling instead takes, in each epoch, as many batches from every task as the smallest
# task has, interleaved round-robin (SST, Quora, STS, SST, ...), so each task gets the same
# exposure and none is forgotten at the end of the epoch.
#
# The schedule is a pure function of the seed and the epoch (`seed + epoch`), and its position
# is saved in every checkpoint, so an interrupted run resumes mid-epoch on the same batch.
# `quarbert_lib.sampler` also offers proportional and temperature sampling
# (`train__sampler="proportional"` / `"temperature"`).
#
# In the `cpu` profile each task is capped at the same number of training examples, so the
# tasks are equal in size: the comparison with notebook 02 isolates interleaving against
# sequential training. The offline Quora split caveat of notebook 02 applies to every row.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2; mean and std are reported)
force = False

# %%
from IPython.display import Markdown, display

from quarbert_lib import plots, report
from quarbert_lib.experiment import run_ladder_rows

NOTEBOOK = "03_task_sampling"

# %%
mine, run_dirs = run_ladder_rows(NOTEBOOK, ["sampling"], profile, seeds, encoder, force)
display(Markdown(report.ablation_markdown(mine)))

# %%
plots.ablation_bars(mine, "ablation_sampling.png", variants=["baseline-finetune", "sampling"]);

# %%
plots.training_curves(run_dirs, "sampling_curves.png");

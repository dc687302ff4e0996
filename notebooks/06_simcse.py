# %% [markdown]
# # 06 · Unsupervised SimCSE (row `smart-simcse`, the paper's best single model)
#
# SimCSE (Gao et al., 2021) makes two views of each sentence from two dropout passes; the
# other sentences of the batch are negatives. The loss is the cross-entropy over
# cos(z1_i, z2_j) / τ with τ = 0.05, labels on the diagonal. The pooler is the model's own
# (mean pooling over real tokens in the `cpu` profile; CLS in `paper`).
#
# Two uses, both on top of the `smart-cosine` recipe:
# 1. a **stage** before multitask fine-tuning, on every distinct training sentence of the
#    three tasks (`simcse.stage_steps` steps, in the same generic training loop);
# 2. a **joint auxiliary loss** during multitask training, weighted λ_c = 0.1.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2; mean and std are reported)
force = False
cost_steps = 9
measure_costs = None     # None: time the steps only where costs.csv lacks this setting (a timing is a record); True: time again

# %%
from functools import partial

from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.benchmarks import bench
from quarbert_lib.reporting import plots, report
from quarbert_lib.reporting.notebook_findings import notebook_findings
from quarbert_lib.study import methods, results
from quarbert_lib.study.experiment import run_ladder_rows

NOTEBOOK = "06_simcse"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## The method on one batch
# Unsupervised SimCSE (`SimCSELoss`) on the first SST training batch (`methods.one_batch`, the pretrained encoder,
# float64): each sentence is embedded twice with independent dropout masks, and row i of the matrix holds
# cos(z1_i, z2_j) / τ for every sentence j of the batch. The loss is the cross-entropy that asks each row's
# diagonal, the sentence with itself, to beat the other sentences, its in-batch negatives.

# %%
model, batches, cfg = methods.one_batch(profile, encoder)
similarity, simcse_loss = methods.simcse_batch(model, batches["sst"], cfg.simcse.temperature)
similarity = results.write_csv(tables_dir() / "simcse_batch.csv", similarity)
plots.similarity_matrix(similarity, simcse_loss, temperature=cfg.simcse.temperature);

# %%
mine, run_dirs = run_ladder_rows(NOTEBOOK, ["smart-simcse"], profile, seeds, encoder, force)
run = results.read_json(next(iter(run_dirs.values())) / "metrics.json")
print({k: run[k] for k in ("simcse_sentences", "simcse_steps", "simcse_seconds")})
display(Markdown(report.ablation_markdown(mine)))

# %%
plots.ablation_bars(mine, "ablation_simcse.png");

# %%
plots.training_curves(run_dirs, "simcse_curves.png");

# %% [markdown]
# ## Cost per variant
# Median seconds per training step of each ladder variant, relative to a plain multitask step
# (`sampling`), measured in one process on the same batches. The SimCSE stage is a one-off cost,
# reported above in seconds. A timing is a record: read back from `costs.csv` unless this setting
# was never timed (or `measure_costs = True`).

# %%
costs, timed_here = results.measured("costs.csv", {"profile": profile, "encoder": encoder, "steps_timed": cost_steps},
                                     measure_costs, partial(bench.step_costs, ["advreg-only", "smart", "smart-cosine",
                                                                               "smart-simcse"], profile, encoder,
                                                            steps=cost_steps))
print("timed here" if timed_here else "read from costs.csv, timed by an earlier run")
display(report.readable(costs))

# %% [markdown]
# ## What this shows
# Built by `notebook_findings` from the tables this notebook saved (no number typed by hand): each step's
# difference of the seed means with the study's verdict (Holm-corrected over all its tests), the paired bootstrap
# over every seed's dev predictions judged against the task's margin, the paper's delta for the same step, and the
# reason where a step is null (measured, or stated open).

# %%
display(Markdown(notebook_findings(NOTEBOOK, profile, encoder)))

# %% [markdown]
# # 06 · Unsupervised SimCSE (rows `smart-simcse` and `smart-cosine-simcse`)
#
# SimCSE (Gao et al., 2021) makes two views of each sentence from two dropout passes; the
# other sentences of the batch are negatives. The loss is the cross-entropy over
# cos(z1_i, z2_j) / τ with τ = 0.05, labels on the diagonal. The pooler is the model's own
# (mean pooling over real tokens in the `cpu` profile; CLS in `paper`).
#
# Two uses, together:
# 1. a **stage** before multitask fine-tuning, on every distinct training sentence of the
#    three tasks (`simcse.stage_steps` steps, in the same generic training loop);
# 2. a **joint auxiliary loss** during multitask training, weighted λ_c = 0.1.
#
# On which recipe? The paper's table names its row SMART-sampling-SimCSE and its cosine row
# SMART-sampling-cosine: neither name contains the other, so we read them as siblings built on
# SMART-sampling (the paper's SimCSE row scores STS above its SMART row, its cosine row below it).
# `smart-simcse` is that reading: SimCSE on `smart`, the linear STS head, and the paper's step is
# `smart -> smart-simcse`. The project's own question stacks SimCSE on the cosine head:
# `smart-cosine-simcse`, compared with `smart-cosine`.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2; mean and std are reported)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)
cost_steps = 9
measure_costs = None     # None: time the steps only where costs.csv lacks this setting (a timing is a record); True: time again

# %%
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.benchmarks import bench
from quarbert_lib.reporting import plots, report
from quarbert_lib.study import methods, results, tables
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
mine, run_dirs = run_ladder_rows(NOTEBOOK, ["smart-simcse", "smart-cosine-simcse"], globals())
display(Markdown(report.ablation_markdown(mine)))

# %% [markdown]
# The stage's dose, run by run: how many sentences it drew (steps × batch) against the distinct training sentences
# it draws from, i.e. the share of one pass (`tables.simcse_dose`, from each run's config and metrics.json).

# %%
dose = results.write_csv(tables_dir() / "simcse_dose.csv", tables.simcse_dose(run_dirs).assign(profile=profile, encoder=encoder))
display(report.readable(dose.drop(columns=["profile", "encoder"])))

# %%
plots.ablation_bars(mine, "ablation_simcse.png");

# %%
plots.training_curves(run_dirs, "simcse_curves.png");

# %% [markdown]
# ## Cost per variant
# Median seconds per training step of each ladder variant, relative to a plain multitask step
# (`sampling`), measured in one process on the same batches, each setting timed in turn `COST_REPEATS` times.
# The SimCSE stage is a one-off cost, reported above in seconds. This is the study's one measurement of step costs
# (`costs.csv`): `make bench` times the same settings with the same function into the same table, with the other
# settings a reader asks about (SMART K=0, R-Drop, MBPP alone, LoRA: `benchmarks.md`). A timing is a record: read
# back unless this setting was never timed (or `measure_costs = True`).

# %%
costs, timed_here = bench.saved_step_costs(profile, encoder, cost_steps, measure=measure_costs)
print("timed here" if timed_here else "read from costs.csv, timed by an earlier run")
costs = costs[costs["variant"].isin(bench.LADDER_STEPS)].reset_index(drop=True)
display(report.readable(costs))

# %% [markdown]
# ## What this shows
# The study's verdicts on SimCSE on SMART-sampling (the paper's row, linear STS head) and on SimCSE stacked on the
# cosine head (the project's). The dose table above says how much of one pass over the training sentences the
# stage saw; whether a longer stage changes the step is open, as no run here trains one. The second table sets the
# SimCSE row's STS correlation beside the untrained encoder's cosine, which was itself trained contrastively.

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))
display(Markdown(report.prior_markdown(profile, encoder, "smart-simcse", "sts_pearson")))

# %% [markdown]
# # 02 · Multitask baseline: frozen (baseline-pretrain) versus fine-tuned (baseline-finetune)
#
# One shared encoder, three heads: SST-5 sentiment (5-way softmax, cross-entropy), Quora
# paraphrase (one logit, binary cross-entropy) and STS-B similarity (a regressed score,
# MSE). Sentence pairs are encoded siamese, each sentence on its own, and combined as
# [u, v, |u − v|, u·v], as in the paper.
#
# Training is the paper's plain **sequential** scheme: each epoch passes over all SST
# batches, then all Quora batches, then all STS batches.
#
# **Data caveats.** Offline, `quora-train.csv` is absent: Quora train and dev are a fixed
# 80/20 split of `quora-dev.csv` by a hash of the id (printed below and stored in every
# run's `metrics.json` and every table row). The default encoder, all-MiniLM-L6-v2, was
# itself trained on sentence pairs that include Quora duplicates, so dev pairs may not be new
# to it: its Quora accuracy with nothing trained is measured (the encoder's prior, below);
# how far that lifts its Quora scores above a bert-base-uncased start is not (no hub here).

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"    # minilm-l6 (packaged) | bert-base-uncased | a local path
seeds = None             # None: the study's (cpu: 0-4, spec.notebook_seeds; mean and std are reported)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)

# %%
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.batch import plan
from quarbert_lib.reporting import plots, report
from quarbert_lib.study.experiment import run_ladder_rows

NOTEBOOK = "02_multitask_baseline"
reports_dir = notebook.start(NOTEBOOK, profile, reports)
VARIANTS = ["baseline-pretrain", "baseline-finetune"]   # overrides: quarbert_lib.study.recipes.VARIANTS

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %%
mine, run_dirs = run_ladder_rows(NOTEBOOK, VARIANTS, globals())
print(*sorted({n for n in mine["data_note"].dropna() for n in n.split(" | ")}), sep="\n")

# %% [markdown]
# ## Ablation rows: dev scores
# overall = (SST acc + QQP acc + (STS r + 1) / 2) / 3, the course's score.

# %%
display(Markdown(report.ablation_markdown(mine)))

# %%
plots.ablation_bars(mine, "ablation_baselines.png", variants=VARIANTS);

# %%
plots.training_curves(run_dirs, "multitask_baseline_curves.png");

# %% [markdown]
# ## What this shows
# The table below is the study's one pre-registered analysis (`spec.QUESTIONS`, `reporting.verdicts`) on this
# notebook's question, on the overall score and on each task: the mean seed-paired difference, its interval
# adjusted over its family's declared tests, and the word read off that interval (**helps** / **hurts** when the
# interval lies above / below zero, **equivalent** inside the margin, **inconclusive** otherwise); the paper's
# effect for the same step is in the last column. The second table sets the fine-tuned row beside what the frozen
# encoder scores with no weight trained (`python -m quarbert_lib prior`): the pretrained encoder was trained on
# sentence pairs that include Quora duplicates, so "fine-tuning helps" is measured against a weak frozen
# baseline (a one-epoch linear head), not against the encoder's prior.

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))
display(Markdown(report.prior_markdown(profile, encoder, "baseline-finetune", "overall")))

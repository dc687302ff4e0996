# %% [markdown]
# # 05 · Cosine-similarity STS head (row `smart-cosine`)
#
# The baseline STS head regresses the score from [u, v, |u − v|, u·v] with a linear layer.
# As in SBERT, the cosine head scores a pair by cos(u, v) alone. The paper passes the cosine
# through a sigmoid and scales it to 0-5: 5 · σ(cos(u, v)). That map only reaches
# [1.34, 3.66], so the head is conservative at the extremes (see the prediction
# distributions of the results notebook). The control row `smart-cosine-linear` uses
# 2.5 · (cos + 1) instead, which reaches the whole 0-5 range. Pearson r is unchanged by an affine
# map of the predictions, so any difference between the two comes from training: the MSE loss
# sees a different slope. Everything else is the `smart` row of notebook 04.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2; mean and std are reported)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)

# %%
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.reporting import plots, report
from quarbert_lib.study import methods
from quarbert_lib.study.experiment import run_ladder_rows
from quarbert_lib.study.results import write_csv

NOTEBOOK = "05_cosine_sts"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## The method on one batch
# A cosine STS head has no weights: the score is a fixed map of cos(u, v), the paper's 5 σ(cos) or SBERT's
# 2.5 (cos + 1) (`model.cosine_score`, what `MultitaskBERT.head` computes). The first STS training batch, embedded by
# the pretrained encoder (`methods.one_batch`, float64), shows where real pairs fall: 5 σ(cos) spans only
# 5 σ(-1) = 1.34 to 5 σ(1) = 3.66, so a gold 0 or 5 is out of its reach, while 2.5 (cos + 1) spans 0-5.

# %%
model, batches, _ = methods.one_batch(profile, encoder)
maps, pairs = methods.cosine_maps(model, batches["sts"])
maps = write_csv(tables_dir() / "cosine_maps.csv", maps)
pairs = write_csv(tables_dir() / "cosine_batch.csv", pairs)
display(report.readable(pairs))
plots.cosine_maps(maps, pairs);

# %%
mine, run_dirs = run_ladder_rows(NOTEBOOK, ["smart-cosine", "smart-cosine-linear"], globals())
display(Markdown(report.ablation_markdown(mine)))

# %%
plots.training_curves(run_dirs, "cosine_curves.png");

# %% [markdown]
# ## What this shows
# The study's verdicts on the paper's step (the cosine STS head on SMART-sampling) and on the project's control of
# the head's map (2.5 (cos + 1), which reaches the whole 0-5 scale, against the paper's 5 σ(cos), whose range the
# method cell above draws). The second table sets the cosine row's STS correlation beside what the untrained
# encoder's cosine already scores: a cosine head starts from the encoder's prior, and training can move it either
# way.

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))
display(Markdown(report.prior_markdown(profile, encoder, "smart-cosine", "sts_pearson")))

# %% [markdown]
# # 12 · A regime built to overfit: does a regulariser close the train-dev gap?
#
# SMART (Jiang et al. 2020), its momentum teacher MBPP and R-Drop (Liang et al. 2021) are regularisers:
# they should matter where a model fits its training data better than it generalises. The ladder's
# budget (one epoch on 2,400 examples per task) is not built for that: in notebook 11 the plain recipe's dev
# score still rose over its first two full-data epochs (quality_per_minute.csv). Here every recipe trains on a
# small cap (600 examples per task) for six epochs, and each epoch's evaluation also scores a fixed probe of
# training examples (`train.eval_train_examples`; 600, the whole cap, so the probe is the training set), so
# the train-dev gap is measured, not assumed. Whether plain actually overfits (its dev score falls from its
# peak, beyond the margin) is read from the curves in the findings, not assumed either.
#
# Recipes (`recipes.REGIME_RECIPES`): plain (`sampling`), SMART in the libraries' reading at λ_s = 0.5 and
# at the paper's 5 (`advreg-only`), SMART + MBPP (the `smart` row) and R-Drop (α = 1), three seeds each.
# Every seed trains on the same 600 examples per task (the data's fixed subset): the seeds vary the heads'
# initialisation, dropout and the batch order, so what the tests show holds for this subset. Each recipe is
# compared with plain at the last epoch, on the dev score and on the gap, and SMART + MBPP with SMART alone at the
# same λ_s (what MBPP adds), in one Holm family of this notebook's own (not the study's pre-registered questions); a gap that narrows because the training score falls with dev is
# reported as fitting less, not as closing the gap. With three seeds a side a Welch test has few degrees of
# freedom: expect wide intervals. The offline Quora split caveat of notebook 02 applies.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)
regime_cap = 600         # training examples per task
regime_epochs = 6
regime_probe = 600       # training examples per task scored at every evaluation (the whole cap: the train score)
regime_recipes = None    # None: every recipe of recipes.REGIME_RECIPES

# %%
import pandas as pd
from IPython.display import display

from quarbert_lib.base import notebook
from quarbert_lib.batch import plan
from quarbert_lib.reporting import plots, verdicts
from quarbert_lib.study import experiment, tables

NOTEBOOK = "12_overfitting_regime"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %%
# each recipe of recipes.REGIME_RECIPES (or of regime_recipes) on each seed, as spec.NOTEBOOKS declares them
trained = experiment.train_runs(NOTEBOOK, "regime", globals())
curves = pd.concat([tables.learning_curve(folder, run.point["recipe"], run.seed) for run, _, folder in trained],
                   ignore_index=True).assign(profile=profile, encoder=encoder)
tables.save_learning_curves(curves)
last = tables.epoch_rows(curves.drop(columns=["profile", "encoder"]))
display(last[["variant", "seeds", "epoch", "overall", "overall_std", "train_overall", "train_overall_std",
              "gap_overall", "gap_overall_std", "train_minutes"]].round(4))

# %%
plots.learning_curves(curves, "regime_curves.png");

# %% [markdown]
# ## What this shows
# Whether plain training overfits in this regime (`verdicts.regime_opening`: "overfits" when the train-dev gap
# widens beyond the margin and dev falls beyond it from its peak, "gap only" when the gap widens but dev has not
# fallen, "no gap" otherwise), then each regulariser against plain at the last epoch, on dev and on the gap, in
# words of their own ("below zero" on the gap narrows it; Welch, Holm over this notebook's tests): these are not
# the study's pre-registered questions, so they carry no helps / hurts. A gap that narrows because the training
# score falls is fitting less, not generalising better: compare the train and dev columns. The last table is what
# early stopping would keep (each run's best epoch), optimistic alike for every recipe.

# %%
print("plain, in this regime:", verdicts.regime_opening(curves))
display(verdicts.regime_verdicts(curves).round(4))
display(tables.early_stopping(curves).round(4))

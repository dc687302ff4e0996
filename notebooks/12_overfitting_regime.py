# %% [markdown]
# # 12 · A regime that overfits: does a regulariser close the train-dev gap?
#
# SMART (Jiang et al. 2020), its momentum teacher MBPP and R-Drop (Liang et al. 2021) are regularisers:
# they should matter where a model fits its training data better than it generalises. The ladder's
# budget (one epoch on 2,400 examples per task) is not such a regime: notebook 11's plain recipe still
# climbs for two full-data epochs. Here every recipe trains on a small cap (600 examples per task) for
# six epochs, and each epoch's evaluation also scores a fixed probe of training examples
# (`train.eval_train_examples`), so the train-dev gap is measured, not assumed.
#
# Recipes (`config.REGIME_RECIPES`): plain (`sampling`), SMART in the libraries' reading at λ_s = 0.5 and
# at the paper's 5 (`advreg-only`), SMART + MBPP (the `smart` row) and R-Drop (α = 1), three seeds each.
# Each recipe is compared with plain at the last epoch, on the dev score and on the gap, and SMART + MBPP
# with SMART alone at the same λ_s (what MBPP adds), in one Holm family. The offline Quora split caveat of
# notebook 02 applies.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2)
force = False
regime_cap = 600         # training examples per task
regime_epochs = 6
regime_probe = 600       # training examples per task scored at every evaluation (the whole cap: the train score)
regime_recipes = None    # None: every recipe of config.REGIME_RECIPES

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib.base.paths import tables_dir
from quarbert_lib.core.config import REGIME_RECIPES, profile_seeds
from quarbert_lib.reporting import plots
from quarbert_lib.reporting.notebook_findings import notebook_findings
from quarbert_lib.study import results, tables
from quarbert_lib.study.experiment import run_variant

NOTEBOOK = "12_overfitting_regime"

# %%
curves = []
for label in regime_recipes or list(REGIME_RECIPES):
    variant, overrides = REGIME_RECIPES[label]
    runs, folders = run_variant(NOTEBOOK, variant, profile, profile_seeds(profile, seeds), encoder, force,
                                run_prefix=f"regime-{label}", data__max_train_per_task=regime_cap,
                                train__epochs=regime_epochs, train__eval_train_examples=regime_probe, **overrides)
    curves += [tables.learning_curve(folder, label, m["seed"]) for folder, m in zip(folders.values(), runs)]
curves = pd.concat(curves, ignore_index=True).assign(profile=profile, encoder=encoder)
results.upsert_rows(tables_dir() / "regime_curves.csv", curves.to_dict("records"),
                    ["variant", "seed", "epoch", "step", "profile", "encoder"])
last = tables.epoch_rows(curves.drop(columns=["profile", "encoder"]))
display(last[["variant", "seeds", "epoch", "overall", "overall_std", "train_overall", "gap_overall",
              "gap_overall_std"]].round(4))

# %%
plots.learning_curves(curves, "regime_curves.png");

# %% [markdown]
# ## What this shows
# Built by `notebook_findings` from `regime_curves.csv` (no number typed by hand): whether the gap opens, then
# each regulariser against plain at the last epoch, on the dev score and on the gap, with intervals and the
# study's verdict words (Holm over this notebook's tests).

# %%
display(Markdown(notebook_findings(NOTEBOOK, profile, encoder)))

# %% [markdown]
# # 11 · Quality per CPU-minute
#
# How much does each extra minute of training buy? Each recipe is trained (seed 0) with a cap
# on the training examples per task, from a few hundred to every example, and its overall dev
# score is set against its training minutes on this machine. The ladder rows (seed means) are
# drawn as grey points. The curve answers two questions the ablation table cannot: where the
# `cpu` profile's budget (its cap per task, one epoch) sits on it, and what the best
# recipe would need to reach the project's 0.76 target (the paper's bert-base GPU ensemble:
# 0.782).
#
# With every example (`all`), the round-robin sampler still ends each epoch when the smallest
# task (STS) runs out, so Quora's extra pairs are not all seen. The `all-data` recipe
# (`recipes.BUDGET_RECIPES`) takes every batch of every task in a shuffled order for three epochs;
# each epoch's dev evaluation is a point of its curve, timed when it was made. The offline Quora
# split caveat of notebook 02 applies to every row.
#
# `all-data-linear-smart` is the same best recipe with the ladder's working SMART (the `smart` row: the
# libraries' normalize/embedding perturbation of radius 1, fresh dropout, plus MBPP) for two epochs. It asks
# whether adversarial regularization pays for its cost where it should matter most, at the longest budget;
# the findings set it against the plain recipe at the same epoch and in the same minutes.
#
# `reuse_saved = True` redraws the curve from the points an earlier run of this notebook saved
# (quality_per_minute.csv) for every run this machine's registry lacks, and trains only what is new; the
# `source` column says where each point came from.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
recipes = None           # None: recipes.BUDGET_CAPS[profile], e.g. {"sampling": [600, 1200, 2400, 4800, None], "all-data": [None]}
seed = 0
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)
reuse_saved = False      # True: a point whose run this machine's registry lacks is read from quality_per_minute.csv (an earlier run of this notebook) instead of retrained; column `source` says which

# %%
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.batch import plan
from quarbert_lib.reporting import figures
from quarbert_lib.study import tables
from quarbert_lib.study.experiment import budget_curve

NOTEBOOK = "11_quality_per_cpu_minute"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %%
budget = budget_curve(NOTEBOOK, globals())       # the points of experiment.budget_points, trained or read
tables.save_budget_points(budget)
display(budget[["recipe", "cap", "epoch", "steps", "train_minutes", "sst_acc", "qqp_acc", "sts_pearson", "overall",
                "source"]].round(4))

# %%
figures.quality_figure(budget, tables.ablation_rows(profile, encoder));

# %%
best = budget.loc[budget["overall"].idxmax()]
display(Markdown(f"Best point: **{best['recipe']}** with cap {best['cap']}, epoch {best['epoch']}: overall {best['overall']:.3f} after "
                 f"{best['train_minutes']:.1f} training minutes. Data note: {best['data_note']}."))

# %% [markdown]
# ## What this shows
# The curve sets every recipe's dev score against its training minutes (one seed a point): read a longer budget's
# gain off it, and the project's target line beside it. The table below sets each recipe with SMART against the same
# recipe without, at the same epoch, and against the best the plain recipe reached in no more training minutes:
# what SMART's extra cost would have bought without it. One seed a point: a difference within the seed spread of
# the ladder's `smart` row (its `overall_std`) is not shown to be more than noise.

# %%
display(tables.equal_minutes(budget).round(4))

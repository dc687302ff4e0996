# %% [markdown]
# # 04 · SMART: adversarial regularization and momentum Bregman proximal point
#
# SMART (Jiang et al., 2020) has two halves, measured separately here:
#
# - **AdvReg** (row `advreg-only`): R = λ_s · l_s(f(x + δ), f(x)). δ perturbs the word
#   embeddings: it starts as N(0, σ²) noise on real tokens, takes K ascent steps of size η,
#   and after each step is projected onto the ε-ball (ℓ∞ by default). l_s is the symmetric
#   KL for SST, the symmetric Bernoulli KL of the paraphrase logit and the MSE for STS, in
#   float32 with a mean over the batch. The adversarial passes reuse the clean pass's dropout
#   masks (`smart.dropout = "same"`), so the divergence measures the perturbation alone; the
#   clean pass that feeds the task loss is also the target, so it is not recomputed.
# - **MBPP** (row `smart`, the paper's "SMART-sampling"): an EMA teacher
#   θ̃ ← (1 − β) θ + β θ̃ (β = 0.995) and the penalty μ · D(f(x; θ), f(x; θ̃)) (μ = 1).
#
# Paper settings: λ_s = 5, ε = 1e-5. Both rows use round-robin task sampling (notebook 03).
# Then two sweeps at a shorter budget (`sweep_steps`): λ_s (the paper's Figure 3) and learning
# rate × dropout (the paper's Table 3).

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
encoder = "minilm-l6"
seeds = None             # None: the profile's seeds (cpu: 0, 1, 2; mean and std are reported)
force = False
lambdas = [0.5, 1.0, 2.0, 5.0, 10.0]
learning_rates = [2e-5, 5e-5]
dropouts = [0.1, 0.3]
sweep_steps = 150
sweep_seeds = [0]

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib import plots, report
from quarbert_lib.experiment import run_ladder_rows, run_variant
from quarbert_lib.paths import tables_dir
from quarbert_lib.results import write_csv

NOTEBOOK = "04_smart_mbpp"

# %% [markdown]
# ## The two ladder rows

# %%
mine, run_dirs = run_ladder_rows(NOTEBOOK, ["advreg-only", "smart"], profile, seeds, encoder, force)
display(Markdown(report.ablation_markdown(mine)))

# %%
plots.training_curves(run_dirs, "smart_curves.png");

# %% [markdown]
# ## Dropout in the adversarial passes (AdvReg only, full budget, the sweep seeds)
# `same` (the default) replays the clean pass's dropout masks, so the divergence measures the
# perturbation alone; `off` runs the adversarial passes without dropout, which also skips drawing
# their masks: on this CPU a SMART K=1 step then costs about 2.4 plain steps instead of 2.8
# (`reports/benchmarks.md`). What does it cost in quality?

# %%
smart_dropout_rows = []
for mode in ["same", "off"]:
    runs, _ = run_variant(NOTEBOOK, "advreg-only", profile, sweep_seeds, encoder, force,
                          run_prefix=None if mode == "same" else "advreg-dropout-off", smart__dropout=mode)
    smart_dropout_rows.append(report.sweep_row({"smart_dropout": mode, "profile": profile, "encoder": encoder}, runs))
smart_dropout = pd.DataFrame(smart_dropout_rows)
write_csv(tables_dir() / "smart_dropout.csv", smart_dropout)
display(smart_dropout)

# %% [markdown]
# ## λ_s sweep (AdvReg only, `sweep_steps` steps)

# %%
lambda_rows = []
for lam in lambdas:
    runs, _ = run_variant(NOTEBOOK, "advreg-only", profile, sweep_seeds, encoder, force,
                          run_prefix=f"sweep-lambda{lam:g}", smart__weight=lam, train__max_steps=sweep_steps)
    lambda_rows.append(report.sweep_row({"lambda": lam, "profile": profile, "encoder": encoder}, runs))
lambda_table = pd.DataFrame(lambda_rows)
write_csv(tables_dir() / "lambda_sweep.csv", lambda_table)
display(lambda_table)

# %%
plots.sweep_lines(lambda_table, "lambda", "lambda_sweep.png");

# %% [markdown]
# ## Learning rate × dropout (task sampling, no regularizer, `sweep_steps` steps)
# The dropout value applies to the encoder's hidden layers and to the pooled embedding.

# %%
grid_rows = []
for lr in learning_rates:
    for p in dropouts:
        runs, _ = run_variant(NOTEBOOK, "sampling", profile, sweep_seeds, encoder, force,
                              run_prefix=f"sweep-lr{lr:g}-dropout{p:g}", train__lr=lr, model__hidden_dropout=p,
                              model__encoder_dropout=p, train__max_steps=sweep_steps)
        grid_rows.append(report.sweep_row({"lr": lr, "dropout": p, "profile": profile, "encoder": encoder}, runs))
grid_table = pd.DataFrame(grid_rows)
write_csv(tables_dir() / "lr_dropout.csv", grid_table)
display(grid_table)

# %%
plots.grid_heatmap(grid_table, "lr", "dropout", "overall", "lr_dropout.png");

"""The study's recipes, as data: the ablation ladder's variants (each a profile's config plus overrides), the
notebook parameters each profile sets, and the recipes of notebooks 11 (quality per CPU-minute) and 12 (the regime
built to overfit). Core knows profiles and configs, not the study's rows: a new regulariser is its module in losses/
(which registers its config section), that section's field on core.config.ExperimentConfig, and a variant here.
"""
from __future__ import annotations

from typing import Any

from ..core.config import ExperimentConfig, ConfigError, profile_config

# The ablation ladder: each variant's overrides on top of a profile. Each step adds to the
# one before it, as in the paper's results table.
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline-pretrain": {"model__freeze_encoder": True, "train__lr": 1e-3, "train__sampler": "sequential"},
    "baseline-finetune": {"train__sampler": "sequential"},
    "sampling": {"train__sampler": "round-robin"},
}
# SMART at the paper's numbers (lambda_s 5, sigma 1e-5, eta 1e-3, K 1, epsilon 1e-5) read two ways.
# 'advreg-literal': Jiang et al.'s equations as written (project onto an epsilon-ball on the word
# embeddings): its gradient is ~1e-6 of the task loss's (reports/tables/smart_strength.csv), so it is
# inert. The ladder's SMART is the one course projects ran, MT-DNN's / smart-pytorch's: each token's
# perturbation normalised to norm 1 on the embedding layer's output (epsilon only a stabiliser), with
# fresh dropout masks in the adversarial passes. Notebook 04 measures both and says why.
SMART_LIBRARY = {"smart__enabled": True, "smart__convention": "normalize", "smart__space": "embedding",
                 "smart__radius": 1.0, "smart__dropout": "fresh"}
VARIANTS["advreg-literal"] = {**VARIANTS["sampling"], "smart__enabled": True}
VARIANTS["advreg-only"] = {**VARIANTS["sampling"], **SMART_LIBRARY}
VARIANTS["smart"] = {**VARIANTS["advreg-only"], "mbpp__enabled": True}
VARIANTS["smart-cosine"] = {**VARIANTS["smart"], "model__sts_head": "cosine-sigmoid"}
# The cosine head's map as a control, off the ladder: 2.5 * (cos + 1) reaches the whole 0-5 range where the paper's
# 5 * sigmoid(cos) stops at [1.34, 3.66]. Pearson r is unchanged by an affine map of the predictions, but the two maps
# differ in the MSE training signal (sigmoid's slope is at most 5/4 against 2.5), so the map can still matter.
VARIANTS["smart-cosine-linear"] = {**VARIANTS["smart-cosine"], "model__sts_head": "cosine-linear"}
# SimCSE read as the paper's table reads it: its rows SMART-sampling-cosine (STS 0.790) and SMART-sampling-SimCSE
# (0.869) are siblings off SMART-sampling (0.832), so `smart-simcse` adds the SimCSE stage and joint loss to `smart`
# with the linear STS head. The project's own question stacks SimCSE on the cosine head: `smart-cosine-simcse`.
SIMCSE = {"simcse__stage": True, "simcse__joint_weight": 0.1}
VARIANTS["smart-simcse"] = {**VARIANTS["smart"], **SIMCSE}
VARIANTS["smart-cosine-simcse"] = {**VARIANTS["smart-cosine"], **SIMCSE}
# R-Drop (Liang et al., 2021) beside SMART: a branch off 'sampling', not a step above smart-simcse. alpha = 1.0: the
# top of the small range (0.1 to 1) the paper tunes alpha in for GLUE fine-tuning, and exactly the weight the authors'
# BERT/GLUE code puts on STS-B's squared difference (losses.rdrop). With mean reductions alpha does not depend on the
# batch size; the term alpha/2 * symmetric KL is then a tenth of SMART's lambda_s * symmetric KL (lambda_s = 5).
RDROP_ALPHA = 1.0
VARIANTS["rdrop"] = {**VARIANTS["sampling"], "rdrop__weight": RDROP_ALPHA}
# The imbalance control, off the ladder: the same two recipes with every task at its natural size (no cap), the
# setting batch-level sampling is meant for. Offline, Quora's training split is 80% of quora-dev.csv (16,193 pairs),
# so the imbalance is far milder than the course's full Quora train file would make it.
VARIANTS["baseline-finetune-natural"] = {**VARIANTS["baseline-finetune"], "data__max_train_per_task": None}
VARIANTS["sampling-natural"] = {**VARIANTS["sampling"], "data__max_train_per_task": None}
# The converged budget (notebook 13): every example of every task each epoch (the proportional sampler takes
# every batch of every task in a shuffled order), BERT's linear warmup and decay; plain for three epochs, SMART + MBPP
# (the `smart` row) for two (its step costs about 3x a plain one here). Notebook 11's all-data-linear recipes, but
# with the calibration split held out of training (500 examples a task, as the paper profile does): without it a run
# on every example keeps nothing back, and the best model would be chosen on dev.
ALL_DATA = {"data__max_train_per_task": None, "train__sampler": "proportional", "train__lr_schedule": "linear"}
VARIANTS["converged-plain"] = {**VARIANTS["sampling"], **ALL_DATA, "data__calibration_holdout": True, "train__epochs": 3}
VARIANTS["converged-smart"] = {**VARIANTS["smart"], **ALL_DATA, "data__calibration_holdout": True, "train__epochs": 2}


# Notebook parameters a profile sets in every notebook that declares them (e.g. fewer sweep points), on
# top of each notebook's parameters cell; the command line's `-p` wins over both. The batch runner
# passes them and the planner (plan.py) reads them, so the plan is the batch.
PROFILE_NOTEBOOK_PARAMS: dict[str, dict[str, Any]] = {
    # smoke: 03 without the natural-size control (kept at the cap, CAPPED_PROFILES, it would be the ladder's rows);
    # 06 times each step setting on 2 steps (9 took 190 s of the smoke batch here, stop 50); 12 on two epochs, two recipes
    "smoke": {"imbalance_control": False, "cost_steps": 2, "regime_cap": 24, "regime_probe": 24,
              "regime_epochs": 2, "regime_recipes": ["plain", "rdrop"]},
    # cpu: 13's runs (issue 40: six, about 5.5 hours one at a time here, and the quartet's three specialists) train
    # across sessions and are recorded as each seed of both recipes is: the study executes 13 on the seeds recorded
    # (converged_seeds, and quartet_seeds: the seeds whose specialists are), so a fresh clone trains nothing.
    # Without this line: all three seeds and seed 0's quartet.
    "cpu": {"converged_seeds": [0, 1, 2], "quartet_seeds": [0]},
    # paper: no cap, so the natural-size rows would be the ladder's own
    "paper": {"imbalance_control": False},
    "quick": {"max_train": 400, "frozen_epochs": 1,                                  # 01: CFIMDB's long reviews
              "paper_quartet": False,       # 08: the project's LoRA quartet only, as before (4 runs fewer in the hour)
              "imbalance_control": False,       # 03: two recipes at the tasks' natural sizes, 20 min a seed here
              "lambdas": [5.0], "lambda_seeded": [], "radii": [0.01, 1.0],   # 04: λ 5 is the ladder row itself
              # (each further λ point is a SMART run at the ladder budget, 5 minutes here)
              "smart_dropout_modes": ["fresh", "same"],
              "learning_rates": [5e-5], "dropouts": [0.1], "sweep_steps": 40,
              "project_sizes": [1e-5, 1e-2], "normalize_sizes": [1e-2, 1.0],
              "cost_steps": 2,                                                        # 06's step-cost measurement
              # 07, 08: the quartet's recipe. "best" ranks one-seed rows: measured here, quick's best row was
              # smart-simcse by 0.0003 over sampling, and its SMART + SimCSE specialists and LoRA members took
              # 4-6x the time of sampling's. In the cpu study (3-5 seeds) the best single-model ladder row is sampling.
              "recipe": "sampling",
              # 12: the regime on half the cap and fewer epochs, plain against SMART at the paper's strength
              "regime_cap": 300, "regime_probe": 300, "regime_epochs": 4, "regime_recipes": ["plain", "advreg-lambda5"],
              "converged": False},      # 13: every example for five epochs in all, over an hour here on its own
}


# Recipes of the quality-per-CPU-minute curves (notebook 11): a ladder variant and overrides.
# 'all-data' sees every batch of every task each epoch (round-robin ends each epoch when STS,
# the smallest task, runs out) for three epochs; each epoch's dev evaluation is a point.
BUDGET_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "sampling": ("sampling", {}),
    "all-data": ("sampling", {"train__sampler": "proportional", "train__epochs": 3}),
    # the same with BERT's linear warmup and decay instead of a constant learning rate
    "all-data-linear": ("sampling", {"train__sampler": "proportional", "train__epochs": 3, "train__lr_schedule": "linear"}),
    # issue 13: the best recipe with the ladder's working SMART (+ MBPP, the `smart` row), two epochs (SMART's step
    # costs about 3x a plain one here: two epochs are about 80 training minutes)
    "all-data-linear-smart": ("smart", {"train__sampler": "proportional", "train__epochs": 2, "train__lr_schedule": "linear"}),
}
# Data caps (training examples per task; None: all) of each recipe, by profile. The profile's own
# cap of a plain ladder variant is the ladder row itself.
BUDGET_CAPS: dict[str, dict[str, list[int | None]]] = {
    "smoke": {"sampling": [12, 24], "all-data": [24]},
    "quick": {"sampling": [500, 1000]},      # 1,000 is the ladder row of notebook 03, reused
    "cpu": {"sampling": [600, 1200, 2400, 4800, None], "all-data": [None], "all-data-linear": [None],
            "all-data-linear-smart": [None]},
    "paper": {"sampling": [2000, None]},
}

# The regime built to overfit (notebook 12): each recipe is a ladder variant and overrides, trained on a small cap for
# several epochs with the training probe scored beside dev at every epoch (the notebook's parameters set those).
# SMART in the libraries' reading at two strengths, SMART + MBPP (the `smart` row) and R-Drop, against the plain
# recipe: does the train-dev gap open, and does a regulariser close it?
REGIME_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("sampling", {}),
    "advreg-lambda0.5": ("advreg-only", {"smart__weight": 0.5}),
    "advreg-lambda5": ("advreg-only", {}),
    "smart": ("smart", {}),
    "rdrop": ("rdrop", {}),
}


# Profiles under which a variant on every example (its data__max_train_per_task None: the natural-size rows, notebook
# 13's converged rows) keeps the profile's own cap: the smoke batch on the course data would otherwise train notebook
# 13's five runs for 275.7 minutes (the fresh-clone check of the README's commands, stop 49). The examples over the cap
# are then the calibration split of every smoke run alike.
CAPPED_PROFILES = ("smoke",)


def variant_config(variant: str, profile: str, **overrides: Any) -> ExperimentConfig:
    """A ladder variant's config under a profile; ``overrides`` win over the variant's. A variant on every example
    keeps the profile's cap under CAPPED_PROFILES unless ``overrides`` set the cap."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}: expected one of {list(VARIANTS)}")
    own = dict(VARIANTS[variant])
    if profile in CAPPED_PROFILES and "data__max_train_per_task" in own and own["data__max_train_per_task"] is None:
        del own["data__max_train_per_task"]
    return profile_config(profile, **{**own, **overrides})

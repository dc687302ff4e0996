# %% [markdown]
# # 08 · LoRA and the LoRA quartet on one backbone (rows `ensemble-lora-smart-simcse` and `ensemble-lora`)
#
# LoRA (through PEFT) trains low-rank adapters on the attention's query, key and value
# (`lora.targets = "qkv"`, as in the paper; `"all-linear"` adds every Linear layer of the
# encoder's blocks). The encoder's own weights stay frozen; the task heads stay trainable
# and are saved beside each adapter. Four adapters make the LoRA quartet: three specialists
# and one multitask model, each with one recipe, as in notebook 07: the paper's LoRA quartet
# (`ensemble-lora-smart-simcse`, members trained with `smart-simcse`, compared with the paper's
# quartet `ensemble-smart-simcse`) and the project's (`ensemble-lora`, the `recipe` parameter,
# compared with `ensemble`). One quartet per seed; each row is the mean and std of its plain
# ensembles, and the checks and serving costs below use the first seed's project quartet.
#
# The quartet is then served from **one** frozen backbone holding all four adapters, and
# compared with four full models on the same dev sets: parameters held, resident memory,
# inference seconds (each setup in a fresh process). The offline Quora split caveat applies.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the study's (cpu: 0-4, spec.notebook_seeds): one LoRA quartet per seed
recipe = "sampling"      # the project's LoRA quartet: a ladder row name (as notebook 07's)
lora_lr = 5e-4
lora_r = 8
lora_alpha = 16.0
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)
paper_quartet = True     # the paper's LoRA quartet too (smart-simcse members, 12 runs here); False: the project's only
measure = None           # None: read the checks and serving costs a measuring run saved (lora_checks.MEASURED), measuring them only where this setting has none and the first seed's weights are here; True: measure again or fail

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.benchmarks import bench
from quarbert_lib.reporting import report
from quarbert_lib.study import ensemble, experiment, lora_checks, methods, results, tables
from quarbert_lib.study.experiment import write_quartet
from quarbert_lib.study.recipes import variant_config
from quarbert_lib.study.spec import PAPER_RECIPE

NOTEBOOK = "08_lora"
reports_dir = notebook.start(NOTEBOOK, profile, reports)
variant = recipe
lora = dict(lora__enabled=True, lora__r=lora_r, lora__alpha=lora_alpha, train__lr=lora_lr)
PAPER_ROW = "ensemble-lora-smart-simcse"  # the paper's LoRA quartet: SMART-SimCSE members
print("the project's LoRA quartet:", variant, "members; the paper's:", PAPER_RECIPE, "members;", lora)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## The method on one batch
# PEFT's LoRA on the pretrained encoder (`methods.lora_adapters`, float64, this notebook's r and alpha on the
# attention's query, key and value): the trainable parameters are the A and B matrices, r · (d_in + d_out) per
# targeted layer, and the heads; the encoder's own weights are frozen. One adapter switch on the first SST batch:
# at initialisation B = 0, so the adapter changes nothing; with B moved off zero it does, and disabled
# (`disable_adapter`) the model is the base model again, which is how the LoRA quartet shares one backbone.

# %%
model, batches, _ = methods.one_batch(profile, encoder)
lora_settings = variant_config(variant, profile, **lora).lora
lora_parameters, lora_switch = methods.lora_adapters(model, lora_settings, "sst", batches["sst"])
display(report.readable(results.write_csv(tables_dir() / "lora_method_params.csv", lora_parameters)))
display(report.readable(results.write_csv(tables_dir() / "lora_switch.csv", lora_switch)))

# %% [markdown]
# ## Four adapters per seed

# %%
# seed -> (members, their metrics): the project's LoRA quartet, the paper's (spec.NOTEBOOKS declares both groups)
quartets = experiment.quartets(NOTEBOOK, "lora", globals())
paper_quartets = experiment.quartets(NOTEBOOK, "lora-paper", globals())
ensemble.check_distinct({f"{row} {n} seed {s}": f for row, qs in (("ensemble-lora", quartets), (PAPER_ROW, paper_quartets))
                         for s, (m, _) in qs.items() for n, f in m.items()})
seed = next(iter(quartets))         # the checks and the serving cost use the first seed's quartet
members, metrics = quartets[seed]
display(pd.DataFrame([{"member": n, "trainable": m["params_trainable"], "total": m["params_total"],
                       "trainable %": 100 * m["params_trainable"] / m["params_total"]} for n, m in metrics.items()]))

# %% [markdown]
# ## The first seed's quartet on one backbone: parameters, reload, mixed-adapter batches, merging
# Measured once where the weights are on this machine (a clone has only the records, which hold no weights), then
# read back, as every other record is (`measure = True` measures again). `merge_and_unload` folds B·A into the base weights: no
# adapter overhead at inference, one adapter per model. The serving costs (below) are measured the same way.

# %%
full = {f"{t}-specialist": results.find_run(results.run_name("specialist", t, seed=seed), profile, encoder) for t in ["sst", "para", "sts"]}
full["multitask"] = results.find_run(results.run_name(variant, seed=seed), profile, encoder)
setting = dict(profile=profile, encoder=encoder, recipe=variant, seed=seed, lora_r=lora_r, lora_alpha=lora_alpha,
               lora_lr=lora_lr)
measuring = lora_checks.should_measure(measure, {**full, **{f"lora-{n}": f for n, f in members.items()}}, setting)
if measuring:
    quartet = lora_checks.load_quartet(members)
    lora_checks.save_measured({"lora_params.csv": lora_checks.param_counts(quartet),
                               "lora_checks.csv": lora_checks.checks(quartet, members, encoder),
                               "ensemble_cost.csv": bench.quartet_serving_costs(full, members)}, setting)
params, checks, cost = lora_checks.read_measured(setting)
print("measured here" if measuring else "read from the tables a measuring run saved:", ", ".join(lora_checks.MEASURED))
display(report.readable(params))
display(report.readable(checks))

# %% [markdown]
# ## Row `ensemble-lora`: one plain ensemble per seed, the row their mean and std

# %%
params_total = int(params["total"].iloc[0])
trainable = int(params["adapters"].iloc[0] + params["heads"].iloc[0])
per_seed = {row: [write_quartet(profile, NOTEBOOK, row, s, m, met, (params_total, trainable))[1] for s, (m, met) in qs.items()]
            for row, qs in (("ensemble-lora", quartets), (PAPER_ROW, paper_quartets)) if qs}
display(pd.DataFrame([{"row": row, "seed": m["seed"], **{k: m[k] for k in ("sst_acc", "para_acc", "sts_pearson", "overall")}}
                      for row, ms in per_seed.items() for m in ms]).round(4))
own = [tables.ablation_row(row, ms) for row, ms in per_seed.items()]
tables.save_ablation_rows(own)
mine = tables.shown_rows(NOTEBOOK, profile, encoder, own=own)   # this notebook's rows and those it compares with
display(Markdown(report.ablation_markdown(mine)))
print(f"trainable / total = {trainable / params_total:.4f}")

# %% [markdown]
# ## Serving cost: one model, four full models, the LoRA quartet on one backbone

# %%
display(report.readable(cost))

# %% [markdown]
# ## What this shows
# The study's verdicts on LoRA members in each quartet (the paper's and the project's) against the quartet of fully
# fine-tuned members. The parameter, reload and serving tables above measure what LoRA buys (one frozen backbone,
# four small adapters, predictions that a reloaded adapter reproduces); the verdicts say what it costs in dev
# scores. A quartet not trained in the committed study shows "not trained yet".

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))

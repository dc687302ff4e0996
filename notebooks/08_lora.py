# %% [markdown]
# # 08 · LoRA and the LoRA quartet on one backbone (row `ensemble-lora`)
#
# LoRA (through PEFT) trains low-rank adapters on the attention's query, key and value
# (`lora.targets = "qkv"`, as in the paper; `"all-linear"` adds every Linear layer of the
# encoder's blocks). The encoder's own weights stay frozen; the task heads stay trainable
# and are saved beside each adapter. Four adapters make the LoRA quartet: three specialists
# and one multitask model, each with the best ladder variant's recipe, as in notebook 07.
# One quartet per seed (the study's seeds); the row `ensemble-lora` is the mean and std of
# their plain ensembles, and the checks and serving costs below use the first seed's quartet.
#
# The quartet is then served from **one** frozen backbone holding all four adapters, and
# compared with four full models on the same dev sets: parameters held, resident memory,
# inference seconds (each setup in a fresh process). The offline Quora split caveat applies.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
encoder = "minilm-l6"
seeds = None             # None: the study's (cpu: 0-4, study.notebook_seeds): one LoRA quartet per seed
recipe = "best"
lora_lr = 5e-4
lora_r = 8
lora_alpha = 16.0
force = False

# %%
import pandas as pd
import torch
from IPython.display import Markdown, display

from quarbert_lib import bench, ensemble, report, results
from quarbert_lib.study import notebook_seeds
from quarbert_lib.evaluate import predict
from quarbert_lib.experiment import load_task_data, load_trained, run_variant
from quarbert_lib.lora import LoraQuartet
from quarbert_lib.model import load_encoder
from quarbert_lib.paths import tables_dir
from quarbert_lib.notebook_findings import notebook_findings

NOTEBOOK = "08_lora"
variant = report.best_variant(profile, encoder) if recipe == "best" else recipe
lora = dict(lora__enabled=True, lora__r=lora_r, lora__alpha=lora_alpha, train__lr=lora_lr)
print("recipe:", variant, lora)

# %% [markdown]
# ## Four adapters per seed

# %%
quartets = {}                       # seed -> (members, their metrics)
for seed in notebook_seeds(NOTEBOOK, profile, seeds):
    members, metrics = {}, {}
    for name, tasks in [("sst", ["sst"]), ("para", ["para"]), ("sts", ["sts"]), ("multitask", ["sst", "para", "sts"])]:
        runs, folders = run_variant(NOTEBOOK, variant, profile, [seed], encoder, force,
                                    run_prefix=f"lora-{name}", tasks=tasks, **lora)
        members[name], metrics[name] = next(iter(folders.values())), runs[0]
    quartets[seed] = members, metrics
ensemble.check_distinct({f"{n} seed {s}": f for s, (m, _) in quartets.items() for n, f in m.items()})
seed = next(iter(quartets))         # the checks and the serving cost use the first seed's quartet
members, metrics = quartets[seed]
display(pd.DataFrame([{"member": n, "trainable": m["params_trainable"], "total": m["params_total"],
                       "trainable %": 100 * m["params_trainable"] / m["params_total"]} for n, m in metrics.items()]))

# %% [markdown]
# ## The first seed's quartet on one backbone: reload, mixed-adapter batches

# %%
configs = {n: load_trained(f)[0] for n, f in members.items()}
quartet = LoraQuartet({n: (f, configs[n]) for n, f in members.items()})
adapters = sum(p.numel() for n, p in quartet.encoder.named_parameters() if "lora_" in n)
heads = sum(p.numel() for p in quartet.heads.parameters())
params_total = sum(p.numel() for p in quartet.parameters())      # each shared tensor counted once
backbone = params_total - adapters - heads
print(f"backbone {backbone:,} + adapters {adapters:,} + heads {heads:,} = {params_total:,}")

# %%
saved = ensemble.load_predictions(members, "dev")
_, tokenizer = load_encoder(encoder)
data, *_ = load_task_data(configs["multitask"], tokenizer)
checks = []
for name, cfg in configs.items():
    model = quartet.member(name)
    for task in cfg.tasks:
        again = predict(model, data["dev"][task], task, 64, cfg.model.pair_encoding)
        before = saved[name][saved[name]["task"] == task]["prediction"].to_numpy(dtype=float)
        checks.append({"member": name, "task": task, "check": "reloaded adapter vs training run",
                       "max_abs_diff": float(abs(again["prediction"].to_numpy(dtype=float) - before).max())})
batch = data["dev"]["sts"].collate(list(range(8)))
with torch.inference_mode():
    mixed = quartet.mixed_forward("sts", batch, ["sts", "multitask"])
    for name in ["sts", "multitask"]:
        alone = quartet.member(name)("sts", batch)
        checks.append({"member": name, "task": "sts", "check": "mixed-adapter batch vs adapter alone",
                       "max_abs_diff": float((mixed[name] - alone).abs().max())})

# %% [markdown]
# ## Merged versus unmerged inference
# `merge_and_unload` folds B·A into the base weights: no adapter overhead at inference, one
# adapter per model.

# %%
cfg, unmerged, _ = load_trained(members["multitask"])
cfg, merged, _ = load_trained(members["multitask"])
merged.encoder = merged.encoder.merge_and_unload()
with torch.inference_mode():
    for task in cfg.tasks:
        b = data["dev"][task].collate(list(range(min(16, len(data["dev"][task])))))
        b = {k: v for k, v in b.items() if k != "labels"}
        checks.append({"member": "multitask", "task": task, "check": "merged vs unmerged",
                       "max_abs_diff": float((merged(task, b) - unmerged(task, b)).abs().max())})
checks = pd.DataFrame(checks)
results.write_csv(tables_dir() / "lora_checks.csv", checks)
display(checks)

# %% [markdown]
# ## Row `ensemble-lora`: one plain ensemble per seed, the row their mean and std

# %%
trainable, per_seed = adapters + heads, []
for s, (seed_members, seed_metrics) in quartets.items():
    plain = ensemble.ensemble(ensemble.load_predictions(seed_members, "dev"))
    results.write_csv(results.run_path(profile, NOTEBOOK, results.run_name("ensemble-lora", seed=s)) / "predictions-dev.csv", plain)
    per_seed.append(report.ensemble_metrics(ensemble.scores(plain), list(seed_metrics.values()), params_total, trainable))
display(pd.DataFrame([{"seed": s, **{k: m[k] for k in ("sst_acc", "para_acc", "sts_pearson")}}
                      for s, m in zip(quartets, per_seed)]).round(4))
row = report.ablation_row("ensemble-lora", per_seed)
report.save_ablation_rows([row])
mine = report.ablation_rows(profile, encoder)
display(Markdown(report.ablation_markdown(mine)))
print(f"trainable / total = {trainable / params_total:.4f}")

# %% [markdown]
# ## Serving cost: one model, four full models, the LoRA quartet on one backbone

# %%
full = {f"{t}-specialist": results.find_run(results.run_name("specialist", t, seed=seed), profile, encoder) for t in ["sst", "para", "sts"]}
full["multitask"] = results.find_run(results.run_name(variant, seed=seed), profile, encoder)
cost = bench.serving_costs({
    "one full model": ("full", {"multitask": full["multitask"]}),
    "four full models": ("full", full),
    "LoRA quartet, one backbone": ("lora-quartet", members),
})
single = cost.loc[cost["setup"] == "one full model"].iloc[0]
cost["params_vs_one"] = cost["params_held"] / single["params_held"]
# memory held: the bytes of the tensors the setup keeps (shared storage once); RSS growth is
# the process's view, blurred by the allocator reusing memory freed while loading
cost["memory_vs_one"] = cost["tensor_mb"] / single["tensor_mb"]
cost["rss_vs_one"] = cost["rss_models_mb"] / single["rss_models_mb"]
cost["profile"], cost["encoder"] = profile, encoder
results.write_csv(tables_dir() / "ensemble_cost.csv", cost)
display(cost)

# %% [markdown]
# ## What this shows
# Built by `notebook_findings` from the tables this notebook saved (no number typed by hand): each step's
# difference of the seed means with the study's verdict (Holm-corrected over all its tests), the paired bootstrap
# over every seed's dev predictions judged against the task's margin, the paper's delta for the same step, and the
# reason where a step is null (measured, or stated open).

# %%
display(Markdown(notebook_findings(NOTEBOOK, profile, encoder)))

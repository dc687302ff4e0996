# %% [markdown]
# # 07 · The quartet ensemble (row `ensemble`)
#
# Three task specialists (SST only, paraphrase only, STS only) plus one multitask model. Each
# specialist is trained with the recipe of the best ladder variant (highest overall dev score
# in `reports/tables/ablation.csv`, notebooks 02-06). The fourth member is that variant's
# multitask run. Each task is predicted by its specialist and the multitask model: SST class
# probabilities, paraphrase probabilities and STS scores are averaged. The ensemble reads
# saved predictions, so re-ensembling never retrains.
#
# Members must be distinct checkpoints (checked by SHA-256). One public implementation
# silently loaded the same model four times.
#
# Beyond the paper:
# - per-member temperatures and member weights, fitted on a calibration slice of the
#   training files that no member trained on (never on the reported dev set);
# - the dev scores of every subset of members, so each member's contribution is visible.
#
# The offline Quora split caveat applies (see notebook 02): every member's QQP score is on
# the hash-split dev part of `quora-dev.csv`.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"
seeds = None             # None: the study's (cpu: 0-4, spec.notebook_seeds): one quartet per seed
recipe = "best"          # "best" or a ladder variant name
force = False

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.reporting import report
from quarbert_lib.reporting.notebook_findings import notebook_findings
from quarbert_lib.study import ensemble, methods, results, tables
from quarbert_lib.study.experiment import ensure_predictions, run_variant
from quarbert_lib.study.spec import notebook_seeds

NOTEBOOK = "07_quartet_ensemble"
reports_dir = notebook.start(NOTEBOOK, profile, reports)
variant = tables.best_variant(profile, encoder) if recipe == "best" else recipe
print("recipe:", variant)

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## The members

# %%
quartets = {}                       # seed -> (members, their metrics)
for seed in notebook_seeds(NOTEBOOK, profile, seeds):
    members, metrics = {}, {}
    for task in ["sst", "para", "sts"]:
        runs, folders = run_variant(NOTEBOOK, variant, profile, [seed], encoder, force,
                                    run_prefix=f"specialist-{task}", tasks=[task])
        members[f"{task}-specialist"], metrics[f"{task}-specialist"] = next(iter(folders.values())), runs[0]
    members["multitask"] = results.find_run(results.run_name(variant, seed=seed), profile, encoder)
    metrics["multitask"] = results.read_json(members["multitask"] / "metrics.json")
    for folder in members.values():
        ensure_predictions(folder)
    quartets[seed] = members, metrics
# every member of every seed's quartet is a distinct checkpoint
hashes = ensemble.check_distinct({f"{n} seed {s}": f for s, (m, _) in quartets.items() for n, f in m.items()})
display(pd.DataFrame([{"seed": s, "member": n, "run": str(f.relative_to(f.parents[1])),
                       "sha256": hashes[f"{n} seed {s}"][:12], "params_total": met[n]["params_total"]}
                      for s, (m, met) in quartets.items() for n, f in m.items()]))

# %% [markdown]
# ## One ensemble per seed
# Each seed's quartet is averaged (plain) and, apart, calibrated on the `calib` split; the
# `ensemble` row of the ablation table is the mean and std of the plain ensembles over seeds.

# %%
per_seed, devs, calibrations, calibrated_by_seed = [], {}, {}, {}
for seed, (members, metrics) in quartets.items():
    devs[seed] = ensemble.load_predictions(members, "dev")
    plain = ensemble.ensemble(devs[seed])
    # at the tables' fixed precision (results.fixed_values): the calibration applied is the one written
    calibrations[seed] = results.fixed_values(ensemble.fit_calibration(ensemble.load_predictions(members, "calib")))
    calibrated_by_seed[seed] = ensemble.ensemble(devs[seed], calibrations[seed])
    out_dir = results.run_path(profile, NOTEBOOK, results.run_name("ensemble", seed=seed))
    results.write_csv(out_dir / "predictions-dev.csv", plain)
    results.write_csv(out_dir / "predictions-dev-calibrated.csv", calibrated_by_seed[seed])
    results.write_json(out_dir / "calibration.json", calibrations[seed])
    results.write_members(out_dir, members)
    test = ensemble.ensemble(ensemble.load_predictions(members, "test", missing_ok=True))
    for split, frames in (("dev", plain), ("test", test)):
        for task, frame in frames.groupby("task"):
            results.write_course_output(out_dir, task, frame, split, ids=frame["id"])  # members agree: combine checks
    member_metrics = list(metrics.values())
    per_seed.append(tables.ensemble_metrics(ensemble.scores(plain), member_metrics,
                                            sum(m["params_total"] for m in member_metrics),
                                            sum(m["params_trainable"] for m in member_metrics)))
display(pd.DataFrame([{"seed": s, **{k: m[k] for k in ("sst_acc", "para_acc", "sts_pearson")}}
                      for s, m in zip(quartets, per_seed)]).round(4))
first = next(iter(quartets))
display(Markdown(f"Calibration of seed {first}'s quartet:"))
display(report.readable(pd.DataFrame(calibrations[first]).T.reset_index(names="task")))

# %% [markdown]
# ## The average on three dev examples
# What the quartet does, on the first three SST dev examples of the first seed: each member's class probabilities
# (the SST specialist and the multitask model; the other specialists have no SST head) and their plain average
# (`ensemble.ensemble`), whose arg max is the quartet's answer.

# %%
sst_ids = devs[first]["multitask"].query("task == 'sst'")["id"].head(3).tolist()
examples = results.write_csv(tables_dir() / "quartet_examples.csv", methods.quartet_average(devs[first], "sst", sst_ids))
display(report.readable(examples))

# %%
row = tables.ablation_row("ensemble", per_seed)
tables.save_ablation_rows([row])
mine = tables.shown_rows(NOTEBOOK, profile, encoder, also=(variant,), own=[row])   # this notebook's row and those it compares with
display(Markdown(report.ablation_markdown(mine)))

# %% [markdown]
# ## Which members matter (the first seed's quartet)

# %%
subsets = ensemble.subset_table(devs[first])
calibrated_scores = ensemble.scores(calibrated_by_seed[first])
subsets.loc[len(subsets)] = {"members": "all four, calibrated on the calib split", "size": 4,
                             "sst_acc": calibrated_scores["sst_acc"], "qqp_acc": calibrated_scores["para_acc"],
                             "sts_pearson": calibrated_scores["sts_pearson"], "overall": calibrated_scores["overall"]}
subsets["recipe"], subsets["profile"], subsets["encoder"] = variant, profile, encoder
subsets = results.write_csv(tables_dir() / "ensemble_subsets.csv", subsets)
display(report.readable(subsets))

# %% [markdown]
# ## What this shows
# Built by `notebook_findings` from the tables this notebook saved (no number typed by hand): each step's
# difference of the seed means with the study's verdict (Holm-corrected over all its tests), the paired bootstrap
# over every seed's dev predictions judged against the task's margin, the paper's delta for the same step, and the
# reason where a step is null (measured, or stated open).

# %%
display(Markdown(notebook_findings(NOTEBOOK, profile, encoder)))

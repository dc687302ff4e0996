# %% [markdown]
# # 07 · The quartet ensemble (rows `ensemble-smart-simcse` and `ensemble`)
#
# Three task specialists (SST only, paraphrase only, STS only) plus one multitask model, all
# trained with one recipe. Two quartets:
# - **the paper's** (`ensemble-smart-simcse`, its SMART-sampling-SimCSE-Ensemble): every member
#   trained with `smart-simcse`, the multitask member being that row's run (notebook 06), so the
#   paper's step is `smart-simcse -> ensemble-smart-simcse`;
# - **the project's** (`ensemble`): members trained with the `recipe` parameter (`sampling`, the
#   multitask row of notebook 03), the question `sampling -> ensemble`.
#
# Each task is predicted by its specialist and the multitask model: SST class
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
recipe = "sampling"      # the project's quartet: a ladder row name (the declared question is sampling -> ensemble)
force = False
workers = None           # runs trained at once, each on its share of the cores (None: QUARBERT_WORKERS, else one per core; 1: one at a time)

# %%
import pandas as pd
from IPython.display import Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import tables_dir
from quarbert_lib.batch import plan
from quarbert_lib.reporting import report
from quarbert_lib.study import ensemble, experiment, methods, results, tables
from quarbert_lib.study.experiment import write_quartet
from quarbert_lib.study.spec import PAPER_RECIPE

NOTEBOOK = "07_quartet_ensemble"
reports_dir = notebook.start(NOTEBOOK, profile, reports)
variant = recipe
PAPER_ROW = "ensemble-smart-simcse"     # the paper's quartet: SMART-SimCSE members
print("the project's quartet:", variant, "members; the paper's:", PAPER_RECIPE, "members")

# %% [markdown]
# Before anything trains: the runs these parameters ask for, how many are done (trained, or restored
# from their committed records) and which would train, with the minutes they would take here.

# %%
plan.show(NOTEBOOK, globals());

# %% [markdown]
# ## The members

# %%
# seed -> (members, their metrics): the project's quartet, the paper's; the multitask member is the recipe's ladder run
quartets = experiment.quartets(NOTEBOOK, "specialist", globals(), multitask=variant, suffix="-specialist")
paper_quartets = experiment.quartets(NOTEBOOK, "specialist-paper", globals(), multitask=PAPER_RECIPE, suffix="-specialist")
# every member of every seed's quartet is a distinct checkpoint
everyone = {f"{row} {n} seed {s}": f for row, qs in (("ensemble", quartets), (PAPER_ROW, paper_quartets))
            for s, (m, _) in qs.items() for n, f in m.items()}
hashes = ensemble.check_distinct(everyone)
display(pd.DataFrame([{"quartet": key.split(" ")[0], "member": key.split(" ")[1], "run": f"{f.parent.name}/{f.name}",
                       "sha256": hashes[key][:12]} for key, f in everyone.items()]))

# %% [markdown]
# ## One ensemble per seed
# Each seed's quartet is averaged (plain: `experiment.write_quartet` writes it as the row's folder for that seed)
# and, for the project's quartet, apart, calibrated on the `calib` split; each row of the ablation table is the
# mean and std of its plain ensembles over seeds.

# %%
per_seed, devs, calibrations, calibrated_by_seed = [], {}, {}, {}
for seed, (members, metrics) in quartets.items():
    devs[seed] = ensemble.load_predictions(members, "dev")
    plain, seed_metrics = write_quartet(profile, NOTEBOOK, "ensemble", seed, members, metrics)
    # at the tables' fixed precision (results.fixed_values): the calibration applied is the one written
    calibrations[seed] = results.fixed_values(ensemble.fit_calibration(ensemble.load_predictions(members, "calib")))
    calibrated_by_seed[seed] = ensemble.ensemble(devs[seed], calibrations[seed])
    out_dir = results.run_path(profile, NOTEBOOK, results.run_name("ensemble", seed=seed))
    results.write_csv(out_dir / "predictions-dev-calibrated.csv", calibrated_by_seed[seed])
    results.write_json(out_dir / "calibration.json", calibrations[seed])
    per_seed.append(seed_metrics)
paper_per_seed = [write_quartet(profile, NOTEBOOK, PAPER_ROW, seed, members, metrics)[1]
                  for seed, (members, metrics) in paper_quartets.items()]
display(pd.DataFrame([{"row": row, "seed": s, **{k: m[k] for k in ("sst_acc", "para_acc", "sts_pearson", "overall")}}
                      for row, qs, ms in (("ensemble", quartets, per_seed), (PAPER_ROW, paper_quartets, paper_per_seed))
                      for s, m in zip(qs, ms)]).round(4))
first = next(iter(quartets))
display(Markdown(f"Calibration of seed {first}'s quartet:"))
display(report.readable(pd.DataFrame(calibrations[first]).T.reset_index(names="task")))

# %% [markdown]
# How alike are the members' errors? For each task, the two members that predict it (its specialist and the
# multitask model), on every seed's quartet (`ensemble.member_errors`): the correlation of their errors and, for a
# classification task, the share of the examples either gets wrong that both get wrong. An average can only fix an
# example that one member gets right. Beside it, the calibrated weights above show which member the `calib` split
# trusts.

# %%
member_errors = results.write_csv(tables_dir() / "quartet_errors.csv", pd.concat(
    [ensemble.member_errors(d).assign(seed=s) for s, d in devs.items()], ignore_index=True).assign(
        recipe=variant, profile=profile, encoder=encoder))
display(report.readable(member_errors.groupby(["task", "member_a", "member_b"], sort=False)[
    ["error_correlation", "both_wrong_share"]].mean().reset_index()))

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
own = [tables.ablation_row("ensemble", per_seed), tables.ablation_row(PAPER_ROW, paper_per_seed)]
tables.save_ablation_rows(own)
mine = tables.shown_rows(NOTEBOOK, profile, encoder, also=(variant, PAPER_RECIPE), own=own)   # this notebook's row and those it compares with
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
# The study's verdicts on both quartets against their own multitask member's row: the paper's (SMART-SimCSE
# members, `smart-simcse` -> `ensemble-smart-simcse`) and the project's (`sampling` members). The tables above say
# what the averaging works with: the members' error correlation per task (two members that are wrong on the same
# examples cannot correct each other) and every subset's score (what each member adds). The calibrated weights are
# fitted on the `calib` split, never on dev. The second table sets the paper's quartet beside the frozen encoder's
# prior.

# %%
display(Markdown(report.questions_markdown(NOTEBOOK, profile, encoder)))
display(Markdown(report.prior_markdown(profile, encoder, "ensemble-smart-simcse", "overall")))

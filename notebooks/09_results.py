# %% [markdown]
# # 09 · Results: every table and figure, rebuilt from saved results
#
# Nothing here trains. The tables under `reports/tables/` (written by notebooks 01-08) and the
# run registry's saved predictions are the only inputs; this notebook gathers every analysed row's
# per-seed scores (`reports/tables/seed_scores.csv`) and the one pre-registered analysis of them
# (`verdicts.csv`), and rebuilds `reports/results.md` and its figures under `reports/figures/` from them,
# exactly as `make figures --collect` (`python -m quarbert_lib figures`) does, and shows them.
#
# How to read the numbers:
# - Rows with `seeds` > 1 report the mean over seeds, and `*_std` columns the standard deviation
#   across them. The dev sets are small (SST dev 1,101 sentences, STS dev 863 pairs), so one
#   run's luck can be as large as an ablation step.
# - A verdict (helps, hurts, equivalent, inconclusive) comes only from the pre-registered analysis:
#   the mean seed-paired difference, its interval adjusted over the family's declared tests, the
#   word read off that interval against the margin (`quarbert_lib/reporting/verdicts.py`).
# - Offline, QQP is scored on a fixed hash split of the course's `quora-dev.csv`, not on the
#   course's dev set (see notebook 02), and the default encoder (all-MiniLM-L6-v2) was trained on
#   sentence pairs that include Quora duplicates: its QQP with nothing trained is notebook 02's prior;
#   how far it lifts QQP above a bert-base-uncased start is not measured here.

# %% tags=["parameters"]
profile = "cpu"          # smoke | cpu | paper
reports = "local"        # local: reports/local/<profile>/ (ignored by git) | batch: where make reproduce writes | a folder
encoder = "minilm-l6"    # the encoder whose rows to report

# %%
from IPython.display import Image, Markdown, display

from quarbert_lib.base import notebook
from quarbert_lib.base.paths import figures_dir
from quarbert_lib.reporting import figures, plots, report
from quarbert_lib.study import tables

NOTEBOOK = "09_results"
reports_dir = notebook.start(NOTEBOOK, profile, reports)

figures.collect(profile, encoder)       # the registry's predictions, per-seed scores and the analysis, run costs
with plots.quiet():                                    # every figure, saved; the section below shows them
    results_md = figures.rebuild(profile, encoder)
# its name, not its path or the seconds it took: an executed notebook shows what re-executing it shows again
print(f"rebuilt {results_md.name} and its figures from the saved tables, without training")

# %% [markdown]
# ## Table 2: the ablation ladder, with seeds and std

# %%
mine = tables.ablation_rows(profile, encoder)
columns = [c for c in ("variant", "seeds", "sst_acc", "sst_acc_std", "qqp_acc", "qqp_acc_std", "sts_pearson",
                       "sts_pearson_std", "overall", "overall_std", "params_total", "params_trainable",
                       "train_seconds") if c in mine]
display(mine[columns].round(4))

# %% [markdown]
# ## The pre-registered analysis
# Every declared question (`spec.QUESTIONS`), its family, effect, adjusted interval and verdict
# (`reports/tables/verdicts.csv`, computed once from the per-seed scores in `seed_scores.csv`).

# %%
display(report.readable(report.study_verdicts(profile, encoder).drop(columns=["label", "level", "tests"])))

# %% [markdown]
# ## The whole report
# `reports/results.md` as generated; its figures follow.

# %%
display(Markdown(results_md.read_text()))
for figure in sorted(figures_dir().glob("*.png")):
    print(figure.name)
    display(Image(filename=str(figure)))

# %% [markdown]
# ## What this shows
# Everything above is read from the saved tables: the paper's claims, each with this study's verdict and its
# measured reason or "open", and every declared question of the one pre-registered analysis, family by family.
# Each notebook closes with its own questions' rows of the same table, so a step has one word everywhere
# (`tests/test_one_verdict.py` checks it).

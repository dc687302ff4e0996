"""The study's tables of runs: one row per setting (a variant's seeds, a sweep point, a single-task mode), built
from the runs' metrics.json and upserted into reports/tables/ablation.csv and single_task.csv, and read back one
row per setting (``canonical_rows``).

The notebooks write these rows (through experiment.run_ladder_rows, or directly: 01, 07, 08); the reporting layer
(report, figures, findings) only reads them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..base.errors import UserError
from ..base.paths import tables_dir
from ..base.tasks import STUDY_TASKS, TASKS, metrics_key, overall_score, study_columns
from ..core import evaluate
from ..core.config import PROFILE_SEEDS
from . import results
from .ensemble import ensemble, load_predictions, scores
from .recipes import VARIANTS, variant_config
from .saved_predictions import sources
from .spec import (BY_NAME, CHOICE_ROWS, ENSEMBLES, EPOCH_ROWS, LADDER, PAPER_CHECK_ROWS, QUARTET_OF, SPECIALIST_POINTS,
                   questions_of, row_seeds, sts_head, trained_by)


def ablation_columns() -> list[str]:
    """The ablation table's leading columns: the row's identity, then each study task's metric (tasks.STUDY_TASKS)."""
    return ["variant", "encoder", "profile", "seeds", "params_total", "params_trainable", *study_columns(), "overall",
            "train_seconds"]


# A row is keyed by what it means, its seeds included: a run of one seed (a `-p seeds='[0]'` override) writes
# its own row beside the study's three-seed row and never replaces it. Readers take one row per setting
# (`canonical_rows`): the profile's own seeds when that row exists, else the most seeds.
ABLATION_KEY = ["variant", "encoder", "profile", "seed_list"]
SINGLE_TASK_KEY = ["task", "mode", "encoder", "profile", "seed_list"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else float("nan")


def _notes(runs: list[dict]) -> str:
    return " | ".join(sorted({n for m in runs for n in m.get("data_notes", [])}))


def seed_list(runs: list[dict]) -> str:
    """The seeds of a row's runs as '0 1 2' (a key column: unknown seeds are '?')."""
    return " ".join(str(m.get("seed", "?")) for m in runs)


def ablation_row(variant: str, runs: list[dict]) -> dict:
    """One row of reports/tables/ablation.csv from the metrics of one variant's seeds."""
    first = runs[0]
    row = {"variant": variant, "encoder": first["encoder"], "profile": first["profile"], "seeds": len(runs),
           "params_total": first["params_total"], "params_trainable": first["params_trainable"]}
    for column in study_columns():
        row[column], row[f"{column}_std"] = _mean_std([m.get(metrics_key(column)) for m in runs])
    row["overall"], row["overall_std"] = _mean_std([overall_score(m) for m in runs])
    row["train_seconds"] = results.mean_seconds([m["train_seconds"] for m in runs])
    row["data_note"] = _notes(runs)
    row.update(smart_columns(runs))
    row["seed_list"] = seed_list(runs)
    leading = ablation_columns()
    ordered = leading + [c for c in row if c not in leading]
    return {c: row[c] for c in ordered}


def smart_columns(runs: list[dict]) -> dict:
    """The SMART setting of a row's runs, its strength at the start of training (the weakest task's
    gradient ratio, mean over seeds) and the guard's verdict ('inert' when any run warned)."""
    ratios = [min(m["smart_strength"].values()) for m in runs if m.get("smart_strength")]
    return {"smart": runs[0].get("smart_setting", ""),
            "smart_grad_ratio": float(np.mean(ratios)) if ratios else float("nan"),
            "smart_guard": "inert" if any(m.get("warnings") for m in runs) else ("ok" if ratios else "")}


def sweep_row(setting: dict, runs: list[dict]) -> dict:
    """One point of a hyperparameter sweep: the setting, then mean dev metrics over seeds."""
    row = dict(setting)
    for column in study_columns():
        row[column] = _mean_std([m.get(metrics_key(column)) for m in runs])[0]
    row["overall"] = _mean_std([overall_score(m) for m in runs])[0]
    row["seeds"], row["steps"] = len(runs), runs[0]["steps"]
    row["train_seconds"] = results.mean_seconds([m["train_seconds"] for m in runs])
    row["data_note"] = _notes(runs)
    if any(m.get("smart_setting") for m in runs):
        row.update(smart_columns(runs))
    return row


CALIB_PREFIX = "calib_"


def calib_row(folders: list[Path]) -> dict:
    """The same runs re-scored on the held-out calibration split (predictions-calib.csv: training-file examples no
    run trained on, data.calibration_size a task): mean over the runs of each metric and the overall score, as
    'calib_<column>'; NaN where a run kept no calibration split (a run on every training example)."""
    found = [scores(pd.read_csv(f / "predictions-calib.csv", dtype={"id": str})) for f in folders
             if (f / "predictions-calib.csv").exists()]
    complete = len(found) == len(folders) and found
    row = {CALIB_PREFIX + c: float(np.mean([s[metrics_key(c)] for s in found])) if complete else np.nan
           for c in study_columns()}
    row[CALIB_PREFIX + "overall"] = float(np.mean([s["overall"] for s in found])) if complete else np.nan
    return row


def choices_on_calib(sweep: str, table: pd.DataFrame, setting: list[str]) -> pd.DataFrame:
    """A sweep's dev-selected choices re-scored on the calibration split: per score (each task's and the overall),
    the setting dev picks and the one the held-out split picks, each with both scores, and whether they agree (dev's
    pick is one of the held-out split's best: a tie agrees). A choice made on dev is dev's best by construction; the
    calibration split says how far that carries."""
    rows = []
    label = lambda r: ", ".join(f"{s} {r[s]:g}" for s in setting)      # noqa: E731
    for column in [*study_columns(), "overall"]:
        held = CALIB_PREFIX + column
        if held not in table or table[held].isna().all():
            continue
        on_dev, on_calib = table.loc[table[column].idxmax()], table.loc[table[held].idxmax()]
        rows.append({"sweep": sweep, "score": column, "dev_choice": label(on_dev), "dev_choice_dev": on_dev[column],
                     "dev_choice_calib": on_dev[held], "calib_choice": label(on_calib), "calib_choice_calib": on_calib[held],
                     "agree": bool(on_dev[held] >= on_calib[held]), "points": len(table)})   # a tie agrees
    return pd.DataFrame(rows, columns=["sweep", "score", "dev_choice", "dev_choice_dev", "dev_choice_calib",
                                       "calib_choice", "calib_choice_calib", "agree", "points"])


def single_task_row(task: str, mode: str, runs: list[dict]) -> dict:
    first = runs[0]
    acc, std = _mean_std([m[f"{task}_acc"] for m in runs])
    return {"task": task, "mode": mode, "encoder": first["encoder"], "profile": first["profile"],
            "seeds": len(runs), "params_total": first["params_total"], "params_trainable": first["params_trainable"],
            "dev_acc": acc, "dev_acc_std": std,
            "train_seconds": results.mean_seconds([m["train_seconds"] for m in runs]), "seed_list": seed_list(runs)}


def best_variant(profile: str, encoder: str, candidates=LADDER) -> str:
    """The ladder variant with the highest overall dev score in reports/tables/ablation.csv."""
    df = ablation_rows(profile, encoder)
    df = df[df["variant"].isin(candidates)]
    if df.empty:
        raise FileNotFoundError(f"no ladder rows for {profile}/{encoder} in {tables_dir() / 'ablation.csv'}: "
                                "run notebooks 02-06 first")
    return str(df.loc[df["overall"].idxmax(), "variant"])


def ensemble_metrics(scores: dict, members: list[dict], params_total: int, params_trainable: int) -> dict:
    """A metrics.json-like record for an ensemble, so ablation_row() can make its row."""
    first = members[0]
    return {**scores, "encoder": first["encoder"], "profile": first["profile"], "seed": first.get("seed"),
            "params_total": params_total,
            "params_trainable": params_trainable, "train_seconds": sum(m["train_seconds"] for m in members),
            "data_notes": sorted({n for m in members for n in m.get("data_notes", [])})}


def ladder_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows by encoder, profile, then the ladder's order (VARIANTS, then the ensembles, then others)."""
    rank = {v: i for i, v in enumerate([*VARIANTS, *ENSEMBLES])}
    return df.assign(_rank=df["variant"].map(lambda v: rank.get(v, len(rank)))).sort_values(
        ["encoder", "profile", "_rank"], kind="stable").drop(columns="_rank")


def _with_seed_list(df: pd.DataFrame) -> pd.DataFrame:
    """Rows saved before seed lists were recorded ran seeds 0..n-1: name them so (a row without a seed count:
    one seed)."""
    if "seeds" not in df:
        df = df.assign(seeds=1)
    fill = df["seeds"].map(lambda n: " ".join(str(i) for i in range(int(n))))
    return df.assign(seed_list=df["seed_list"].fillna(fill) if "seed_list" in df else fill)


def canonical_rows(df: pd.DataFrame, setting: list[str]) -> pd.DataFrame:
    """One row per ``setting`` (e.g. variant, encoder, profile): the one with the study's seeds for it (a
    variant's: spec.row_seeds; else config.PROFILE_SEEDS) where it exists, else the one with the most seeds;
    table order kept."""
    if df.empty:
        return df
    df = _with_seed_list(df)
    study_seeds = lambda r: (row_seeds(r["variant"], r["profile"]) if "variant" in r  # noqa: E731
                             else PROFILE_SEEDS.get(r["profile"], []))
    own = df.apply(lambda r: str(r["seed_list"]) == " ".join(map(str, study_seeds(r))), axis=1)
    rank = df.assign(_own=own, _n=df["seeds"], _pos=range(len(df)))
    keep = rank.sort_values(["_own", "_n", "_pos"]).groupby(setting, sort=False).tail(1)["_pos"]
    return df.iloc[sorted(keep)].reset_index(drop=True)


def read_rows(name: str, profile: str, encoder: str, setting: list[str]) -> pd.DataFrame:
    """This profile's and encoder's canonical rows of reports/tables/<name> (empty when there is none)."""
    path = tables_dir() / name
    if not path.exists():
        return pd.DataFrame(columns=[*setting, "seeds", "seed_list"])
    df = pd.read_csv(path, dtype={"seed_list": str})
    return canonical_rows(df[(df["profile"] == profile) & (df["encoder"] == encoder)], setting)


def ablation_rows(profile: str, encoder: str) -> pd.DataFrame:
    """This profile's and encoder's ladder rows of reports/tables/ablation.csv, one per variant."""
    return read_rows("ablation.csv", profile, encoder, ABLATION_KEY[:-1])


def single_task_rows(profile: str, encoder: str) -> pd.DataFrame:
    return read_rows("single_task.csv", profile, encoder, SINGLE_TASK_KEY[:-1])


def _save(name: str, rows: list[dict], key: list[str], order=None) -> pd.DataFrame:
    path = tables_dir() / name
    if path.exists() and "seed_list" not in pd.read_csv(path, nrows=0).columns:    # a table from before seed lists
        results.write_csv(path, _with_seed_list(pd.read_csv(path)))
    return results.upsert_rows(path, rows, key, order)


def _superseded_out(rows: list[dict], key: list[str]):
    """An upsert's order: of each setting the new ``rows`` touch, keep the new row and the canonical one
    (canonical_rows: the study's seeds, else the most seeds) and drop the others, which they supersede (the 3-seed
    row beside the 5-seed one); a person's one-seed run keeps its row beside the study's."""
    def prune(df: pd.DataFrame) -> pd.DataFrame:
        df = _with_seed_list(df).reset_index(drop=True)
        as_keys = lambda frame: [tuple(map(str, r)) for r in frame[key].to_numpy()]  # noqa: E731
        new = set(as_keys(pd.DataFrame(rows).pipe(_with_seed_list)))
        touched = {k[:-1] for k in new}
        canonical = set(as_keys(canonical_rows(df, key[:-1])))
        return df[[k[:-1] not in touched or k in new or k in canonical for k in as_keys(df)]]
    return prune


def save_ablation_rows(rows: list[dict]) -> pd.DataFrame:
    """Upsert ablation rows; a row that the new ones supersede leaves the table (_superseded_out)."""
    prune = _superseded_out(rows, ABLATION_KEY)
    return _save("ablation.csv", rows, ABLATION_KEY, lambda df: ladder_order(prune(df)))


def save_single_task_rows(rows: list[dict]) -> pd.DataFrame:
    """Upsert single-task rows, as save_ablation_rows does."""
    return _save("single_task.csv", rows, SINGLE_TASK_KEY, _superseded_out(rows, SINGLE_TASK_KEY))


# Tables of curves hold several rows per run (one per evaluation); a run is replaced as a whole, so a rerun with
# fewer epochs or evaluations leaves none of the old curve's rows behind to be averaged with the new ones.
CURVE_KEY = ["variant", "seed", "profile", "encoder"]
BUDGET_KEY = ["recipe", "cap", "seed", "profile", "encoder"]


def save_learning_curves(curves: pd.DataFrame, name: str = "regime_curves.csv") -> pd.DataFrame:
    """Upsert learning_curve rows (with profile and encoder) into reports/tables/``name``, each run's curve
    replacing that run's earlier one whole (CURVE_KEY); returns the table."""
    return results.upsert_rows(tables_dir() / name, curves.to_dict("records"), CURVE_KEY)


def save_budget_points(points: pd.DataFrame, name: str = "quality_per_minute.csv") -> pd.DataFrame:
    """Upsert quality-per-minute points (one per recipe, cap and epoch) into reports/tables/``name``, each run's
    points replacing that run's earlier ones whole (BUDGET_KEY); returns the table."""
    return results.upsert_rows(tables_dir() / name, points.to_dict("records"), BUDGET_KEY)


def shown_rows(notebook: str, profile: str, encoder: str, rows: tuple[str, ...] | None = None,
               also: tuple[str, ...] = (), own: list[dict] = ()) -> pd.DataFrame:
    """The ablation rows a notebook displays: ``rows`` (None: all its own, spec.NOTEBOOKS), the rows its declared
    questions (spec.questions_of) compare them against, and ``also`` (e.g. the recipe a quartet averages), in the ladder's order; not the whole
    study's table, which later notebooks change. ``own``: the rows the notebook just made (ablation_row), shown
    in place of the table's rows of those variants: a notebook run on other seeds shows its own rows, never the
    study's in their place."""
    spec = BY_NAME[notebook]
    rows = spec.rows if rows is None else tuple(rows)
    shown = {*rows, *also, *(q.before for q in questions_of(notebook) if q.after in rows)}
    table = ablation_rows(profile, encoder)
    mine = results.rounded(pd.DataFrame(list(own))) if len(own) else table.iloc[0:0]
    table = table[table["variant"].isin(shown - set(mine.get("variant", [])))]
    return ladder_order(pd.concat([table, mine], ignore_index=True) if len(mine) else table).reset_index(drop=True)


def train_examples(folders: dict[str, Path]) -> pd.DataFrame:
    """Each run's training split per task (``train_examples`` in its metrics.json, recorded since the imbalance
    control: the examples it could train on) and its optimizer steps (how many batches it took: sequential
    training takes every batch once, round-robin sampling as many of each task as the smallest has): one row per
    run and task, columns run, task, train_examples, steps. Raises UserError naming a run recorded before the
    field existed."""
    rows = []
    for name, folder in folders.items():
        metrics = results.read_json(Path(folder) / "metrics.json")
        if "train_examples" not in metrics:
            raise UserError(f"{Path(folder) / 'metrics.json'}: no 'train_examples' (a run recorded before it was "
                           "kept): delete that run's folder and its record, and run the notebook again")
        rows += [{"run": name, "task": task, "train_examples": n, "steps": metrics["steps"]}
                 for task, n in metrics["train_examples"].items()]
    return pd.DataFrame(rows, columns=["run", "task", "train_examples", "steps"])


def learning_curve(run_dir: Path, variant: str, seed: int) -> pd.DataFrame:
    """A run's dev and training-probe scores at each evaluation (its history.csv; the probe needs
    train.eval_train_examples > 0): one row per evaluation with epoch, step, training minutes and, per study task
    and for the course's overall score, ``<column>`` (dev), ``train_<column>`` and ``gap_<column>`` = train - dev,
    in the table column's units (NaN where the run had no probe)."""
    history = pd.read_csv(Path(run_dir) / "history.csv")
    rows = []
    for e in history[history["kind"] == "eval"].to_dict("records"):
        row = {"variant": variant, "seed": seed, "epoch": int(e["epoch"]), "step": int(e["step"]),
               "train_minutes": float(e.get("train_seconds", np.nan)) / 60}
        for prefix in ("", "train_"):
            scores = {TASKS[t].metric_name: e.get(f"{prefix}{TASKS[t].metric_name}", np.nan) for t in STUDY_TASKS}
            row.update({f"{prefix}{TASKS[t].table_column}": scores[TASKS[t].metric_name] for t in STUDY_TASKS})
            row[f"{prefix}overall"] = overall_score(scores)
        for column in [*study_columns(), "overall"]:
            row[f"gap_{column}"] = row[f"train_{column}"] - row[column]
        rows.append(row)
    return pd.DataFrame(rows)


def last_epoch_change(curves: pd.DataFrame, column: str = "overall") -> pd.DataFrame:
    """Per variant of ``curves`` (learning_curve rows) with two epochs or more: each seed's dev ``column`` at its
    last epoch minus the one before, as ``change`` (the mean over seeds), ``higher`` (how many seeds rose) and
    ``seeds``. A recipe higher at its last epoch in every seed may gain from more epochs, which these curves cannot
    say; one higher in some seeds only has no direction here."""
    rows = []
    for variant, group in curves.groupby("variant", sort=False):
        ordered = group.sort_values(["seed", "epoch"], kind="stable")
        step = ordered.groupby("seed")[column].diff()                   # each epoch minus the one before, per seed
        last = step.groupby(ordered["seed"]).tail(1).dropna()           # a seed's last epoch; none with one epoch
        if len(last):
            rows.append({"variant": variant, "change": float(last.mean()), "higher": int((last > 0).sum()),
                         "seeds": len(last)})
    return pd.DataFrame(rows, columns=["variant", "change", "higher", "seeds"])


def epoch_rows(curves: pd.DataFrame, epoch: int | None = None) -> pd.DataFrame:
    """One ablation-like row per variant from its seeds' learning curves at ``epoch`` (None: each run's last):
    ``<column>`` and ``<column>_std`` (over seeds, ddof 1) for every dev, train and gap column, ``seeds`` and
    ``seed_list``; what verdicts.comparison_table tests."""
    at = curves.sort_values(["epoch", "step"], kind="stable").groupby(["variant", "seed"]).tail(1) if epoch is None \
        else curves[curves["epoch"] == epoch]
    values = [c for c in at.columns if c not in ("variant", "seed", "epoch", "step")]
    rows = []
    for variant, group in at.groupby("variant", sort=False):
        row = {"variant": variant, "seeds": len(group), "seed_list": " ".join(str(s) for s in sorted(group["seed"])),
               "epoch": int(group["epoch"].max())}
        for column in values:
            row[column], row[f"{column}_std"] = _mean_std(list(group[column]))
        rows.append(row)
    return pd.DataFrame(rows)


def row_runs(profile: str, encoder: str, row: str, index: results.RunIndex | None = None) -> dict[int, Path]:
    """{seed: run folder} of one ablation row in the registry, seeds in numeric order. A recipe's row
    (recipes.VARIANTS) is every complete run of its config at some seed, wherever it was trained and whatever its
    name (results.RunIndex; its own notebook's '<row>-seed<N>' first); a quartet's (spec.ENSEMBLES) is its
    notebook's '<row>-seed<N>' folders with dev predictions; an epoch row (spec.EPOCH_ROWS) its recipe's runs."""
    row = EPOCH_ROWS.get(row, (row, 0))[0]
    if row in VARIANTS:
        index = index or results.RunIndex(profile)
        found = {}
        for seed in index.seeds():
            cfg = variant_config(row, profile, model__encoder=encoder, train__seed=seed)
            run = index.find(cfg.to_dict(), results.run_path(profile, trained_by(row) or "", results.run_name(row, seed=seed)))
            if run is not None and (run / "predictions-dev.csv").exists():
                found[seed] = run
        return found
    folder, found = results.run_path(profile, trained_by(row) or "", ""), {}
    for run in folder.glob(f"{row}{results.SEED_TAG}*") if folder.is_dir() else ():
        seed = run.name[len(row) + len(results.SEED_TAG):]
        metrics = run / "metrics.json"
        if seed.isdigit() and (run / "predictions-dev.csv").exists() and not (
                metrics.exists() and results.read_json(metrics).get("encoder") != encoder):
            found[int(seed)] = run
    return dict(sorted(found.items()))


def epoch_scores(run: Path, epoch: int) -> dict:
    """A run's dev scores at the end of ``epoch`` (its history.csv's evaluation then), as a metrics.json-like dict
    with its steps and training seconds at that moment. Raises UserError naming the file when it has no such
    evaluation."""
    history = pd.read_csv(run / "history.csv")
    evals = history[(history["kind"] == "eval") & (history["epoch"] == epoch)]
    if evals.empty:
        raise UserError(f"{run / 'history.csv'}: no dev evaluation at the end of epoch {epoch}")
    e = evals.iloc[-1]
    out = {metrics_key(c): float(e[metrics_key(c)]) for c in study_columns() if metrics_key(c) in e}
    return out | {"epoch": epoch, "steps": int(e["step"]), "train_seconds": float(e["train_seconds"])}


def seed_scores(profile: str, encoder: str, rows) -> pd.DataFrame:
    """One row per (ablation row, seed) that the registry holds, for each of ``rows`` (row_runs): its dev scores
    computed from its predictions-dev.csv (a run's or a quartet's alike), or for an epoch row (spec.EPOCH_ROWS) from
    its recipe's evaluation at that epoch's end (epoch_scores), seeds in numeric order. What the pre-registered
    analysis pairs by seed (reporting.verdicts.analyse), at the tables' fixed precision: the notebooks that compute
    it from the registry and notebook 09, which saves it as seed_scores.csv, read the same values."""
    out, index = [], results.RunIndex(profile)
    for row in sorted(set(rows)):
        for seed, run in row_runs(profile, encoder, row, index).items():
            if row in EPOCH_ROWS:
                s = epoch_scores(run, EPOCH_ROWS[row][1])
                s["overall"] = overall_score(s)
            else:
                s = scores(pd.read_csv(run / "predictions-dev.csv", dtype={"id": str}))
            out.append({"variant": row, "seed": seed, "profile": profile, "encoder": encoder,
                        **{c: s.get(metrics_key(c)) for c in study_columns()}, "overall": s["overall"]})
    return results.rounded(pd.DataFrame(out, columns=["variant", "seed", "profile", "encoder", *study_columns(), "overall"]))


def quartet_runs(profile: str, encoder: str, row: str, index: results.RunIndex | None = None) -> dict[int, dict[str, Path]]:
    """{seed: {run folder name: folder}} of each seed whose quartet of ``row`` (spec.QUARTET_OF) is complete: the
    row's run of that seed (row_runs) and its three specialists of that seed (the row's recipe on one task:
    spec.SPECIALIST_POINTS), each found by its config wherever it was trained (results.RunIndex), with dev
    predictions. A seed missing any member has no quartet."""
    index = index or results.RunIndex(profile)
    prefix, out = QUARTET_OF[row], {}
    for seed, multitask in row_runs(profile, encoder, row, index).items():
        members = {multitask.name: multitask}
        for task, overrides in SPECIALIST_POINTS:
            cfg = variant_config(row, profile, model__encoder=encoder, train__seed=seed, **overrides)
            own = results.run_path(profile, trained_by(prefix) or "", results.run_name(f"{prefix}-{task}", seed=seed))
            run = index.find(cfg.to_dict(), own)
            if run is None or not (run / "predictions-dev.csv").exists():
                break
            members[run.name] = run
        else:
            out[seed] = members
    return out


def choice_candidates(profile: str, encoder: str, rows: tuple[str, ...] = CHOICE_ROWS) -> pd.DataFrame:
    """The candidates for the study's best model, each scored on the calibration split that all their runs held out
    of training (spec.CHOICE_ROWS) and on dev: every run of ``rows`` (row_runs), each row's seeds averaged (its seed
    ensemble, as a quartet averages its members), every run of them averaged, and each seed's quartet of a row that
    has one (quartet_runs: the row's run and its three specialists). One row per candidate: model (its
    name, the folder an ensemble is written to), kind, runs (how many it averages), members (run folders relative to
    the registry, ";"-joined), calib_<column> and <column> for each task's column and overall (calib NaN where a
    member has no calibration predictions); best calibration score first (ties: fewer members, then the name). Each
    run's predictions are its dev-selected best epoch's, as every row's are: the calibration split chooses among
    models whose epoch dev picked."""
    index = results.RunIndex(profile)
    found = {row: row_runs(profile, encoder, row, index) for row in rows}
    candidates = [(results.run_name(row, seed=seed), "run", {folder.name: folder})
                  for row, runs in found.items() for seed, folder in runs.items()]
    candidates += [(f"seeds-{row}", "seed ensemble", {f.name: f for f in runs.values()})
                   for row, runs in found.items() if len(runs) > 1]
    every = {f.name: f for runs in found.values() for f in runs.values()}
    if sum(len(runs) > 0 for runs in found.values()) > 1:
        candidates.append(("seeds-" + "+".join(rows), "all runs averaged", every))
    candidates += [(results.run_name(f"quartet-{row}", seed=seed), "quartet", members) for row in rows
                   if row in QUARTET_OF for seed, members in quartet_runs(profile, encoder, row, index).items()]
    out = []
    for name, kind, members in candidates:
        row = {"model": name, "kind": kind, "runs": len(members),
               "members": ";".join(str(Path(f).relative_to(results.runs_dir())) for f in members.values())}
        for split, prefix in (("calib", CALIB_PREFIX), ("dev", "")):
            have = all((Path(f) / f"predictions-{split}.csv").exists() for f in members.values())
            s = scores(ensemble(load_predictions(members, split))) if have else {}
            row.update({prefix + c: s.get(metrics_key(c), np.nan) for c in study_columns()})
            row[prefix + "overall"] = s.get("overall", np.nan)
        out.append(row)
    table = pd.DataFrame(out, columns=["model", "kind", "runs", "members",
                                       *[CALIB_PREFIX + c for c in [*study_columns(), "overall"]],
                                       *study_columns(), "overall"])
    table = results.rounded(table)
    order = table.assign(_calib=-table[CALIB_PREFIX + "overall"].fillna(-np.inf))
    return table.loc[order.sort_values(["_calib", "runs", "model"], kind="stable").index].reset_index(drop=True)


def choice_lead(candidates: pd.DataFrame) -> tuple[str, float] | None:
    """(the next candidate's name, the chosen one's calibration lead over it) in a choice_candidates table (best
    calibration score first, its 'chosen' row first among those scored); None with fewer than two scored."""
    scored = candidates.dropna(subset=[CALIB_PREFIX + "overall"])
    if len(scored) < 2:
        return None
    return scored["model"].iloc[1], scored[CALIB_PREFIX + "overall"].iloc[0] - scored[CALIB_PREFIX + "overall"].iloc[1]


def simcse_dose(folders: dict[str, Path]) -> pd.DataFrame:
    """Each SimCSE run's stage dose: the run, its steps, batch size, the distinct training sentences it drew from
    (metrics.json's simcse_sentences) and the share of one pass over them (steps x batch / sentences)."""
    rows = []
    for name, folder in sorted(folders.items()):
        metrics, config = results.read_json(folder / "metrics.json"), results.read_json(folder / "config.json")
        if not metrics.get("simcse_sentences"):
            continue
        steps, batch = int(metrics["simcse_steps"]), int(config["simcse"]["stage_batch_size"])
        rows.append({"run": name, "steps": steps, "batch": batch, "sentences": int(metrics["simcse_sentences"]),
                     "share_of_one_pass": steps * batch / metrics["simcse_sentences"]})
    return pd.DataFrame(rows, columns=["run", "steps", "batch", "sentences", "share_of_one_pass"])


def paper_checks(profile: str, encoder: str) -> pd.DataFrame:
    """The paper's Section 6 on each of spec.PAPER_CHECK_ROWS's seed-0 dev predictions (the registry's, else the
    saved ones: saved_predictions.sources): the SST errors off by one and by at most two levels
    (evaluate.sst_error_levels), and the STS slope, range and ends (evaluate.sts_extremes), a row per row found, with
    its STS head. Written to paper_checks.csv (notebook 10 shows it, notebook 09's collect writes it for the claims
    table)."""
    found = sources(profile)
    checked = {row: f"{trained_by(row)}/{results.run_name(row, seed=0)}" for row in PAPER_CHECK_ROWS}
    frames = {row: pd.read_csv(found[key], dtype={"id": str}) for row, key in checked.items() if key in found}
    table = pd.DataFrame([{"row": row, "sts_head": sts_head(row, profile), "source": checked[row],
                           **evaluate.sst_error_levels(frame), **evaluate.sts_extremes(frame)}
                          for row, frame in frames.items()])
    return results.write_csv(tables_dir() / "paper_checks.csv", table.assign(profile=profile, encoder=encoder))


def early_stopping(curves: pd.DataFrame) -> pd.DataFrame:
    """What early stopping would keep: each run's best dev overall over its epochs (its saved weights and
    metrics.json are that epoch's), the mean over each recipe's seeds; no test, optimistic alike for every recipe."""
    best = curves.groupby(["variant", "seed"], sort=False)["overall"].max()
    return best.groupby(level=0, sort=False).agg(["mean", "count"]).reset_index().rename(
        columns={"mean": "best_epoch_overall", "count": "seeds"})


def equal_minutes(budget: pd.DataFrame) -> pd.DataFrame:
    """Notebook 11's longest recipes with SMART against the same recipe without (`<recipe>-smart` against
    `<recipe>`, one seed a point): at the same epoch and cap, the overall scores and training minutes of both, and
    the best overall the plain recipe reached in no more training minutes (what the SMART point's time would have
    bought without it)."""
    rows = []
    for recipe in budget["recipe"].unique():
        base = recipe.removesuffix("-smart")
        if base == recipe or base not in set(budget["recipe"]):
            continue
        plain = budget[budget["recipe"] == base]
        for point in budget[budget["recipe"] == recipe].sort_values("epoch").itertuples():
            same = plain[(plain["epoch"] == point.epoch) & (plain["cap"].astype(str) == str(point.cap))]
            if same.empty:
                continue
            twin = same.iloc[0]
            in_time = plain[plain["train_minutes"] <= point.train_minutes]["overall"].max()
            rows.append({"recipe": recipe, "against": base, "epoch": point.epoch, "overall": point.overall,
                         "against_overall": twin["overall"], "difference": point.overall - twin["overall"],
                         "train_minutes": point.train_minutes, "against_minutes": twin["train_minutes"],
                         "against_best_in_those_minutes": in_time})
    return pd.DataFrame(rows)

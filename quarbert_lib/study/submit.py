"""A course submission: one model's dev and test outputs in the course's format, in one folder, every id checked.

The CS224N default final project grades the files its starter code writes into ``predictions/``:
``sst-{dev,test}-output.csv``, ``para-{dev,test}-output.csv`` and ``sts-{dev,test}-output.csv``, each a header
line (the starter's own, ``Predicted_Similiary`` included) and one ``id , prediction`` line per input id.
``write_submission`` writes them for a run, an ensemble or an export:

- the inputs are the course files in full (a profile's dev/test caps are lifted), read as the model's config
  reads them; each output must answer every id of its input exactly once (results.write_course_output refuses
  anything else, nothing is written), and each written file is read back and checked again
  (results.read_course_output);
- the answers are the model's saved predictions (``predictions-<split>.csv``, an ensemble's members' averaged
  as notebook 07 averages them) when they answer exactly those ids, so a fresh clone submits from the
  committed run records without weights; otherwise the model scores the inputs (serve.load, weights needed);
- an input file absent from the data folder is reported, not invented: offline ``quora-test-student.csv`` is
  missing, so there is no ``para-test-output.csv``, and the Quora dev output answers the offline dev split
  (20% of quora-dev.csv by SHA-1 of the id; data.quora_hash_split), not the course's whole dev file.

``best_model`` names the study's best model: the one notebook 13 chose on the calibration split
(reports/tables/best_model.csv, experiment.choose_best: the converged runs and their seed ensembles, scored on
examples none of them trained on); before that choice exists, the row of reports/tables/ablation.csv with the highest
overall dev score (mean over seeds) that has a model folder, at its seed with the highest overall dev score (a choice
made on dev, said as such when it is made).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from ..base.errors import UserError
from ..base.paths import REPO_ROOT, REPORTS_ENV, profile_reports_dir, reports_dir, runs_dir
from ..base.tasks import TASKS
from ..core.config import ExperimentConfig
from ..core.data import Example, load_task
from . import ensemble, records, serve
from .results import read_course_output, read_json, run_config, run_name, write_course_output
from .spec import CONTROLS

COURSE_TASKS = ("sst", "para", "sts")
SPLITS = ("dev", "test")
DEFAULT_DEST = REPO_ROOT / "submission" / "predictions"


class SubmissionError(UserError):
    """No model to submit, or a model that cannot answer the course's inputs."""


@dataclasses.dataclass
class OutputFile:
    task: str
    split: str
    inputs: int                 # ids in the course's input file (0 when the file is absent)
    path: Path | None = None    # None: not written (note says why)
    source: str = ""            # 'saved predictions' or 'scored'
    note: str = ""


def _seed_overall(folder: Path) -> float:
    kind = serve.folder_kind(folder)
    if kind == "ensemble":
        members = serve.read_members(folder)
        return ensemble.scores(ensemble.ensemble(ensemble.load_predictions(members, "dev")))["overall"]
    return read_json(folder / "metrics.json")["overall"]


def best_model(profile: str = "cpu", encoder: str = "minilm-l6") -> Path:
    """The folder of the study's best model (see the module's docstring), after restoring the profile's run
    records into the registry (a fresh clone has no runs/). Raises SubmissionError when no row of the ablation
    table has a run or ensemble folder."""
    records.restore_missing(profile)
    tables = (reports_dir() if os.environ.get(REPORTS_ENV) else profile_reports_dir(profile)) / "tables"
    chosen = pd.read_csv(tables / "best_model.csv") if (tables / "best_model.csv").is_file() else None
    if chosen is not None:
        chosen = chosen[(chosen["profile"] == profile) & (chosen["encoder"] == encoder) & chosen["chosen"]]
        if len(chosen):
            model = chosen.iloc[0]
            return runs_dir() / model["members"] if model["kind"] == "run" else serve.resolve(model["model"], profile, encoder)
    path = tables / "ablation.csv"
    print(f"[quarbert] {tables / 'best_model.csv'} holds no model chosen on the calibration split for {profile}/{encoder}: "
          "the best model is the ablation row and seed with the highest dev score (a choice made on dev)", file=sys.stderr)
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["profile", "encoder"])
    # a control is no candidate (the natural-size rows train on more data than the study's budget)
    table = table[(table["profile"] == profile) & (table["encoder"] == encoder) & ~table["variant"].isin(CONTROLS)]
    if table.empty:
        raise SubmissionError(f"{path}: no ablation rows for {profile}/{encoder}: run the study's notebooks first")
    for _, row in table.sort_values("overall", ascending=False).iterrows():
        seeds = [int(s) for s in str(row["seed_list"]).split()] if isinstance(row.get("seed_list"), str) else [0]
        found = []
        for seed in seeds:
            try:
                found.append(serve.resolve(run_name(row["variant"], seed=seed), profile, encoder))
            except serve.NotAModel:
                continue
        if found:
            return max(found, key=_seed_overall)
    raise SubmissionError(f"none of the {len(table)} ablation rows of {profile}/{encoder} has a run or ensemble "
                          "folder in the registry (python -m quarbert_lib records restore brings back the recorded ones)")


def _configs(folder: Path, kind: str) -> list[ExperimentConfig]:
    """The configs of a run's or an ensemble's members (an export's come with its loaded scorer)."""
    folders = serve.read_members(folder).values() if kind == "ensemble" else [folder]
    return [run_config(f) for f in folders]


def _saved(folder: Path, kind: str, task: str, split: str) -> pd.DataFrame | None:
    """The model's saved predictions of ``task`` on ``split`` (an ensemble's: its members' averaged), or None."""
    if kind == "export":
        return None
    members = serve.read_members(folder) if kind == "ensemble" else {folder.name: folder}
    frames = {n: f[f["task"] == task] for n, f in ensemble.load_predictions(members, split, missing_ok=True).items()}
    frames = {n: f.reset_index(drop=True) for n, f in frames.items() if len(f)}
    if not frames:
        return None
    return frames.popitem()[1] if len(frames) == 1 else ensemble.ensemble(frames)


def _answers_exactly(frame: pd.DataFrame | None, examples: list[Example]) -> bool:
    return frame is not None and sorted(frame["id"].astype(str)) == sorted(str(e.id) for e in examples)


def output_names() -> list[str]:
    """The file names of a whole submission: each course task's dev and test output."""
    return [TASKS[task].test_output[0].replace("-test-", f"-{split}-") for task in COURSE_TASKS for split in SPLITS]


def write_submission(folder: str | Path, dest: str | Path = DEFAULT_DEST, device: str = "cpu") -> list[OutputFile]:
    """Write the course's dev and test output files of the model in ``folder`` (a run, ensemble or export
    folder) into ``dest``, whole or not at all: every file is written and read back in a scratch folder beside
    ``dest`` first, and only then do they replace ``dest``'s course output files (an earlier submission's file
    that this one does not write, such as a Quora test output when its input is absent, is removed, so the folder
    never mixes two models). One OutputFile per (task, split), written or not. Raises SubmissionError when the
    model lacks a course task, results.CourseOutputError when an output would not answer its input's ids, and
    data.DataError when an input file has a row it cannot read (every row of an unlabelled file needs an
    answer); ``dest`` is then as it was."""
    folder, dest = Path(folder), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}-", dir=dest.parent) as scratch:
        files = _write_all(folder, Path(scratch), device)
        for name in output_names():
            (dest / name).unlink(missing_ok=True)
        for f in files:
            if f.path is not None:
                f.path = Path(shutil.move(f.path, dest / f.path.name))
    return files


def _write_all(folder: Path, dest: Path, device: str) -> list[OutputFile]:
    kind = serve.folder_kind(folder)
    # an export has no saved predictions: it is loaded once, to score, and its members carry their configs
    scorer = serve.load_export(folder, device) if kind == "export" else None
    configs = [m.cfg for m in scorer.members.values()] if scorer else _configs(folder, kind)
    tasks = {t for cfg in configs for t in cfg.tasks}
    if missing := [t for t in COURSE_TASKS if t not in tasks]:
        raise SubmissionError(f"{folder}: the model predicts {sorted(tasks)}, a submission needs {list(COURSE_TASKS)} "
                              f"(missing {missing}): submit a multitask run or an ensemble")
    # the course files in full, read as the model read them (a profile's dev/test cap lifted)
    data_cfg = dataclasses.replace(configs[0].data, max_dev_per_task=None)
    out = []
    for task in COURSE_TASKS:
        loaded = load_task(task, data_cfg)
        splits = loaded.splits
        for split in SPLITS:
            if split not in splits:
                name = TASKS[task].files["test"]
                out.append(OutputFile(task, split, 0, note=f"{name} is not in the data folder: the course's "
                                                          "file is needed (not distributed offline)"))
                continue
            examples = splits[split]
            frame, source = _saved(folder, kind, task, split), "saved predictions"
            if not _answers_exactly(frame, examples):
                scorer = scorer or serve.load(folder, device)
                frame, source = scorer.predict(task, examples), "scored"
            ids = [e.id for e in examples]
            path = write_course_output(dest, task, frame, split, ids=ids)
            read_course_output(path, task, ids=ids)
            # the offline Quora split's note (data.load_task) says which pairs the dev output answers; a labelled
            # file's rows the loader skipped (reported, never silent) have no answer
            skipped = [f"{Path(r.path).name} line {ln} ({fld})" for r in loaded.reports for ln, fld, _ in r.skipped
                       if Path(r.path).name == TASKS[task].files.get(split)]
            note = "; ".join(filter(None, [loaded.note if split == "dev" else "",
                                           f"unanswered, skipped as malformed: {', '.join(skipped)}" if skipped else ""]))
            out.append(OutputFile(task, split, len(ids), path, source, note))
    return out


def summary(files: list[OutputFile], folder: Path) -> str:
    """A table of what was written, for the command line."""
    shown = folder.relative_to(Path.cwd()) if folder.is_absolute() and folder.is_relative_to(Path.cwd()) else folder
    lines = [f"submission of {shown}:"]
    for f in files:
        where = f"{f.path.name}: {f.inputs} ids answered, each once ({f.source})" if f.path else f"{f.task}-{f.split}: MISSING"
        lines.append(f"  {where}{'; ' + f.note if f.note else ''}")
    return "\n".join(lines)

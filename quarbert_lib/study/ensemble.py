"""The quartet ensemble from saved predictions: averaging, duplicate checks, calibration, subsets.

Members are registry run folders. Each task is predicted by the members that have its head
(its specialist and the multitask model): SST and paraphrase probabilities are averaged, STS
scores are averaged. Nothing here trains: re-ensembling reads predictions-<split>.csv.

Beyond the paper: per-member temperatures and member weights, fitted on the 'calib' split (a
slice of the training file that no member trained on), never on the reported dev set; and the
dev scores of every subset of members.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from ..base.tasks import TASKS, metrics_key, overall_score, study_columns
from ..core.evaluate import metrics_of
from .results import atomic_write_text


class DuplicateMemberError(ValueError):
    pass


WEIGHTS_HASH = "weights.json"      # a run's weight hash, kept in its record (records keep no weights)


def weight_files(run_dir: Path) -> list[Path]:
    """The files that make a member: model.pt, or for a LoRA run its adapter's safetensors and heads.pt."""
    run_dir = Path(run_dir)
    if (run_dir / "adapter").exists():
        return sorted((run_dir / "adapter").rglob("*.safetensors")) + [run_dir / "heads.pt"]
    return [run_dir / "model.pt"]


def checkpoint_hash(run_dir: Path) -> str:
    """SHA-256 of what makes a member: its weights (weight_files) when the run folder holds them, else the hash its
    record kept (weights.json, written by ``record_weights_hash``). Raises FileNotFoundError with neither."""
    run_dir = Path(run_dir)
    files = weight_files(run_dir)
    if not all(f.is_file() for f in files):
        if (run_dir / WEIGHTS_HASH).is_file():
            return json.loads((run_dir / WEIGHTS_HASH).read_text())["sha256"]
        raise FileNotFoundError(f"{run_dir}: neither its weights ({', '.join(f.name for f in files)}) nor "
                                f"{WEIGHTS_HASH}: retrain the run (force=True)")
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def record_weights_hash(run_dir: Path) -> None:
    """Write weights.json (the weights' SHA-256) into a run folder that holds its weights, so that its record,
    which keeps no weights, still tells this member from another (check_distinct)."""
    run_dir = Path(run_dir)
    if all(f.is_file() for f in weight_files(run_dir)):
        atomic_write_text(run_dir / WEIGHTS_HASH, json.dumps({"sha256": checkpoint_hash(run_dir)}) + "\n")


def check_distinct(members: dict[str, Path]) -> dict[str, str]:
    """{member: hash}; raise DuplicateMemberError when two members are the same checkpoint."""
    hashes, seen = {}, {}
    for name, folder in members.items():
        h = checkpoint_hash(folder)
        if h in seen:
            raise DuplicateMemberError(f"members {seen[h]!r} and {name!r} are the same checkpoint "
                                       f"(sha256 {h[:12]}…): {members[seen[h]]} and {folder}")
        seen[h], hashes[name] = name, h
    return hashes


def load_predictions(members: dict[str, Path], split: str, missing_ok: bool = False) -> dict[str, pd.DataFrame]:
    """Each member's predictions-<split>.csv. ``missing_ok`` leaves out members without one (the
    paraphrase specialist has no test predictions when quora-test-student.csv is absent)."""
    out = {}
    for name, folder in members.items():
        path = Path(folder) / f"predictions-{split}.csv"
        if missing_ok and not path.exists():
            continue
        out[name] = pd.read_csv(path, dtype={"id": str})
    return out


def _logits(frame: pd.DataFrame, task: str) -> np.ndarray:
    """Log-probabilities (N, C) for 'classify', the logit (N,) for 'binary'."""
    eps = 1e-7
    if TASKS[task].kind == "classify":
        return np.log(frame[[f"prob_{k}" for k in range(TASKS[task].num_labels)]].to_numpy().clip(eps, 1))
    p = frame["prob"].to_numpy().clip(eps, 1 - eps)
    return np.log(p / (1 - p))


def _calibrated(frame: pd.DataFrame, task: str, temperature: float = 1.0) -> np.ndarray:
    """Probabilities (N, C) / (N,) after dividing logits by T; scores (N,) for 'regress'."""
    kind = TASKS[task].kind
    if kind == "regress":
        return frame["score"].to_numpy(dtype=float)
    z = _logits(frame, task) / temperature
    if kind == "binary":
        return 1.0 / (1.0 + np.exp(-z))
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def combine(frames: list[pd.DataFrame], task: str, weights: list[float] | None = None,
            temperatures: list[float] | None = None) -> pd.DataFrame:
    """Weighted average (uniform by default) of the members' probabilities or scores, in the first member's order
    of ids: members that list the same ids in another order are aligned by id (aligned)."""
    frames = aligned(frames, task)
    w = np.asarray(weights or [1.0] * len(frames), dtype=float)
    w = w / w.sum()
    temps = temperatures or [1.0] * len(frames)
    mean = sum(wi * _calibrated(f, task, t) for wi, f, t in zip(w, frames, temps))
    out = frames[0][["id", "task", "gold"]].copy()
    kind = TASKS[task].kind
    if kind == "classify":
        out["prediction"] = mean.argmax(1)
        for k in range(mean.shape[1]):
            out[f"prob_{k}"] = mean[:, k]
    elif kind == "binary":
        out["prediction"], out["prob"] = (mean > 0.5).astype(int), mean
    else:
        out["prediction"] = out["score"] = mean
    return out


def aligned(frames: list[pd.DataFrame], task: str, names: list[str] | None = None) -> list[pd.DataFrame]:
    """The members' frames of one task, each in the first member's order of ids. Members that predicted different
    sets of ids (or one id twice) cannot be averaged: ValueError naming the members and an id that differs."""
    if not frames:                                    # a task no member predicts
        return []
    names = names or [f"member {i + 1}" for i in range(len(frames))]
    first = frames[0].reset_index(drop=True)
    ids = first["id"].astype(str)
    if ids.duplicated().any():
        raise ValueError(f"{task}: {names[0]} predicted id {ids[ids.duplicated()].iloc[0]!r} twice; cannot average")
    out = [first]
    for name, frame in zip(names[1:], frames[1:]):
        own = frame["id"].astype(str)
        if own.duplicated().any() or set(own) != set(ids):
            differs = sorted(set(own) ^ set(ids)) or list(own[own.duplicated()])
            raise ValueError(f"{task}: {names[0]} and {name} predicted different examples (id {differs[0]!r}); "
                             "cannot average")
        out.append(frame.assign(_key=own.to_numpy()).set_index("_key").loc[ids.to_numpy()].reset_index(drop=True))
    return out


def members_for(task: str, predictions: dict[str, pd.DataFrame]) -> list[str]:
    return [name for name, frame in predictions.items() if (frame["task"] == task).any()]


def ensemble(predictions: dict[str, pd.DataFrame], calibration: dict | None = None) -> pd.DataFrame:
    """All tasks' ensembled predictions; ``calibration`` = {task: {"weights": [...], "temperatures": [...]}}."""
    parts = []
    for task in TASKS:
        names = members_for(task, predictions)
        if not names:
            continue
        frames = [predictions[n][predictions[n]["task"] == task].reset_index(drop=True) for n in names]
        c = (calibration or {}).get(task, {})
        parts.append(combine(frames, task, c.get("weights"), c.get("temperatures")))
    return pd.concat(parts, ignore_index=True)


def member_errors(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """How alike the members' errors are, task by task, for each pair of members that predict the task: for a
    classification task the correlation of their wrong-answer indicators (the phi coefficient) and, of the
    examples either gets wrong, the share both get wrong; for a regression task the correlation of their
    residuals (prediction - gold). Averaging two members can only fix an example one of them gets right."""
    rows = []
    for task in TASKS:
        names = members_for(task, predictions)
        frames = dict(zip(names, aligned([predictions[n][predictions[n]["task"] == task].sort_values("id") for n in names],
                                         task, names)))
        for a, b in itertools.combinations(names, 2):
            x, y = frames[a], frames[b]
            if TASKS[task].kind == "regress":
                ex, ey = x["prediction"] - x["gold"], y["prediction"] - y["gold"]
                both = np.nan
            else:
                ex, ey = (x["prediction"] != x["gold"]).astype(float), (y["prediction"] != y["gold"]).astype(float)
                either = ((ex + ey) > 0).sum()
                both = float((ex * ey).sum() / either) if either else np.nan
            corr = float(np.corrcoef(ex, ey)[0, 1]) if ex.std() > 0 and ey.std() > 0 else np.nan
            rows.append({"task": task, "member_a": a, "member_b": b, "error_correlation": corr, "both_wrong_share": both})
    return pd.DataFrame(rows, columns=["task", "member_a", "member_b", "error_correlation", "both_wrong_share"])


def _nll(probs: np.ndarray, gold: np.ndarray, task: str) -> float:
    eps = 1e-12
    if TASKS[task].kind == "classify":
        return float(-np.log(probs[np.arange(len(gold)), gold.astype(int)] + eps).mean())
    return float(-(gold * np.log(probs + eps) + (1 - gold) * np.log(1 - probs + eps)).mean())


def fit_temperature(frame: pd.DataFrame, task: str) -> float:
    """T minimizing the NLL of softmax(logits / T) on labelled held-out predictions (1 for STS)."""
    if TASKS[task].kind == "regress":
        return 1.0
    gold = frame["gold"].to_numpy(dtype=float)
    res = minimize_scalar(lambda log_t: _nll(_calibrated(frame, task, float(np.exp(log_t))), gold, task),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def fit_calibration(calib: dict[str, pd.DataFrame], grid: int = 21) -> dict:
    """Per task: each member's temperature, then the members' weights on a simplex grid
    (NLL for classification, MSE for STS), all on the calibration split."""
    out = {}
    for task in TASKS:
        names = members_for(task, calib)
        if not names:
            continue
        frames = [calib[n][calib[n]["task"] == task].reset_index(drop=True) for n in names]
        temps = [fit_temperature(f, task) for f in frames]
        gold = frames[0]["gold"].to_numpy(dtype=float)
        steps = np.linspace(0, 1, grid)
        best = (np.inf, [1.0] * len(frames))
        for raw in itertools.product(steps, repeat=len(frames)):
            if not np.isclose(sum(raw), 1.0):
                continue
            mean = sum(w * _calibrated(f, task, t) for w, f, t in zip(raw, frames, temps))
            loss = float(((mean - gold) ** 2).mean()) if TASKS[task].kind == "regress" else _nll(mean, gold, task)
            if loss < best[0] - 1e-12:
                best = (loss, list(raw))
        out[task] = {"members": names, "temperatures": temps, "weights": best[1], "calib_loss": best[0]}
    return out


def scores(predictions: pd.DataFrame) -> dict:
    """Dev metrics and the overall score of one set of predictions (any tasks)."""
    metrics = metrics_of({t: g for t, g in predictions.groupby("task")})
    return {**metrics, "overall": overall_score(metrics)}


def subset_table(dev: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Dev scores of the plain average over every non-empty subset of members."""
    rows, names = [], list(dev)
    for k in range(1, len(names) + 1):
        for subset in itertools.combinations(names, k):
            s = scores(ensemble({n: dev[n] for n in subset}))
            rows.append({"members": " + ".join(subset), "size": k,
                         **{c: s.get(metrics_key(c)) for c in study_columns()}, "overall": s["overall"]})
    return pd.DataFrame(rows)

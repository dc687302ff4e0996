"""Predictions and metrics: accuracy, Pearson, the course's overall score, bootstrap CIs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .model import autocast
from .tasks import TASKS, normalized_score


@torch.inference_mode()
def predict(model: torch.nn.Module, data, task: str, batch_size: int = 64, pair_encoding: str = "siamese",
            device: torch.device | str = "cpu", precision: str = "fp32") -> pd.DataFrame:
    """One row per example, in file order: id, task, gold, prediction, then prob_k (classes)
    or prob (paraphrase probability) or score (similarity)."""
    was_training = model.training
    model.eval()
    kind, n = TASKS[task].kind, len(data)
    outputs: list[torch.Tensor] = [None] * n
    with torch.inference_mode(), autocast(device, precision):   # no autograd records: faster, less memory
        for idx in data.batches(batch_size, shuffle=False):   # longest first: little padding
            batch = {k: v.to(device) for k, v in data.collate(idx, pair_encoding).items() if k != "labels"}
            out = model(task, batch).float().cpu()
            for row, i in zip(out, idx):
                outputs[i] = row
    model.train(was_training)
    frame = {"id": [e.id for e in data.examples], "task": task,
             "gold": [e.label for e in data.examples] if data.has_labels else np.nan}
    if n == 0:
        return pd.DataFrame(frame | {"prediction": []})
    stacked = torch.stack(outputs)
    if kind == "classify":
        probs = torch.softmax(stacked, dim=-1).numpy()                   # (N, C)
        frame["prediction"] = probs.argmax(-1)
        frame |= {f"prob_{k}": probs[:, k] for k in range(probs.shape[1])}
    elif kind == "binary":
        prob = torch.sigmoid(stacked).numpy()                           # (N,)
        frame["prediction"], frame["prob"] = (prob > 0.5).astype(int), prob
    else:
        frame["prediction"] = stacked.numpy()
        frame["score"] = frame["prediction"]
    return pd.DataFrame(frame)


def task_metric(task: str, predictions: pd.DataFrame) -> float:
    """Accuracy, or Pearson r for STS."""
    gold = predictions["gold"].to_numpy(dtype=float)
    pred = predictions["prediction"].to_numpy(dtype=float)
    if TASKS[task].metric == "pearson":
        if len(gold) < 2 or np.std(pred) == 0 or np.std(gold) == 0:
            return 0.0
        return float(np.corrcoef(gold, pred)[0, 1])
    return float((gold == pred).mean())


def metrics_of(predictions: dict[str, pd.DataFrame]) -> dict[str, float]:
    """{task_metric_name: value} for each task's dev predictions."""
    return {TASKS[t].metric_name: task_metric(t, df) for t, df in predictions.items()}


def mean_normalized_score(metrics: dict[str, float]) -> float:
    """Mean over the tasks present of metric in [0, 1] (Pearson -> (r + 1) / 2): selects checkpoints."""
    values = [normalized_score(t, metrics[spec.metric_name]) for t, spec in TASKS.items() if spec.metric_name in metrics]
    return float(np.mean(values)) if values else float("nan")


def bootstrap_ci(task: str, predictions: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of the task metric, resampling dev examples."""
    rng = np.random.default_rng(seed)
    n = len(predictions)
    stats = [task_metric(task, predictions.iloc[rng.integers(0, n, n)]) for _ in range(n_boot)]
    return float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2))


def paired_bootstrap(task: str, a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
                     alpha: float = 0.05) -> dict:
    """Difference metric(b) - metric(a) on the same dev examples, with a paired percentile
    bootstrap CI: both systems are scored on the same resampled examples each time."""
    a = a.sort_values("id").reset_index(drop=True)
    b = b.sort_values("id").reset_index(drop=True)
    if a["id"].tolist() != b["id"].tolist():
        raise ValueError(f"{task}: the two prediction sets cover different examples")
    rng = np.random.default_rng(seed)
    n = len(a)
    deltas = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        deltas.append(task_metric(task, b.iloc[idx]) - task_metric(task, a.iloc[idx]))
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return {"task": task, "delta": task_metric(task, b) - task_metric(task, a), "ci_low": float(low),
            "ci_high": float(high), "significant": bool(low > 0 or high < 0)}

"""Predictions and metrics: accuracy, Pearson, the course's overall score, bootstrap CIs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ..base.tasks import TASKS, normalized_score
from .model import autocast


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


# ---------------------------------------------------------------- error analysis: per class and calibration

def per_class(predictions: pd.DataFrame, task: str = "sst") -> pd.DataFrame:
    """Precision, recall, F1 and support of each class of a classification task's predictions (columns gold,
    prediction), one row a class, by scikit-learn's precision_recall_fscore_support (zero_division 0)."""
    labels = list(range(TASKS[task].num_labels)) if TASKS[task].kind == "classify" else [0, 1]
    gold, pred = predictions["gold"].astype(int), predictions["prediction"].astype(int)
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    correct = [int(((gold == k) & (pred == k)).sum()) for k in labels]
    return pd.DataFrame({"class": labels, "precision": p, "recall": r, "f1": f, "support": n, "correct": correct})


def confusion(predictions: pd.DataFrame, task: str = "sst") -> pd.DataFrame:
    """The confusion matrix (rows: gold class, columns: predicted class; counts), scikit-learn's."""
    labels = list(range(TASKS[task].num_labels)) if TASKS[task].kind == "classify" else [0, 1]
    matrix = confusion_matrix(predictions["gold"].astype(int), predictions["prediction"].astype(int), labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="gold"), columns=pd.Index(labels, name="predicted"))


def sst_error_levels(predictions: pd.DataFrame) -> dict[str, float]:
    """Of the SST errors in ``predictions`` (columns task, gold, prediction): the share off by one level and the
    share off by at most two (the paper's Section 6 says 99% of its errors are within one or two levels)."""
    sst = predictions[predictions["task"] == "sst"]
    off = (sst["prediction"].astype(float) - sst["gold"].astype(float)).abs()
    off = off[off > 0]
    if off.empty:
        return {"sst_errors": 0, "sst_within_one": np.nan, "sst_within_two": np.nan}
    return {"sst_errors": int(len(off)), "sst_within_one": float((off == 1).mean()), "sst_within_two": float((off <= 2).mean())}


def sts_extremes(predictions: pd.DataFrame, band: float = 1.0) -> dict[str, float]:
    """How an STS head treats the ends of the 0-5 scale: the least-squares slope of prediction on gold (1: no
    shrinkage), the predictions' range, and, for the pairs whose gold lies within ``band`` of each end, their mean
    gold and mean prediction. 'Conservative at the extremes' (the paper's Section 6) reads as: the mean prediction
    above the mean gold at the low end and below it at the high end."""
    sts = predictions[predictions["task"] == "sts"]
    gold, pred = sts["gold"].to_numpy(float), sts["prediction"].to_numpy(float)
    if len(gold) < 2:
        return {}
    slope = float(np.polyfit(gold, pred, 1)[0])
    low, high = gold <= band, gold >= 5 - band
    out = {"sts_slope": slope, "sts_min": float(pred.min()), "sts_max": float(pred.max()),
           "low_gold": float(gold[low].mean()), "low_prediction": float(pred[low].mean()),
           "high_gold": float(gold[high].mean()), "high_prediction": float(pred[high].mean())}
    out["conservative"] = bool(out["low_prediction"] > out["low_gold"] and out["high_prediction"] < out["high_gold"])
    return out


def top_label_confidence(predictions: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) per example: the probability the model gave its predicted label (SST: the largest
    class probability; paraphrase: p or 1 - p), and whether that label is the gold one. Shapes (N,), (N,)."""
    if TASKS[task].kind == "classify":
        probs = predictions[[f"prob_{k}" for k in range(TASKS[task].num_labels)]].to_numpy(float)   # (N, C)
        confidence = probs.max(1)
    elif TASKS[task].kind == "binary":
        p = predictions["prob"].to_numpy(float)                                                       # (N,)
        confidence = np.where(predictions["prediction"].to_numpy(int) == 1, p, 1 - p)
    else:
        raise ValueError(f"{task}: calibration needs class probabilities, and {task!r} is a regression task")
    return confidence, (predictions["prediction"].to_numpy(int) == predictions["gold"].to_numpy(int))


def reliability(predictions: pd.DataFrame, task: str, bins: int = 10) -> pd.DataFrame:
    """The reliability diagram's table: top-label confidence in ``bins`` equal-width bins over [0, 1] (the last
    closed), each bin's count, mean confidence and accuracy (Guo et al. 2017, "On Calibration of Modern Neural
    Networks", section 2). Empty bins are left out."""
    confidence, correct = top_label_confidence(predictions, task)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = [{"bin": b, "low": edges[b], "high": edges[b + 1], "count": int((which == b).sum()),
             "confidence": float(confidence[which == b].mean()), "accuracy": float(correct[which == b].mean())}
            for b in range(bins) if (which == b).any()]
    return pd.DataFrame(rows, columns=["bin", "low", "high", "count", "confidence", "accuracy"])


def expected_calibration_error(table: pd.DataFrame) -> float:
    """ECE of a reliability table: sum over bins of count / N * |accuracy - confidence| (Guo et al. 2017, eq. 3)."""
    n = table["count"].sum()
    return float((table["count"] / n * (table["accuracy"] - table["confidence"]).abs()).sum())


def reliability_by_stage(stages: dict[str, pd.DataFrame], tasks=("sst", "para"), bins: int = 10) -> pd.DataFrame:
    """``reliability`` of each task of each set of predictions ({stage: predictions of several tasks}, e.g. an
    ensemble before and after its calibration), stacked with columns task and stage."""
    parts = [reliability(frame[frame["task"] == task], task, bins).assign(task=task, stage=stage)
             for stage, frame in stages.items() for task in tasks if (frame["task"] == task).any()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def calibration_errors(table: pd.DataFrame) -> pd.DataFrame:
    """ECE and example count of each (task, stage) of a reliability_by_stage table."""
    return pd.DataFrame([{"task": task, "stage": stage, "ece": expected_calibration_error(rows),
                          "examples": int(rows["count"].sum())}
                         for (task, stage), rows in table.groupby(["task", "stage"], sort=False)])

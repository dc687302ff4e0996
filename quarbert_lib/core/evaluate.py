"""Predictions and metrics: accuracy, Pearson, the course's overall score, bootstrap CIs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import stats
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


def bootstrap_ci(task: str, predictions: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of the task metric, resampling dev examples."""
    rng = np.random.default_rng(seed)
    n = len(predictions)
    stats = [task_metric(task, predictions.iloc[rng.integers(0, n, n)]) for _ in range(n_boot)]
    return float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2))


def _aligned(frames: list[pd.DataFrame], ids: list[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    """(gold (N,), predictions (S, N)) of several seeds' prediction frames, rows in the order of ``ids``."""
    preds = []
    for frame in frames:
        frame = frame.set_index(frame["id"].astype(str))
        if sorted(frame.index) != sorted(ids):
            raise ValueError(f"{task}: the prediction sets cover different examples")
        preds.append(frame.loc[ids, "prediction"].to_numpy(float))
    return frames[0].set_index(frames[0]["id"].astype(str)).loc[ids, "gold"].to_numpy(float), np.stack(preds)


def _seed_mean_metric(task: str, gold: np.ndarray, preds: np.ndarray) -> float:
    """The task metric averaged over seeds: gold (N,), preds (S, N)."""
    if TASKS[task].metric == "pearson":
        return float(np.mean([np.corrcoef(gold, p)[0, 1] for p in preds]))
    return float((preds == gold).mean())


def paired_bootstrap(task: str, before: list[pd.DataFrame], after: list[pd.DataFrame], margin: float = 0.0,
                     n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict:
    """A step's effect on the dev set and how much another draw of dev examples could move it: the mean over
    seeds of metric(after) minus the mean over seeds of metric(before), every seed's predictions scored on
    the same resampled examples (a paired percentile bootstrap over dev examples, scipy.stats.bootstrap).

    ``before``, ``after``: each seed's prediction frame (id, gold, prediction) of the two rows, over the same
    examples (else ValueError). ``margin``: the smallest effect of interest (verdicts.margins()); the verdict is
    'helps' / 'hurts' when the whole interval is beyond +margin / -margin, 'within margin' when it lies inside
    ±margin, 'inconclusive' otherwise, so a difference too small to matter is never called significant.
    Returns task, delta, ci_low, ci_high, margin, verdict, significant (helps or hurts), bootstrap_seeds
    ('before/after' seed counts).
    """
    ids = sorted(before[0]["id"].astype(str))
    gold, a = _aligned(before, ids, task)             # (N,), (S_a, N)
    _, b = _aligned(after, ids, task)                 # (S_b, N)
    delta = _seed_mean_metric(task, gold, b) - _seed_mean_metric(task, gold, a)
    statistic = lambda idx: _seed_mean_metric(task, gold[idx], b[:, idx]) - _seed_mean_metric(task, gold[idx], a[:, idx])  # noqa: E731
    res = stats.bootstrap((np.arange(len(ids)),), statistic, n_resamples=n_boot, confidence_level=1 - alpha,
                          method="percentile", vectorized=False, random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    verdict = ("helps" if low > margin else "hurts" if high < -margin else
               "within margin" if -margin <= low and high <= margin else "inconclusive")
    return {"task": task, "delta": delta, "ci_low": low, "ci_high": high, "margin": margin, "verdict": verdict,
            "significant": verdict in ("helps", "hurts"), "bootstrap_seeds": f"{len(a)}/{len(b)}"}


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

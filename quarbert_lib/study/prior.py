"""The encoder's prior: what the frozen encoder already scores before any training.

all-MiniLM-L6-v2 was trained contrastively on about a billion sentence pairs, Quora duplicates among them
(sentence-transformers' model card), so its mean-pooled embeddings already order STS pairs and separate
Quora paraphrases. Every ladder row is fine-tuned on top of that, and a step that adds a cosine head or
SimCSE adds it to an encoder that was trained for exactly that. This module measures the prior, with no
weight trained:

- STS: Pearson r of the cosine of the two sentences' mean-pooled embeddings, on the dev pairs (the
  cosine STS head's untrained score 2.5 (cos + 1) is an affine map of the cosine, so it has the same r);
- QQP: accuracy of "duplicate when cos >= t", with the threshold t that maximises accuracy on the Quora
  training split, on the dev pairs;
- SST: the frozen encoder has no zero-shot sentiment; its prior is a linear probe, the single-task run with
  the encoder frozen (notebook 01's `sst-pretrain`), read from its run or its record.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from ..base.paths import tables_dir, use_profile_reports
from ..base.tasks import normalized_score
from ..core.config import DataConfig, ModelConfig, profile_config
from ..core.data import TaskData, load_task
from ..core.evaluate import predict, task_metric
from ..core.model import build_model
from .results import RunNotFound, find_run, read_json, read_table, rounded, run_name, upsert_rows

COSINE_HEAD = "cosine-linear"      # 2.5 (cos + 1): an affine map of the cosine


def cosines(model, data: TaskData, batch_size: int = 128) -> np.ndarray:
    """cos(u, v) (N,) of each pair of ``data`` from the model's untrained cosine STS head (its score / 2.5 - 1)."""
    scores = predict(model, data, "sts", batch_size)["score"].to_numpy(dtype=float)
    return scores / 2.5 - 1.0


def best_threshold(cos: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """(t, accuracy) of the rule 'positive when cos >= t' that is most accurate on (cos, gold); candidate
    thresholds are the midpoints between consecutive distinct cosines (and the ends)."""
    values = np.unique(cos)
    candidates = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    order = np.argsort(cos)
    sorted_cos, sorted_gold = cos[order], gold[order].astype(float)
    # accuracy(t) = (negatives below t + positives at or above t) / N, for every candidate at once
    below = np.searchsorted(sorted_cos, candidates, side="left")
    neg_below = np.concatenate([[0], np.cumsum(1 - sorted_gold)])[below]
    pos_above = sorted_gold.sum() - np.concatenate([[0], np.cumsum(sorted_gold)])[below]
    accuracy = (neg_below + pos_above) / len(cos)
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def zero_shot(encoder: str = "minilm-l6", data_cfg: DataConfig | None = None, linear_probe_sst: float | None = None,
              max_length: int = 128) -> pd.DataFrame:
    """One row per task of the frozen encoder's prior (columns task, method, metric, value, detail) and an
    'overall' row when the SST linear probe's accuracy is given (the course's score of the three)."""
    data_cfg = data_cfg or DataConfig(skip_bad_rows=True)
    model, tokenizer = build_model(["sts"], ModelConfig(encoder=encoder, sts_head=COSINE_HEAD, hidden_dropout=0.0),
                                   max_length=max_length)
    model.eval()
    rows = []
    with torch.inference_mode():
        sts = load_task("sts", data_cfg)
        dev = TaskData(sts.spec, sts.splits["dev"], tokenizer, max_length)
        frame = predict(model, dev, "sts", 128)
        r = task_metric("sts", frame)
        rows.append({"task": "sts", "method": "cosine of mean-pooled embeddings", "metric": "sts_pearson",
                     "value": r, "detail": f"{len(dev)} dev pairs, no training"})
        para = load_task("para", data_cfg)
        train, dev = (TaskData(para.spec, para.splits[s], tokenizer, max_length) for s in ("train", "dev"))
        threshold, train_acc = best_threshold(cosines(model, train), np.array([e.label for e in train.examples]))
        dev_cos, dev_gold = cosines(model, dev), np.array([e.label for e in dev.examples])
        acc = float(((dev_cos >= threshold).astype(int) == dev_gold).mean())
        rows.append({"task": "para", "method": "cosine >= threshold fitted on the Quora training split",
                     "metric": "qqp_acc", "value": acc,
                     "detail": f"threshold {threshold:.4f} ({train_acc:.4f} on {len(train)} training pairs); "
                               f"{len(dev)} dev pairs"})
    if linear_probe_sst is not None:
        rows.append({"task": "sst", "method": "linear probe on the frozen encoder (notebook 01, sst-pretrain)",
                     "metric": "sst_acc", "value": float(linear_probe_sst), "detail": "its trained head only"})
        overall = (normalized_score("sst", linear_probe_sst) + normalized_score("para", acc)
                   + normalized_score("sts", r)) / 3
        rows.append({"task": "all", "method": "the three priors in the course's overall score", "metric": "overall",
                     "value": overall, "detail": "(sst + qqp + (r + 1) / 2) / 3"})
    return pd.DataFrame(rows)


PRIOR_TABLE = "encoder_prior.csv"


def measure(profile: str, encoder: str = "minilm-l6", force: bool = False) -> pd.DataFrame:
    """The prior of ``encoder`` on ``profile``'s data (its training cap for the Quora threshold, its dev cap),
    saved to reports/tables/encoder_prior.csv (columns profile, encoder, task, method, metric, value, detail).
    A table that already holds this profile and encoder is read, not measured again, unless ``force``: the
    measurement is deterministic and takes a minute or two on this CPU. The SST linear probe is notebook 01's
    frozen single-task run of seed 0, where the registry (or its record) holds it."""
    saved = read_table(PRIOR_TABLE, profile, encoder)
    if saved is not None and len(saved) and not force:
        return saved
    try:
        probe = read_json(find_run(run_name("sst", "pretrain", seed=0), profile, encoder) / "metrics.json")["sst_acc"]
    except RunNotFound:
        probe = None
    cfg = profile_config(profile, model__encoder=encoder)
    table = zero_shot(encoder, cfg.data, probe, cfg.data.max_length).assign(profile=profile, encoder=encoder)
    table = table[["profile", "encoder", *[c for c in table.columns if c not in ("profile", "encoder")]]]
    upsert_rows(tables_dir() / PRIOR_TABLE, table.to_dict("records"), ["profile", "encoder", "task"])
    return rounded(table).reset_index(drop=True)        # as saved: what a second call reads back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib prior",
                                     description="Measure the frozen encoder's prior into reports/tables/encoder_prior.csv.")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--encoder", default="minilm-l6")
    parser.add_argument("--force", action="store_true", help="measure again even when the table holds this profile")
    args = parser.parse_args(argv)
    use_profile_reports(args.profile)
    print(measure(args.profile, args.encoder, args.force).to_string(index=False))
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

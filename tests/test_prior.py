"""The encoder's prior against reference computations: the cosine of mean-pooled embeddings by hand, and
the best threshold by brute force."""
import numpy as np
import pytest
import torch

from quarbert_lib.core.config import DataConfig
from quarbert_lib.core.data import load_task
from quarbert_lib.core.model import load_encoder
from quarbert_lib.study import prior


def test_best_threshold_is_the_most_accurate_cut():
    rng = np.random.default_rng(0)
    cos = np.round(rng.uniform(-1, 1, 200), 2)                      # ties included
    gold = (cos + rng.normal(0, 0.4, 200) > 0.1).astype(int)
    t, acc = prior.best_threshold(cos, gold)
    brute = max(((c, ((cos >= c).astype(int) == gold).mean()) for c in np.concatenate([cos, [2.0]])),
                key=lambda x: x[1])
    assert acc == pytest.approx(brute[1]) and ((cos >= t).astype(int) == gold).mean() == pytest.approx(acc)


def _mean_pooled(encoder, tokenizer, sentences, max_length):
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**batch).last_hidden_state                   # (B, T, H)
    mask = batch["attention_mask"].unsqueeze(-1).float()               # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1)                        # (B, H)


def test_zero_shot_sts_is_the_pearson_of_the_mean_pooled_cosine(tiny_encoder_dir, mini_data_dir):
    cfg = DataConfig(data_dir=str(mini_data_dir), max_length=32)
    table = prior.zero_shot(str(tiny_encoder_dir), cfg, linear_probe_sst=0.3, max_length=32).set_index("metric")
    encoder, tokenizer = load_encoder(str(tiny_encoder_dir))
    encoder.eval()
    dev = load_task("sts", cfg).splits["dev"]
    u = _mean_pooled(encoder, tokenizer, [e.sentence1 for e in dev], 32)
    v = _mean_pooled(encoder, tokenizer, [e.sentence2 for e in dev], 32)
    cos = torch.nn.functional.cosine_similarity(u, v).numpy()
    r = np.corrcoef(cos, [e.label for e in dev])[0, 1]
    assert table.loc["sts_pearson", "value"] == pytest.approx(r, abs=1e-5)
    para = load_task("para", cfg).splits
    train_cos = [torch.nn.functional.cosine_similarity(*(_mean_pooled(encoder, tokenizer, [s], 32) for s in
                 (e.sentence1, e.sentence2))).item() for e in para["train"]]
    t, _ = prior.best_threshold(np.array(train_cos), np.array([e.label for e in para["train"]]))
    dev_cos = np.array([torch.nn.functional.cosine_similarity(*(_mean_pooled(encoder, tokenizer, [s], 32) for s in
                        (e.sentence1, e.sentence2))).item() for e in para["dev"]])
    acc = ((dev_cos >= t).astype(int) == np.array([e.label for e in para["dev"]])).mean()
    assert table.loc["qqp_acc", "value"] == pytest.approx(acc)
    expected = (0.3 + acc + (r + 1) / 2) / 3
    assert table.loc["overall", "value"] == pytest.approx(expected, abs=1e-5)


def test_measure_saves_the_table_and_reads_it_back(isolated, tiny_encoder_dir, monkeypatch):
    first = prior.measure("smoke", str(tiny_encoder_dir))
    assert set(first["task"]) == {"sts", "para"}                       # no linear probe run in this registry
    monkeypatch.setattr(prior, "zero_shot", lambda *a, **k: pytest.fail("measured again"))
    again = prior.measure("smoke", str(tiny_encoder_dir))
    assert again[["task", "value"]].equals(first[["task", "value"]])

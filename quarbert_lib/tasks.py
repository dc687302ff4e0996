"""The four course tasks as data: files, label fields, head shape, metric.

Everything task-specific that the model, losses, evaluation and registry need is read
from a TaskSpec, so none of them branches on a task's name.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str            # 'classify' (softmax), 'binary' (one logit), 'regress' (a score)
    is_pair: bool
    label_field: str     # column in the course CSV
    num_labels: int      # head outputs: classes, or 1
    label_range: tuple[float, float]
    files: dict          # split -> file name
    metric: str          # 'acc' or 'pearson'
    test_output: tuple[str, str]   # (test file name, header) of the course's output format (the starter's strings)

    @property
    def metric_name(self) -> str:
        return f"{self.name}_{self.metric}"


TASKS: dict[str, TaskSpec] = {
    "sst": TaskSpec("sst", "classify", False, "sentiment", 5, (0, 4),
                    {"train": "ids-sst-train.csv", "dev": "ids-sst-dev.csv", "test": "ids-sst-test-student.csv"},
                    "acc", ("sst-test-output.csv", "id \t Predicted_Sentiment ")),
    "cfimdb": TaskSpec("cfimdb", "classify", False, "sentiment", 2, (0, 1),
                       {"train": "ids-cfimdb-train.csv", "dev": "ids-cfimdb-dev.csv",
                        "test": "ids-cfimdb-test-student.csv"},
                       "acc", ("cfimdb-test-output.csv", "id \t Predicted_Sentiment ")),
    "para": TaskSpec("para", "binary", True, "is_duplicate", 1, (0, 1),
                     {"train": "quora-train.csv", "dev": "quora-dev.csv", "test": "quora-test-student.csv"},
                     "acc", ("para-test-output.csv", "id \t Predicted_Is_Paraphrase ")),
    "sts": TaskSpec("sts", "regress", True, "similarity", 1, (0.0, 5.0),
                    {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test-student.csv"},
                    "pearson", ("sts-test-output.csv", "id \t Predicted_Similiary ")),
}


# Sentences without labels (the SimCSE stage): batches carry no 'labels'.
SENTENCES = TaskSpec("sentences", "unlabeled", False, "", 0, (0, 0), {}, "", ("", ""))


def normalized_score(task: str, value: float) -> float:
    """Map a task metric to [0, 1] as the course's overall score does (Pearson r -> (r+1)/2)."""
    return (value + 1.0) / 2.0 if TASKS[task].metric == "pearson" else value


def overall_score(metrics: dict) -> float | None:
    """The course's score: (sst_acc + para_acc + (sts_pearson + 1) / 2) / 3; None if a task is missing."""
    needed = ("sst", "para", "sts")
    if not all(TASKS[t].metric_name in metrics for t in needed):
        return None
    return sum(normalized_score(t, metrics[TASKS[t].metric_name]) for t in needed) / 3.0

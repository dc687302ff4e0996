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
    column: str = ""     # its metric's column in the study's tables ('' : metric_name); Quora's is 'qqp_acc'
    label: str = ""      # its metric as a reader sees it: 'QQP acc'
    short: str = ""      # the task in a sentence: 'QQP'
    margin: float = 0.01  # the smallest effect of interest on its metric (verdicts.py derives each)

    @property
    def metric_name(self) -> str:
        """Its key in metrics.json and the trainer's evaluations: 'sst_acc', 'para_acc', 'sts_pearson'."""
        return f"{self.name}_{self.metric}"

    @property
    def table_column(self) -> str:
        return self.column or self.metric_name


TASKS: dict[str, TaskSpec] = {
    "sst": TaskSpec("sst", "classify", False, "sentiment", 5, (0, 4),
                    {"train": "ids-sst-train.csv", "dev": "ids-sst-dev.csv", "test": "ids-sst-test-student.csv"},
                    "acc", ("sst-test-output.csv", "id \t Predicted_Sentiment "), "", "SST acc", "SST", 0.015),
    "cfimdb": TaskSpec("cfimdb", "classify", False, "sentiment", 2, (0, 1),
                       {"train": "ids-cfimdb-train.csv", "dev": "ids-cfimdb-dev.csv",
                        "test": "ids-cfimdb-test-student.csv"},
                       "acc", ("cfimdb-test-output.csv", "id \t Predicted_Sentiment "), "", "CFIMDB acc", "CFIMDB", 0.01),
    "para": TaskSpec("para", "binary", True, "is_duplicate", 1, (0, 1),
                     {"train": "quora-train.csv", "dev": "quora-dev.csv", "test": "quora-test-student.csv"},
                     "acc", ("para-test-output.csv", "id \t Predicted_Is_Paraphrase "), "qqp_acc", "QQP acc", "QQP", 0.01),
    "sts": TaskSpec("sts", "regress", True, "similarity", 1, (0.0, 5.0),
                    {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test-student.csv"},
                    "pearson", ("sts-test-output.csv", "id \t Predicted_Similiary "), "", "STS r", "STS", 0.01),
}


# Sentences without labels (the SimCSE stage): batches carry no 'labels'.
SENTENCES = TaskSpec("sentences", "unlabeled", False, "", 0, (0, 0), {}, "", ("", ""))


def normalized_score(task: str, value: float) -> float:
    """Map a task metric to [0, 1] as the course's overall score does (Pearson r -> (r+1)/2)."""
    return (value + 1.0) / 2.0 if TASKS[task].metric == "pearson" else value


# The multitask study's tasks, in table order: the course's three. The tables, verdicts, findings and figures loop
# over them, each reading its column, label and margin from its TaskSpec; a study of a fourth task appends it here.
STUDY_TASKS: list[str] = ["sst", "para", "sts"]


def study_columns() -> list[str]:
    """The study tasks' metric columns in table order: ['sst_acc', 'qqp_acc', 'sts_pearson']."""
    return [TASKS[t].table_column for t in STUDY_TASKS]


def metric_labels() -> dict[str, str]:
    """{table column: label} of the study's tasks, then 'overall'."""
    return {**{TASKS[t].table_column: TASKS[t].label for t in STUDY_TASKS}, "overall": "overall"}


def metrics_key(column: str) -> str:
    """The metrics.json key of a study table column ('qqp_acc' -> 'para_acc')."""
    return next(TASKS[t].metric_name for t in STUDY_TASKS if TASKS[t].table_column == column)


def overall_score(metrics: dict) -> float | None:
    """The mean of the study tasks' metrics mapped to [0, 1]: with the course's three tasks its score,
    (sst_acc + para_acc + (sts_pearson + 1) / 2) / 3. None if a task is missing."""
    if not all(TASKS[t].metric_name in metrics for t in STUDY_TASKS):
        return None
    return sum(normalized_score(t, metrics[TASKS[t].metric_name]) for t in STUDY_TASKS) / len(STUDY_TASKS)

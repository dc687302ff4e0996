"""QuarBERT lab: multitask BERT fine-tuning (SST-5, Quora, STS-B), reproducing and extending
"QuarBERT: Optimizing BERT with Multitask Learning and Quartet Ensemble"."""
from .base.tasks import TASKS, overall_score
from .core.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig, profile_config
from .core.data import DataError, TaskData, load_csv, load_task, quora_hash_split
from .core.evaluate import metrics_of, predict
from .core.model import MultitaskBERT, build_model, load_encoder
from .core.train import Trainer
from .study.experiment import run_experiment

__all__ = [
    "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig", "TrainConfig", "profile_config",
    "DataError", "TaskData", "load_csv", "load_task", "quora_hash_split", "metrics_of", "predict",
    "run_experiment", "MultitaskBERT", "build_model", "load_encoder", "TASKS", "overall_score", "Trainer",
]

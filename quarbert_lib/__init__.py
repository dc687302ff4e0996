"""QuarBERT lab: multitask BERT fine-tuning (SST-5, Quora, STS-B), reproducing and extending
"QuarBERT: Optimizing BERT with Multitask Learning and Quartet Ensemble"."""
from .config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig, profile_config
from .data import DataError, TaskData, load_csv, load_task, quora_hash_split
from .evaluate import metrics_of, predict
from .experiment import run_experiment
from .model import MultitaskBERT, build_model, load_encoder
from .tasks import TASKS, overall_score
from .train import Trainer

__all__ = [
    "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig", "TrainConfig", "profile_config",
    "DataError", "TaskData", "load_csv", "load_task", "quora_hash_split", "metrics_of", "predict",
    "run_experiment", "MultitaskBERT", "build_model", "load_encoder", "TASKS", "overall_score", "Trainer",
]

"""The model and its training, knowing nothing of the study: configs and profiles, the course data and its
splits, the multitask model and LoRA wrapping, the sampler, the one generic trainer, predictions and metrics."""

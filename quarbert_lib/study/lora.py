"""LoRA through PEFT, and the LoRA quartet served from one frozen backbone.

The task heads stay outside the PEFT wrapper (PEFT's ``modules_to_save`` for per-adapter heads
has open issues): each run saves its adapter in PEFT's format under ``adapter/`` and its heads
beside it in ``heads.pt``. ``LoraQuartet`` loads one backbone, attaches every member's adapter
by name, and keeps each member's heads, so four members cost about one model's memory.
"""
from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel
from torch import nn

# re-exported: the LoRA pieces that know nothing of the multitask model live in adapters
from ..core.adapters import TARGETS, _known_peft_warnings, expected_lora_params, peft_config, wrap_encoder  # noqa: F401
from ..core.config import ExperimentConfig, ModelConfig
from ..core.model import MultitaskBERT, load_encoder, load_weights

ADAPTER_DIR, HEADS_FILE = "adapter", "heads.pt"


def save_lora(model: MultitaskBERT, run_dir: Path) -> None:
    """Adapter in PEFT's format plus the heads, beside it."""
    run_dir = Path(run_dir)
    model.encoder.save_pretrained(run_dir / ADAPTER_DIR)
    tmp = run_dir / f".{HEADS_FILE}.tmp"
    torch.save(model.heads.state_dict(), tmp)
    tmp.replace(run_dir / HEADS_FILE)


class LoraQuartet(nn.Module):
    """Members' adapters on one frozen backbone; each member keeps its own heads.

    ``members`` maps a member name to (run folder, ExperimentConfig) of a LoRA run.
    All members must share the encoder, pooling and pair encoding.
    """

    def __init__(self, members: dict[str, tuple[Path, ExperimentConfig]]):
        super().__init__()
        first = next(iter(members.values()))[1]
        self.model_cfg: ModelConfig = first.model
        for name, (_, cfg) in members.items():
            same = (cfg.model.encoder, cfg.model.pooling, cfg.model.pair_encoding)
            if same != (first.model.encoder, first.model.pooling, first.model.pair_encoding):
                raise ValueError(f"member {name!r} uses another encoder/pooling/pair encoding: {same}")
        base, self.tokenizer = load_encoder(first.model.encoder)
        names = list(members)
        with _known_peft_warnings():
            encoder = PeftModel.from_pretrained(base, str(members[names[0]][0] / ADAPTER_DIR), adapter_name=names[0])
            for name in names[1:]:
                encoder.load_adapter(str(members[name][0] / ADAPTER_DIR), adapter_name=name)
        self.encoder = encoder.eval()
        self.members = {}
        for name, (folder, cfg) in members.items():
            shell = MultitaskBERT(self.encoder, cfg.tasks, cfg.model)      # shares the one encoder
            shell.heads.load_state_dict(load_weights(folder / HEADS_FILE))
            self.members[name] = shell.eval()
        self.heads = nn.ModuleDict({n: m.heads for n, m in self.members.items()})  # counted in parameters()

    def member(self, name: str) -> MultitaskBERT:
        """The member's model, with its adapter active."""
        self.encoder.set_adapter(name)
        return self.members[name]

    @torch.inference_mode()
    def mixed_forward(self, task: str, batch: dict, names: list[str]) -> dict[str, torch.Tensor]:
        """One forward pass for several members: the batch repeated once per member, each copy
        routed to its adapter (PEFT's mixed-adapter batches). Returns {member: outputs}."""
        n, b = len(names), len(batch["input_ids"])
        big = {k: v.repeat(n, *([1] * (v.dim() - 1))) for k, v in batch.items() if k != "labels"}
        routes = [name for name in names for _ in range(b)]
        shell = self.members[names[0]]
        if "input_ids_2" in big:
            u = shell.pool(self.encoder(input_ids=big["input_ids"], attention_mask=big["attention_mask"],
                                          adapter_names=routes).last_hidden_state, big["attention_mask"])
            v = shell.pool(self.encoder(input_ids=big["input_ids_2"], attention_mask=big["attention_mask_2"],
                                          adapter_names=routes).last_hidden_state, big["attention_mask_2"])
            feats, pair = torch.cat([u, v, (u - v).abs(), u * v], -1), (u, v)
        else:
            hidden = self.encoder(input_ids=big["input_ids"], attention_mask=big["attention_mask"],
                                  token_type_ids=big.get("token_type_ids"), adapter_names=routes).last_hidden_state
            feats, pair = shell.pool(hidden, big["attention_mask"]), None
        out = {}
        for i, name in enumerate(names):
            rows = slice(i * b, (i + 1) * b)
            out[name] = self.members[name].head(task, feats[rows], pair and (pair[0][rows], pair[1][rows]))
        return out

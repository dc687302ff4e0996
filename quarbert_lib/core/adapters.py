"""LoRA on the encoder, with no knowledge of the multitask model (Hu et al. 2021, "LoRA: Low-Rank Adaptation
of Large Language Models"): which Linear modules get adapters, the PEFT config, wrapping an encoder, and the
parameter count the wrap must add. quarbert_lib.study.lora builds the multitask LoRA quartet on top of this.
"""
from __future__ import annotations

import re
import warnings
from contextlib import contextmanager

from peft import LoraConfig, get_peft_model
from torch import nn

from .config import LoraSettings

# Regexes over module names; 'dense' alone would also hit BERT's unused pooler.
TARGETS = {
    "qkv": r".*encoder\.layer\.\d+\.attention\.self\.(query|key|value)",
    "all-linear": r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
                  r"|intermediate\.dense|output\.dense)",
}


def peft_config(settings: LoraSettings):
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=TARGETS[settings.targets], bias="none")


@contextmanager
def _known_peft_warnings():
    """PEFT asks transformers for `is_gradient_checkpointing`, which transformers deprecates with a FutureWarning
    on every wrap and load: a message to PEFT's authors, not to a reader of our notebooks."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def wrap_encoder(encoder: nn.Module, settings: LoraSettings, adapter_name: str = "default") -> nn.Module:
    """The encoder inside a PeftModel: base weights frozen, one trainable adapter."""
    with _known_peft_warnings():
        return get_peft_model(encoder, peft_config(settings), adapter_name=adapter_name)


def expected_lora_params(encoder: nn.Module, settings: LoraSettings) -> int:
    """r * (d_in + d_out) summed over the Linear modules the targets select (the A and B matrices)."""
    pattern = re.compile(TARGETS[settings.targets])
    return sum(settings.r * (m.in_features + m.out_features) for name, m in encoder.named_modules()
               if isinstance(m, nn.Linear) and pattern.fullmatch(name))

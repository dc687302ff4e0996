"""The smallest shared pieces of the configuration: the error type and the field helpers.

Both ``config`` (the experiment's sections) and the regularizer modules of ``losses`` (each owns its
section) build on these, so they live below both: ``config`` imports ``losses``, and neither
``losses`` nor this module imports ``config``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from .errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration value is not allowed; the message names the field."""


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING):
    """A dataclass field whose ``metadata["help"]`` documents it (as in peft / SimCSE)."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise ConfigError naming the field ``name`` (e.g. 'smart.weight') unless ``ok``."""
    if not ok:
        raise ConfigError(f"config field {name!r} = {value!r} is not allowed: expected {allowed}")

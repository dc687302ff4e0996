"""The smallest shared pieces of the configuration: the error type and the field helpers.

Both ``config`` (the experiment's sections) and the regularizer modules of ``losses`` (each owns its
section) build on these, so they live below both: ``config`` imports ``losses``, and neither
``losses`` nor this module imports ``config``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
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


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type ``hint`` (a bool is no number; an int is a float)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if origin is list:
        return f"a list of {_type_name((typing.get_args(hint) or (Any,))[0])}s"
    return {bool: "true or false", int: "an integer", float: "a number", str: "text", type(None): "None"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def check_types(section: Any, prefix: str = "") -> None:
    """Raise ConfigError naming the first field of the dataclass ``section`` whose value is not of its annotated
    type ('train.lr' = '5e-5' is text, where a number is expected): a value of the wrong type would otherwise be
    a TypeError deep in training, or read wrongly (the text "false" is true; "sst" is a list of letters)."""
    hints = typing.get_type_hints(type(section))
    for f in dataclasses.fields(section):
        value, hint = getattr(section, f.name), hints[f.name]
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_types(value, name + ".")
        elif not _fits(value, hint):
            kind = {bool: "true or false", str: "text"}.get(type(value), type(value).__name__)
            raise ConfigError(f"config field {name!r} = {value!r} is {kind}, not {_type_name(hint)}: write it as "
                              f"{_type_name(hint)} (in JSON, numbers and true / false go without quotes)")

"""The regularizer registry: each regularizer module registers its config section and its builder.

An entry is (name, config class, builder, order). ``name`` is the config section (``cfg.smart``) and
the objective's key; the config class owns its fields and its ``validate``; the builder turns the
section into the term's module, ``build(section, model, seed) -> nn.Module | None`` (None: off).
``regularizers()`` lists them by ``order``, which is the order the objective adds their terms. It is
explicit, not the import order, because it is part of a run's arithmetic: the terms are summed in it and
SimCSE's passes draw from the global RNG, so the saved runs (SMART, then MBPP, then SimCSE) stay
bit-identical only in that order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

Builder = Callable[[Any, nn.Module, int], "nn.Module | None"]


@dataclass(frozen=True)
class Regularizer:
    name: str           # the config section and the objective's key
    config: type        # the section's dataclass: fields with help text, validate(), cost_tag()
    build: Builder      # (section, model, seed) -> the term's module, or None when the section is off
    order: int          # position in the objective: lower first


_REGISTRY: dict[str, Regularizer] = {}


def register(config: type, build: Builder, order: int) -> Regularizer:
    """Add a regularizer whose section is ``config.section``; ValueError for a name or order taken."""
    name = config.section
    taken = {r.order: r.name for r in _REGISTRY.values()}
    if name in _REGISTRY or order in taken:
        raise ValueError(f"regularizer {name!r} (order {order}) clashes with {_REGISTRY.get(name) or taken[order]!r}")
    entry = _REGISTRY[name] = Regularizer(name, config, build, order)
    return entry


def regularizers() -> list[Regularizer]:
    """Every registered regularizer, in the order the objective applies them."""
    return sorted(_REGISTRY.values(), key=lambda r: r.order)

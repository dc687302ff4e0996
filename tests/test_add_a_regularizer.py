"""Adding a regularizer is one module in losses/ and one variant in study/recipes.py, and nothing else: the config
section comes from the registry (core.config builds ExperimentConfig's fields from it), validation and the cost
tag from the section's own class, and the objective adds the term in its registered order.

The test copies the package, adds the module and the variant there as a new engineer would, and trains the variant
on the tiny encoder in a fresh interpreter (a module must be there before the package is imported)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import quarbert_lib

MODULE = '''"""Logit squeezing (Kannan et al., 2018, "Adversarial Logit Pairing"): a penalty on the outputs' size."""
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from ..base.configbase import _check, _help
from .registry import register


@dataclass
class SqueezeConfig:
    section: ClassVar[str] = "squeeze"
    title: ClassVar[str] = "Logit squeezing: a penalty on the outputs' size."

    weight: float = _help("Weight of mean(outputs ** 2); 0: off.", 0.0)

    def validate(self, experiment: Any = None) -> "SqueezeConfig":
        _check(self.weight >= 0, "squeeze.weight", self.weight, ">= 0 (0: off)")
        return self

    def cost_tag(self) -> str | None:
        return None


class Squeeze(nn.Module):
    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, model, task, batch, embeds, clean_out, rng):
        return self.weight * clean_out.float().pow(2).mean()          # outputs (B, C) or (B,)


def build(config: SqueezeConfig, model: nn.Module, seed: int) -> Squeeze | None:
    return Squeeze(config.weight) if config.weight > 0 else None


register(SqueezeConfig, build, order=50)
'''

VARIANT = '\nVARIANTS["sampling-squeeze"] = {**VARIANTS["sampling"], "squeeze__weight": 5.0}\n'

SCRIPT = '''
import json, sys
import quarbert_lib
from quarbert_lib.core.config import ConfigError, ExperimentConfig, describe, profile_config
from quarbert_lib.study import recipes, results
from quarbert_lib.study.experiment import find_or_train

encoder = sys.argv[1]
out = {"package": quarbert_lib.__file__, "help": describe().splitlines()[-1]}
try:
    profile_config("smoke", squeeze__weight=-1.0)
except ConfigError as e:
    out["refused"] = str(e)
runs = {}
for variant in ("sampling", "sampling-squeeze"):
    cfg = recipes.variant_config(variant, "smoke", model__encoder=encoder, train__seed=0)
    ((_, folder),) = find_or_train("03_task_sampling", [(f"{variant}-seed0", cfg)], {"workers": 1})
    runs[variant] = {"config": results.read_json(folder / "config.json"),
                     "metrics": results.read_json(folder / "metrics.json"),
                     "history": (folder / "history.csv").read_text()}
out["runs"] = runs
out["old_config_loads"] = ExperimentConfig.from_dict(
    {k: v for k, v in runs["sampling"]["config"].items() if k != "squeeze"}).squeeze.weight
print(json.dumps(out))
'''


def test_a_regularizer_is_one_module_and_one_variant(isolated, tiny_encoder_dir, tmp_path):
    source = Path(quarbert_lib.__file__).parent
    copy = tmp_path / "pkg" / "quarbert_lib"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "losses" / "squeeze.py").write_text(MODULE)                                 # the module
    recipes = copy / "study" / "recipes.py"
    text = recipes.read_text()
    anchor = 'VARIANTS["rdrop"] ='
    recipes.write_text(text.replace(anchor, VARIANT.strip() + "\n" + anchor, 1))         # the variant
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_encoder_dir)], env=env, capture_output=True, cwd=tmp_path,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(copy))
    assert out["help"] == "squeeze: Logit squeezing: a penalty on the outputs' size."
    assert out["refused"] == "config field 'squeeze.weight' = -1.0 is not allowed: expected >= 0 (0: off)"
    plain, squeezed = out["runs"]["sampling"], out["runs"]["sampling-squeeze"]
    # the section is in every run's config, from the registry, with the variant's value
    assert plain["config"]["squeeze"] == {"weight": 0.0} and squeezed["config"]["squeeze"] == {"weight": 5.0}
    assert {k: v for k, v in plain["config"].items() if k != "squeeze"} == \
        {k: v for k, v in squeezed["config"].items() if k != "squeeze"}
    # the term acted: the same seed, data and steps train to another model
    assert plain["metrics"]["steps"] == squeezed["metrics"]["steps"] > 0
    assert plain["history"] != squeezed["history"]
    assert plain["metrics"]["overall"] != squeezed["metrics"]["overall"]
    # a config saved before the regularizer existed loads with the section's defaults
    assert out["old_config_loads"] == 0.0

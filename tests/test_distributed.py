"""Data parallelism: a 2-process gloo run under torchrun and under accelerate launch against one
process with the same global batch, and the gradient averaging against the full batch's gradient."""
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch

from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.core.config import profile_config
from quarbert_lib.study import experiment
from quarbert_lib.study.results import run_path


def _cfg(encoder):
    return profile_config("smoke", tasks=["sst", "para", "sts"], model__encoder=str(encoder), train__max_steps=6,
                          train__batch_size=8, model__hidden_dropout=0.0, model__encoder_dropout=0.0)


def test_sliced_batches_average_to_the_full_batch_gradient():
    """Two slices' mean-loss gradients, weighted by their share, equal the full batch's gradient."""
    torch.manual_seed(0)
    layer, x, y = torch.nn.Linear(4, 3), torch.randn(7, 4), torch.randint(0, 3, (7,))
    full = torch.autograd.grad(torch.nn.functional.cross_entropy(layer(x), y), layer.weight)[0]
    idx = list(range(7))
    parts = [idx[r::2] for r in range(2)]   # what distributed.shard gives ranks 0 and 1
    summed = sum(len(p) / 7 * torch.autograd.grad(torch.nn.functional.cross_entropy(layer(x[p]), y[p]),
                                                  layer.weight)[0] for p in parts)
    torch.testing.assert_close(summed, full)


# `accelerate launch --multi_gpu` starts torch.distributed.run underneath; on a machine without
# CUDA the ranks pick the CPU and gloo (`--cpu` alone would start one process).
LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    "accelerate": [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_process_gloo_run_matches_one_process(isolated, tiny_encoder_dir, tmp_path, launcher):
    # No dropout anywhere (attention included), so the two runs differ only in how each batch is split.
    encoder = tmp_path / "tiny-no-dropout"
    shutil.copytree(tiny_encoder_dir, encoder)
    settings = json.loads((encoder / "config.json").read_text())
    settings |= {"attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0}
    (encoder / "config.json").write_text(json.dumps(settings))
    cfg = _cfg(encoder)
    single = experiment.run_experiment(cfg, "ddp", "single")
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([*LAUNCHERS[launcher], "-m", "quarbert_lib", "experiment", "ddp", "two-process", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = run_path("smoke", "ddp", "two-process")
    ddp = json.loads((folder / "metrics.json").read_text())
    assert ddp["processes"] == 2 and single["processes"] == 1 and ddp["steps"] == single["steps"] == 6
    for key in ("sst_acc", "para_acc", "sts_pearson"):
        assert ddp[key] == pytest.approx(single[key], abs=1e-5), key
    a = pd.read_csv(run_path("smoke", "ddp", "single") / "predictions-dev.csv")
    b = pd.read_csv(folder / "predictions-dev.csv")
    probes = [c for c in a.columns if c.startswith("prob") or c == "score"]
    assert (a["id"] == b["id"]).all()
    assert (a[probes].fillna(0) - b[probes].fillna(0)).abs().to_numpy().max() < 1e-5
    # only rank 0 wrote: no stray files from rank 1, and one history
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in run_path("smoke", "ddp", "single").iterdir())

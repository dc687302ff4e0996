"""Independent runs side by side (core.workers): a run trained in a worker is the run trained alone with the same
threads, record for record; the same runs on a local Dask cluster write the same records; the planner's estimate
and the settings by hand."""
import json
import subprocess
import sys

import distributed
import pandas as pd
import pytest
import torch

from quarbert_lib.base.paths import NOTEBOOK_DIR
from quarbert_lib.core import workers
from quarbert_lib.core.config import profile_config
from quarbert_lib.study import records, results
from quarbert_lib.study.experiment import run_experiment, train_runs

TIMING = ("train_seconds", "eval_seconds", "wall_seconds")


def _configs(encoder):
    return [profile_config("smoke", model__encoder=str(encoder), train__seed=seed, train__max_steps=3)
            for seed in (0, 1)]


def _records(root, monkeypatch, tag):
    """Point the registry and records at ``root/tag``."""
    monkeypatch.setenv("QUARBERT_RUNS", str(root / tag / "runs"))
    monkeypatch.setenv("QUARBERT_RECORDS", str(root / tag / "records"))


def _record_files(root, tag, names):
    """Every file of each run's record (records.save: configs, metrics, predictions, history, weights' hash), with
    the timings taken out (metrics.json's seconds, history's train_seconds): what must be equal byte for byte."""
    out = {}
    for name in names:
        folder = records.save(root / tag / "runs" / "smoke" / "nb" / name, root / tag / "saved" / name)
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()
            if path.name == "metrics.json":
                metrics = json.loads(data)
                data = json.dumps({k: v for k, v in metrics.items() if k not in TIMING}, sort_keys=True).encode()
            elif path.name == "history.csv.gz":
                data = pd.read_csv(path).drop(columns=list(TIMING), errors="ignore").to_csv(index=False).encode()
            out[(name, path.name)] = data
    return out


def _train_alone(root, monkeypatch, configs, names, threads):
    """The runs one at a time in this process, with ``threads``, into ``root/alone``."""
    _records(root, monkeypatch, "alone")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for cfg, name in zip(configs, names):
            run_experiment(cfg, "nb", name)
    finally:
        torch.set_num_threads(before)


def test_two_runs_in_two_workers_are_the_runs_trained_alone(isolated, tiny_encoder_dir, monkeypatch):
    configs, names = _configs(tiny_encoder_dir), ["a-seed0", "a-seed1"]
    _train_alone(isolated, monkeypatch, configs, names, workers.threads_each(2))    # a worker's share of the cores
    _records(isolated, monkeypatch, "workers")
    metrics = workers.run_all(run_experiment, [((cfg, "nb", name), {}) for cfg, name in zip(configs, names)],
                              workers=2)
    assert [m["run_name"] for m in metrics] == names             # results in the order of the calls
    assert {m["threads"] for m in metrics} == {workers.threads_each(2)}
    alone, side_by_side = _record_files(isolated, "alone", names), _record_files(isolated, "workers", names)
    assert {f for _, f in alone} >= {"config.json", "metrics.json", "predictions-dev.csv.gz", "weights.json"}
    assert side_by_side == alone


def test_a_local_dask_cluster_trains_the_batchs_runs_and_writes_the_same_records(isolated, tiny_encoder_dir,
                                                                                  monkeypatch):
    configs, names = _configs(tiny_encoder_dir), ["a-seed0", "a-seed1"]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")                  # the cluster's workers: one thread each
    _train_alone(isolated, monkeypatch, configs, names, 1)
    _records(isolated, monkeypatch, "cluster")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        metrics = workers.run_all(run_experiment, [((cfg, "nb", name), {}) for cfg, name in zip(configs, names)],
                                  scheduler=cluster.scheduler_address)
    assert [m["run_name"] for m in metrics] == names
    for name in names:
        assert results.is_complete(isolated / "cluster" / "runs" / "smoke" / "nb" / name,
                                   configs[names.index(name)].to_dict())
    assert {m["threads"] for m in metrics} == {1}
    assert _record_files(isolated, "cluster", names) == _record_files(isolated, "alone", names)


def test_a_notebooks_group_trains_its_runs_in_workers_once_each(isolated, tiny_encoder_dir):
    """train_runs hands the runs to train to the workers and finds the rest done: a second call trains nothing."""
    params = {"profile": "smoke", "encoder": str(tiny_encoder_dir), "seeds": [0, 1], "workers": 2}
    first = train_runs("03_task_sampling", "sampling", params)
    assert [d.name for d, _, _ in first] == ["sampling-seed0", "sampling-seed1"]
    assert all(results.is_complete(folder, d.config.to_dict()) for d, _, folder in first)
    stamps = {folder.name: (folder / "metrics.json").stat().st_mtime_ns for _, _, folder in first}
    again = train_runs("03_task_sampling", "sampling", params)
    assert [m for _, m, _ in again] == [m for _, m, _ in first]
    assert {folder.name: (folder / "metrics.json").stat().st_mtime_ns for _, _, folder in again} == stamps


def test_makespan_hands_the_longest_first_to_the_least_loaded_worker():
    assert workers.makespan([10.0, 10.0, 10.0], 1) == 30.0
    # 2 workers, slowdown 1.5: 8 -> w0 (12), 5 -> w1 (7.5), 4 -> w1 (13.5), 3 -> w0 (16.5)
    assert workers.makespan([3.0, 8.0, 4.0, 5.0], 2, slowdown=1.5) == pytest.approx(16.5)
    assert workers.makespan([7.0], 4) == 7.0


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_workers_setting_that_is_no_positive_integer_is_one_line(monkeypatch, value):
    monkeypatch.setenv("QUARBERT_WORKERS", value)
    with pytest.raises(workers.WorkersError, match=f"QUARBERT_WORKERS = '{value}' is not allowed"):
        workers.default_workers()
    monkeypatch.setenv("QUARBERT_WORKERS", "3")
    assert workers.default_workers() == 3
    monkeypatch.delenv("QUARBERT_WORKERS")
    assert workers.default_workers() == (torch.cuda.device_count() if torch.cuda.is_available() else workers.cores())
    assert workers.threads_each(2) == max(1, workers.cores() // 2)


def test_each_worker_process_holds_its_own_gpu(tmp_path, monkeypatch):
    """On GPUs a worker holds one for its lifetime: the first process gets GPU 0 and keeps it, a second process gets
    GPU 1, a third of two GPUs is told that every GPU is held."""
    code = ("import sys, time; from pathlib import Path; from quarbert_lib.core import workers; "
            f"print(workers._claim_gpu(Path({str(tmp_path)!r}), 2), flush=True); sys.stdin.readline()")
    first = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    second = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        got = sorted([int(first.stdout.readline()), int(second.stdout.readline())])
        assert got == [0, 1]
        third = subprocess.run([sys.executable, "-c", code], input="\n", capture_output=True, text=True)
        assert third.returncode != 0 and "every one of the 2 GPUs is held by another worker" in third.stderr
    finally:
        for p in (first, second):
            p.communicate("\n", timeout=60)
    monkeypatch.setattr(workers, "_GPU_LOCK", None)
    assert workers._claim_gpu(tmp_path, 2) == workers._claim_gpu(tmp_path, 2) == 0   # a process keeps the one it holds


def test_the_batch_trains_its_planned_runs_in_workers_before_the_notebooks(isolated, tiny_encoder_dir, monkeypatch,
                                                                            capsys):
    """`reproduce --workers 2`: the plan's runs train side by side first (every one independent of the others), so the
    notebook, when it executes, finds each done and trains nothing; the dry run says the estimate in workers."""
    from quarbert_lib.batch import plan, reproduce
    from quarbert_lib.study.spec import expand
    encoder = str(tiny_encoder_dir)
    # reproduce hands its workers setting to the notebooks' kernels through the environment: restored after the test
    monkeypatch.setenv("QUARBERT_WORKERS", "1")
    assert reproduce.main(["--profile", "smoke", "--only", "02", "--workers", "2", "-p", f"encoder={encoder!r}",
                           "--dry-run"]) == 0
    assert "runs to train in 2 workers: about" in capsys.readouterr().out
    seen = []

    def notebook_runs(path, params, progress, kernel):             # the notebook's turn: what does it find?
        declared = expand("02_multitask_baseline", {**plan.notebook_parameters(path), **params})
        seen.extend(results.is_complete(results.run_path("smoke", d.notebook, d.name), d.config.to_dict())
                    for d in declared)
        return {"notebook": path.stem, "status": "ok", "seconds": 0.0, "error": "", "executed": str(path)}
    monkeypatch.setattr(reproduce, "execute_counted", notebook_runs)
    assert reproduce.main(["--profile", "smoke", "--only", "02", "--workers", "2", "-p", f"encoder={encoder!r}"]) == 0
    out = capsys.readouterr().out
    assert f"runs in 2 workers ({workers.threads_each(2)} thread(s) each)" in out
    declared = expand("02_multitask_baseline", {**plan.notebook_parameters(NOTEBOOK_DIR / "02_multitask_baseline.py"),
                                                 "profile": "smoke", "encoder": encoder})
    assert len(declared) >= 2 and seen == [True] * len(declared)    # each done before the notebook's turn
    folders = sorted(f.name for f in (isolated / "runs" / "smoke" / "02_multitask_baseline").iterdir())
    assert folders == sorted(d.name for d in declared)


def test_a_scheduler_that_does_not_answer_is_one_line_before_any_compute(isolated, monkeypatch, capsys):
    """`reproduce --scheduler tcp://head:8786` (the docs' example) on a machine without that cluster executed the
    whole batch, since a fresh clone had nothing to train and so never met the cluster (the fresh-clone check of the
    docs' commands, stop 50): an address that does not answer, or is no address, is one line before anything runs;
    one that answers passes."""
    import socket

    from quarbert_lib.base import cli
    from quarbert_lib.batch import reproduce
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))                  # a port of ours that nothing listens on
    port = closed.getsockname()[1]
    for address, said in ((f"tcp://127.0.0.1:{port}", f"the Dask scheduler at tcp://127.0.0.1:{port} does not answer"),
                          ("tcp://head:abc", "is not a Dask scheduler's address: expected tcp://host:port"),
                          ("http://127.0.0.1:8786", "is not a Dask scheduler's address")):
        assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "01", "--scheduler", address]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and said in err[0], err
        with pytest.raises(workers.WorkersError, match="scheduler"):
            workers.run_all(print, [((1,), {}), ((2,), {})], scheduler=address)
    closed.close()
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        assert workers.reach_scheduler(address) == address

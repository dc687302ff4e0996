"""Batch runner: execute the numbered notebooks through papermill (the CLI behind `make reproduce`).

The jupytext percent files in notebooks/ are the source. Each is read with jupytext (papermill
cannot execute a .py percent file itself, papermill issue #365), executed with the profile, the
profile's notebook parameters and the ``-p`` parameters, each only where its parameters cell declares
that name, and saved to reports/executed/. A malformed ``-p``, a name that no selected notebook declares
or a value of the wrong type stops the batch with one line before any compute. Finished runs are
skipped by the registry, so a rerun continues where the last one stopped. A failing notebook is
reported with its failing cell's error; the others still run, and the summary lists what failed.
Notebooks run once each, in spec.batch_order: those that train by number, then those that only read (10, then 09,
which gathers every table).

    python -m quarbert_lib reproduce                       # every notebook, cpu profile
    python -m quarbert_lib reproduce --only 01 02 -p seeds='[0, 1, 2]'
    python -m quarbert_lib reproduce --dry-run             # the plan: runs done and to train, estimated minutes

Before the first notebook it prints the plan (quarbert_lib.batch.plan); while the batch runs one progress bar
over all its runs shows the ETA; at the end it prints the estimate against the actual time.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import jupytext
import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from ..base.paths import REPO_ROOT, REPORTS_ENV, STUDY_PROFILE, discover, reports_dir, shown, use_profile_reports
from ..core import data
from ..core.config import PROFILES, ConfigError
from ..core.workers import SHARED_CORE_SLOWDOWN, default_workers, makespan, reach_scheduler, run_all
from ..study.recipes import PROFILE_NOTEBOOK_PARAMS
from ..study import records
from ..study.experiment import run_experiment
from ..study.results import CODE_PATHS, atomic_write_text, git_commit, run_path
from ..study.spec import BY_NAME, SUMMARY, batch_order
from . import plan as planning

# A -p value that is no Python literal passes as a string only when it reads as a bare word, model name or
# path (`-p encoder=bert-base-uncased`, `-p recipe=sampling`): `[0, 1` or `1e-4x` is a typo, and passed on
# as a string it would fail deep inside a notebook, or not at all.
BARE_STRING = re.compile(r"[A-Za-z_./~][\w.\-/~:+]*")


class ParameterError(ConfigError):
    """A ``-p NAME=VALUE`` the selected notebooks cannot take: not NAME=VALUE, a value that is neither a
    Python literal nor a bare word, a name that no selected notebook declares in its parameters cell, or a
    value whose type cannot replace a declared default. A ConfigError, so the command line (cli.run, which
    lists ConfigError among its user errors) prints it as one ``error:`` line and exits 2."""


def _literal(item: str, text: str):
    """``text`` as a Python literal, else as a bare string (BARE_STRING); ParameterError naming ``item``
    (the whole -p) otherwise."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if BARE_STRING.fullmatch(text):
            return text
        raise ParameterError(f"-p {item!r}: the value {text!r} is neither a Python literal (a number, a list, "
                             f"True, None, a quoted string) nor a bare name or path") from None


def parse_parameters(items: list[str]) -> dict:
    """The command line's ``-p NAME=VALUE`` items as {name: value}: each value a Python literal, or a bare
    word or path taken as a string; of two items with one name the later wins. Raises ParameterError for an
    item that is not NAME=VALUE, a name that is no Python identifier, a value that is neither, and for
    ``profile``, which --profile sets (the plan and the reports folder follow it, not a -p)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"-p {item!r}: expected NAME=VALUE, e.g. -p seeds='[0, 1]'")
        if not name.isidentifier():
            raise ParameterError(f"-p {item!r}: {name!r} is not a parameter name (a Python identifier)")
        if name == "profile":
            raise ParameterError(f"-p {item!r}: use --profile, which the plan, the reports folder and every "
                                 f"notebook follow")
        out[name] = _literal(item, value.strip())
    return out


def fits(value, default) -> bool:
    """Whether a -p ``value`` can stand where a notebook's parameters cell has ``default``: anything where
    the default is None (these notebooks' 'not set', such as seeds = None), None anywhere (an explicit 'not
    set'), True/False for a bool, an int for an int, any number for a float, a list or tuple for either,
    else the default's own type."""
    if value is None or default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):        # bool is an int to isinstance
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check_parameters(overrides: dict, declared: dict[str, dict]) -> None:
    """Check the command line's parameters against the notebooks of ``declared`` ({notebook stem: its
    parameters cell's defaults}, plan.notebook_parameters). Raises ParameterError, on one line that lists
    the valid names and suggests the closest one, for a name no notebook declares, or a value whose type
    cannot replace the default of a notebook that declares it (``fits``: `-p seed='[7]'` meant for seeds,
    where notebook 11 declares seed = 0). Unchecked, papermill passes an unknown name on with one warning
    that names no notebook, and every notebook runs with its defaults."""
    valid = sorted({name for params in declared.values() for name in params} - {"profile"})
    listed = f"valid names: {', '.join(valid) or 'none'}"

    def hint(name: str) -> str:
        close = difflib.get_close_matches(name, [v for v in valid if v != name], n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    unknown = [name for name in overrides if name not in valid]
    if unknown:
        numbers = " ".join(stem.split("_")[0] for stem in declared)
        raise ParameterError(f"-p {', '.join(name + hint(name) for name in unknown)}: not a parameter of the "
                             f"selected notebooks ({numbers}); {listed}")
    for name, value in overrides.items():
        # a seeds parameter (seeds, sweep_seeds, ...) is a list of seeds even where its default is None
        if (name == "seeds" or name.endswith("_seeds")) and value is not None and not (
                isinstance(value, (list, tuple)) and value and all(isinstance(s, int) and not isinstance(s, bool)
                                                                   and s >= 0 for s in value)):
            raise ParameterError(f"-p {name}={value!r}: a list of seeds (integers >= 0) is expected, e.g. "
                                 f"-p {name}='[{value if isinstance(value, int) else 0}]'; {listed}")
        for stem, params in declared.items():
            if name in params and not fits(value, params[name]):
                raise ParameterError(f"-p {name}={value!r}: {type(value).__name__} where {stem} declares "
                                     f"{name} = {params[name]!r}{hint(name)}; {listed}")


def execute(path: Path, parameters: dict, output_dir: Path, kernel: str = "python3") -> dict:
    """Run one notebook; return {notebook, status, seconds, error, executed, unchanged}. The executed copy is
    normalised (``normalize_executed``) and replaces ``output_dir/<stem>.ipynb`` only when it differs from it
    byte for byte; ``unchanged`` says it did not, so a re-execution that reproduces the committed outputs
    leaves the file, and its summary.json entry (merge_summary), as they were."""
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{path.stem}.ipynb"
    scratch = output_dir / f".{path.stem}.{os.getpid()}.ipynb"
    node = jupytext.read(path)
    node.metadata["kernelspec"] = {"name": kernel, "language": "python", "display_name": "Python 3"}
    node.metadata["language_info"] = {"name": "python"}
    t0 = time.perf_counter()
    unchanged = False
    try:                # the scratch copy never outlives this call: an interrupted batch keeps the last copy
        for attempt in (1, 2):
            status, error = "ok", ""
            try:
                # the kernel app's own log (ipykernel's note that a local kernel talks over unencrypted TCP) stays
                # out of the batch's output; the cells' warnings still reach the executed notebook
                papermill.execute_notebook(node, str(scratch), parameters=parameters, kernel_name=kernel,
                                           cwd=str(REPO_ROOT), progress_bar=False, log_output=False,
                                           extra_arguments=["--IPKernelApp.log_level=ERROR"])
            except PapermillExecutionError as e:
                status, error = "failed", f"cell {e.exec_count}: {e.ename}: {e.evalue}"
            except Exception as e:  # kernel died, bad parameters, ...: report and keep going
                status, error = "failed", f"{type(e).__name__}: {e}"
            missing = missing_widget_models(nbformat.read(scratch, as_version=4)) if scratch.exists() else []
            if not missing or status != "ok":
                break
            status, error = "failed", (f"its saved widget state lacks {len(missing)} of the models its displayed "
                                       "widgets reference: the kernel's messages did not all arrive")
            print(f"[reproduce] {path.stem}: {error}" + ("; executing it again" if attempt == 1 else ""),
                  file=sys.stderr, flush=True)
        seconds = round(time.perf_counter() - t0, 1)
        if scratch.exists():
            text = nbformat.writes(normalize_executed(nbformat.read(scratch, as_version=4), path))
            unchanged = output.exists() and output.read_bytes() == text.encode("utf-8")   # as atomic_write_text writes
            if not unchanged:
                atomic_write_text(output, text)
    finally:
        scratch.unlink(missing_ok=True)
    return {"notebook": path.stem, "status": status, "seconds": seconds, "error": error,
            "executed": shown(output), "unchanged": unchanged}


WIDGET_VIEW, WIDGET_STATE = "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"
MODEL_ID = re.compile(r"[0-9a-f]{32}")
# how one widget model names another in its state: a child, a layout, a style, an output's displayed widget
MODEL_REF = re.compile(r'IPY_MODEL_([0-9a-f]{32})|"model_id": "([0-9a-f]{32})"')
# papermill's and nbclient's clock readings: when a cell or the notebook ran, and for how long
TIMING_KEYS = ("duration", "start_time", "end_time")


def normalize_executed(nb, source: Path):
    """An executed notebook without what changes from one execution of the same code on the same records to
    the next, so that an unchanged study re-executes to the same bytes (issue 23: staleness is checked by
    re-executing, and a clean `git status` is the check). In place; returns ``nb``.

    - cell ids: jupytext and papermill draw random ones; here ``cell-<index>``;
    - timings: nbclient's ``execution`` timestamps and papermill's start, end and duration, per cell and for
      the notebook; its status and exception stay;
    - papermill's ``input_path`` (the whole source node, when given a node): the source's path relative to the
      repository; its ``output_path``, where this copy was written (absolute), is dropped;
    - a cell's consecutive stream outputs of one stream (stdout, stderr) as one: where the kernel's flushes
      cut the text depends on timing;
    - the kernel's Python patch release (``language_info.version``): the pins fix the packages, not it;
    - ipywidgets' model ids (random UUIDs): renumbered in the order a reader meets them, the displayed
      widgets cell by cell and then each model's references in its sorted state, breadth first; state no
      displayed widget reaches (nothing on screen draws it) is dropped, so a widget link (``jslink``, which
      nothing references) would be lost from the saved state: no notebook makes one. A reached model without
      state (``missing_widget_models``: its messages did not arrive) is renamed all the same; ``execute`` runs such
      a notebook once more and reports it failed if it is still incomplete.
    The text of an output is never edited: a value that changes between executions is a finding the check
    must report, not noise to hide."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        if "outputs" in cell:
            cell["outputs"] = _coalesced(cell["outputs"])
        cell.metadata.pop("execution", None)
        for key in TIMING_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)
    run = nb.metadata.get("papermill", {})
    for key in TIMING_KEYS:
        run.pop(key, None)
    nb.metadata.get("language_info", {}).pop("version", None)
    run.pop("output_path", None)
    if run:
        run["input_path"] = shown(source)
    _renumber_widgets(nb)
    return nb


def _coalesced(outputs: list) -> list:
    """Consecutive stream outputs of one stream merged into one, their texts joined in order."""
    merged: list = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")):
            last["text"] = "".join(last["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def _widgets(nb) -> tuple[list[dict], dict, list[str]]:
    """(the displayed widgets' views, the saved states, every model they reach in reading order: the views cell by
    cell, then each model's references in its sorted state, breadth first)."""
    views = [out["data"][WIDGET_VIEW] for cell in nb.cells for out in cell.get("outputs", [])
             if WIDGET_VIEW in out.get("data", {})]
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    order: list[str] = []
    queue = [v["model_id"] for v in views]
    while queue:
        model = queue.pop(0)
        if model in order:
            continue
        order.append(model)
        queue += [a or b for a, b in MODEL_REF.findall(json.dumps(states.get(model, {}), sort_keys=True))]
    return views, states, order


def missing_widget_models(nb) -> list[str]:
    """The models a displayed widget reaches that the executed notebook saved no state for. nbclient saves what the
    kernel's IOPub messages said, and that socket drops what a reader too far behind has not taken, silently (here,
    4,000 widgets made at once and read after a 10 s pause: 5,494 of their 12,000 messages arrived). On CI the
    executed notebook 10 lacked two rows of its error grid: 12 models its grid references (their diff with the
    committed copy: each later cell's id 12 higher). A widget the notebook closed is not among them: nothing
    displayed references it."""
    _, states, order = _widgets(nb)
    return [m for m in order if m not in states]


def _renumber_widgets(nb) -> None:
    """ipywidgets' model ids as 32-hex counters, in reading order (normalize_executed)."""
    views, states, order = _widgets(nb)
    if not views and not states:
        return
    holder = nb.metadata["widgets"][WIDGET_STATE] if states else {}
    new = {old: f"{i:032x}" for i, old in enumerate(order)}

    def renamed(value):
        return json.loads(MODEL_ID.sub(lambda m: new.get(m.group(), m.group()), json.dumps(value)))
    for view in views:
        view["model_id"] = new[view["model_id"]]
    if states:
        holder["state"] = {new[m]: renamed(states[m]) for m in order if m in states}


def code_cells(notebook) -> list[str]:
    """The code cells' sources of a notebook (a jupytext/nbformat node), stripped, without papermill's
    injected-parameters cell."""
    return [c.source.strip() for c in notebook.cells if c.cell_type == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def source_mismatches(source: Path, executed: Path) -> list[str]:
    """How the executed notebook's code differs from its jupytext source: one line per differing code
    cell ('cell 3 differs: ...'), or a missing/extra cell count; [] when they match."""
    if not executed.exists():
        return [f"{executed} does not exist"]
    ours, ran = code_cells(jupytext.read(source)), code_cells(nbformat.read(executed, as_version=4))
    out = [f"code cell {i + 1} differs: source {a.splitlines()[0][:60] if a else ''!r}..."
           for i, (a, b) in enumerate(zip(ours, ran)) if a != b]
    if len(ours) != len(ran):
        out.append(f"{len(ours)} code cells in {source.name}, {len(ran)} in {executed.name}")
    return out


def noise_counts(executed: Path) -> dict[str, int]:
    """Progress bars (tqdm widgets or text bars) and warnings among an executed notebook's outputs."""
    bars = warnings = 0
    for cell in nbformat.read(executed, as_version=4).cells:
        for out in cell.get("outputs", []):
            plain = "".join(out.get("data", {}).get("text/plain", ""))
            text = "".join(out.get("text", "")) if out.get("output_type") == "stream" else ""
            widget = "application/vnd.jupyter.widget-view+json" in out.get("data", {})
            bars += int(bool(widget and re.search(r"\d+%\|", plain)) or bool(re.search(r"\d+%\|", text)))
            warnings += len(re.findall(r"\w*Warning\b", text))
    return {"progress_bars": bars, "warnings": warnings}


def stale_notebooks(sources: list[Path] | None = None, executed_dir: Path | None = None) -> dict[str, list[str]]:
    """{notebook: its mismatches} for each source (default: every numbered notebook) whose executed copy
    in ``executed_dir`` (default: this profile's reports/executed) is not that source."""
    executed_dir = executed_dir or reports_dir() / "executed"
    found = {p.stem: source_mismatches(p, executed_dir / f"{p.stem}.ipynb") for p in (sources or discover())}
    return {k: v for k, v in found.items() if v}


class BatchProgress:
    """One tqdm bar over the batch, in estimated seconds: a planned run adds its estimate when its
    metrics.json appears (polled from a thread, since the runs train inside notebook kernels), a notebook
    adds its own estimate when it ends, so tqdm's rate and ETA compare real time with the plan."""

    def __init__(self, planned: list, own_seconds: dict[str, float], poll_s: float = 5.0):
        self.pending = {run_path(r.config.profile, r.notebook, r.name) / "metrics.json": r for r in planned if not r.done}
        self.own, self.finished = dict(own_seconds), 0
        total = sum(r.seconds for r in self.pending.values()) + sum(self.own.values())
        self.bar = tqdm(total=max(1, round(total)), unit="s", desc="batch (estimated seconds done)", dynamic_ncols=True)
        self._stop, self.poll_s, self.lock = threading.Event(), poll_s, threading.Lock()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _advance(self, seconds: float) -> None:
        step = min(round(seconds), self.bar.total - self.bar.n)
        if step > 0:
            self.bar.update(step)

    def check(self) -> list:
        """Runs that finished since the last check (their estimates are added to the bar)."""
        with self.lock:
            done = [path for path in self.pending if path.exists()]
            finished = [self.pending.pop(path) for path in done]
        for run in finished:
            self._advance(run.seconds)
            self.finished += 1
        if finished:
            self.bar.set_postfix_str(f"runs {self.finished} trained, {len(self.pending)} to go")
        return finished

    def notebook_done(self, notebook: str) -> None:
        self.check()
        self._advance(self.own.pop(notebook, 0.0))

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.bar.close()


def execute_counted(path: Path, params: dict, progress: BatchProgress, kernel: str) -> dict:
    """Execute one notebook of the batch (execute), its outcome with the runs it trained (``trained_runs``), its
    output's noise counts and its seconds beside training (``overhead_seconds``); the progress bar follows it."""
    progress.bar.write(f"[reproduce] {path.name} with {params} ...")
    with progress.lock:
        trained_before = set(progress.pending)
    outcome = execute(path, params, reports_dir() / "executed", kernel)
    progress.notebook_done(path.stem)
    with progress.lock:
        trained = [m for m in trained_before - set(progress.pending) if m.exists()]
    outcome["trained_runs"] = len(trained)
    executed = REPO_ROOT / outcome["executed"]         # relative to the repository, or absolute
    if executed.exists():
        outcome.update(noise_counts(executed))
    outcome["overhead_seconds"] = round(max(0.0, outcome["seconds"] - sum(
        json.loads(m.read_text()).get("wall_seconds", 0.0) for m in trained)), 1)
    progress.bar.write(f"[reproduce] {path.name}: {outcome['status']} in {outcome['seconds']} s {outcome['error']}")
    return outcome


def merge_summary(path: Path, outcomes: list[dict], profile: str) -> list[dict]:
    """summary.json across batches: one entry per notebook, its last outcome (status, seconds,
    error), with the profile and the commit that ran it; a partial batch replaces only its own. An outcome
    whose executed copy came out byte for byte as before (``unchanged``, execute) keeps the entry of the
    batch that made that copy: its commit, seconds and time, so an unchanged study leaves the file alone."""
    entries = {}
    if path.exists():
        entries = {e["notebook"]: e for e in json.loads(path.read_text())}
    for o in outcomes:
        kept = entries.get(o["notebook"], {})
        if o.get("unchanged") and o["status"] == "ok" and kept.get("status") == "ok" and kept.get("profile") == profile:
            continue
        entry = {k: v for k, v in o.items() if k != "unchanged"}
        entries[o["notebook"]] = {**entry, "profile": profile, "commit": git_commit(),
                                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    merged = [entries[k] for k in sorted(entries)]
    text = json.dumps(merged, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib reproduce",
                                     description="Execute the numbered notebooks through papermill.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--profile", default="cpu", choices=list(PROFILES),
                        help="budget profile passed to every notebook (default: cpu, the committed study, 3-5 seeds a row, "
                             "restored from its records; quick: the one-hour smaller study)")
    parser.add_argument("--only", nargs="*", help="notebook numbers or name prefixes, e.g. 01 02")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="notebook parameter (a Python literal, or a bare name or path as a string), repeatable; "
                             "passed to the selected notebooks that declare NAME, an error if none does")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    parser.add_argument("--list", action="store_true", help="list the notebooks and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (each notebook's runs, done or to train, and the estimated minutes) and exit")
    parser.add_argument("--calibrate", action="store_true",
                        help="scale the recorded costs by a few measured warm-up steps of this machine (about a minute)")
    parser.add_argument("--record-seconds", metavar="SUMMARY_JSON",
                        help="copy a finished batch's per-notebook seconds (its executed/summary.json) into the committed "
                             "reports/tables/notebook_seconds.csv, which a fresh clone plans that profile with, and exit")
    parser.add_argument("--workers", type=int, default=None,
                        help="train the batch's runs this many at a time, each worker with its share of the cores, "
                             "before the notebooks (default: QUARBERT_WORKERS, else one per GPU, else one per core; "
                             "1: one at a time, in the notebooks; docs/performance.md)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="train the batch's runs on a Dask cluster (its scheduler's address, tcp://host:8786; "
                             "default: QUARBERT_SCHEDULER); its workers must see this repository, data and registry")
    parser.add_argument("--check", action="store_true",
                        help="list the executed notebooks whose code differs from their source, and exit (1 if any)")
    args = parser.parse_args(argv)

    if args.record_seconds:
        rows = planning.record_notebook_seconds(Path(args.record_seconds))
        print(f"[reproduce] {planning.NOTEBOOK_SECONDS_CSV}: {len(rows)} rows, profiles {sorted(rows['profile'].unique())}")
        return 0
    redirected = bool(os.environ.get(REPORTS_ENV))   # the reports go to a folder the user named
    out = use_profile_reports(args.profile)      # reports/ for the study's profile, reports/<profile>/ otherwise
    by_stem = {p.stem: p for p in discover(args.only)}
    notebooks = [by_stem[name] for name in batch_order(list(by_stem))]
    print(f"[reproduce] profile {args.profile}: tables, figures and executed notebooks go to {out}", flush=True)
    if args.only and SUMMARY not in by_stem and any(BY_NAME.get(n) and BY_NAME[n].trains for n in by_stem):
        print(f"[reproduce] {SUMMARY} gathers every table into results.md: execute it too (--only ... "
              f"{SUMMARY[:2]}) to see the new runs there", flush=True)
    if args.list:
        print("\n".join(p.name for p in notebooks))
        return 0
    if args.check:
        stale = stale_notebooks(notebooks)
        for name, problems in stale.items():
            print(f"[reproduce] stale: reports/executed/{name}.ipynb: " + "; ".join(problems))
        print(f"[reproduce] {len(notebooks) - len(stale)} of {len(notebooks)} executed notebooks match their source")
        return 1 if stale else 0
    # the -p parameters against the notebooks' parameters cells first: a typo stops here, before the data
    # download, the calibration, the plan or any notebook
    overrides = parse_parameters(args.param)
    declared = {path: planning.notebook_parameters(path) for path in notebooks}
    check_parameters(overrides, {path.stem: names for path, names in declared.items()})
    for name in overrides:
        takers = [path.stem for path, names in declared.items() if name in names]
        if len(takers) < len(declared):
            print(f"[reproduce] -p {name} goes to {', '.join(takers)} only: the other selected notebooks "
                  f"do not declare it", flush=True)
    workers = default_workers() if args.workers is None else args.workers
    scheduler = args.scheduler or os.environ.get("QUARBERT_SCHEDULER", "").strip() or None
    if scheduler:
        reach_scheduler(scheduler)          # asked for a cluster: one that answers, before any compute
    if workers < 1:
        raise ConfigError(f"--workers {workers} is not allowed: expected a positive integer (1: one run at a time)")
    os.environ["QUARBERT_WORKERS"] = str(workers)     # the notebooks' kernels train what is left with the same setting
    data.ensure_data()                      # the course data, downloaded if absent; else one clear error, before any compute
    restored = records.restore_missing(args.profile)   # committed run records count as done: the registry gets them
    if restored:
        print(f"[reproduce] {len(restored)} runs restored from {records.records_dir() / args.profile} "
              "(results only: no weights)", flush=True)
    speed = 1.0
    if args.calibrate:
        speed = planning.calibrate(args.profile, overrides.get("encoder", "minilm-l6"), planning.recorded_costs(args.profile))
        print(f"[reproduce] this machine runs at {speed:.2f}x the recorded seconds per step")
    profile_params = PROFILE_NOTEBOOK_PARAMS.get(args.profile, {})
    planned = planning.plan(notebooks, args.profile, overrides, speed, profile_params)
    estimates = planning.notebook_estimates(planned, [p.stem for p in notebooks], speed, args.profile)
    print(planning.format_plan(planned, estimates), flush=True)
    to_train = [r for r in planned if not r.done]
    if to_train and workers > 1 and not scheduler:
        side, alone = makespan([r.seconds for r in to_train], workers) / 60, sum(r.seconds for r in to_train) / 60
        print(f"[reproduce] {len(to_train)} runs to train in {workers} workers: about {side:.1f} min of training wall "
              f"time (longest first, each run {SHARED_CORE_SLOWDOWN:g}x slower beside others, as measured on a 2-core "
              f"CPU), against {alone:.1f} min one at a time" + (": slower, on such a machine" if side > alone else ""),
              flush=True)
    if args.dry_run:
        return 0
    if args.profile == STUDY_PROFILE and not redirected and git_commit().endswith("-dirty"):
        raise ConfigError(f"the committed study (profile {STUDY_PROFILE}) is executed only from committed code, and "
                          f"{', '.join(CODE_PATHS)} differ from {git_commit()[:-6]}: commit first, run another "
                          f"profile, or set {REPORTS_ENV} and {records.RECORDS_ENV} to other folders")
    if to_train and (workers > 1 or scheduler):
        # every planned run is independent of the others (a quartet averages finished runs; a SimCSE stage is part of
        # its run), so they all train first, side by side, and the notebooks then find them done
        run_all(run_experiment, [((r.config, r.notebook, r.name), {}) for r in to_train], workers=workers,
                scheduler=scheduler, what="runs", weights=[r.seconds for r in to_train])
        if records.writable(args.profile):
            records.export(args.profile)
        for r in to_train:                  # done now: the notebooks find them in the registry
            r.done, r.seconds = True, 0.0
        estimates = planning.notebook_estimates(planned, [p.stem for p in notebooks], speed, args.profile)
    progress = BatchProgress(planned, dict(zip(estimates["notebook"], estimates["own_seconds"])))
    outcomes: dict[str, dict] = {}
    try:
        for path in notebooks:
            params = planning.notebook_arguments(declared[path], args.profile, profile_params, overrides)
            outcomes[path.stem] = execute_counted(path, params, progress, args.kernel)
            if records.writable(args.profile):
                records.export(args.profile)              # the study's finished runs, as committed records
            # recorded as each notebook ends, so a batch stopped part-way keeps the notebooks it finished
            merge_summary(reports_dir() / "executed" / "summary.json", [outcomes[path.stem]], args.profile)
    finally:
        progress.close()
    ran = [outcomes[p.stem] for p in notebooks if p.stem in outcomes]
    failed = [o for o in ran if o["status"] != "ok"]
    total = sum(o["seconds"] for o in ran)
    for o, est in zip(ran, estimates.itertuples()):
        print(f"[reproduce] {o['notebook']}: estimated {est.minutes:.1f} min, took {o['seconds'] / 60:.1f} min")
    print(f"[reproduce] estimated {estimates['minutes'].sum():.1f} min, took {total / 60:.1f} min")
    print(f"[reproduce] {len(ran) - len(failed)} ok, {len(failed)} failed, {total:.0f} s in all")
    for o in failed:
        print(f"[reproduce] FAILED {o['notebook']}: {o['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))

"""Drive notebook 10's error browser in a real browser and check it against ``error_table``.

Starts JupyterLab on localhost, opens notebooks/10_error_analysis.py (as a notebook) in
headless Chromium through Playwright, runs every cell, then works the widgets as a user
would: reads the table shown, picks a gold label, switches the task. After each action the
rows on screen must be exactly ``browser.error_table(...)`` of those settings. Ends with a
screenshot.

    python -m tools.browser_check --profile cpu --screenshot reports/figures/error_browser.png

Needs a Chromium (``tools.chromium``: the system's or Playwright's; `make chromium` gets one
without root where it can) and the ``playwright`` and ``jupyterlab`` Python packages.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import jupytext
import pandas as pd

from quarbert_lib.base.cli import run
from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.base.tasks import TASKS
from quarbert_lib.reporting import browser
from tools.chromium import HOW, ChromiumMissing, find

# Without the background-networking flags Chromium keeps dialing out, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NOTEBOOK = REPO_ROOT / "notebooks" / "10_error_analysis.py"
ROWS_SHOWN = 25  # ErrorBrowser's default page size


class BrowserCheckError(AssertionError):
    """The page did not show what error_table says it should."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(workdir: Path, profile: str) -> Path:
    """notebooks/10 as .ipynb with this profile as its parameter (as papermill would inject it)."""
    node = jupytext.read(NOTEBOOK)
    for cell in node.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += f"\nprofile = {profile!r}  # injected by browser_check\nreports = 'batch'  # QUARBERT_REPORTS's"
    node.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    out = workdir / NOTEBOOK.with_suffix(".ipynb").name
    jupytext.write(node, out)
    return out


class JupyterLab:
    """A JupyterLab server on localhost for one check, with its own config and a token."""

    def __init__(self, root: Path, env: dict | None = None, startup_timeout: float = 120.0, args: list[str] = (),
                 package_root: Path = REPO_ROOT):
        """``root``: the server's folder (its own config and runtime files go there); ``args``: JupyterLab options
        besides its own (make lab's: lab.arguments); ``package_root``: the folder whose quarbert_lib the kernels
        import (a test's copy of the repository)."""
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.args = list(args)
        config = root / ".jupyter-config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        # The news toast would cover part of the screenshot.
        (config / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        self.env = {**os.environ, **(env or {}), "JUPYTER_CONFIG_DIR": str(config),
                    "JUPYTER_RUNTIME_DIR": str(root / ".jupyter-runtime"),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(package_root), os.environ.get("PYTHONPATH")]))}
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "JupyterLab":
        self.log = open(self.root / "jupyterlab.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
             *([] if any(a.startswith("--ServerApp.root_dir=") for a in self.args) else [f"--ServerApp.root_dir={self.root}"]),
             f"--IdentityProvider.token={self.token}",
             "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={self.root / '.workspaces'}",
             *(["--allow-root"] if os.geteuid() == 0 and "--allow-root" not in self.args else []),  # CI runs as root
             *self.args],
            cwd=self.root, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"JupyterLab did not start on {self.url}; see {self.root / 'jupyterlab.log'}:\n"
                           + (self.root / "jupyterlab.log").read_text()[-2000:])

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


ROWS = ".error-grid .error-row"      # the rows' id buttons (ErrorBrowser._fill_grid)


def _shown(page) -> tuple[str, list[str]]:
    """The error table's caption ('N rows of task') and the ids of its rows, as on screen."""
    caption = page.locator(".error-caption").first.inner_text().split(" (")[0].strip()
    return caption, [i.strip() for i in page.locator(ROWS).all_inner_texts()]


def _click_row(page, predictions: pd.DataFrame, task: str, index: int, timeout_s: float) -> dict:
    """Click the ``index``-th row's id, as a person would, and wait for the detail card to show that row (its id and
    its sentence, as browser.detail_card writes them)."""
    row_id = page.locator(ROWS).nth(index).inner_text().strip()
    page.locator(ROWS).nth(index).click()
    want = browser.error_table(predictions, task)
    row = want[want["id"].astype(str) == row_id].iloc[0]
    expected = [row_id, f"{'sentence 1' if TASKS[task].is_pair else 'sentence'}: {row['sentence1']}"]
    deadline, seen = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        card = page.locator(".error-detail .detail-card")
        seen = card.first.inner_text() if card.count() else ""
        if all(part in seen for part in expected):
            return {"task": task, "view": "detail card", "row": row_id}
        time.sleep(0.5)
    raise BrowserCheckError(f"after clicking row {row_id!r} the detail card shows {seen!r}; it should hold {expected!r}")


def _expect(page, predictions: pd.DataFrame, task: str, timeout_s: float, **filters) -> dict:
    """Wait until the page shows error_table(predictions, task, **filters); raise if it never does."""
    want = browser.error_table(predictions, task, **filters)
    caption, ids = f"{len(want)} rows of {task}", list(want["id"].astype(str).head(ROWS_SHOWN))
    deadline, seen = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        seen = _shown(page) if page.locator(ROWS).count() or page.locator(".error-caption").count() else None
        if seen == (caption, ids):
            return {"task": task, **{k: v for k, v in filters.items()}, "rows": len(want), "shown": len(ids)}
        time.sleep(0.5)
    raise BrowserCheckError(f"after {timeout_s:.0f} s the browser shows {seen!r}; "
                            f"error_table({task!r}, {filters}) gives {(caption, ids)!r}")


def _first_column(page, css: str) -> list[str]:
    table = page.locator(css)
    return [t.strip() for t in table.first.locator("tbody tr td:first-child").all_inner_texts()] if table.count() else []


def _expect_column(page, css: str, want: list[str], what: str, timeout_s: float) -> list[str]:
    """Wait until the first column of the table ``css`` reads ``want``; raise if it never does."""
    deadline, seen = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        seen = _first_column(page, css)
        if seen == want:
            return seen
        time.sleep(0.5)
    raise BrowserCheckError(f"after {timeout_s:.0f} s the browser's {css} shows {seen!r}; {what} gives {want!r}")


def _shot(page, css: str, path: Path) -> None:
    """A screenshot of the view holding the table ``css``, from its caption and the table's header down (scrolled
    to the view's top, not to wherever the table's middle lands)."""
    page.locator(css).first.evaluate("t => (t.closest('.widget-html-content') || t.parentElement)"
                                     ".scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)


def _control(page, label: str):
    """The <select> of the ipywidget whose description is ``label``."""
    return page.locator(f".widget-inline-hbox:has(> label:text-is('{label}')) select").first


def check(profile: str, screenshot: Path, workdir: Path | None = None, env: dict | None = None,
          timeout_s: float = 240.0) -> list[dict]:
    """Run notebook 10 in JupyterLab + headless Chromium, work its widgets, compare each view with
    error_table, save a screenshot; return what was checked (one dict per view)."""
    from playwright.sync_api import sync_playwright  # optional dependency, may be absent: only this check needs it
    executable = find()
    if executable is None:
        raise ChromiumMissing(HOW)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="quarbert-browser-"))
    workdir.mkdir(parents=True, exist_ok=True)
    notebook = _write_notebook(workdir, profile)
    checked = []
    with JupyterLab(workdir, env) as lab, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab.url}/lab/tree/{notebook.name}?token={lab.token}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext.isReady",
                                   timeout=timeout_s * 1000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.locator(ROWS).first.wait_for(timeout=timeout_s * 1000)
            # The notebook picked a run; the checker reads which from the run dropdown, as a user would.
            source = _control(page, "run").evaluate("s => s.options[s.selectedIndex].text")
            sources = browser.prediction_sources(profile)
            predictions = browser.with_sentences(pd.read_csv(sources[source], dtype={"id": str}))
            first = _control(page, "task").evaluate("s => s.options[s.selectedIndex].text")
            checked.append({"source": source, **_expect(page, predictions, first, 60)})
            if first != "sts":   # one label filter: the most frequent gold label of the first task
                gold = predictions.loc[predictions["task"] == first, "gold"].value_counts().idxmax()
                _control(page, "gold").select_option(label=str(gold))
                checked.append({"source": source, **_expect(page, predictions, first, 60, gold=[gold])})
            if len(browser.error_table(predictions, first)) > 1:   # a click on the second row opens its card
                _control(page, "gold").select_option([])
                _expect(page, predictions, first, 60)
                checked.append({"source": source, **_click_row(page, predictions, first, 1, 60)})
            other = "sts" if first != "sts" else "sst"
            _control(page, "task").select_option(label=other)
            checked.append({"source": source, **_expect(page, predictions, other, 60)})
            # The screenshots show the notebook at the window's width, with the file browser folded away.
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            # An ensemble's detail row: what each member said (browser.member_predictions).
            row = _control(page, "detail").evaluate("s => s.options[s.selectedIndex].text")
            members = browser.member_predictions(Path(sources[source]).parent, other, row)
            if len(members):
                _expect_column(page, "table.member-table", list(members["member"]), f"member_predictions({row!r})", 60)
                checked.append({"source": source, "view": "members", "task": other, "row": row, "rows": len(members)})
                _shot(page, "table.member-table", screenshot.with_name(f"{screenshot.stem}_members.png"))
            # Compare with another run: the disagreements, as browser.compare_runs lists them.
            # The first other run that disagrees with this one on the task shown (else the first other run).
            others = {s: browser.compare_runs(predictions, pd.read_csv(sources[s], dtype={"id": str}), other)
                      for s in sources if s != source and "/sweep-" not in s}
            if others:
                name = next((s for s, d in others.items() if len(d)), next(iter(others)))
                want = others[name]
                _control(page, "compare with").select_option(label=name)
                _expect_column(page, "table.compare-table", list(want["id"].astype(str).head(ROWS_SHOWN)),
                               f"compare_runs({source!r}, {name!r}, {other!r})", 60)
                checked.append({"source": source, "view": "compare", "task": other, "with": name, "rows": len(want),
                                "changes": browser.change_counts(want)})
                _shot(page, "table.compare-table", screenshot.with_name(f"{screenshot.stem}_compare.png"))
            # The main screenshot shows the controls and the first rows.
            _control(page, "run").evaluate("s => s.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            chromium.close()
    return checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.browser_check", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu", help="whose registry runs notebook 10 browses")
    parser.add_argument("--screenshot", type=Path, default=REPO_ROOT / "reports" / "figures" / "error_browser.png")
    args = parser.parse_args(argv)
    for view in check(args.profile, args.screenshot):
        print("matches error_table:", view)
    print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))

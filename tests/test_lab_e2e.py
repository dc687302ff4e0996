"""A student's first use, in a real browser: `make lab`'s JupyterLab (its settings, lab.arguments) in headless
Chromium, driven by Playwright. Notebook 04 is double-clicked in the file browser, opens as a notebook with its
kernel started, runs every cell, and shows its figures and no error; nothing is written beside its source."""
import shutil
import time
from pathlib import Path

import pytest

from quarbert_lib.base.paths import REPO_ROOT, resolve_data_dir
from quarbert_lib.batch import lab
from tools import browser_check
from tools.chromium import HOW, ChromiumMissing, find

NOTEBOOK = "04_smart_mbpp.py"
# What notebook 04 draws: its figure functions' files, each shown inline as it is saved (plots._save)
FIGURES_04 = ["smart_strength.png", "smart_curves.png", "lambda_sweep.png", "lr_dropout.png", "radius_sweep.png"]


def _clone(target: Path) -> Path:
    """What the kernel imports and the server serves: the repository's notebooks, library and reports (records
    linked, not copied), so that a person's reports/local/ and any file the lab writes land in the copy."""
    for name in ("notebooks", "quarbert_lib", "reports"):
        shutil.copytree(REPO_ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "local"))
    shutil.copy(REPO_ROOT / "jupytext.toml", target / "jupytext.toml")
    (target / "records").symlink_to(REPO_ROOT / "records")
    return target


def _sources(repo: Path) -> dict[str, bytes]:
    """The files of notebooks/ that git would see (JupyterLab's .ipynb_checkpoints/ is ignored)."""
    return {p.name: p.read_bytes() for p in sorted((repo / "notebooks").iterdir()) if p.is_file()}


def _notebook_state(page) -> dict:
    """The open notebook's cells as the page holds them: executed or not, and each output's type."""
    return page.evaluate("""() => {
        const panel = window.jupyterapp.shell.currentWidget;
        const cells = panel.content.model.cells;
        const out = [];
        for (let i = 0; i < cells.length; i++) {
            const c = cells.get(i);
            if (c.type !== 'code') continue;
            out.push({count: c.executionCount, outputs: c.outputs.toJSON().map(o => o.output_type),
                      errors: c.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)});
        }
        return {path: panel.context.path, factory: panel.context.factoryName || null,
                busy: panel.sessionContext.session && panel.sessionContext.session.kernel
                      ? panel.sessionContext.session.kernel.status : 'none', cells: out};
    }""")


@pytest.mark.slow
def test_a_student_double_clicks_notebook_04_and_sees_its_figures(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright
    executable = find()
    if executable is None:
        raise ChromiumMissing(HOW)
    repo = _clone(tmp_path / "repo")
    before = _sources(repo)
    # a person's machine: the course data where the clone would find it, runs in the clone's runs/, records and
    # reports where the clone has them (the tests' own QUARBERT_RECORDS is not a person's)
    monkeypatch.delenv("QUARBERT_RECORDS", raising=False)
    monkeypatch.delenv("QUARBERT_REPORTS", raising=False)
    env = {"QUARBERT_DATA": str(resolve_data_dir()), "QUARBERT_RUNS": str(repo / "runs"),
           "JUPYTER_PATH": str(tmp_path / "kernel" / "share" / "jupyter")}      # make lab's kernel, installed here
    settings = lab.write_settings(tmp_path / "settings")
    lab.install_kernel(str(tmp_path / "kernel"))
    started = time.monotonic()
    server = browser_check.JupyterLab(tmp_path / "server", env, args=lab.arguments(repo, settings), package_root=repo)
    with server, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(executable), args=browser_check.CHROMIUM_ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/?token={server.token}")            # make lab's default url: notebooks/
            item = page.locator(".jp-DirListing-itemText", has_text=NOTEBOOK).first
            item.wait_for(timeout=120_000)
            item.dblclick()
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget"
                                   ".content && window.jupyterapp.shell.currentWidget.content.model"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.isReady", timeout=120_000)
            state = _notebook_state(page)
            assert state["path"] == f"notebooks/{NOTEBOOK}" and state["busy"] != "none", state
            assert page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name") \
                == lab.KERNEL
            assert page.locator(".jp-Dialog").count() == 0, "a dialog (kernel choice?) opened with the notebook"
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.locator(".jp-OutputArea-output img").first.wait_for(timeout=300_000)
            first_figure = time.monotonic() - started
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                state = _notebook_state(page)
                if all(c["count"] for c in state["cells"]) and state["busy"] == "idle":
                    break
                time.sleep(1)
            assert all(c["count"] for c in state["cells"]), f"not every cell ran: {state}"
            assert [e for c in state["cells"] for e in c["errors"]] == []
            images = page.locator(".jp-OutputArea-output img")
            loaded = images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
            assert len(loaded) == len(FIGURES_04) and all(loaded), loaded
            print(f"from starting JupyterLab to notebook 04's first figure: {first_figure:.0f} s")
        finally:
            chromium.close()
    # nothing beside the source: no paired .ipynb, the .py as it was (autosave off); the figures in the local folder
    assert _sources(repo) == before
    assert sorted(p.name for p in (repo / "reports" / "local" / "cpu" / "figures").glob("*.png")) == sorted(FIGURES_04)


def test_make_lab_opens_py_notebooks_as_notebooks_without_pairing():
    """The settings make lab writes: .py opens with jupytext's notebook view, the kernel starts by itself, autosave is
    off; jupytext.toml pairs no .ipynb (no `formats`)."""
    assert lab.OVERRIDES["@jupyterlab/docmanager-extension:plugin"] == {"defaultViewers": {"python": "Jupytext Notebook"},
                                                                        "autosave": False}
    assert lab.OVERRIDES["@jupyterlab/notebook-extension:tracker"] == {"autoStartDefaultKernel": True}
    assert not [line for line in (REPO_ROOT / "jupytext.toml").read_text().splitlines() if line.startswith("formats")]
    args = lab.arguments(Path("/r"), Path("/s"))
    assert "--ServerApp.root_dir=/r" in args and "--LabApp.app_settings_dir=/s" in args
    assert "--LabApp.default_url=/lab/tree/notebooks" in args

"""Every figure a notebook draws is in view: each executed notebook in reports/executed/ holds, in the cell that
draws it, the image of every figure that cell draws, byte for byte the PNG saved under reports/figures/; notebook 09
shows every saved figure."""
import ast
import base64
import inspect
import json

import jupytext
import pytest

from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.reporting import figures, plots
from quarbert_lib.study.spec import NOTEBOOK_NAMES

REPORTS = REPO_ROOT / "reports"
# The functions that draw and save a figure: plots' public functions that call plots._save, and figures' *_figure
DRAWS = {name for name, f in vars(plots).items() if inspect.isfunction(f) and f.__module__ == plots.__name__
         and not name.startswith("_") and "_save(" in inspect.getsource(f)} \
    | {name for name in vars(figures) if name.endswith("_figure")}


def _draws(source: str, params: dict | None = None) -> int:
    """How many figure-drawing calls a cell's code makes (plots.f(...), figures.x_figure(...), x_figure(...)); a
    block under `if p:` for a notebook parameter p that ``params`` (the values it ran with) sets false draws nothing
    (its `else` does)."""
    def count(node) -> int:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id in (params or {}) \
                and not params[node.test.id]:
            return sum(count(n) for n in node.orelse)
        own = 0
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.value.id in ("plots", "figures") else f.id if isinstance(f, ast.Name) else None
            own = name in DRAWS
        return own + sum(count(n) for n in ast.iter_child_nodes(node))
    return count(ast.parse(source))


def _parameters(cells: list) -> dict:
    """The literal values a notebook's parameters cell and papermill's injected-parameters cell assign, the latter
    winning: what the notebook ran with."""
    out = {}
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out.update({n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(source).body
                        if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)})
    return out


def _images(cell) -> list[tuple[str | None, bytes]]:
    return [(o.get("metadata", {}).get("figure"), base64.b64decode(o["data"]["image/png"]))
            for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def test_the_drawing_functions_are_known():
    assert {"ablation_bars", "training_curves", "cosine_maps", "similarity_matrix", "quality_per_minute"} <= DRAWS
    assert {"strength_figure", "lambda_figure", "quality_figure"} <= DRAWS
    assert _draws("plots.ablation_bars(mine, 'x.png');\nstrength_figure(s)\nprint(1)") == 2
    guarded = "if shown:\n    plots.ablation_bars(m, 'x.png')\nelse:\n    print(1)\nplots.ablation_bars(m, 'y.png')"
    assert (_draws(guarded), _draws(guarded, {"shown": True}), _draws(guarded, {"shown": False})) == (2, 2, 1)


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOK_NAMES if n != "09_results"])
def test_each_executed_notebook_shows_every_figure_it_draws(notebook):
    source = [c for c in jupytext.read(REPO_ROOT / "notebooks" / f"{notebook}.py").cells if c.cell_type == "code"]
    executed = [c for c in json.loads((REPORTS / "executed" / f"{notebook}.ipynb").read_text())["cells"]
                if c["cell_type"] == "code"]
    params = _parameters(executed)
    executed = [c for c in executed if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    assert len(source) == len(executed)
    drawn = 0
    for i, (src, out) in enumerate(zip(source, executed)):
        images, draws = _images(out), _draws(src.source, params)
        assert len(images) == draws, f"{notebook}, code cell {i + 1}: draws {draws}, shows {len(images)}:\n{src.source}"
        for name, png in images:
            assert name and png == (REPORTS / "figures" / name).read_bytes(), f"{notebook} shows {name} other than saved"
        drawn += len(images)
    assert drawn == sum(_draws(c.source, params) for c in source)


def test_notebook_09_shows_every_saved_figure():
    executed = json.loads((REPORTS / "executed" / "09_results.ipynb").read_text())
    shown = [png for c in executed["cells"] if c["cell_type"] == "code" for _, png in _images(c)]
    saved = [p.read_bytes() for p in sorted((REPORTS / "figures").glob("*.png"))]
    assert shown == saved

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


def _draws(source: str) -> int:
    """How many figure-drawing calls a cell's code makes (plots.f(...), figures.x_figure(...), x_figure(...))."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.value.id in ("plots", "figures") else f.id if isinstance(f, ast.Name) else None
            count += name in DRAWS
    return count


def _images(cell) -> list[tuple[str | None, bytes]]:
    return [(o.get("metadata", {}).get("figure"), base64.b64decode(o["data"]["image/png"]))
            for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def test_the_drawing_functions_are_known():
    assert {"ablation_bars", "training_curves", "cosine_maps", "similarity_matrix", "quality_per_minute"} <= DRAWS
    assert {"strength_figure", "lambda_figure", "quality_figure"} <= DRAWS
    assert _draws("plots.ablation_bars(mine, 'x.png');\nstrength_figure(s)\nprint(1)") == 2


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOK_NAMES if n != "09_results"])
def test_each_executed_notebook_shows_every_figure_it_draws(notebook):
    source = [c for c in jupytext.read(REPO_ROOT / "notebooks" / f"{notebook}.py").cells if c.cell_type == "code"]
    executed = [c for c in json.loads((REPORTS / "executed" / f"{notebook}.ipynb").read_text())["cells"]
                if c["cell_type"] == "code"]
    executed = [c for c in executed if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    assert len(source) == len(executed)
    drawn = 0
    for i, (src, out) in enumerate(zip(source, executed)):
        images = _images(out)
        assert len(images) == _draws(src.source), f"{notebook}, code cell {i + 1}: draws {_draws(src.source)}, shows " \
                                                  f"{len(images)}:\n{src.source}"
        for name, png in images:
            assert name and png == (REPORTS / "figures" / name).read_bytes(), f"{notebook} shows {name} other than saved"
        drawn += len(images)
    assert drawn == sum(_draws(c.source) for c in source)


def test_notebook_09_shows_every_saved_figure():
    executed = json.loads((REPORTS / "executed" / "09_results.ipynb").read_text())
    shown = [png for c in executed["cells"] if c["cell_type"] == "code" for _, png in _images(c)]
    saved = [p.read_bytes() for p in sorted((REPORTS / "figures").glob("*.png"))]
    assert shown == saved

"""Another machine, simulated: what the committed outputs must not depend on.

Two things differ from one machine to the next without any code changing:

- **the last digits of a float.** Another CPU (AVX-512 or AVX2 vector units, another BLAS kernel) sums in another
  order and rounds differently, so a mean, a Pearson r or a p-value can move in its 15th significant digit;
- **the order in which a file system lists a folder** (ext4 lists in hash order, with a hash seed of its own).

``perturbed_copy`` copies run records with every non-integral float of their results moved by one unit in the last
place (configs untouched: they are the runs' identity). ``reversed_listing`` writes a ``sitecustomize`` that makes
``os.listdir`` and ``os.scandir`` (and so ``Path.iterdir``, ``Path.glob``, ``glob``) list every folder in the
reverse of the order the file system gives (tests/reversed_listing.py, which imports nothing but ``os``); put its folder on PYTHONPATH and every Python process started with it,
notebook kernels included, sees folders listed the other way round. Code that sorts what it lists is unaffected;
code that does not, writes something else.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from quarbert_lib.study.results import deterministic_gzip

def reversed_listing(folder: Path) -> Path:
    """A folder holding a sitecustomize that calls reversed_listing.install(): put it first on PYTHONPATH and every
    Python process started with it, notebook kernels included, lists folders backwards."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\nimport reversed_listing\n"
        "reversed_listing.install()\nsys.path.pop(0)\n")
    return folder


def nudge(value):
    """A non-integral finite float moved one unit in its last place (up); anything else as it is."""
    if isinstance(value, float) and math.isfinite(value) and value != round(value):
        return float(np.nextafter(value, math.inf))
    if isinstance(value, dict):
        return {k: nudge(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nudge(v) for v in value]
    return value


def _nudged_csv(text: str) -> str:
    frame = pd.read_csv(io.StringIO(text), dtype={"id": str}, keep_default_na=True)
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = [nudge(float(v)) for v in frame[column]]
    return frame.to_csv(index=False, float_format="%.17g")


def perturbed_copy(src: Path, dst: Path) -> Path:
    """Copy a records folder, every result's non-integral float one ulp up (config.json as it is)."""
    shutil.copytree(src, dst)
    for path in sorted(dst.rglob("*")):
        if not path.is_file() or path.name == "config.json":
            continue
        if path.name.endswith(".json"):
            path.write_text(json.dumps(nudge(json.loads(path.read_text())), indent=2, sort_keys=True) + "\n")
        elif path.name.endswith(".csv.gz"):
            text = _nudged_csv(gzip.decompress(path.read_bytes()).decode("utf-8"))
            path.write_bytes(deterministic_gzip(text.encode("utf-8")))
    return dst

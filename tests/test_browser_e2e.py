"""Notebook 10's error browser in a real browser: JupyterLab + headless Debian Chromium,
driven by Playwright. Each view on screen must be exactly error_table(...) of its settings."""
import random
import struct
from pathlib import Path

import pandas as pd
import pytest

from tools import browser_check
from quarbert_lib.core.config import DataConfig
from quarbert_lib.core.data import load_task


def _hand_built_predictions(data_dir: Path) -> pd.DataFrame:
    """Dev predictions for the mini data: SST off by 0-2 levels, Quora flipped on every third
    pair, STS shifted by a seeded amount, so filters and tasks give tables of different sizes."""
    rng, rows = random.Random(7), []
    config = DataConfig(data_dir=str(data_dir))
    for task in ("sst", "para", "sts"):
        for i, e in enumerate(load_task(task, config).splits["dev"]):
            if task == "sst":
                pred = min(4, max(0, int(e.label) + rng.choice([-2, -1, 0, 0, 1])))
            elif task == "para":
                pred = 1.0 - e.label if i % 3 == 0 else e.label
            else:
                pred = round(min(5.0, max(0.0, e.label + rng.uniform(-1.5, 1.5))), 3)
            # the probabilities a run writes beside its labels (notebook 10's calibration reads them)
            probs = ({f"prob_{k}": 0.6 if k == pred else 0.1 for k in range(5)} if task == "sst" else
                     {"prob": 0.8 if pred == 1 else 0.2} if task == "para" else {"score": pred})
            rows.append({"id": e.id, "task": task, "gold": e.label, "prediction": pred, **probs})
    return pd.DataFrame(rows)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
def test_error_browser_in_jupyterlab_and_chromium(tmp_path, mini_data_dir, monkeypatch):
    from quarbert_lib.reporting import browser
    from quarbert_lib.study import results
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    env = {"QUARBERT_DATA": str(mini_data_dir), "QUARBERT_RUNS": str(runs), "QUARBERT_REPORTS": str(reports)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    predictions = _hand_built_predictions(mini_data_dir)
    # A multitask run, and an ensemble of it with a second member that predicts STS 0.7 points higher
    sampling = results.run_path("smoke", "03_task_sampling", "sampling-seed0")
    specialist = results.run_path("smoke", "07_quartet_ensemble", "sts-specialist-seed0")
    ensemble = results.run_path("smoke", "07_quartet_ensemble", "ensemble-seed0")
    shifted = predictions.assign(prediction=[p + 0.7 if t == "sts" else p
                                             for t, p in zip(predictions["task"], predictions["prediction"])])
    for folder, frame in ((sampling, predictions), (specialist, shifted), (ensemble, predictions)):
        folder.mkdir(parents=True)
        frame.to_csv(folder / "predictions-dev.csv", index=False)
    results.write_members(ensemble, {"multitask": sampling, "sts-specialist": specialist})

    shot = reports / "figures" / "error_browser.png"
    views = browser_check.check("smoke", shot, workdir=tmp_path / "lab", env=env)

    # The checker compared each view with the library itself; here we pin which views it saw.
    tables = [v for v in views if "view" not in v]
    assert [(v["task"], v.get("gold")) for v in tables] == [("sst", None), ("sst", tables[1]["gold"]), ("sts", None)]
    sst = predictions[predictions["task"] == "sst"]
    gold = tables[1]["gold"][0]
    assert tables[0]["rows"] == len(sst)
    assert tables[1]["rows"] == int((sst["gold"].astype(float) == float(gold)).sum()) < len(sst)
    assert tables[2]["rows"] == int((predictions["task"] == "sts").sum())
    assert all(v["source"] == "07_quartet_ensemble/ensemble-seed0" for v in views)
    members, compare = (next(v for v in views if v.get("view") == k) for k in ("members", "compare"))
    assert members["rows"] == 2
    # sampling-seed0 predicts what the ensemble does; the specialist's STS is 0.7 higher on every pair
    n_sts = int((predictions["task"] == "sts").sum())
    assert compare["with"] == "07_quartet_ensemble/sts-specialist-seed0" and compare["rows"] == n_sts
    assert compare["changes"] == browser.change_counts(browser.compare_runs(predictions, shifted, "sts"))
    assert sum(compare["changes"].values()) == n_sts
    for path in (shot, shot.with_name("error_browser_members.png"), shot.with_name("error_browser_compare.png")):
        assert _png_size(path) == (1400, 1000), path  # the viewport, as a user sees it


def test_a_wrong_view_is_reported(mini_data_dir, monkeypatch):
    """The comparison itself can fail: a page showing the right count but the rows in another
    order raises BrowserCheckError; the exact rows pass."""
    from quarbert_lib.reporting.browser import error_table
    predictions = _hand_built_predictions(mini_data_dir)
    want = list(error_table(predictions, "sst")["id"].head(browser_check.ROWS_SHOWN))

    class FakePage:
        def locator(self, selector, **_):
            return self

        def count(self):
            return 1

    caption = f"{int((predictions['task'] == 'sst').sum())} rows of sst"
    monkeypatch.setattr(browser_check, "_shown", lambda page: (caption, want[::-1]))
    with pytest.raises(browser_check.BrowserCheckError, match="error_table"):
        browser_check._expect(FakePage(), predictions, "sst", timeout_s=1)
    monkeypatch.setattr(browser_check, "_shown", lambda page: (caption, want))
    assert browser_check._expect(FakePage(), predictions, "sst", timeout_s=1)["shown"] == len(want)

"""Each numbered notebook executes through the batch runner (papermill) on the tiny encoder."""
import json

import pandas as pd
import pytest

from quarbert_lib import reproduce

NOTEBOOKS = [p.stem for p in reproduce.discover()]


def test_notebooks_hold_no_definitions():
    for path in reproduce.discover():
        code = path.read_text()
        assert "\ndef " not in code and "\nclass " not in code, path.name
        assert '# %% tags=["parameters"]' in code, path.name


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_smoke(notebook, isolated, tiny_encoder_dir):
    code = reproduce.main(["--profile", "smoke", "--only", notebook[:2], "-p", f"encoder={str(tiny_encoder_dir)!r}"])
    summary = json.loads((isolated / "reports" / "executed" / "summary.json").read_text())
    assert code == 0, summary
    assert (isolated / "reports" / "executed" / f"{notebook}.ipynb").exists()
    tables = isolated / "reports" / "tables"
    if notebook.startswith("01"):
        df = pd.read_csv(tables / "single_task.csv")
        assert sorted(zip(df["task"], df["mode"])) == [("cfimdb", "finetune"), ("cfimdb", "pretrain"),
                                                       ("sst", "finetune"), ("sst", "pretrain")]
    if notebook.startswith("02"):
        df = pd.read_csv(tables / "ablation.csv")
        assert list(df["variant"]) == ["baseline-pretrain", "baseline-finetune"]
        assert list(df.columns[:11]) == ["variant", "encoder", "profile", "seeds", "params_total", "params_trainable",
                                         "sst_acc", "qqp_acc", "sts_pearson", "overall", "train_seconds"]
        assert df["data_note"].str.contains("quora-train.csv absent").all()
        frozen, tuned = df.set_index("variant").loc[["baseline-pretrain", "baseline-finetune"], "params_trainable"]
        assert frozen < tuned


def test_failed_notebook_is_reported_and_others_run(isolated, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "01_ok.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nx = 1\n')
    (folder / "02_bad.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\nraise RuntimeError("broken on purpose")\n')
    (folder / "03_ok.py").write_text('# %% tags=["parameters"]\nprofile = "cpu"\n# %%\ny = 2\n')
    monkeypatch.setattr(reproduce, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(reproduce, "discover", lambda only=None, notebook_dir=folder: sorted(folder.glob("*.py")))
    assert reproduce.main(["--profile", "smoke"]) == 1
    summary = json.loads((isolated / "reports" / "executed" / "summary.json").read_text())
    assert [(s["notebook"], s["status"]) for s in summary] == [("01_ok", "ok"), ("02_bad", "failed"), ("03_ok", "ok")]
    assert "RuntimeError" in summary[1]["error"] and "broken on purpose" in summary[1]["error"]
    assert "FAILED 02_bad" in capsys.readouterr().err

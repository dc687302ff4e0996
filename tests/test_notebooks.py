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
    params = ["-p", f"encoder={str(tiny_encoder_dir)!r}", "-p", "lambdas=[1.0, 5.0]", "-p", "learning_rates=[1e-3]",
              "-p", "dropouts=[0.1, 0.3]", "-p", "sweep_steps=3", "-p", "cost_steps=2"]
    code = reproduce.main(["--profile", "smoke", "--only", notebook[:2], *params])
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
    ladder = {"03": ["sampling"], "04": ["advreg-only", "smart"], "05": ["smart-cosine"], "06": ["smart-simcse"]}
    if notebook[:2] in ladder:
        assert list(pd.read_csv(tables / "ablation.csv")["variant"]) == ladder[notebook[:2]]
    if notebook.startswith("04"):
        assert list(pd.read_csv(tables / "lambda_sweep.csv")["lambda"]) == [1.0, 5.0]
        grid = pd.read_csv(tables / "lr_dropout.csv")
        assert sorted(zip(grid["lr"], grid["dropout"])) == [(1e-3, 0.1), (1e-3, 0.3)]
        assert (grid["steps"] == 3).all()
        assert (isolated / "reports" / "figures" / "lambda_sweep.png").exists()
    if notebook.startswith("06"):
        costs = pd.read_csv(tables / "costs.csv").set_index("variant")
        assert costs.loc["sampling", "relative"] == 1.0
        assert list(costs.index) == ["sampling", "advreg-only", "smart", "smart-cosine", "smart-simcse"]
        run = json.loads((isolated / "runs" / "06_simcse" / "smart-simcse-seed0" / "metrics.json").read_text())
        assert run["simcse_steps"] == 2 and run["simcse_sentences"] > 0


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

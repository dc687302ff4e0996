"""`make reproduce`'s check: recorded runs retrained in a scratch registry reproduce their records (exactly on the
machine that made them), a record whose results were changed is caught, and the sample fits its budget."""
import gzip
import json

import pytest

from quarbert_lib.base import cli
from quarbert_lib.batch import verify
from quarbert_lib.core.config import profile_config
from quarbert_lib.study import experiment, records, results


@pytest.fixture
def recorded(isolated, tiny_encoder_dir, monkeypatch):
    """Two notebooks' tiny smoke runs, trained and recorded like the study's (records under the test's folder)."""
    monkeypatch.setattr(records, "RECORDED_PROFILES", ("smoke",))
    for notebook, run, steps in (("01_nb", "cheap-seed0", 2), ("01_nb", "dear-seed0", 4), ("02_nb", "other-seed0", 3)):
        cfg = profile_config("smoke", tasks=["sst", "sts"], model__encoder=str(tiny_encoder_dir), train__max_steps=steps)
        experiment.run_experiment(cfg, notebook, run)
    return isolated


def test_a_retrained_run_reproduces_its_record_exactly_and_a_changed_record_is_caught(recorded, capsys):
    runs = verify.recorded_runs("smoke")
    assert [(r.notebook, r.run) for r in runs] == [("01_nb", "cheap-seed0"), ("01_nb", "dear-seed0"),
                                                   ("02_nb", "other-seed0")]
    before = {p: p.read_bytes() for p in sorted((recorded / "records").rglob("*")) if p.is_file()}
    out = verify.verify("smoke", [runs[0]])
    assert out[0]["verdict"] == "exactly" and set(out[0]["moved"]) == {"sst_acc", "sts_pearson"}
    assert all(d == 0 for d in out[0]["moved"].values())
    # the check reads the records and writes nothing anywhere it keeps
    assert {p: p.read_bytes() for p in sorted((recorded / "records").rglob("*")) if p.is_file()} == before
    # a record whose dev accuracy was edited by 0.05: beyond the tolerance, so it differs
    metrics = runs[0].folder / "metrics.json"
    edited = {**json.loads(metrics.read_text()), "sst_acc": json.loads(metrics.read_text())["sst_acc"] + 0.05}
    metrics.write_text(json.dumps(edited))
    (runs[0].folder / "predictions-dev.csv.gz").write_bytes(gzip.compress(b"id,task\nx,sst\n"))
    assert verify.verify("smoke", [runs[0]])[0]["verdict"] == "differs"
    assert "DIFFERS from its record (largest move: sst_acc -0.0500" in capsys.readouterr().out
    # within the tolerance, predictions aside: another machine's rounding
    metrics.write_text(json.dumps({**edited, "sst_acc": edited["sst_acc"] - 0.05 + verify.TOLERANCE / 2}))
    assert verify.verify("smoke", [runs[0]])[0]["verdict"] == "within tolerance"


def test_the_sample_is_each_notebooks_cheapest_run_within_the_budget():
    R = verify.Recorded
    runs = [R("01", "a", None, 1.0), R("01", "b", None, 0.5), R("02", "c", None, 3.0), R("03", "d", None, 2.0)]
    assert [r.run for r in verify.sample(runs, 10)] == ["b", "d", "c"]
    assert [r.run for r in verify.sample(runs, 3)] == ["b", "d"]
    assert [r.run for r in verify.sample(runs, 0.1)] == ["b"]             # the first always: it checks something


def test_the_command_line_ends_with_how_many_reproduce(recorded, capsys):
    first = verify.sample(verify.recorded_runs("smoke"), 0)[0]             # the cheaper notebook's cheapest run
    other = ({"01_nb", "02_nb"} - {first.notebook}).pop()
    assert cli.run(verify.main, ["--profile", "smoke", "--budget-minutes", "0"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith(f"[verify] retraining 1 recorded runs (about {first.minutes:.1f} min by their records): "
                             f"{first.notebook}/{first.run}; not this time (over the budget): {other}")
    assert out[-1] == "[verify] 1 of 1 retrained runs reproduce their records (1 exactly: the same dev predictions as written)"
    assert cli.run(verify.main, ["--profile", "smoke", "--runs", "02_nb/nope"]) == 2
    assert "no recorded run 02_nb/nope" in capsys.readouterr().err
    assert results.run_path("smoke", "01_nb", "cheap-seed0").exists()     # the registry's own run is untouched

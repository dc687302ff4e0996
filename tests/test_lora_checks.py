"""Notebook 08's weight-bound measurements: measured where the weights are, read from their tables elsewhere."""
import pandas as pd
import pytest

from quarbert_lib.base.errors import UserError
from quarbert_lib.study import lora_checks, results


def _run(folder, *files, adapter=False):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"x")
    if adapter:
        (folder / "adapter").mkdir()
    return folder


def test_missing_weights_names_each_file_a_measurement_needs(tmp_path):
    full = _run(tmp_path / "specialist-sst-seed0", "model.pt")
    lora = _run(tmp_path / "lora-sst-seed0", "model.pt", "heads.pt", adapter=True)
    assert lora_checks.missing_weights({"full": full, "lora": lora}) == []
    bare = _run(tmp_path / "lora-para-seed0", "model.pt")                   # a restored record: no adapter, no heads
    restored = _run(tmp_path / "specialist-para-seed0", "metrics.json")
    assert lora_checks.missing_weights({"a": bare, "b": restored}) == [
        str(bare / "adapter"), str(bare / "heads.pt"), str(restored / "model.pt")]


def test_measure_once_where_the_weights_are_else_read_and_insisting_without_them_is_one_line(isolated):
    tmp_path = isolated
    here = {"m": _run(tmp_path / "here", "model.pt")}
    gone = {"m": _run(tmp_path / "gone", "metrics.json")}
    setting = {"profile": "cpu", "encoder": "e", "lora_r": 8}
    assert lora_checks.should_measure(None, here, setting) is True
    assert lora_checks.should_measure(None, gone, setting) is False
    assert lora_checks.should_measure(False, here, setting) is False
    assert lora_checks.should_measure(True, here, setting) is True
    with pytest.raises(UserError, match=r"measure=True needs the runs' weights, and .*gone/model.pt is missing"):
        lora_checks.should_measure(True, gone, setting)
    # once every table holds this setting, a re-execution reads it back, weights or not; another setting measures
    lora_checks.save_measured({name: pd.DataFrame({"value": [1]}) for name in lora_checks.MEASURED[:-1]}, setting)
    assert lora_checks.should_measure(None, here, setting) is True                       # one table still lacks it
    lora_checks.save_measured({lora_checks.MEASURED[-1]: pd.DataFrame({"value": [1]})}, setting)
    assert lora_checks.should_measure(None, here, setting) is False
    assert lora_checks.should_measure(True, here, setting) is True
    assert lora_checks.should_measure(None, here, {**setting, "lora_r": 16}) is True


def test_a_measurement_is_read_back_for_its_own_setting_only(isolated):
    setting = {"profile": "cpu", "encoder": "e", "recipe": "sampling", "seed": 0, "lora_r": 8, "lora_lr": 5e-4}
    measured = {name: pd.DataFrame({"value": [i, i + 1]}) for i, name in enumerate(lora_checks.MEASURED)}
    lora_checks.save_measured(measured, setting)
    lora_checks.save_measured({"lora_checks.csv": pd.DataFrame({"value": [7]})}, {**setting, "lora_r": 16})
    with pytest.raises(UserError, match=r"lora_params.csv: no measurement of .*'lora_r': 4"):
        lora_checks.read_measured({**setting, "lora_r": 4})
    with pytest.raises(UserError, match=r"lora_params.csv: no measurement"):     # r=16 measured one table only
        lora_checks.read_measured({**setting, "lora_r": 16})
    lora_checks.save_measured(measured, setting)                              # measured again: replaced, not added
    got = lora_checks.read_measured(setting)
    assert [list(t["value"]) for t in got] == [[0, 1], [1, 2], [2, 3]]
    assert (got[0][list(setting)] == pd.Series(setting)).all(axis=None)
    assert list(results.read_table("lora_checks.csv")["value"]) == [1, 2]     # one measurement per profile/encoder


def test_a_setting_is_found_as_a_csv_gives_it_back_and_legacy_rows_give_way(isolated):
    """Numbers compare as numbers (8 and 8.0, 5e-4 and 0.0005; a column with a missing value reads back as float);
    rows saved before tables carried their setting are replaced by the next measurement."""
    from quarbert_lib.base.paths import tables_dir
    tables_dir().mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"value": [9], "profile": ["cpu"], "encoder": ["e"]}).to_csv(tables_dir() / "t.csv", index=False)
    other = {"profile": "quick", "encoder": "e", "lora_r": 8, "lora_lr": 5e-4, "recipe": "sampling"}
    results.save_measured("t.csv", other, pd.DataFrame({"value": [3]}))
    setting = {**other, "profile": "cpu"}
    results.save_measured("t.csv", setting, pd.DataFrame({"value": [1, 2]}))
    saved = pd.read_csv(tables_dir() / "t.csv")
    assert list(saved["value"]) == [3, 1, 2]                                   # the legacy row gave way
    assert list(results.read_measured("t.csv", setting)["value"]) == [1, 2]
    assert list(results.read_measured("t.csv", {**other, "lora_r": 8.0, "lora_lr": 0.0005})["value"]) == [3]


def test_a_measurement_is_made_once_then_read_unless_asked_again(isolated):
    calls = []
    make = lambda: calls.append(1) or pd.DataFrame({"seconds": [float(len(calls))]})  # noqa: E731
    setting = {"profile": "cpu", "encoder": "e", "steps_timed": 9}
    rows, here = results.measured("costs.csv", setting, None, make)          # nothing saved: measured
    assert here and list(rows["seconds"]) == [1.0]
    rows, here = results.measured("costs.csv", setting, None, make)          # saved: read back
    assert not here and list(rows["seconds"]) == [1.0] and len(calls) == 1
    rows, here = results.measured("costs.csv", setting, True, make)          # asked: measured again
    assert here and list(rows["seconds"]) == [2.0]
    with pytest.raises(UserError, match=r"costs.csv: no measurement of .*'steps_timed': 3"):
        results.measured("costs.csv", {**setting, "steps_timed": 3}, False, make)

"""Values of the wrong type (the second bug hunt, items 10 and 11): one ConfigError or ParameterError naming the
field or parameter, the value and what is expected, before any compute; never a TypeError in training, never a
value read as something else ("false" as true, "sst" as the letters s, s, t, 1.5 epochs as "13.5 steps")."""
import json

import pytest

from quarbert_lib.base import cli
from quarbert_lib.batch import reproduce
from quarbert_lib.core.config import ConfigError, ExperimentConfig, profile_config


@pytest.mark.parametrize("override, said", [
    ({"train__lr": "5e-5"}, "config field 'train.lr' = '5e-5' is text, not a number"),
    ({"data__max_length": "64"}, "config field 'data.max_length' = '64' is text, not an integer"),
    ({"tasks": "sst"}, "config field 'tasks' = 'sst' is text, not a list of texts"),
    ({"train__epochs": 1.5}, "config field 'train.epochs' = 1.5 is float, not an integer"),
    ({"data__skip_bad_rows": "false"}, "config field 'data.skip_bad_rows' = 'false' is text, not true or false"),
    ({"smart__weight": True}, "config field 'smart.weight' = True is true or false, not a number"),   # a section of losses/
    ({"data__max_train_per_task": "all"}, "config field 'data.max_train_per_task' = 'all' is text, not an integer or None"),
    ({"model__encoder": "minilm_l6"}, "config field 'model.encoder' = 'minilm_l6' is not allowed: expected the packaged alias 'minilm-l6'"),
    ({"model__encoder": "./no-such-encoder"}, "config field 'model.encoder' = './no-such-encoder' is not allowed: expected an existing folder"),
])
def test_a_value_of_the_wrong_type_is_one_config_error(override, said):
    with pytest.raises(ConfigError) as err:
        profile_config("cpu", **override)
    assert str(err.value).startswith(said), str(err.value)


def test_the_right_types_pass_and_an_int_is_a_number():
    cfg = profile_config("cpu", train__lr=1, data__max_train_per_task=None, tasks=("sst", "sts"))
    assert cfg.train.lr == 1 and cfg.tasks == ["sst", "sts"] and cfg.data.max_train_per_task is None
    # a config file (the experiment command's --config) is checked the same way
    d = json.loads(profile_config("smoke").to_json())
    d["train"]["batch_size"] = "8"
    with pytest.raises(ConfigError, match="'train.batch_size' = '8' is text, not an integer"):
        ExperimentConfig.from_dict(d).validate()


@pytest.mark.parametrize("args, said", [
    (["-p", "seeds=7"], "error: -p seeds=7: a list of seeds (integers >= 0) is expected, e.g. -p seeds='[7]'"),
    (["-p", "sweep_seeds=[-1]"], "error: -p sweep_seeds=[-1]: a list of seeds (integers >= 0) is expected"),
    (["--only", "02", "-p", "encoder=minilm_l6"],
     "error: config field 'model.encoder' = 'minilm_l6' is not allowed: expected the packaged alias 'minilm-l6'"),
])
def test_a_bad_batch_parameter_is_one_line_before_any_compute(isolated, monkeypatch, capsys, args, said):
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    assert cli.run(reproduce.main, ["--profile", "smoke", "--dry-run", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(said), err

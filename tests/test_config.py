import json

import pytest

from quarbert_lib.core.config import ConfigError, ExperimentConfig, profile_config


def test_profiles_differ_as_documented():
    smoke, cpu, paper = (profile_config(p) for p in ("smoke", "cpu", "paper"))
    assert smoke.data.max_train_per_task == 24 and smoke.train.epochs == 1
    assert cpu.model.encoder == "minilm-l6" and cpu.data.max_train_per_task == 2400
    assert (paper.model.encoder, paper.train.lr, paper.train.epochs, paper.train.batch_size,
            paper.model.hidden_dropout) == ("bert-base-uncased", 1e-5, 10, 16, 0.1)
    assert all(c.data.skip_bad_rows for c in (smoke, cpu, paper))
    assert ExperimentConfig().data.skip_bad_rows is False  # strict by default


def test_overrides_and_json_round_trip():
    cfg = profile_config("cpu", tasks=["sst"], model__freeze_encoder=True, train__lr=1e-3)
    assert cfg.tasks == ["sst"] and cfg.model.freeze_encoder and cfg.train.lr == 1e-3
    again = ExperimentConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg


@pytest.mark.parametrize("overrides, field", [
    ({"train__lr": -1.0}, "train.lr"),
    ({"train__batch_size": 0}, "train.batch_size"),
    ({"train__sampler": "random"}, "train.sampler"),
    ({"model__pooling": "max"}, "model.pooling"),
    ({"model__pair_encoding": "both"}, "model.pair_encoding"),
    ({"model__hidden_dropout": 1.5}, "model.hidden_dropout"),
])
def test_validation_names_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        profile_config("cpu", **overrides)


def test_unknown_names_are_rejected():
    with pytest.raises(ConfigError, match="profile"):
        profile_config("laptop")
    with pytest.raises(ConfigError, match="tasks"):
        profile_config("cpu", tasks=["sst", "imdb"])
    with pytest.raises(ConfigError, match="train.lrate"):
        profile_config("cpu", train__lrate=1.0)
    with pytest.raises(ConfigError, match="train.nope"):
        ExperimentConfig.from_dict({"train": {"nope": 1}})


def test_every_field_has_help():
    import dataclasses

    from quarbert_lib.core.config import DataConfig, ModelConfig, TrainConfig
    for cls in (ExperimentConfig, DataConfig, ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"


def test_profile_seeds_default_and_explicit():
    from quarbert_lib.core.config import profile_seeds
    assert profile_seeds("cpu") == [0, 1, 2]
    assert profile_seeds("smoke") == [0]
    assert profile_seeds("cpu", [4]) == [4]
    with pytest.raises(ConfigError, match="seeds"):
        profile_seeds("cpu", [])
    with pytest.raises(ConfigError, match="profile"):
        profile_seeds("laptop")

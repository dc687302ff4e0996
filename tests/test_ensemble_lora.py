"""The quartet ensemble against hand computations; LoRA parameter counts, reload, merge, mixed batches."""
import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from quarbert_lib.core.config import LoraSettings, ModelConfig, profile_config
from quarbert_lib.core.model import MultitaskBERT, load_encoder
from quarbert_lib.study import ensemble
from quarbert_lib.study.experiment import run_experiment
from quarbert_lib.study.lora import LoraQuartet, expected_lora_params, wrap_encoder
from quarbert_lib.study.results import run_path


def _frame(task, ids, gold, **cols):
    return pd.DataFrame({"id": ids, "task": task, "gold": gold, **cols})


def test_average_matches_hand_computation():
    a = pd.concat([_frame("sst", ["x", "y"], [0, 2], prediction=[0, 1], prob_0=[.7, .1], prob_1=[.2, .5],
                          prob_2=[.1, .3], prob_3=[0, .05], prob_4=[0, .05]),
                   _frame("para", ["p"], [1], prediction=[0], prob=[.4]),
                   _frame("sts", ["s", "t"], [4.0, 1.0], prediction=[3.0, 2.0], score=[3.0, 2.0])])
    b = pd.concat([_frame("sst", ["x", "y"], [0, 2], prediction=[1, 2], prob_0=[.3, .1], prob_1=[.4, .1],
                          prob_2=[.1, .7], prob_3=[.1, .05], prob_4=[.1, .05]),
                   _frame("para", ["p"], [1], prediction=[1], prob=[.8])])
    c = _frame("sts", ["s", "t"], [4.0, 1.0], prediction=[5.0, 1.0], score=[5.0, 1.0])
    out = ensemble.ensemble({"a": a, "b": b, "c": c}).set_index(["task", "id"])
    assert out.loc[("sst", "x"), "prob_0"] == pytest.approx(0.5)         # (0.7 + 0.3) / 2
    assert out.loc[("sst", "y"), "prob_2"] == pytest.approx(0.5)         # (0.3 + 0.7) / 2
    assert list(out.loc["sst", "prediction"]) == [0, 2]
    assert out.loc[("para", "p"), "prob"] == pytest.approx(0.6) and out.loc[("para", "p"), "prediction"] == 1
    assert list(out.loc["sts", "score"]) == pytest.approx([4.0, 1.5])    # a and c hold STS
    s = ensemble.scores(out.reset_index())
    assert s["sst_acc"] == 1.0 and s["para_acc"] == 1.0 and s["sts_pearson"] == pytest.approx(1.0)


def test_weights_and_temperatures():
    f1 = _frame("para", ["p", "q"], [1, 0], prediction=[1, 0], prob=[0.9, 0.2])
    f2 = _frame("para", ["p", "q"], [1, 0], prediction=[0, 0], prob=[0.3, 0.4])
    out = ensemble.combine([f1, f2], "para", weights=[3, 1], temperatures=[2.0, 1.0])
    logit = math.log(0.9 / 0.1) / 2.0
    expected = 0.75 / (1 + math.exp(-logit)) + 0.25 * 0.3
    assert out["prob"].iloc[0] == pytest.approx(expected, rel=1e-6)
    # the same ids in another order are aligned by id (the issue-38 input); other ids are refused
    assert ensemble.combine([f1, f2.iloc[::-1]], "para").equals(ensemble.combine([f1, f2], "para"))
    with pytest.raises(ValueError, match="different examples"):
        ensemble.combine([f1, f2.assign(id=["p", "r"])], "para")


def test_fitted_temperature_and_weights_on_calibration_data():
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 400)
    gold = (rng.uniform(0, 1, 400) < 1 / (1 + np.exp(-true_logit))).astype(int)   # labels drawn from sigmoid(z)
    overconfident = 1 / (1 + np.exp(-4 * true_logit))                     # logits x 4: T should be near 4
    noise = rng.uniform(0, 1, 400)                                          # an uninformative member
    a = _frame("para", [str(i) for i in range(400)], gold, prediction=(overconfident > .5).astype(int), prob=overconfident)
    b = _frame("para", [str(i) for i in range(400)], gold, prediction=(noise > .5).astype(int), prob=noise)
    assert 3.0 < ensemble.fit_temperature(a, "para") < 5.5
    fitted = ensemble.fit_calibration({"good": a, "noise": b})["para"]
    assert fitted["members"] == ["good", "noise"] and fitted["weights"][0] > 0.8


def test_duplicate_members_are_refused(tmp_path):
    for name, payload in (("a", b"one"), ("b", b"two"), ("c", b"one")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_bytes(payload)
    assert len(set(ensemble.check_distinct({"a": tmp_path / "a", "b": tmp_path / "b"}).values())) == 2
    with pytest.raises(ensemble.DuplicateMemberError, match="'a' and 'c' are the same checkpoint"):
        ensemble.check_distinct({"a": tmp_path / "a", "b": tmp_path / "b", "c": tmp_path / "c"})


def test_a_recorded_member_is_told_apart_by_its_weights_hash(tmp_path):
    """A record keeps no weights: weights.json carries their hash, so a restored quartet is still checked."""
    import hashlib
    for name, payload in (("a", b"one"), ("b", b"two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_bytes(payload)
        ensemble.record_weights_hash(tmp_path / name)
        (tmp_path / name / "model.pt").unlink()                   # as restored from its record
    assert ensemble.check_distinct({"a": tmp_path / "a", "b": tmp_path / "b"}) == \
        {"a": hashlib.sha256(b"one").hexdigest(), "b": hashlib.sha256(b"two").hexdigest()}
    (tmp_path / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="neither its weights"):
        ensemble.check_distinct({"c": tmp_path / "c"})
    ensemble.record_weights_hash(tmp_path / "c")                   # no weights: nothing written
    assert not (tmp_path / "c" / ensemble.WEIGHTS_HASH).exists()


def test_member_errors_against_hand_computed_correlations():
    """SST: two members' wrong-answer indicators correlate as numpy says, and both are wrong on 1 of the 3 examples
    either gets wrong; STS: the residuals' correlation; a task with one member gives no pair; rows in any order."""
    sst = lambda pred: pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "task": "sst", "gold": [0, 1, 2, 3, 4],  # noqa: E731
                                     "prediction": pred})
    sts = lambda pred: pd.DataFrame({"id": ["x", "y", "z", "w"], "task": "sts", "gold": [1.0, 2.0, 3.0, 4.0],  # noqa: E731
                                     "prediction": pred})
    members = {"sst-specialist": sst([0, 2, 2, 0, 4]),
               "multitask": pd.concat([sst([1, 2, 2, 3, 4]).iloc[::-1], sts([1.5, 2.0, 2.5, 4.5])]),
               "sts-specialist": sts([1.2, 2.4, 2.9, 4.2])}
    table = ensemble.member_errors(members).set_index("task")
    wrong_a, wrong_b = np.array([0, 1, 0, 1, 0.0]), np.array([1, 1, 0, 0, 0.0])
    assert table.loc["sst", "error_correlation"] == pytest.approx(np.corrcoef(wrong_a, wrong_b)[0, 1])
    assert table.loc["sst", "both_wrong_share"] == pytest.approx(1 / 3)
    resid_a, resid_b = np.array([0.5, 0.0, -0.5, 0.5]), np.array([0.2, 0.4, -0.1, 0.2])
    assert table.loc["sts", "error_correlation"] == pytest.approx(np.corrcoef(resid_a, resid_b)[0, 1])
    assert np.isnan(table.loc["sts", "both_wrong_share"]) and "para" not in table.index


def test_subset_table_has_every_subset():
    a = _frame("sst", ["x"], [1], prediction=[1], **{f"prob_{k}": [float(k == 1)] for k in range(5)})
    b = _frame("sst", ["x"], [1], prediction=[0], **{f"prob_{k}": [float(k == 0)] for k in range(5)})
    table = ensemble.subset_table({"a": a, "b": b})
    assert list(table["members"]) == ["a", "b", "a + b"] and list(table["sst_acc"])[:2] == [1.0, 0.0]


@pytest.mark.parametrize("targets", ["qkv", "all-linear"])
def test_lora_trainable_count_is_r_times_fan_in_plus_fan_out(tiny_encoder_dir, targets):
    encoder, _ = load_encoder(str(tiny_encoder_dir))
    settings = LoraSettings(enabled=True, r=4, targets=targets)
    hidden, inter, layers = 32, 64, 2
    per_layer = 3 * 4 * (hidden + hidden)
    if targets == "all-linear":
        per_layer += 4 * (hidden + hidden) + 4 * (hidden + inter) + 4 * (inter + hidden)
    assert expected_lora_params(encoder, settings) == layers * per_layer
    model = MultitaskBERT(wrap_encoder(copy.deepcopy(encoder), settings), ["sst", "para"], ModelConfig())
    heads = sum(p.numel() for p in model.heads.parameters())
    assert model.param_counts()[1] == layers * per_layer + heads


def test_lora_runs_reload_merge_and_serve_mixed(isolated, tiny_encoder_dir):
    lora = dict(lora__enabled=True, lora__r=4, lora__alpha=8.0, lora__dropout=0.0)
    folders = {}
    for name, tasks, seed in (("a", ["sst", "sts"], 0), ("b", ["sts"], 1)):
        cfg = profile_config("smoke", tasks=tasks, model__encoder=str(tiny_encoder_dir), train__max_steps=3,
                             train__seed=seed, **lora)
        metrics = run_experiment(cfg, "lora", name)
        folders[name] = (run_path("smoke", "lora", name), cfg)
        assert metrics["params_trainable"] / metrics["params_total"] < 0.05
        assert (folders[name][0] / "adapter" / "adapter_config.json").exists()
    quartet = LoraQuartet(folders)
    _, tokenizer = load_encoder(str(tiny_encoder_dir))
    saved = pd.read_csv(folders["a"][0] / "predictions-dev.csv")
    from quarbert_lib.core.evaluate import predict
    from quarbert_lib.study.experiment import load_task_data
    data, *_ = load_task_data(folders["a"][1], tokenizer)
    again = predict(quartet.member("a"), data["dev"]["sts"], "sts", 16)
    expected = saved[saved["task"] == "sts"]["prediction"].to_numpy()
    np.testing.assert_allclose(again["prediction"].to_numpy(), expected, rtol=0, atol=1e-6)   # reload is identical

    batch = {k: v for k, v in data["dev"]["sts"].collate(list(range(6))).items() if k != "labels"}
    mixed = quartet.mixed_forward("sts", batch, ["a", "b"])
    with torch.inference_mode():
        for name in ("a", "b"):
            torch.testing.assert_close(mixed[name], quartet.member(name)("sts", batch), rtol=0, atol=1e-5)
        assert not torch.allclose(mixed["a"], mixed["b"])                 # two different adapters

    from quarbert_lib.study.experiment import load_trained
    _, unmerged, _ = load_trained(folders["a"][0])
    _, merged, _ = load_trained(folders["a"][0])
    merged.encoder = merged.encoder.merge_and_unload()
    with torch.inference_mode():
        torch.testing.assert_close(merged("sts", batch), unmerged("sts", batch), rtol=0, atol=1e-5)
    backbone_once = sum(p.numel() for p in quartet.parameters())
    one_full = sum(p.numel() for p in unmerged.parameters())
    assert backbone_once < 1.1 * one_full

    from quarbert_lib.benchmarks.bench import adapter_modes
    modes = adapter_modes({n: f for n, (f, _) in folders.items()}, reps=1).set_index("path")
    import dataclasses

    from quarbert_lib.core.data import load_task
    uncapped = dataclasses.replace(folders["a"][1].data, max_dev_per_task=256)
    sst, sts = (len(load_task(t, uncapped).splits["dev"]) for t in ("sst", "sts"))
    # the first 256 dev rows of each task; a serves sst and sts, b serves sts; a pair is two sentences
    assert list(modes["sentences"]) == [sst + 2 * 2 * sts] * 2
    assert list(modes.index) == ["switch adapters per member", "mixed-adapter batches"]


def test_wrapping_shows_no_deprecation_warning_of_peft_itself(tiny_encoder_dir):
    """PEFT's call of transformers' deprecated `is_gradient_checkpointing` is silenced in our wrapper only;
    the bare call still warns (so the filter is needed, and narrow)."""
    import warnings

    from peft import get_peft_model

    from quarbert_lib.study.lora import peft_config
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrap_encoder(load_encoder(str(tiny_encoder_dir))[0], LoraSettings(enabled=True))
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_peft_model(load_encoder(str(tiny_encoder_dir))[0], peft_config(LoraSettings(enabled=True)))
    assert [w for w in caught if "is_gradient_checkpointing" in str(w.message)]


def test_members_listing_the_same_ids_in_another_order_are_aligned_by_id():
    """The bug hunt's input: two members whose prediction files list the same ids in another order were refused
    ("members predicted different examples"). Now they are averaged id by id; different id sets are still refused,
    naming an id that differs."""
    import numpy as np
    import pandas as pd

    from quarbert_lib.study import ensemble
    a = pd.DataFrame({"id": ["x", "y", "z"], "task": "sts", "gold": [1.0, 2.0, 3.0], "prediction": [1.0, 2.0, 4.0],
                      "score": [1.0, 2.0, 4.0]})
    b = a.assign(score=[3.0, 2.0, 0.0], prediction=[3.0, 2.0, 0.0]).iloc[[2, 0, 1]]       # z, x, y
    out = ensemble.ensemble({"a": a, "b": b})
    assert out["id"].tolist() == ["x", "y", "z"] and np.allclose(out["score"], [2.0, 2.0, 2.0])
    assert out["gold"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="sts: a and b predicted different examples \\(id 'w'\\)"):
        ensemble.aligned([a, a.assign(id=["x", "y", "w"])], "sts", ["a", "b"])


def test_a_task_no_member_predicts_has_nothing_to_align():
    """member_errors loops over every task of tasks.TASKS, CFIMDB included, which no quartet member predicts (the
    smoke pipeline caught an IndexError there)."""
    import pandas as pd

    from quarbert_lib.study import ensemble
    assert ensemble.aligned([], "cfimdb") == []
    a = pd.DataFrame({"id": ["x", "y"], "task": "sts", "gold": [1.0, 2.0], "prediction": [1.0, 2.5], "score": [1.0, 2.5]})
    errors = ensemble.member_errors({"a": a, "b": a.assign(prediction=[2.0, 2.0], score=[2.0, 2.0])})
    assert errors["task"].tolist() == ["sts"]

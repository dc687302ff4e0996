"""R-Drop against a hand computation, and the regularizer registry (order, sections, old configs)."""
import dataclasses
import json

import pytest
import torch
from torch.nn import functional as F

from quarbert_lib.base.tasks import TASKS as SPECS
from quarbert_lib.core.config import ConfigError, ExperimentConfig, ModelConfig, cost_kind, profile_config
from quarbert_lib.core.model import MultitaskBERT, load_encoder
from quarbert_lib.losses import (MbppConfig, MomentumTeacher, MultitaskObjective, RdropConfig, RDropRegularizer,
                                 SimcseConfig, SimCSERegularizer, SmartConfig, SmartRegularizer, regularizers)
from quarbert_lib.losses.rdrop import SEED_OFFSET
from quarbert_lib.study.experiment import build_objective
from quarbert_lib.study.recipes import variant_config
from quarbert_lib.study.results import same_config

TASKS = ["sst", "para", "sts"]          # one task of each head kind: classify, binary, regress


def _model(parts, seed=0):
    encoder, _ = load_encoder(str(parts[0]))
    torch.manual_seed(seed)
    return MultitaskBERT(encoder, TASKS, ModelConfig(hidden_dropout=0.1)).train()   # dropout active


def _batch(parts, task, n=6):
    return parts[1][task].collate(list(range(n)))


def _log_probs(kind, out):
    """Log-probabilities of the head's distribution: the softmax, or (1 - p, p) of the one logit."""
    if kind == "classify":
        return F.log_softmax(out, -1)                                       # (B, C)
    return torch.stack([F.logsigmoid(-out), F.logsigmoid(out)], -1)         # (B, 2)


def _nll(kind, out, labels):
    if kind == "classify":
        return F.cross_entropy(out, labels)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out, labels.float())
    return F.mse_loss(out, labels.float())


def _by_hand(model, task, batch, alpha, global_seed, generator_seed):
    """Liang et al. (2021), eq. 2-3, written out: two explicit passes, the first with the global RNG at
    ``global_seed``, the second with it reseeded from the regularizer's generator (its 'fresh' masks)."""
    kind, labels = SPECS[task].kind, batch["labels"]
    torch.manual_seed(global_seed)
    out1 = model(task, batch)
    second_seed = int(torch.randint(2**62, (1,), generator=torch.Generator().manual_seed(generator_seed)))
    torch.manual_seed(second_seed)
    out2 = model(task, batch)
    if kind == "regress":                    # STS: the squared difference of the two scores
        d = ((out1 - out2) ** 2).mean()
    else:                                    # KL(P1||P2) + KL(P2||P1), F.kl_div(input=log Q, target=log P) = KL(P||Q)
        lp1, lp2 = _log_probs(kind, out1), _log_probs(kind, out2)
        d = (F.kl_div(lp2, lp1, reduction="batchmean", log_target=True)
             + F.kl_div(lp1, lp2, reduction="batchmean", log_target=True))
    return 0.5 * (_nll(kind, out1, labels) + _nll(kind, out2, labels)) + alpha / 2 * d, d


@pytest.mark.parametrize("task", TASKS)
def test_rdrop_objective_is_eq_3_by_hand_value_and_gradient(parts, task):
    model, batch, alpha = _model(parts), _batch(parts, task), 1.5
    objective = MultitaskObjective(TASKS, {"rdrop": RDropRegularizer(alpha, seed=11)})
    torch.manual_seed(123)
    got = objective(model, task, batch)
    got.backward()
    got_grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)

    expected, d = _by_hand(model, task, batch, alpha, global_seed=123, generator_seed=11)
    expected.backward()
    assert d.item() > 1e-6          # the two passes really had different dropout masks
    torch.testing.assert_close(got, expected)
    want_grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(got_grads) == len(want_grads) > 0
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("task", TASKS)
def test_weight_zero_is_exactly_the_plain_task_loss(parts, task):
    model, batch = _model(parts), _batch(parts, task)
    kind, labels = SPECS[task].kind, batch["labels"]
    torch.manual_seed(3)
    plain = _nll(kind, model(task, batch), labels)
    after_plain = torch.get_rng_state()

    cfg = profile_config("smoke", tasks=TASKS)              # rdrop.weight defaults to 0: off
    assert cfg.rdrop.weight == 0.0
    objective = build_objective(cfg, model)
    assert list(objective.regularizers) == []
    torch.manual_seed(3)
    assert torch.equal(objective(model, task, batch), plain)

    zero = RDropRegularizer(0.0, seed=5)                     # the module itself: a term of exactly 0, no second pass
    before = zero.generator.get_state()
    torch.manual_seed(3)
    assert torch.equal(MultitaskObjective(TASKS, {"rdrop": zero})(model, task, batch), plain)
    assert torch.equal(torch.get_rng_state(), after_plain) and torch.equal(zero.generator.get_state(), before)


def test_rdrop_leaves_the_global_rng_where_a_plain_step_leaves_it(parts):
    model, batch = _model(parts), _batch(parts, "sst")
    states = []
    for regs in ({}, {"rdrop": RDropRegularizer(1.0, seed=3)}):
        torch.manual_seed(9)
        MultitaskObjective(TASKS, regs)(model, "sst", batch).backward()
        states.append(torch.get_rng_state())
    assert torch.equal(states[0], states[1])


def test_rdrop_generator_is_saved_with_the_objective(parts):
    model, batch = _model(parts), _batch(parts, "para")
    objective = MultitaskObjective(TASKS, {"rdrop": RDropRegularizer(1.0, seed=3)})
    objective(model, "para", batch)
    moved = objective.regularizers["rdrop"].generator.get_state()
    assert not torch.equal(moved, torch.Generator().manual_seed(3).get_state())   # one seed drawn
    restored = MultitaskObjective(TASKS, {"rdrop": RDropRegularizer(1.0, seed=99)})
    restored.load_state_dict(objective.state_dict())
    assert torch.equal(restored.regularizers["rdrop"].generator.get_state(), moved)


@pytest.mark.parametrize("bad", [-0.5, float("nan")])
def test_validation_names_rdrop_weight(bad):
    with pytest.raises(ConfigError, match=r"rdrop\.weight"):
        profile_config("cpu", rdrop__weight=bad)
    with pytest.raises(ConfigError, match=r"rdrop\.weight"):
        RdropConfig(weight=bad).validate()
    assert profile_config("cpu", rdrop__weight=0.0).rdrop.weight == 0.0


def test_registry_lists_the_four_regularizers_in_the_objectives_order(parts):
    entries = regularizers()
    assert [(r.name, r.config) for r in entries] == [("smart", SmartConfig), ("mbpp", MbppConfig),
                                                     ("simcse", SimcseConfig), ("rdrop", RdropConfig)]
    fields = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    for r in entries:           # each section is a field of the experiment's config, of its class, with help texts
        assert type(getattr(ExperimentConfig(), r.name)) is r.config and fields[r.name].metadata["help"]
        assert all(f.metadata.get("help") for f in dataclasses.fields(r.config)), r.name
    cfg = profile_config("smoke", tasks=TASKS, smart__enabled=True, mbpp__enabled=True, simcse__joint_weight=0.1,
                         rdrop__weight=0.5, train__seed=4)
    objective = build_objective(cfg, _model(parts))
    assert list(objective.regularizers) == ["smart", "mbpp", "simcse", "rdrop"]
    kinds = [type(m) for m in objective.regularizers.values()]
    assert kinds == [SmartRegularizer, MomentumTeacher, SimCSERegularizer, RDropRegularizer]
    rdrop = objective.regularizers["rdrop"]
    assert rdrop.weight == 0.5 and rdrop.generator.initial_seed() == 4 + SEED_OFFSET
    assert objective.regularizers["smart"].generator.initial_seed() == 4


def test_rdrop_variant_is_sampling_plus_alpha_and_round_trips():
    cfg = variant_config("rdrop", "cpu")
    assert cfg == variant_config("sampling", "cpu", rdrop__weight=1.0)
    d = json.loads(cfg.to_json())
    assert d["rdrop"] == {"weight": 1.0}
    assert ExperimentConfig.from_dict(d) == cfg
    assert cost_kind(cfg) == "sst+para+sts len128 b16 rdrop"
    # the cost strings of the existing ladder rows are unchanged (the planner matches recorded runs on them)
    assert cost_kind(variant_config("smart-simcse", "cpu")) == "sst+para+sts len128 b16 smart1-fresh mbpp simcse"


# The three sections as saved in every config.json before the registry: field names, defaults and order.
SAVED_SECTIONS = {
    "smart": {"enabled": False, "weight": 5.0, "task_weights": {}, "convention": "project", "space": "word",
              "epsilon": 1e-5, "radius": 1.0, "sigma": 1e-5, "eta": 1e-3, "steps": 1, "norm": "linf", "dropout": "same"},
    "mbpp": {"enabled": False, "mu": 1.0, "beta": 0.995},
    "simcse": {"stage": False, "stage_steps": 100, "stage_lr": 3e-5, "stage_batch_size": 32, "temperature": 0.05,
               "joint_weight": 0.0},
}


def test_a_config_saved_before_rdrop_loads_with_rdrop_off_and_equal(parts):
    new = profile_config("cpu").to_dict()
    for name, saved in SAVED_SECTIONS.items():
        assert list(new[name].items()) == list(saved.items()), name
    old = {k: v for k, v in new.items() if k != "rdrop"}
    assert sorted(old) == ["data", "lora", "mbpp", "model", "profile", "simcse", "smart", "tasks", "train"]
    cfg = ExperimentConfig.from_dict(old)
    assert cfg.rdrop == RdropConfig() and cfg.rdrop.weight == 0.0
    assert same_config(old, cfg.to_dict())                 # a finished run of this config is not retrained
    assert "rdrop" not in cost_kind(cfg)
    assert list(build_objective(cfg, _model(parts)).regularizers) == []


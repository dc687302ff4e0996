"""SMART, MBPP, SimCSE, the cosine STS head and the samplers, against hand computations."""
import math
import random

import pytest
import torch
from torch.nn import functional as F

from quarbert_lib.core.config import ConfigError, ModelConfig, TrainConfig, profile_config
from quarbert_lib.core.model import MultitaskBERT, load_encoder
from quarbert_lib.core.sampler import epoch_schedule
from quarbert_lib.core.train import Trainer
from quarbert_lib.losses import (MomentumTeacher, MultitaskObjective, SimCSELoss, SmartRegularizer, rng_snapshot,
                                 symmetric_bernoulli_kl, symmetric_kl)

TASKS = ["sst", "para", "sts"]


def _model(parts, seed=0, **cfg):
    encoder, _ = load_encoder(str(parts[0]))
    torch.manual_seed(seed)
    return MultitaskBERT(encoder, TASKS, ModelConfig(**{"hidden_dropout": 0.1, **cfg})).train()


def _batch(parts, task, n=4):
    return parts[1][task].collate(list(range(n)))


def _smart_term(model, task, batch, smart):
    rng = rng_snapshot()
    embeds = model.input_embeddings(batch)
    clean = model(task, batch, inputs_embeds=embeds)
    return smart(model, task, batch, embeds, clean, rng), clean


@pytest.mark.parametrize("task", TASKS)
def test_smart_is_exactly_zero_without_perturbation(parts, task):
    model = _model(parts)                       # training mode: dropout active, replayed by 'same'
    smart = SmartRegularizer(weight=5.0, epsilon=0.0, sigma=0.0, eta=0.0, steps=2)
    term, _ = _smart_term(model, task, _batch(parts, task), smart)
    assert term.item() == 0.0


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_is_a_true_projection(norm):
    eps = 0.05
    smart = SmartRegularizer(epsilon=eps, norm=norm)
    delta = torch.randn(6, 7, 5) * torch.tensor([1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]).view(-1, 1, 1)
    out = smart.project(delta)
    flat, flat_in = out.flatten(1), delta.flatten(1)
    if norm == "linf":
        assert flat.abs().amax(1).max() <= eps
        torch.testing.assert_close(out, delta.clamp(-eps, eps))
    else:
        norms, norms_in = flat.norm(dim=1), flat_in.norm(dim=1)
        assert (norms <= eps * (1 + 1e-6)).all()
        inside = norms_in <= eps
        torch.testing.assert_close(out[inside], delta[inside])                       # untouched inside
        torch.testing.assert_close(norms[~inside], torch.full_like(norms[~inside], eps))  # onto the sphere
        cos = F.cosine_similarity(flat[~inside], flat_in[~inside], dim=1)
        torch.testing.assert_close(cos, torch.ones_like(cos))                          # same direction


def test_smart_perturbation_stays_in_the_ball_and_off_padding(parts):
    model, seen = _model(parts), []
    smart = SmartRegularizer(epsilon=1e-3, sigma=1.0, eta=1.0, steps=3, norm="l2")
    project = smart.project
    smart.project = lambda d: seen.append(project(d)) or seen[-1]
    batch = _batch(parts, "sts")
    _smart_term(model, "sts", batch, smart)
    assert len(seen) == 2 * 4                    # 2 sides x (initial noise + 3 steps)
    for delta in seen:
        assert (delta.flatten(1).norm(dim=1) <= 1e-3 * (1 + 1e-6)).all()
    final_first_side = seen[-2]
    assert (final_first_side[batch["attention_mask"] == 0] == 0).all()


def test_smart_gradient_reaches_parameters_but_not_through_delta(parts):
    model = _model(parts)
    model.zero_grad()
    smart = SmartRegularizer(weight=5.0, epsilon=1e-2, sigma=1e-3, eta=1e-2, steps=1)
    deltas = []
    project = smart.project
    smart.project = lambda d: deltas.append(project(d)) or deltas[-1]
    batch = _batch(parts, "sst")
    rng = rng_snapshot()
    embeds = model.input_embeddings(batch)
    clean = model("sst", batch, inputs_embeds=embeds)
    term = smart(model, "sst", batch, embeds, clean, rng)
    term.backward()
    layer = model.encoder.encoder.layer[0].attention.self.query.weight
    assert term.item() > 0 and layer.grad is not None and layer.grad.abs().sum() > 0
    got = model.encoder.get_input_embeddings().weight.grad.clone()

    # Reference: the same term with delta as a plain constant tensor.
    model.zero_grad()
    torch.set_rng_state(rng["cpu"])
    embeds = model.input_embeddings(batch)
    clean = model("sst", batch, inputs_embeds=embeds)
    fixed = deltas[-1].detach().clone()
    torch.set_rng_state(rng["cpu"])
    adv = model("sst", batch, inputs_embeds={"input_ids": embeds["input_ids"] + fixed})
    (5.0 * symmetric_kl(adv, clean)).backward()
    torch.testing.assert_close(got, model.encoder.get_input_embeddings().weight.grad)


def test_nonfinite_smart_term_is_skipped_and_counted(parts):
    model = _model(parts)
    broken = SmartRegularizer(divergence=lambda task: (lambda a, b: (a - b).sum() * float("nan")))
    term, _ = _smart_term(model, "sst", _batch(parts, "sst"), broken)
    assert term.item() == 0.0 and broken.skipped == 1


def test_divergences_against_closed_forms():
    a, b = torch.tensor([[1.0, -0.5, 2.0], [0.0, 0.3, -1.0]]), torch.tensor([[0.2, 0.1, 1.0], [1.5, -0.3, 0.0]])
    p, q = F.softmax(a.double(), -1), F.softmax(b.double(), -1)
    by_hand = ((p * (p / q).log()).sum(-1) + (q * (q / p).log()).sum(-1)).mean()
    assert symmetric_kl(a, b).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert symmetric_kl(a, b).item() == pytest.approx(symmetric_kl(b, a).item(), rel=1e-6)
    assert symmetric_kl(a, a).item() == 0.0
    x, y = torch.tensor([2.0, -1.0, 0.0]), torch.tensor([0.5, 1.0, 0.0])
    expected = []
    for u, v in zip(x.tolist(), y.tolist()):
        pu, pv = 1 / (1 + math.exp(-u)), 1 / (1 + math.exp(-v))
        kl = lambda s, t: s * math.log(s / t) + (1 - s) * math.log((1 - s) / (1 - t))  # noqa: E731
        expected.append(kl(pu, pv) + kl(pv, pu))
    assert symmetric_bernoulli_kl(x, y).item() == pytest.approx(sum(expected) / 3, rel=1e-5)
    assert symmetric_bernoulli_kl(x, y).item() == pytest.approx(symmetric_bernoulli_kl(y, x).item(), rel=1e-6)
    assert symmetric_bernoulli_kl(x, x).item() == 0.0
    assert symmetric_bernoulli_kl(torch.tensor([3.0]), torch.tensor([-3.0])).item() > 1.0  # never a softmax of 1 logit
    assert symmetric_kl(a.half(), b.half()).dtype == torch.float32


def test_simcse_is_cross_entropy_over_scaled_cosines():
    torch.manual_seed(0)
    z1, z2, tau = torch.randn(4, 6), torch.randn(4, 6), 0.05
    total = 0.0
    for i in range(4):
        sims = [F.cosine_similarity(z1[i], z2[j], dim=0).item() / tau for j in range(4)]
        total += -(sims[i] - math.log(sum(math.exp(s) for s in sims)))
    assert SimCSELoss(tau)(z1, z2).item() == pytest.approx(total / 4, rel=1e-5)


def test_mbpp_teacher_follows_the_ema_formula_and_owns_its_storage(parts):
    model = _model(parts, hidden_dropout=0.0)
    beta = 0.9
    teacher = MomentumTeacher(model, mu=1.0, beta=beta)
    ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    assert ptrs and not ptrs & {p.untyped_storage().data_ptr() for p in teacher.teacher.parameters()}
    expected = {n: p.detach().clone() for n, p in model.named_parameters()}
    objective = MultitaskObjective(TASKS, {"mbpp": teacher})
    record = lambda tr: [expected.__setitem__(n, (1 - beta) * p.detach() + beta * expected[n])  # noqa: E731
                         for n, p in tr.model.named_parameters()]
    trainer = Trainer(model, objective, parts[1], TrainConfig(lr=1e-2, epochs=1, max_steps=5, batch_size=4,
                                                              sampler="round-robin"), callbacks=[record])
    trainer.fit()
    for (name, _), mine in zip(model.named_parameters(), teacher.teacher.parameters()):
        torch.testing.assert_close(mine, expected[name], rtol=1e-6, atol=1e-7)
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, teacher.teacher.get_parameter(n))]
    assert moved                                  # the teacher lags the model


def test_mbpp_penalty_is_a_real_divergence(parts):
    model = _model(parts)
    teacher = MomentumTeacher(model)
    with torch.no_grad():
        teacher.teacher.heads["para"].bias.add_(1.0)
    batch = _batch(parts, "para")
    rng = rng_snapshot()
    clean = model("para", batch)
    penalty = teacher(model, "para", batch, None, clean, rng)
    with torch.no_grad():
        torch.set_rng_state(rng["cpu"])
        shifted = teacher.teacher("para", batch)
    torch.testing.assert_close(shifted, clean + 1.0)            # same dropout masks as the clean pass
    assert penalty.item() == pytest.approx(symmetric_bernoulli_kl(clean, shifted).item(), rel=1e-6)
    assert penalty.item() > 0


@pytest.mark.parametrize("head, fn", [("cosine-sigmoid", lambda c: 5 * torch.sigmoid(c)),
                                      ("cosine-linear", lambda c: 2.5 * (c + 1))])
def test_cosine_sts_head(parts, head, fn):
    model = _model(parts, sts_head=head).eval()
    batch = _batch(parts, "sts")
    u = model.embed(batch["input_ids"], batch["attention_mask"])
    v = model.embed(batch["input_ids_2"], batch["attention_mask_2"])
    expected = fn(torch.stack([u[i] @ v[i] / (u[i].norm() * v[i].norm()) for i in range(len(u))]))
    torch.testing.assert_close(model("sts", batch), expected)
    assert "sts" not in model.heads
    with pytest.raises(ConfigError, match="model.sts_head"):
        profile_config("cpu", model__sts_head=head, model__pair_encoding="cross")


def test_round_robin_epochs_are_equal_in_order_and_seeded(parts):
    _, data = parts
    unequal = {"sst": data["sst"], "para": data["para"], "sts": data["sts"]}
    trainer = Trainer(_model(parts), MultitaskObjective(TASKS), unequal,
                      TrainConfig(batch_size=3, sampler="round-robin", seed=4))
    schedule = trainer.schedule(0)
    n = min(math.ceil(len(d) / 3) for d in unequal.values())
    assert [t for t, _ in schedule] == ["sst", "para", "sts"] * n
    assert schedule == trainer.schedule(0) and schedule != trainer.schedule(1)


def test_temperature_sampler():
    batches = {"big": [[i] for i in range(90)], "small": [[100 + i] for i in range(10)]}
    order = epoch_schedule(batches, "temperature", seed=5, temperature=2.0)
    assert len(order) == 100 and order == epoch_schedule(batches, "temperature", seed=5, temperature=2.0)
    expected_tasks = random.Random(5).choices(["big", "small"], weights=[90 ** 0.5, 10 ** 0.5], k=100)
    assert [t for t, _ in order] == expected_tasks
    small = [b for t, b in order if t == "small"]
    assert small == [[100 + i % 10] for i in range(len(small))]       # cycles through its batches


def test_regularizer_config_validation():
    with pytest.raises(ConfigError, match="mbpp.beta"):
        profile_config("cpu", mbpp__beta=1.0)
    with pytest.raises(ConfigError, match="smart.epsilon"):
        profile_config("cpu", smart__epsilon=-1.0)
    with pytest.raises(ConfigError, match="smart.enabled"):
        profile_config("cpu", smart__enabled=True, model__freeze_encoder=True)
    with pytest.raises(ConfigError, match="smart.norm"):
        profile_config("cpu", smart__norm="l1")

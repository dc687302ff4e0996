import math

import pytest
import torch
from torch import nn

from quarbert_lib.core.config import ModelConfig
from quarbert_lib.core.model import EncoderNotFound, MultitaskBERT, load_encoder
from quarbert_lib.losses import MultitaskObjective, TaskLoss


@pytest.fixture(scope="module")
def encoder(tiny_encoder_dir):
    enc, _ = load_encoder(str(tiny_encoder_dir))
    return enc


def _model(encoder, **kw):
    torch.manual_seed(0)
    return MultitaskBERT(encoder, ["sst", "para", "sts"], ModelConfig(hidden_dropout=0.0, **kw)).eval()


def _batch(seed=0, b=3, t=5, pair=False):
    g = torch.Generator().manual_seed(seed)
    batch = {"input_ids": torch.randint(1000, 2000, (b, t), generator=g),
             "attention_mask": torch.tensor([[1] * t, [1] * (t - 2) + [0, 0], [1, 1] + [0] * (t - 2)])}
    if pair:
        batch["input_ids_2"] = torch.randint(1000, 2000, (b, t), generator=g)
        batch["attention_mask_2"] = torch.ones(b, t, dtype=torch.long)
    return batch


def test_head_shapes(encoder):
    model = _model(encoder)
    assert model("sst", _batch()).shape == (3, 5)
    assert model("para", _batch(pair=True)).shape == (3,)
    assert model("sts", _batch(pair=True)).shape == (3,)
    assert model.heads["para"].in_features == 4 * encoder.config.hidden_size
    cross = _model(encoder, pair_encoding="cross")
    assert cross.heads["sts"].in_features == encoder.config.hidden_size


def test_mean_pooling_ignores_padding(encoder):
    model, batch = _model(encoder), _batch()
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    expected = torch.stack([hidden[i, : int(batch["attention_mask"][i].sum())].mean(0) for i in range(3)])
    torch.testing.assert_close(model.embed(batch["input_ids"], batch["attention_mask"]), expected)
    cls_model = _model(encoder, pooling="cls")
    torch.testing.assert_close(cls_model.embed(batch["input_ids"], batch["attention_mask"]), hidden[:, 0])


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_pair_batching_encodes_each_side_as_two_calls_do(encoder, pooling):
    """One (2B, T) call, each side padded to the longer one, against two calls: same outputs, same
    gradients, also through perturbed word embeddings (SMART's path)."""
    two, one = _model(encoder, pooling=pooling), _model(encoder, pooling=pooling, pair_batching=True)
    one.load_state_dict(two.state_dict())
    g = torch.Generator().manual_seed(3)
    batch = {"input_ids": torch.randint(1000, 2000, (3, 4), generator=g),
             "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]),
             "input_ids_2": torch.randint(1000, 2000, (3, 7), generator=g),
             "attention_mask_2": torch.tensor([[1] * 7, [1] * 3 + [0] * 4, [1] * 5 + [0] * 2])}
    for task in ("para", "sts"):
        torch.testing.assert_close(one(task, batch), two(task, batch), atol=1e-5, rtol=1e-5)
    grads = []
    for model in (two, one):
        model.zero_grad()
        embeds = {k: e.detach().requires_grad_() for k, e in model.input_embeddings(batch).items()}
        model("sts", batch, inputs_embeds=embeds).sum().backward()
        grads.append([embeds["input_ids"].grad, embeds["input_ids_2"].grad,
                      model.encoder.encoder.layer[0].attention.self.query.weight.grad])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    u, v = one.sentence_pair(batch)
    assert u.shape == v.shape == (3, encoder.config.hidden_size)


def test_siamese_features_are_u_v_absdiff_product(encoder):
    model, batch = _model(encoder), _batch(pair=True)
    u = model.embed(batch["input_ids"], batch["attention_mask"])
    v = model.embed(batch["input_ids_2"], batch["attention_mask_2"])
    torch.testing.assert_close(model.features("sts", batch), torch.cat([u, v, (u - v).abs(), u * v], -1))
    head = model.heads["sts"]
    torch.testing.assert_close(model("sts", batch), (torch.cat([u, v, (u - v).abs(), u * v], -1) @ head.weight.T
                                                     + head.bias).squeeze(-1))


def test_losses_match_hand_computation():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    expected_ce = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1)))
    assert TaskLoss("classify")(logits, labels).item() == pytest.approx(expected_ce, rel=1e-6)
    logit, target = torch.tensor([0.5, -1.0]), torch.tensor([1.0, 0.0])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected_bce = -(math.log(sig(0.5)) + math.log(1 - sig(-1.0))) / 2
    assert TaskLoss("binary")(logit, target).item() == pytest.approx(expected_bce, rel=1e-6)
    assert TaskLoss("regress")(torch.tensor([1.0, 4.0]), torch.tensor([2.0, 1.0])).item() == pytest.approx(5.0)
    with pytest.raises(ValueError, match="unknown task kind"):
        TaskLoss("rank")


def test_objective_routes_each_task_to_its_head(encoder):
    model = _model(encoder)
    batch = {**_batch(pair=True), "labels": torch.tensor([1.0, 0.0, 1.0])}
    expected = nn.functional.binary_cross_entropy_with_logits(model("para", batch), batch["labels"])
    torch.testing.assert_close(MultitaskObjective(["sst", "para", "sts"])(model, "para", batch), expected)


def test_freezing(encoder):
    import copy
    frozen = MultitaskBERT(copy.deepcopy(encoder), ["sst"], ModelConfig(freeze_encoder=True))
    total, trainable = frozen.param_counts()
    head = frozen.heads["sst"]
    assert trainable == head.weight.numel() + head.bias.numel() and total > trainable
    frozen.train()
    assert not frozen.encoder.training and frozen.dropout.training
    emb = MultitaskBERT(copy.deepcopy(encoder), ["sst"], ModelConfig(freeze_word_embeddings=True))
    vocab_params = emb.encoder.get_input_embeddings().weight.numel()
    assert emb.param_counts()[1] == emb.param_counts()[0] - vocab_params


def test_unreachable_encoder_names_the_default(tmp_path):
    with pytest.raises(EncoderNotFound, match="minilm-l6"):
        load_encoder("no-such-org/no-such-model")
    with pytest.raises(EncoderNotFound, match="local path"):
        load_encoder(str(tmp_path))

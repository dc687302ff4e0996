"""SMART's two conventions, two spaces and three dropout modes, its own RNG, and the inertness guard."""
import pytest
import torch

from quarbert_lib.core.config import ModelConfig
from quarbert_lib.study.recipes import variant_config
from quarbert_lib.core.data import DataConfig, TaskData, load_task
from quarbert_lib.core.model import MultitaskBERT, load_encoder
from quarbert_lib.losses import MultitaskObjective, SmartRegularizer, normalized_step, rng_snapshot
from quarbert_lib.study import smart_strength
from quarbert_lib.study.experiment import find_or_train, smart_regularizer
from quarbert_lib.study.tables import smart_columns

TASKS = ["sst", "para", "sts"]


def _model(encoder_dir, **cfg):
    encoder, _ = load_encoder(str(encoder_dir))
    torch.manual_seed(0)
    return MultitaskBERT(encoder, TASKS, ModelConfig(**{"hidden_dropout": 0.1, **cfg})).train()


def test_normalized_step_is_smart_pytorchs_formula_by_hand():
    # smart-pytorch SMARTLoss: step = noise + step_size * grad; noise = step / (inf_norm(step) + epsilon),
    # inf_norm over the last dimension. A 1 x 2 x 3 tensor, by hand:
    delta = torch.tensor([[[0.1, -0.2, 0.0], [0.0, 0.0, 0.3]]])
    grad = torch.tensor([[[10.0, 0.0, -30.0], [1.0, 2.0, -3.0]]])
    # step = [[0.1+0.01*10, -0.2, -0.3], [0.01, 0.02, 0.3-0.03]] = [[0.2, -0.2, -0.3], [0.01, 0.02, 0.27]]
    expected = torch.tensor([[[0.2 / 0.3001, -0.2 / 0.3001, -0.3 / 0.3001],
                              [0.01 / 0.2701, 0.02 / 0.2701, 0.27 / 0.2701]]])
    got = normalized_step(delta, grad, eta=0.01, norm="linf", stabilizer=1e-4)
    torch.testing.assert_close(got, expected)
    token_max = got.abs().amax(-1)
    torch.testing.assert_close(token_max, torch.tensor([[0.3 / 0.3001, 0.27 / 0.2701]]))   # 1 up to the stabiliser
    # l2 per token, and the radius scales it
    l2 = normalized_step(delta, grad, eta=0.01, norm="l2", stabilizer=0.0, radius=0.5)
    torch.testing.assert_close(l2.norm(dim=-1), torch.full((1, 2), 0.5))


def test_normalize_convention_gives_each_real_token_norm_radius(parts):
    model = _model(parts[0])
    batch = parts[1]["sts"].collate(list(range(4)))
    # sigma 1: the step dwarfs the stabiliser (with sigma 1e-5 a token's step is ~3e-5, and epsilon 1e-5
    # would end it at ~0.75 of the radius: the libraries' formula, see notebook 04)
    smart = SmartRegularizer(convention="normalize", space="embedding", radius=0.3, epsilon=1e-6, sigma=1.0, steps=1)
    rng = rng_snapshot()
    embeds = model.input_embeddings(batch)
    smart(model, "sts", batch, embeds, model("sts", batch, inputs_embeds=embeds), rng)
    for key, mask in (("input_ids", batch["attention_mask"]), ("input_ids_2", batch["attention_mask_2"])):
        norms = smart.last_delta[key].abs().amax(-1)                                      # (B, T)
        torch.testing.assert_close(norms[mask == 1], torch.full_like(norms[mask == 1], 0.3), rtol=1e-4, atol=1e-5)
        assert (norms[mask == 0] == 0).all()


def test_embedding_space_adds_delta_to_the_embedding_output_and_nothing_else(parts):
    model = _model(parts[0])
    model.eval()                                               # no dropout: outputs compare exactly
    batch = parts[1]["sst"].collate(list(range(3)))
    module = model.embedding_module()
    seen = {}

    def keep(name, tensor):
        seen.setdefault(name, tensor.detach().clone())       # the first call's value; the hook changes nothing

    handle_in = module.register_forward_hook(lambda m, a, out: keep("embedding_out", out))
    handle_first = model.encoder.encoder.layer[0].register_forward_pre_hook(
        lambda m, args, kwargs: keep("layer0_in", args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    delta = torch.randn(*batch["input_ids"].shape, model.encoder.config.hidden_size)               # (B, T, H)
    with torch.no_grad():
        perturbed = model("sst", batch, offsets={"input_ids": delta})
    # the embedding module's own output is untouched; what the first layer reads is output + delta
    word_lookup = model.encoder.get_input_embeddings()(batch["input_ids"])
    torch.testing.assert_close(seen["layer0_in"], seen["embedding_out"] + delta)
    handle_in.remove(), handle_first.remove()
    assert not module._forward_hooks                             # the offset hook is removed after the call
    with torch.no_grad():
        clean = model("sst", batch)
        reference = model("sst", batch, inputs_embeds={"input_ids": word_lookup})
    torch.testing.assert_close(clean, reference)
    assert not torch.allclose(clean, perturbed)
    # the same offset through the word space differs: LayerNorm sits between the two spaces
    with torch.no_grad():
        via_word = model("sst", batch, inputs_embeds={"input_ids": word_lookup + delta})
    assert not torch.allclose(via_word, perturbed)


def test_off_mode_target_is_a_dropout_free_clean_pass(parts):
    model = _model(parts[0], hidden_dropout=0.5)
    batch = parts[1]["sst"].collate(list(range(4)))
    smart = SmartRegularizer(weight=1.0, epsilon=0.0, sigma=0.0, eta=0.0, steps=1, dropout="off")
    rng = rng_snapshot()
    embeds = model.input_embeddings(batch)
    noisy_clean = model("sst", batch, inputs_embeds=embeds)      # with dropout: differs from eval mode
    term = smart(model, "sst", batch, embeds, noisy_clean, rng)
    # no perturbation and no dropout on either side: the divergence is exactly zero, and training
    # mode is restored afterwards
    assert term.item() == 0.0 and model.training
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(model("sst", batch), noisy_clean.detach())


@pytest.mark.parametrize("dropout", ["same", "fresh", "off"])
@pytest.mark.parametrize("convention, space", [("project", "word"), ("normalize", "embedding")])
def test_smart_leaves_the_global_rng_where_a_plain_step_leaves_it(parts, dropout, convention, space):
    batch = parts[1]["para"].collate(list(range(4)))
    states = []
    for with_smart in (False, True):
        model = _model(parts[0])
        regs = {"smart": SmartRegularizer(epsilon=1e-3, sigma=1e-3, convention=convention, space=space,
                                          dropout=dropout, seed=3)} if with_smart else {}
        torch.manual_seed(123)
        MultitaskObjective(TASKS, regs)(model, "para", batch).backward()
        states.append(torch.get_rng_state())
    assert torch.equal(states[0], states[1])


def test_smart_noise_generator_is_saved_and_restored(parts):
    model = _model(parts[0])
    batch = parts[1]["sst"].collate(list(range(4)))
    a = SmartRegularizer(convention="normalize", space="embedding", dropout="fresh", seed=5)
    rng = rng_snapshot()
    embeds = model.input_embeddings(batch)
    a(model, "sst", batch, embeds, model("sst", batch, inputs_embeds=embeds), rng)   # advances its generator
    b = SmartRegularizer(convention="normalize", space="embedding", dropout="fresh", seed=99)
    b.load_state_dict(a.state_dict())
    like, real = embeds["input_ids"], torch.ones(*embeds["input_ids"].shape[:2], 1)
    torch.testing.assert_close(a.noise(like, real), b.noise(like, real))
    c = SmartRegularizer(seed=5)
    assert not torch.equal(c.noise(like, real), b.noise(like, real))   # it had moved on


@pytest.fixture(scope="module")
def minilm_batches(mini_data_dir):
    """Two tasks' first batches of the mini data, tokenized for the packaged MiniLM."""
    cfg = variant_config("advreg-only", "cpu", tasks=["sst", "para"], data__data_dir=str(mini_data_dir),
                         data__max_train_per_task=None)
    _, tokenizer = load_encoder(cfg.model.encoder)
    train = {}
    for t in cfg.tasks:
        loaded = load_task(t, DataConfig(data_dir=str(mini_data_dir)))
        train[t] = TaskData(loaded.spec, loaded.splits["train"], tokenizer, 64)
    return cfg, smart_strength.fixed_batches(train, 8, 0)


def test_guard_fires_on_the_literal_setting_and_not_on_the_ladders(minilm_batches):
    cfg, batches = minilm_batches
    literal = {"convention": "project", "space": "word", "epsilon": 1e-5, "radius": 1.0, "dropout": "same"}
    table = smart_strength.sweep(cfg, [literal, {"dropout": "same"}, {}], batches)   # {}: the ladder's own SMART
    literal, perturbation_only, ladder = (table.iloc[i:i + 2] for i in (0, 2, 4))
    assert (literal["convention"] == "project").all() and (ladder["convention"] == "normalize").all()
    assert len(smart_strength.inert_warnings(literal.to_dict("records"))) == 2
    assert smart_strength.inert_warnings(ladder.to_dict("records")) == []
    # the ladder's perturbation acts by itself too (same dropout masks on both sides of the divergence)
    assert smart_strength.inert_warnings(perturbation_only.to_dict("records")) == []
    assert (perturbation_only["grad_ratio"].values > 100 * literal["grad_ratio"].values).all()
    # the relative size is what the radius says: normalised tokens on LayerNorm outputs, against 1e-5 of a word vector
    assert (ladder["relative_size"] > 0.1).all() and (literal["relative_size"] < 1e-3).all()


def test_guard_result_lands_in_the_ablation_row():
    runs = [{"smart_setting": "project/word eps=1e-05 lambda=5", "smart_strength": {"sst": 2e-6, "para": 1e-5},
             "warnings": ["SMART is inert on sst"]},
            {"smart_setting": "project/word eps=1e-05 lambda=5", "smart_strength": {"sst": 4e-6, "para": 1e-5},
             "warnings": []}]
    cols = smart_columns(runs)
    assert cols["smart"] == "project/word eps=1e-05 lambda=5" and cols["smart_guard"] == "inert"
    assert cols["smart_grad_ratio"] == pytest.approx(3e-6)
    assert smart_columns([{"smart_setting": "off"}])["smart_guard"] == ""


def test_sweep_point_equal_to_a_finished_run_is_that_run(isolated, monkeypatch):
    from quarbert_lib.study import results
    names = []

    def fake_run(cfg, notebook, name, force=False):        # writes what a finished run leaves
        names.append(name)
        path = results.run_path(cfg.profile, notebook, name)
        results.write_json(path / "config.json", cfg.to_dict())
        results.write_json(path / "metrics.json", {})
        return {}

    monkeypatch.setattr("quarbert_lib.study.experiment.run_experiment", fake_run)
    ladder = variant_config("advreg-only", "cpu", train__seed=0)            # λ 5 is the ladder row's own
    lambda5, lambda2 = (variant_config("advreg-only", "cpu", train__seed=0, smart__weight=w) for w in (5.0, 2.0))
    params = {"workers": 1}
    find_or_train("04_smart_mbpp", [("advreg-only-seed0", ladder)], params)
    ((_, folder),) = find_or_train("04_smart_mbpp", [("sweep-lambda5-seed0", lambda5)], params)
    find_or_train("04_smart_mbpp", [("sweep-lambda2-seed0", lambda2)], params)
    find_or_train("04_smart_mbpp", [("sweep-lambda5-seed0", lambda5)], params | {"force": True})
    assert names == ["advreg-only-seed0", "sweep-lambda2-seed0", "sweep-lambda5-seed0"]     # the λ 5 point: read
    assert folder.name == "advreg-only-seed0"
    # two entries of one config in one call: trained once, both answered by its folder
    names.clear()
    seed3 = variant_config("advreg-only", "cpu", train__seed=3)
    twice = find_or_train("04_smart_mbpp", [("a-seed0", seed3), ("b-seed0", seed3)], params)
    assert names == ["a-seed0"] and [f.name for _, f in twice] == ["a-seed0", "a-seed0"]


def test_run_regularizer_is_seeded_by_the_run():
    a = smart_regularizer(variant_config("advreg-only", "cpu", train__seed=1))
    b = smart_regularizer(variant_config("advreg-only", "cpu", train__seed=1))
    c = smart_regularizer(variant_config("advreg-only", "cpu", train__seed=2))
    like, real = torch.zeros(2, 3, 4), torch.ones(2, 3, 1)
    assert torch.equal(a.noise(like, real), b.noise(like, real))
    assert not torch.equal(a.noise(like, real), c.noise(like, real))

"""LoRA (llmlab.lora): shapes, init, exactness, frozen base, merging, and PEFT's semantics."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from tiny_gpt import tiny
from torch import nn

from llmlab.lora import (
    LoRALinear,
    add_lora,
    count_parameters,
    lora_config,
    lora_layers,
    merge_lora,
    trainable_parameters,
    unmerge_lora,
)
from llmlab.model import SequenceHead
from llmlab.train import fit, lm_batches, lm_loss
from llmlab.train_config import TrainConfig

IDS = torch.randint(0, 37, (3, 16), generator=torch.Generator().manual_seed(0))


def _randomise_B(model: nn.Module, seed: int = 1) -> None:
    """Give every adapter a non-zero update (at init B = 0 and LoRA would change nothing)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.copy_(0.1 * torch.randn(layer.lora_B.shape, generator=g))


def _train(model: nn.Module, steps: int = 40):
    """A few real steps of llmlab.train.fit on a periodic text the adapters can learn."""
    data = torch.arange(37).repeat(20)
    config = TrainConfig(
        batch_size=8,
        max_steps=steps,
        learning_rate=1e-2,
        min_lr=1e-3,
        warmup_steps=0,
        eval_interval=0,
        log_interval=1,
    )
    return fit(model, lm_batches(data, 16), lm_loss, config, progress=False)


# ----------------------------------------------------------------------------- the layer


def test_shapes_and_initialisation():
    torch.manual_seed(3)
    base = nn.Linear(20, 12)
    torch.manual_seed(7)
    layer = LoRALinear(base, rank=4, alpha=8)
    assert layer.lora_A.shape == (4, 20) and layer.lora_B.shape == (12, 4)
    assert layer.scaling == 8 / 4
    assert torch.equal(layer.lora_B, torch.zeros(12, 4))
    # kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in)
    # = 1 / sqrt(fan_in), fan_in = in_features (A is [rank, in]) -- nn.Linear's own bound.
    bound = math.sqrt(2 / (1 + 5)) * math.sqrt(3 / 20)
    assert math.isclose(bound, 1 / math.sqrt(20))
    assert layer.lora_A.abs().max() <= bound
    assert layer.lora_A.std() > bound / 4  # spread over the range, not all near zero
    torch.manual_seed(7)
    reference = torch.empty(4, 20)
    nn.init.kaiming_uniform_(reference, a=math.sqrt(5))
    assert torch.equal(layer.lora_A, reference)
    # the base layer is frozen and kept as it was
    assert layer.base is base
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert layer.lora_A.requires_grad and layer.lora_B.requires_grad


def test_lora_at_init_is_the_base_model_exactly():
    base = tiny()
    model = add_lora(copy.deepcopy(base), rank=4, alpha=16)
    base.eval()
    model.eval()
    assert torch.equal(model(IDS)[0], base(IDS)[0])
    head = SequenceHead(tiny(), 3)
    wrapped = add_lora(copy.deepcopy(head), rank=2, alpha=2, trainable=("score",))
    assert torch.equal(wrapped(IDS), head(IDS))


def test_dropout_is_on_the_lora_path_only_and_off_in_eval():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 16), rank=4, alpha=4, dropout=0.5)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(5, 16)
    layer.train()
    torch.manual_seed(1)
    mask = F.dropout(torch.ones_like(x), 0.5, training=True)  # the draw the layer will make
    torch.manual_seed(1)
    expected = layer.base(x) + layer.scaling * (x * mask) @ layer.lora_A.T @ layer.lora_B.T
    torch.testing.assert_close(layer(x), expected)
    layer.eval()
    torch.testing.assert_close(layer(x), layer.base(x) + layer.scaling * x @ layer.delta_weight().T)


# ----------------------------------------------------------------------------- training


def test_only_adapters_and_trainable_modules_get_gradients():
    head = add_lora(SequenceHead(tiny(), 3), rank=2, alpha=4, trainable=("score",))
    F.cross_entropy(head(IDS), torch.tensor([0, 1, 2])).backward()
    for name, param in head.named_parameters():
        learns = "lora_" in name or name.startswith("score.")
        assert param.requires_grad == learns, name
        assert (param.grad is not None) == learns, name
    # At init B = 0, so A's gradient (through B) is zero and B's is not: training starts at B.
    layer = head.gpt.blocks[0].attn.qkv
    assert torch.count_nonzero(layer.lora_A.grad) == 0
    assert torch.count_nonzero(layer.lora_B.grad) > 0


def test_training_moves_the_adapters_and_never_the_base():
    model = add_lora(tiny(), rank=4, alpha=8)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert frozen and all("lora_" in n for n in adapters)
    result = _train(model)
    losses = [record["loss"] for record in result.history]
    # (A random frozen model's tied head keeps its logits small, so the loss cannot fall far:
    # what matters here is that it falls at all with only the adapters learning.)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.2
    for name, before in frozen.items():
        assert torch.equal(model.get_parameter(name), before), name
    for name, before in adapters.items():
        if name.endswith("lora_B"):
            assert not torch.equal(model.get_parameter(name), before), name


def test_trainable_count_is_rank_times_in_plus_out():
    model = add_lora(tiny(), rank=3, alpha=3)
    layers = lora_layers(model)
    # default targets: qkv, attn.proj, mlp.fc and mlp.proj ("proj" names both) in each block
    assert sorted(layers) == sorted(
        f"blocks.{i}.{n}" for i in range(2) for n in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")
    )
    formula = sum(3 * (layer.in_features + layer.out_features) for layer in layers.values())
    assert trainable_parameters(model) == formula == 2 * 3 * ((32 + 96) + 64 + 160 + 160)
    trainable, total = count_parameters(model)
    assert trainable == formula
    assert total == tiny().num_params(non_embedding=False) + formula  # wte/lm_head counted once
    head = add_lora(
        SequenceHead(tiny(), 5), rank=2, alpha=2, targets=("qkv",), trainable=("score",)
    )
    assert trainable_parameters(head) == 2 * 2 * (32 + 96) + 32 * 5


# ----------------------------------------------------------------------------- merging


def test_merge_then_unmerge_restores_weights_and_outputs_agree():
    model = add_lora(tiny(), rank=4, alpha=8)
    _train(model, steps=10)  # B is non-zero now, so merging really changes the weights
    model.eval()
    before = {n: layer.base.weight.detach().clone() for n, layer in lora_layers(model).items()}
    unmerged = model(IDS)[0]
    merge_lora(model)
    assert all(layer.merged for layer in lora_layers(model).values())
    merge_lora(model)  # merging twice must not add the update twice
    merged = model(IDS)[0]
    # (x @ (W + s B A).T rounds differently from x @ W.T + s x A.T B.T: close, not bit-equal)
    torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-5)
    unmerge_lora(model)
    eps = torch.finfo(torch.float32).eps
    for name, layer in lora_layers(model).items():
        delta = layer.delta_weight()
        assert delta.abs().max() > 1e-4, name
        # W + d - d is two float32 roundings, each within eps/2 of its result's size:
        tolerance = 2 * eps * (before[name].abs().max() + delta.abs().max())
        assert (layer.base.weight - before[name]).abs().max() <= tolerance, name
    torch.testing.assert_close(model(IDS)[0], unmerged, rtol=1e-5, atol=1e-6)


def test_merged_model_gives_no_gradient_to_adapters_and_refuses_a_config():
    model = merge_lora(add_lora(tiny(), rank=2, alpha=2))
    # merged, the forward reads the frozen base.weight only: nothing in the loss can learn
    assert not model(IDS, IDS)[1].requires_grad
    with pytest.raises(ValueError, match="unmerge_lora"):
        lora_config(model)
    unmerge_lora(model)
    assert lora_config(model) is not None


# ----------------------------------------------------------------------------- config round trip


@pytest.mark.parametrize(
    "make", [lambda s: tiny(s), lambda s: SequenceHead(tiny(s), 4)], ids=["gpt", "sequence_head"]
)
def test_lora_config_rebuilds_the_same_parameter_names(make):
    trainable = ("score",) if isinstance(make(0), SequenceHead) else ()
    model = add_lora(make(0), rank=2, alpha=5, targets=("qkv", "mlp.fc"), trainable=trainable)
    _randomise_B(model)
    config = lora_config(model)
    assert config == {
        "rank": 2,
        "alpha": 5,
        "targets": ["qkv", "mlp.fc"],
        "dropout": 0.0,
        "trainable": list(trainable),
    }
    config = json.loads(json.dumps(config))  # as a checkpoint header stores it
    fresh = add_lora(make(1), **config)
    assert list(dict(fresh.named_parameters())) == list(dict(model.named_parameters()))
    assert [p.requires_grad for p in fresh.parameters()] == [
        p.requires_grad for p in model.parameters()
    ]
    fresh.load_state_dict(model.state_dict())
    model.eval()
    fresh.eval()
    assert torch.equal(_out(fresh), _out(model))
    assert lora_config(fresh) == config


def _out(model: nn.Module) -> torch.Tensor:
    out = model(IDS)
    return out[0] if isinstance(out, tuple) else out


def test_lora_config_of_adapters_added_to_the_trunk_or_by_hand():
    head = SequenceHead(tiny(), 2)
    add_lora(head.gpt, rank=2, alpha=2, targets=("fc",))  # on the trunk, not the head
    config = lora_config(head)
    assert config["targets"] == ["fc"]
    fresh = add_lora(SequenceHead(tiny(1), 2), **config)
    fresh.load_state_dict(head.state_dict())
    gpt = tiny()
    gpt.blocks[1].mlp.fc = LoRALinear(gpt.blocks[1].mlp.fc, rank=3, alpha=6)
    config = lora_config(gpt)
    assert config == {
        "rank": 3,
        "alpha": 6,
        "targets": ["blocks.1.mlp.fc"],
        "dropout": 0.0,
        "trainable": [],
    }
    add_lora(tiny(1), **config).load_state_dict(gpt.state_dict())


def test_plain_model_has_no_lora_config():
    assert lora_config(tiny()) is None
    assert count_parameters(tiny()) == (tiny().num_params(False), tiny().num_params(False))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rank": 0}, ValueError, r"rank must be an int >= 1"),
        ({"rank": -2}, ValueError, r"rank must be an int >= 1"),
        ({"rank": 2.0}, TypeError, r"rank must be an int"),
        ({"rank": True}, TypeError, r"rank must be an int"),
        ({"rank": 33}, ValueError, r"rank must be in 1\.\.32 .*blocks\.0\.attn\.qkv"),
        ({"alpha": 0}, ValueError, r"alpha must be a finite number > 0"),
        ({"alpha": -1.0}, ValueError, r"alpha must be a finite number > 0"),
        ({"alpha": math.inf}, ValueError, r"alpha must be a finite number > 0"),
        ({"alpha": math.nan}, ValueError, r"alpha must be a finite number > 0"),
        ({"alpha": "8"}, TypeError, r"alpha must be a finite number"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a number in \[0, 1\)"),
        ({"dropout": -0.1}, ValueError, r"dropout must be a number in \[0, 1\)"),
        ({"targets": ("nope",)}, ValueError, r"targets: 'nope' matches no module.*attn\.qkv"),
        ({"targets": ()}, ValueError, r"targets must name at least one"),
        ({"targets": "qkv"}, TypeError, r"targets must be a list or tuple"),
        ({"targets": ("attn",)}, TypeError, r"targets: 'attn' matches .*CausalSelfAttention"),
        ({"targets": ("ln_1",)}, TypeError, r"LoRA wraps nn\.Linear layers only"),
        ({"targets": ("lm_head",)}, ValueError, r"targets: 'lm_head' shares its weight.*wte"),
        ({"trainable": ("nope",)}, ValueError, r"trainable: 'nope' matches no module"),
        ({"trainable": ("blocks.0",)}, ValueError, r"trainable: 'blocks\.0' would be fully"),
    ],
)
def test_add_lora_refuses_bad_input_naming_the_argument(kwargs, error, match):
    model = tiny()
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    with pytest.raises(error, match=match):
        add_lora(model, **{"rank": 2, "alpha": 4, **kwargs})
    assert not lora_layers(model)  # nothing was wrapped ...
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before  # ... nor frozen


def test_lora_linear_refuses_bad_input():
    with pytest.raises(TypeError, match="base must be an nn.Linear"):
        LoRALinear(nn.Conv1d(4, 4, 1), rank=1, alpha=1)
    layer = LoRALinear(nn.Linear(8, 4), rank=2, alpha=2)
    with pytest.raises(TypeError, match="already a LoRALinear"):
        LoRALinear(layer, rank=2, alpha=2)
    with pytest.raises(ValueError, match=r"rank must be in 1\.\.4 .*in_features=8, out_features=4"):
        LoRALinear(nn.Linear(8, 4), rank=5, alpha=2)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        add_lora("gpt", rank=2, alpha=2)


def test_wrapping_twice_is_refused():
    model = add_lora(tiny(), rank=2, alpha=2, targets=("qkv",))
    with pytest.raises(ValueError, match=r"already has LoRA adapters on \['blocks\.0\.attn\.qkv'"):
        add_lora(model, rank=2, alpha=2, targets=("qkv",))
    with pytest.raises(ValueError, match="already has LoRA adapters"):
        add_lora(model, rank=2, alpha=2, targets=("fc",))


# ----------------------------------------------------------------------------- against PEFT


class Toy(nn.Module):
    """A plain module with linear layers at several depths, for PEFT's name matching too."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleDict({"proj": nn.Linear(12, 24), "out_proj": nn.Linear(24, 12)})
        self.decoder = nn.ModuleDict({"proj": nn.Linear(12, 16), "fc": nn.Linear(16, 12)})
        self.head = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder.out_proj(F.gelu(self.encoder.proj(x)))
        x = self.decoder.fc(F.gelu(self.decoder.proj(x)))
        return self.head(x)


def _peft(model: nn.Module, **config):
    peft = pytest.importorskip("peft")
    config = {"lora_dropout": 0.0, "init_lora_weights": True, "bias": "none", **config}
    return peft.get_peft_model(model, peft.LoraConfig(**config))


@pytest.mark.parametrize(("rank", "alpha"), [(2, 4), (4, 1.5), (8, 8)])
def test_matches_peft(rank, alpha):
    torch.manual_seed(0)
    toy = Toy()
    ours = add_lora(copy.deepcopy(toy), rank=rank, alpha=alpha, targets=("proj", "fc"))
    theirs = _peft(copy.deepcopy(toy), r=rank, lora_alpha=alpha, target_modules=["proj", "fc"])
    peft_layers = {
        name.removeprefix("base_model.model."): m
        for name, m in theirs.named_modules()
        if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {})
    }
    # the same layers matched ("out_proj" does not end with ".proj"), the same shapes and scaling
    assert (
        sorted(peft_layers)
        == sorted(lora_layers(ours))
        == ["decoder.fc", "decoder.proj", "encoder.proj"]
    )
    g = torch.Generator().manual_seed(1)
    for name, layer in lora_layers(ours).items():
        peft_layer = peft_layers[name]
        A, B = peft_layer.lora_A["default"].weight, peft_layer.lora_B["default"].weight
        assert A.shape == layer.lora_A.shape and B.shape == layer.lora_B.shape
        assert peft_layer.scaling["default"] == layer.scaling == alpha / rank
        assert torch.count_nonzero(B) == 0  # PEFT also starts B at zero ...
        assert A.abs().max() <= 1 / math.sqrt(layer.in_features)  # ... and A in the same bound
        with torch.no_grad():
            B.copy_(torch.randn(B.shape, generator=g))
            layer.lora_A.copy_(A)
            layer.lora_B.copy_(B)
    x = torch.randn(6, 12, generator=g)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(ours(x), toy(x), atol=1e-3)  # the adapters really do something
    # PEFT counts trainable and total parameters as we do
    assert count_parameters(ours) == theirs.get_nb_trainable_parameters()
    # and merges into the same weights
    merge_lora(ours)
    theirs.merge_adapter()
    for name, layer in lora_layers(ours).items():
        torch.testing.assert_close(layer.base.weight, peft_layers[name].base_layer.weight)


def test_matches_peft_dropout_and_modules_to_save():
    torch.manual_seed(0)
    toy = Toy()
    ours = add_lora(
        copy.deepcopy(toy), rank=2, alpha=4, targets=("fc",), dropout=0.25, trainable=("head",)
    )
    theirs = _peft(
        copy.deepcopy(toy),
        r=2,
        lora_alpha=4,
        target_modules=["fc"],
        lora_dropout=0.25,
        modules_to_save=["head"],
    )
    ours_fc, peft_fc = ours.decoder.fc, theirs.base_model.model.decoder.fc
    with torch.no_grad():
        peft_fc.lora_B["default"].weight.normal_()
        ours_fc.lora_A.copy_(peft_fc.lora_A["default"].weight)
        ours_fc.lora_B.copy_(peft_fc.lora_B["default"].weight)
    # Both put dropout (same p) on the LoRA path only; with it off (eval), the outputs agree.
    # (Comparing the random masks themselves would test torch's RNG order, not LoRA.)
    assert isinstance(peft_fc.lora_dropout["default"], torch.nn.Dropout)
    assert peft_fc.lora_dropout["default"].p == ours_fc.dropout.p == 0.25
    ours.eval()
    theirs.eval()
    x = torch.randn(6, 12)
    torch.testing.assert_close(ours(x), theirs(x))
    # modules_to_save: PEFT trains a copy of head; we train head itself: the same count
    assert trainable_parameters(ours) == theirs.get_nb_trainable_parameters()[0]
    assert trainable_parameters(ours) == 2 * (16 + 12) + 12 * 3 + 3

"""The logit lens and head ablation, against a by-hand pass through the blocks."""

import pytest
import torch
import torch.nn.functional as F

from llmlab import lens
from tests.tiny_gpt import tiny


def _by_hand(model, ids, off=None):
    """The GPT's pass written out, with optional heads zeroed: the reference for the hooks."""
    x = model.wte(ids) + model.wpe.embedding.weight[: ids.shape[1]]
    states = [x]
    for layer, block in enumerate(model.blocks):
        h = block.ln_1(x)
        q, k, v = block.attn.qkv(h).chunk(3, dim=-1)
        split = lambda t: t.unflatten(-1, (model.config.n_head, -1)).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=True)
        if off and layer in off:
            out[:, off[layer]] = 0
        x = x + block.attn.proj(out.transpose(1, 2).flatten(-2))
        x = x + block.mlp(block.ln_2(x))
        states.append(x)
    return torch.stack(states)


def test_the_stream_matches_a_pass_written_out_and_the_last_lens_is_the_output():
    model, ids = tiny(), torch.randint(0, 37, (3, 16))
    stream = lens.residual_stream(model, ids)
    assert stream.shape == (3, 3, 16, 32)
    assert torch.allclose(stream, _by_hand(model, ids), atol=1e-5)
    lensed = lens.logit_lens(model, ids)
    assert torch.equal(lensed[-1], model(ids)[0])
    assert torch.allclose(lensed[0], model.lm_head(model.ln_f(stream[0])))


def test_heads_off_zeroes_exactly_that_head_and_is_undone_after():
    model, ids = tiny(), torch.randint(0, 37, (2, 16))
    before = model(ids)[0]
    with lens.heads_off(model, {1: [0]}):
        ablated = model(ids)[0]
    expected = model.lm_head(model.ln_f(_by_hand(model, ids, off={1: [0]})[-1]))
    assert torch.allclose(ablated, expected, atol=1e-5)
    assert not torch.allclose(ablated, before)
    assert torch.equal(model(ids)[0], before)  # the hook is gone


def test_head_ablation_is_paired_over_windows():
    model, windows = tiny(), torch.randint(0, 37, (8, 17))
    table = lens.head_ablation(model, windows)
    assert [len(row) for row in table] == [2, 2]
    base = lens.window_losses(model, windows)
    with lens.heads_off(model, {0: [1]}):
        off = lens.window_losses(model, windows)
    assert table[0][1].value == pytest.approx((off - base).mean().item(), abs=1e-6)
    assert table[0][1].n == 8


@pytest.mark.parametrize("heads", [{2: [0]}, {0: [2]}, {-1: [0]}])
def test_a_layer_or_head_out_of_range_is_named(heads):
    model = tiny()
    with pytest.raises(ValueError, match="layer|head"), lens.heads_off(model, heads):
        pass
    assert all(not b.attn.proj._forward_pre_hooks for b in model.blocks)


def test_windows_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="windows"):
        lens.window_losses(tiny(), torch.zeros(17, dtype=torch.long))

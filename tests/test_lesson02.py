"""Lesson 02: the exercises' references agree with llmlab.attention, and the numbers the lesson's
prose quotes about the trained `char` model's heads (pinned here, not in the lesson)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from llmlab import attention, exercises, pretrained
from llmlab.exercises import registry


def _cases(name: str, n: int = 100):
    item, rng = registry.EXERCISES[name], random.Random(1)
    return [item.cases(rng) for _ in range(n)]


def test_rope_rotation_is_the_librarys_apply_rope():
    for x, base in _cases("rope_rotation"):
        T, d = x.shape
        expected = attention.apply_rope(x, *attention.rope_frequencies(d, T, base))
        assert torch.allclose(exercises.rope_rotation(x, base), expected, atol=1e-6)


def test_rope_rotation_makes_scores_depend_on_distance_only():
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 8, generator=generator)
    rq = exercises.rope_rotation(q.expand(30, 8), 10000.0)
    rk = exercises.rope_rotation(k.expand(30, 8), 10000.0)
    assert math.isclose(rq[9] @ rk[4], rq[29] @ rk[24], abs_tol=1e-4)
    assert not math.isclose(rq[9] @ rk[4], rq[9] @ rk[5], abs_tol=1e-3)


def test_attention_head_is_the_librarys_causal_attention():
    for x, w_q, w_k, w_v in _cases("attention_head"):
        expected, _ = attention.attention(x @ w_q, x @ w_k, x @ w_v, causal=True)
        assert torch.allclose(exercises.attention_head(x, w_q, w_k, w_v), expected, atol=1e-5)


def test_multi_head_attention_is_the_librarys_module():
    for x, w_q, w_k, w_v, w_o, n_heads in _cases("multi_head_attention"):
        layer = attention.MultiHeadAttention(x.shape[1], n_heads, bias=False, causal=True)
        with torch.no_grad():
            layer.qkv.weight.copy_(torch.cat([w_q, w_k, w_v], dim=1).T)
            layer.proj.weight.copy_(w_o.T)
            expected = layer(x[None])[0]
        got = exercises.multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads)
        assert torch.allclose(got, expected, atol=1e-5)


def test_the_cases_exercise_several_heads_and_widths():
    heads = {case[-1] for case in _cases("multi_head_attention")}
    assert heads == {1, 2, 3}
    assert any(x.shape[1] != w_q.shape[1] for x, w_q, _, _ in _cases("attention_head"))


@pytest.fixture(scope="module")
def char_maps():
    from llmlab import corpus

    model, tokenizer = pretrained.load("char", progress=False)
    T = model.config.block_size
    text = corpus.text("validation")
    generator = torch.Generator().manual_seed(0)
    starts = torch.randint(len(text) - T, (32,), generator=generator).tolist()
    ids = torch.tensor([tokenizer.encode(text[s : s + T]) for s in starts])
    with torch.no_grad():
        _, _, maps = model(ids, return_attention=True)
    return maps


def test_the_previous_token_head_numbers_the_lesson_quotes(char_maps):
    T = char_maps.shape[-1]
    previous = torch.zeros(len(char_maps), T, T)
    previous[:, range(1, T), range(T - 1)] = 1
    shares, chance = attention.attention_share(char_maps, previous)
    assert divmod(shares.argmax().item(), 4) == (0, 1)
    best = char_maps[:, 0, 1]
    back = [best.diagonal(offset=-k, dim1=-2, dim2=-1).mean().item() for k in range(4)]
    assert [round(b, 2) for b in back[:3]] == [0.25, 0.55, 0.08]
    assert shares.max() > 10 * chance


def test_the_char_model_is_what_the_lesson_says():
    model, _ = pretrained.load("char", progress=False)
    assert sum(p.numel() for p in model.parameters()) == 797_312
    assert round(pretrained.checkpoint("char", progress=False).extra["seconds"]) == 321


def test_the_line_start_head_numbers_the_lesson_quotes(char_maps):
    from llmlab import corpus

    T = char_maps.shape[-1]
    text = corpus.text("validation")
    generator = torch.Generator().manual_seed(0)
    starts = torch.randint(len(text) - T, (32,), generator=generator).tolist()
    line_start = torch.zeros(len(char_maps), T, T)
    for b, s in enumerate(starts):
        last_newline = None
        for t, char in enumerate(text[s : s + T]):
            if last_newline is not None:
                line_start[b, t, last_newline] = 1
            if char == "\n":
                last_newline = t
    shares, chance = attention.attention_share(char_maps, line_start)
    assert divmod(shares.argmax().item(), 4) == (1, 0)
    assert round(shares.max().item(), 2) == 0.52 and round(chance, 2) == 0.02

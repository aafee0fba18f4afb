"""Lesson 02's exercises: the causal average, one attention head, multi-head attention, RoPE.

Each reference is written out with plain torch (no llmlab call), so that a learner who copies
the worked solution passes; tests/test_lesson02.py checks each one against the library's
``llmlab.attention`` (``attention``, ``MultiHeadAttention``, ``apply_rope``).
"""

from __future__ import annotations

import math
import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer

_BUILD_IT = "torch's attention is what you are building; write the scores, the mask and the softmax"
_FUSED = {
    "scaled_dot_product_attention": _BUILD_IT,
    "multi_head_attention_forward": _BUILD_IT,  # nn.MultiheadAttention's Python core
    "_native_multi_head_attention": _BUILD_IT,
}


def _generator(rng: random.Random) -> Any:
    import torch

    return torch.Generator().manual_seed(rng.randrange(2**31))


def _random_x(rng: random.Random) -> tuple[Any]:
    import torch

    return (torch.randn(rng.randint(1, 8), rng.randint(1, 5), generator=_generator(rng)),)


@exercise(
    "causal_average",
    _random_x,
    builds="the running average of the past as one matrix product",
    minutes=10,
    hints=(
        "torch.ones(T, T).tril() has a 1 where row t may look (columns 0..t).",
        "Divide each row by its sum to make it an average; then one @ with x.",
    ),
    forbidden={"cumsum": "the point is one matrix product; build the averaging matrix"},
)
def causal_average(x: Any) -> Any:
    """Row ``t`` of the ``[T, d]`` result is the mean of rows ``0..t`` of ``x``, as one matrix
    product: a lower-triangular matrix whose row ``t`` holds ``1/(t+1)`` in its first ``t+1``
    columns. Attention is this average with weights that depend on the data."""
    import torch

    T = x.shape[0]
    weights = torch.ones(T, T).tril()
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ x


def _random_head(rng: random.Random) -> tuple[Any, Any, Any, Any]:
    """``x [T, C]`` and three ``[C, d]`` projections; ``C != d`` mostly, so that dividing by the
    wrong width shows."""
    import torch

    generator = _generator(rng)
    T, C, d = rng.randint(1, 7), rng.randint(2, 8), rng.randint(1, 5)
    x = torch.randn(T, C, generator=generator)
    w_q, w_k, w_v = (torch.randn(C, d, generator=generator) for _ in range(3))
    return x, w_q, w_k, w_v


@exercise(
    "attention_head",
    _random_head,
    builds="one causal attention head: projections, scaled scores, the mask, the softmax",
    difficulty=2,
    minutes=15,
    hints=(
        "q = x @ w_q, and the same for k and v: [T, d] each. The scores q @ k.T are [T, T] "
        "(row = query, column = key), divided by the square root of d, the queries' width.",
        "The future is the keys j > i: torch.ones(T, T, dtype=torch.bool).triu(diagonal=1) marks "
        "them; masked_fill them with float('-inf'), softmax over the last axis (the keys), @ v.",
    ),
    forbidden=_FUSED,
)
def attention_head(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    """One causal attention head on ``x [T, C]`` with projections ``[C, d]``: ``[T, d]``."""
    import torch

    q, k, v = x @ w_q, x @ w_k, x @ w_v  # [T, d] each
    scores = q @ k.T / math.sqrt(q.shape[-1])  # [T, T]: row = query, column = key
    T = x.shape[0]
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)  # key j > query i
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return weights @ v


def _random_heads(rng: random.Random) -> tuple[Any, Any, Any, Any, Any, int]:
    """``x [T, C]``, four ``[C, C]`` projections and ``n_heads`` dividing ``C``; mostly 2 or 3
    heads, so that a wrong split shows."""
    import torch

    generator = _generator(rng)
    n_heads = rng.choice([1, 2, 2, 3, 3])
    T, C = rng.randint(2, 6), n_heads * rng.randint(1, 3)
    x = torch.randn(T, C, generator=generator)
    w_q, w_k, w_v, w_o = (torch.randn(C, C, generator=generator) / math.sqrt(C) for _ in range(4))
    return x, w_q, w_k, w_v, w_o, n_heads


@exercise(
    "multi_head_attention",
    _random_heads,
    builds="multi-head causal attention: split the channels into heads, attend, merge, mix",
    difficulty=3,
    minutes=25,
    hints=(
        "After the projections, q is [T, C]. Head h owns channels h*D .. (h+1)*D - 1, D = C/H: "
        "q.reshape(T, H, D) keeps each token's channels together; .transpose(0, 1) gives "
        "[H, T, D]. (q.reshape(H, T, D) would mix tokens: wrong.)",
        "On [H, T, D] tensors, q @ k.transpose(-2, -1) gives every head's [T, T] scores at once; "
        "divide by sqrt(D), not sqrt(C). Merge with .transpose(0, 1).reshape(T, C), then @ w_o.",
    ),
    forbidden=_FUSED,
)
def multi_head_attention(x: Any, w_q: Any, w_k: Any, w_v: Any, w_o: Any, n_heads: int) -> Any:
    """Causal multi-head attention on ``x [T, C]``: ``[T, C]``."""
    import torch

    T, C = x.shape
    D = C // n_heads  # each head's width

    def split(t: Any) -> Any:  # [T, C] -> [H, T, D]
        return t.reshape(T, n_heads, D).transpose(0, 1)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # [H, T, T]
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    heads = weights @ v  # [H, T, D]
    return heads.transpose(0, 1).reshape(T, C) @ w_o  # merge the heads, then mix them


def _random_rope(rng: random.Random) -> tuple[Any, float]:
    """``x [T, d]`` (d even) and a base: small bases make every pair turn visibly."""
    import torch

    T, d = rng.randint(1, 8), 2 * rng.randint(1, 4)
    return torch.randn(T, d, generator=_generator(rng)), rng.choice([10.0, 100.0, 10000.0])


@exercise(
    "rope_rotation",
    _random_rope,
    builds="RoPE: turn each channel pair of every position by its own angle",
    difficulty=2,
    minutes=20,
    hints=(
        "Pair i (i = 0 .. d/2 - 1) is channels i and i + d/2: x1, x2 = x[:, : d // 2], "
        "x[:, d // 2 :]. Its frequency is base ** (-2 * i / d); at position m its angle is "
        "m * frequency: an outer product of torch.arange(T) and the d/2 frequencies, [T, d/2].",
        "Turning the point (x1, x2) by the angle a gives (x1 cos a - x2 sin a, x1 sin a + "
        "x2 cos a); torch.cat the two halves back into [T, d].",
    ),
)
def rope_rotation(x: Any, base: float) -> Any:
    """Rotary positions: channel pair ``(i, i + d/2)`` of the row at position ``m`` of
    ``x [T, d]`` turned by ``m * base**(-2i/d)``, the layout of ``llmlab.attention.apply_rope``."""
    import torch

    T, d = x.shape
    half = d // 2
    frequency = base ** (-2 * torch.arange(half, dtype=torch.float32) / d)  # [d/2]
    angle = torch.arange(T, dtype=torch.float32)[:, None] * frequency  # [T, d/2]
    x1, x2 = x[:, :half], x[:, half:]
    cos, sin = angle.cos(), angle.sin()
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("causal_average")
def _running_sum_divided(x: Any) -> Any:
    import torch

    return x.cumsum(dim=0) / torch.arange(1, len(x) + 1)[:, None]


@wrong_answer("causal_average")
def _averages_the_future_too(x: Any) -> Any:
    return x.mean(dim=0, keepdim=True).expand_as(x)


@wrong_answer("causal_average")
def _divides_every_row_by_T(x: Any) -> Any:
    import torch

    T = x.shape[0]
    return torch.ones(T, T).tril() / T @ x  # row t sums to (t+1)/T, not 1


@wrong_answer("attention_head")
def _masks_after_the_softmax(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    import torch

    scores = (x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[-1])
    weights = scores.softmax(dim=-1) * torch.ones(len(x), len(x)).tril()  # rows no longer sum to 1
    return weights @ (x @ w_v)


@wrong_answer("attention_head")
def _unscaled_scores(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    import torch

    future = torch.ones(len(x), len(x), dtype=torch.bool).triu(diagonal=1)
    scores = (x @ w_q) @ (x @ w_k).T
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ (x @ w_v)


@wrong_answer("attention_head")
def _divided_by_the_input_width(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    import torch

    future = torch.ones(len(x), len(x), dtype=torch.bool).triu(diagonal=1)
    scores = (x @ w_q) @ (x @ w_k).T / math.sqrt(x.shape[-1])
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ (x @ w_v)


@wrong_answer("attention_head")
def _hides_itself_too(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    import torch

    hidden = torch.ones(len(x), len(x), dtype=torch.bool).triu(diagonal=0)
    hidden[0, 0] = False  # (the first token would see nothing at all)
    scores = (x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[-1])
    return scores.masked_fill(hidden, float("-inf")).softmax(dim=-1) @ (x @ w_v)


@wrong_answer("attention_head")
def _softmax_over_the_queries(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    import torch

    future = torch.ones(len(x), len(x), dtype=torch.bool).triu(diagonal=1)
    scores = (x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[-1])
    return scores.masked_fill(future, float("-inf")).softmax(dim=0) @ (x @ w_v)


@wrong_answer("attention_head")
def _no_mask(x: Any, w_q: Any, w_k: Any, w_v: Any) -> Any:
    scores = (x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[-1])
    return scores.softmax(dim=-1) @ (x @ w_v)


@wrong_answer("multi_head_attention")
def _split_along_the_tokens(x: Any, w_q: Any, w_k: Any, w_v: Any, w_o: Any, n_heads: int) -> Any:
    import torch

    T, C = x.shape
    D = C // n_heads
    q, k, v = ((x @ w).reshape(n_heads, T, D) for w in (w_q, w_k, w_v))  # mixes the tokens
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf"))
    return (scores.softmax(dim=-1) @ v).reshape(T, C) @ w_o


@wrong_answer("multi_head_attention")
def _merged_without_transposing(
    x: Any, w_q: Any, w_k: Any, w_v: Any, w_o: Any, n_heads: int
) -> Any:
    import torch

    T, C = x.shape
    D = C // n_heads
    q, k, v = ((x @ w).reshape(T, n_heads, D).transpose(0, 1) for w in (w_q, w_k, w_v))
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf"))
    return (scores.softmax(dim=-1) @ v).reshape(T, C) @ w_o  # [H, T, D] read as [T, C]


@wrong_answer("multi_head_attention")
def _divided_by_the_full_width(x: Any, w_q: Any, w_k: Any, w_v: Any, w_o: Any, n_heads: int) -> Any:
    import torch

    T, C = x.shape
    D = C // n_heads
    q, k, v = ((x @ w).reshape(T, n_heads, D).transpose(0, 1) for w in (w_q, w_k, w_v))
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(C)).masked_fill(future, float("-inf"))
    return (scores.softmax(dim=-1) @ v).transpose(0, 1).reshape(T, C) @ w_o


@wrong_answer("multi_head_attention")
def _no_output_projection(x: Any, w_q: Any, w_k: Any, w_v: Any, w_o: Any, n_heads: int) -> Any:
    import torch

    T, C = x.shape
    D = C // n_heads
    q, k, v = ((x @ w).reshape(T, n_heads, D).transpose(0, 1) for w in (w_q, w_k, w_v))
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf"))
    return (scores.softmax(dim=-1) @ v).transpose(0, 1).reshape(T, C)


@wrong_answer("rope_rotation")
def _rotates_the_other_way(x: Any, base: float) -> Any:
    import torch

    T, d = x.shape
    angle = torch.arange(T)[:, None] * base ** (-2 * torch.arange(d // 2) / d)
    x1, x2 = x[:, : d // 2], x[:, d // 2 :]
    cos, sin = angle.cos(), -angle.sin()  # a turn by -angle
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@wrong_answer("rope_rotation")
def _pairs_neighbouring_channels(x: Any, base: float) -> Any:
    import torch

    T, d = x.shape
    angle = torch.arange(T)[:, None] * base ** (-2 * torch.arange(d // 2) / d)
    x1, x2 = x[:, 0::2], x[:, 1::2]  # pairs (2i, 2i+1): the RoPE paper's layout, not ours
    cos, sin = angle.cos(), angle.sin()
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


@wrong_answer("rope_rotation")
def _counts_positions_from_one(x: Any, base: float) -> Any:
    import torch

    T, d = x.shape
    angle = torch.arange(1, T + 1)[:, None] * base ** (-2 * torch.arange(d // 2) / d)
    x1, x2 = x[:, : d // 2], x[:, d // 2 :]
    cos, sin = angle.cos(), angle.sin()
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@wrong_answer("rope_rotation")
def _frequencies_fall_half_as_fast(x: Any, base: float) -> Any:
    import torch

    T, d = x.shape
    angle = torch.arange(T)[:, None] * base ** (-torch.arange(d // 2) / d)  # -i/d, not -2i/d
    x1, x2 = x[:, : d // 2], x[:, d // 2 :]
    cos, sin = angle.cos(), angle.sin()
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

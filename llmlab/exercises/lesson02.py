"""Lesson 02's exercises: the causal average, causal attention, attention entropy."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_qkv(rng: random.Random) -> tuple[Any, Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    T, d = rng.randint(1, 6), rng.randint(1, 5)
    return tuple(torch.randn(T, d, generator=generator) for _ in range(3))


def _random_x(rng: random.Random) -> tuple[Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    return (torch.randn(rng.randint(1, 8), rng.randint(1, 5), generator=generator),)


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


@exercise(
    "causal_attention",
    _random_qkv,
    builds="scaled dot-product attention with a causal mask",
    difficulty=2,
    minutes=15,
    hints=(
        "Scores: every query against every key, q @ k.T, divided by sqrt(d).",
        "Mask the future (key j > query i) with -inf before the softmax over the keys.",
    ),
    forbidden={
        "scaled_dot_product_attention": "torch's fused kernel is what you are building; write "
        "the scores, the mask and the softmax yourself",
    },
)
def causal_attention(q: Any, k: Any, v: Any) -> Any:
    """Scaled dot-product attention of ``[T, d]`` queries, keys and values, with a causal mask."""
    import math

    import torch

    scores = q @ k.T / math.sqrt(q.shape[-1])
    T = q.shape[0]
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)  # key j > query i
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return weights @ v


def _random_weights(rng: random.Random) -> tuple[Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    T = rng.randint(1, 7)
    scores = 3 * torch.randn(T, T, generator=generator)
    # Causal: the future gets weight 0 (0·log 0 counts as 0), and row 0 all on one token.
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return (scores.masked_fill(~causal, float("-inf")).softmax(dim=-1),)


@exercise(
    "attention_entropy",
    _random_weights,
    builds="the entropy of each row of attention weights",
    minutes=10,
    hints=(
        "Entropy is -sum p log p; natural log, so the unit is nats.",
        "0 * log 0 is nan in floating point: use torch.where to make those terms 0.",
    ),
)
def attention_entropy(weights: Any) -> Any:
    """The entropy (in nats) of each row of ``weights [T, T]``: 0 when a token attends to one
    token only, ``log(n)`` when it spreads evenly over ``n``. Zero weights contribute nothing."""
    import torch

    terms = torch.where(weights > 0, -weights * weights.log(), torch.zeros_like(weights))
    return terms.sum(dim=-1)


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("causal_average")
def _running_sum_divided(x: Any) -> Any:
    import torch

    return x.cumsum(dim=0) / torch.arange(1, len(x) + 1)[:, None]


@wrong_answer("causal_average")
def _averages_the_future_too(x: Any) -> Any:
    return x.mean(dim=0, keepdim=True).expand_as(x)


@wrong_answer("causal_attention")
def _unscaled_scores(q: Any, k: Any, v: Any) -> Any:
    import torch

    future = torch.ones(len(q), len(q), dtype=torch.bool).triu(diagonal=1)
    return (q @ k.T).masked_fill(future, float("-inf")).softmax(dim=-1) @ v


@wrong_answer("causal_attention")
def _hides_itself_too(q: Any, k: Any, v: Any) -> Any:
    import math

    import torch

    hidden = torch.ones(len(q), len(q), dtype=torch.bool).triu(diagonal=0)
    hidden[0, 0] = False  # (the first token would see nothing at all)
    scores = q @ k.T / math.sqrt(q.shape[-1])
    return scores.masked_fill(hidden, float("-inf")).softmax(dim=-1) @ v


@wrong_answer("attention_entropy")
def _nan_for_zero_weights(weights: Any) -> Any:
    return -(weights * weights.log()).sum(dim=-1)

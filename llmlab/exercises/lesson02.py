"""Lesson 02's exercises: the causal average, causal attention, attention entropy."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise


def _random_qkv(rng: random.Random) -> tuple[Any, Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    T, d = rng.randint(1, 6), rng.randint(1, 5)
    return tuple(torch.randn(T, d, generator=generator) for _ in range(3))


def _random_x(rng: random.Random) -> tuple[Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    return (torch.randn(rng.randint(1, 8), rng.randint(1, 5), generator=generator),)


@exercise("causal_average", _random_x)
def causal_average(x: Any) -> Any:
    """Row ``t`` of the ``[T, d]`` result is the mean of rows ``0..t`` of ``x``, as one matrix
    product: a lower-triangular matrix whose row ``t`` holds ``1/(t+1)`` in its first ``t+1``
    columns. Attention is this average with weights that depend on the data."""
    import torch

    T = x.shape[0]
    weights = torch.ones(T, T).tril()
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ x


@exercise("causal_attention", _random_qkv)
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


@exercise("attention_entropy", _random_weights)
def attention_entropy(weights: Any) -> Any:
    """The entropy (in nats) of each row of ``weights [T, T]``: 0 when a token attends to one
    token only, ``log(n)`` when it spreads evenly over ``n``. Zero weights contribute nothing."""
    import torch

    terms = torch.where(weights > 0, -weights * weights.log(), torch.zeros_like(weights))
    return terms.sum(dim=-1)

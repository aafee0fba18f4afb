"""Lesson 08's exercises: nucleus (top-p) filtering, the repetition penalty, one cached step."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import _equal, exercise


def _random_logits(rng: random.Random) -> Any:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    rows, vocab = rng.randint(1, 3), rng.randint(2, 12)
    return rng.choice([0.5, 1.0, 3.0]) * torch.randn(rows, vocab, generator=generator)


@exercise("top_p", lambda rng: (_random_logits(rng), rng.choice([0.1, 0.5, 0.8, 0.9, 0.95])))
def top_p(logits: Any, p: float) -> Any:
    """Nucleus filtering of ``logits [B, V]``: keep the smallest set of most likely tokens whose
    probability reaches ``p`` (the token that crosses ``p`` included), set the rest to ``-inf``.
    Sorting from the most likely down, a token stays if the mass *before* it is still below
    ``p``, so the first token always stays."""
    probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)
    mass_before = probs.cumsum(dim=-1) - probs
    remove_sorted = mass_before >= p
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def _random_history(rng: random.Random) -> tuple[Any, list[int], float]:
    logits = _random_logits(rng)
    vocab = logits.shape[-1]
    previous = [rng.randrange(vocab) for _ in range(rng.randint(0, 2 * vocab))]
    return logits, previous, rng.choice([0.5, 1.2, 1.5, 2.0])


@exercise("repetition_penalty", _random_history)
def repetition_penalty(logits: Any, previous_ids: list[int], penalty: float) -> Any:
    """CTRL's repetition penalty on ``logits [B, V]``: each token seen in ``previous_ids`` (once,
    however often it occurred) has its logit divided by ``penalty`` if positive, multiplied by
    it if negative, so ``penalty > 1`` always makes it less likely."""
    import torch

    out = logits.clone()
    for token in set(previous_ids):
        column = out[:, token]
        out[:, token] = torch.where(column < 0, column * penalty, column / penalty)
    return out


def _random_cache(rng: random.Random) -> tuple[Any, Any, Any, Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    heads, cached, d = rng.randint(1, 4), rng.randint(0, 6), rng.randint(1, 8)
    new = [torch.randn(heads, 1, d, generator=generator) for _ in range(3)]
    cache = [torch.randn(heads, cached, d, generator=generator) for _ in range(2)]
    return (*new, *cache)


def _same_outputs(got: Any, expected: tuple[Any, ...]) -> bool:
    """A tuple of three tensors, each equal to the reference's within the usual tolerance."""
    return (
        isinstance(got, tuple)
        and len(got) == len(expected)
        and all(_equal(a, b) for a, b in zip(got, expected, strict=True))
    )


@exercise("cached_attention_step", _random_cache, _same_outputs)
def cached_attention_step(q: Any, k: Any, v: Any, keys: Any, values: Any) -> tuple[Any, Any, Any]:
    """One generation step of attention with a KV cache. ``q, k, v [H, 1, d]``: the newest
    token's query, key and value; ``keys, values [H, T, d]``: those of the ``T`` tokens before
    it. Append the new key and value to the cache, then let the query attend to all ``T + 1``
    (no mask needed: nothing after the newest token exists yet). Returns ``(output [H, 1, d],
    keys [H, T + 1, d], values [H, T + 1, d])``."""
    import math

    import torch

    keys, values = torch.cat([keys, k], dim=1), torch.cat([values, v], dim=1)
    weights = (q @ keys.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return weights @ values, keys, values

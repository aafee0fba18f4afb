"""Lesson 06's exercises: SFT's loss mask, LoRA's forward pass, merging an adapter into W."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise


def _random_conversation(rng: random.Random) -> tuple[list[str], list[int]]:
    exchanges = rng.randint(1, 4)
    roles = ["user", "assistant"] * exchanges
    return roles, [rng.randint(1, 12) for _ in roles]


@exercise("loss_mask", _random_conversation)
def loss_mask(roles: list[str], lengths: list[int]) -> list[bool]:
    """The loss mask of a conversation in the chat template, from each turn's role and the number
    of tokens its text encodes to. A turn renders as ``<|user|>`` or ``<|assistant|>``, then its
    tokens, then ``<|end|>``; learned (True) are an assistant turn's tokens and its ``<|end|>``."""
    mask = []
    for role, n in zip(roles, lengths, strict=True):
        learned = role == "assistant"
        mask += [False] + [learned] * (n + 1)  # the role token is read, never learned
    return mask


def _random_lora(rng: random.Random) -> tuple[Any, Any, Any, Any, float, int]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n_in, n_out, rank = rng.randint(2, 12), rng.randint(2, 12), rng.randint(1, 4)
    rank = min(rank, n_in, n_out)
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 5), n_in, generator=generator)
    W = torch.randn(n_out, n_in, generator=generator)
    A = torch.randn(rank, n_in, generator=generator)
    B = torch.randn(n_out, rank, generator=generator)
    return x, W, A, B, rng.choice([1.0, 8.0, 16.0]), rank


@exercise("lora_forward", _random_lora)
def lora_forward(x: Any, W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """A LoRA layer's output for ``x [..., in]``: the frozen ``W [out, in]`` (no bias) plus the
    low-rank path, ``A [rank, in]`` then ``B [out, rank]``, scaled by ``alpha / rank``. Two thin
    products: the full ``[out, in]`` matrix ``B @ A`` is never formed."""
    return x @ W.T + (alpha / rank) * ((x @ A.T) @ B.T)


@exercise("merged_weight", lambda rng: _random_lora(rng)[1:])
def merged_weight(W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """The weight of the same layer with its adapter folded in: ``W + (alpha / rank) * B @ A``,
    after which one ordinary matrix product computes what the LoRA layer did."""
    return W + (alpha / rank) * (B @ A)

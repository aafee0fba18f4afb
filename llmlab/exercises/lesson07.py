"""Lesson 07's exercises: a classification head's pooling (each row's last real token, whatever
the padding), and a LoRA layer's forward pass in two thin products."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer

# ------------------------------------------------------------------------ last-real-token pooling


def _random_padded(rng: random.Random) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    rows, length, width = rng.randint(2, 5), rng.randint(3, 9), rng.randint(1, 6)
    hidden = torch.randn(rows, length, width, generator=generator)
    mask = torch.zeros(rows, length, dtype=torch.long)
    for row in range(rows):
        real = rng.randint(1, length - 1) if row == 0 else rng.randint(1, length)
        if rng.random() < 0.5:
            mask[row, :real] = 1  # right padding: the text, then pads
        else:
            mask[row, length - real :] = 1  # left padding: pads, then the text
    return hidden, mask


@exercise(
    "last_token_pool",
    _random_padded,
    builds="a classification head's pooling: each row's vector at its last real token",
    difficulty=2,
    minutes=15,
    hints=(
        "Rows may be padded on the right (text, then pads) or on the left (pads, then text): "
        "the last real position is the largest t with attention_mask[row, t] == 1.",
        "Multiply torch.arange(T) by the mask and take the argmax of each row; then index "
        "hidden[torch.arange(B), last].",
    ),
)
def last_token_pool(hidden: Any, attention_mask: Any) -> Any:
    """``hidden [B, T, C]`` -> ``[B, C]``: each row's vector at its last real token (the
    rightmost ``t`` with ``attention_mask[row, t] == 1``), for right- and left-padded rows."""
    import torch

    positions = torch.arange(hidden.shape[1])
    last = (positions * attention_mask).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), last]


@wrong_answer("last_token_pool")
def _count_minus_one(hidden: Any, attention_mask: Any) -> Any:
    """Counts the real tokens: right for right padding only."""
    import torch

    return hidden[torch.arange(hidden.shape[0]), attention_mask.sum(dim=1) - 1]


@wrong_answer("last_token_pool")
def _last_position(hidden: Any, attention_mask: Any) -> Any:
    """Reads position -1, which is a pad on every right-padded row."""
    return hidden[:, -1]


@wrong_answer("last_token_pool")
def _mean_of_real(hidden: Any, attention_mask: Any) -> Any:
    """Mean pooling: another head, not this one."""
    real = attention_mask[..., None].to(hidden.dtype)
    return (hidden * real).sum(1) / real.sum(1)


# ------------------------------------------------------------------------------ a LoRA layer


@lru_cache(maxsize=1)
def _factor_class() -> type:
    """A tensor type for LoRA's ``A`` and ``B`` that refuses to take part in forming the full
    ``[out, in]`` update (``B @ A``, ``A.T @ B.T``, an outer product summed): the point of the
    exercise is that the layer never builds it. ``sizes`` is set per case."""
    import torch

    class Factor(torch.Tensor):
        sizes: tuple[int, int] = (0, 0)  # (in, out) of the layer

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            result = super().__torch_function__(func, types, args, kwargs or {})
            n_in, n_out = cls.sizes
            if isinstance(result, torch.Tensor) and {n_in, n_out} <= set(result.shape):
                raise RuntimeError(
                    f"you formed the full [{n_out}, {n_in}] matrix from B and A: the layer "
                    "must use two thin products, x through A, then through B"
                )
            return result

    return Factor


def _random_lora(rng: random.Random) -> tuple[Any, Any, Any, Any, float, int]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n_in, n_out = rng.sample(range(5, 13), 2)  # distinct, and larger than every other size
    rank = rng.randint(1, 4)
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 4), n_in, generator=generator)
    W = torch.randn(n_out, n_in, generator=generator)
    factor = type("Factor", (_factor_class(),), {"sizes": (n_in, n_out)})
    A = torch.randn(rank, n_in, generator=generator).as_subclass(factor)
    B = torch.randn(n_out, rank, generator=generator).as_subclass(factor)
    return x, W, A, B, rng.choice([1.0, 8.0, 16.0]), rank


def _same_values(a: Any, b: Any) -> bool:
    import torch

    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    a, b = a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))


@exercise(
    "lora_forward",
    _random_lora,
    _same_values,
    builds="a LoRA layer's forward pass, in two thin products",
    difficulty=2,
    minutes=15,
    hints=(
        "The frozen path is x @ W.T. The adapter path goes x -> [..., rank] -> [..., out].",
        "(x @ A.T) @ B.T, scaled by alpha / rank, added to the frozen path. Never B @ A.",
    ),
    allowed=("_factor_class.<locals>.Factor.__torch_function__",),  # the case's watchful tensors
)
def lora_forward(x: Any, W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """A LoRA layer's output for ``x [..., in]``: the frozen ``W [out, in]`` (no bias) plus the
    low-rank path, ``A [rank, in]`` then ``B [out, rank]``, scaled by ``alpha / rank``. Two thin
    products: the full ``[out, in]`` matrix ``B @ A`` is never formed."""
    return x @ W.T + (alpha / rank) * ((x @ A.T) @ B.T)


@wrong_answer("lora_forward")
def _through_the_full_update(x: Any, W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """Forms B @ A: right values, but the [out, in] matrix LoRA exists to avoid."""
    return x @ (W + (alpha / rank) * (B @ A)).T


@wrong_answer("lora_forward")
def _unscaled(x: Any, W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """Forgets the scale alpha / rank."""
    return x @ W.T + (x @ A.T) @ B.T


@wrong_answer("lora_forward")
def _scaled_by_alpha(x: Any, W: Any, A: Any, B: Any, alpha: float, rank: int) -> Any:
    """Scales by alpha alone (the rank division is what keeps a change of rank from changing
    the step size)."""
    return x @ W.T + alpha * ((x @ A.T) @ B.T)

"""Lesson 04's exercises: a GPT's parameter count, the learning-rate schedule, RMSNorm."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises import exercise


def _random_gpt_shape(rng: random.Random) -> tuple[int, int, int, int]:
    return rng.randint(2, 1000), rng.randint(1, 1024), rng.randint(1, 12), 8 * rng.randint(1, 32)


@exercise("count_parameters", _random_gpt_shape)
def count_parameters(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """All parameters of a GPT with learned positions, biases everywhere and a tied output layer."""
    C = n_embd
    embeddings = vocab_size * C + block_size * C  # the output layer reuses the token table
    layer_norm = 2 * C  # a gain and a bias per channel
    attention = (3 * C * C + 3 * C) + (C * C + C)  # q, k, v projections; output projection
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # widen 4x; project back
    block = 2 * layer_norm + attention + mlp
    return embeddings + n_layer * block + layer_norm  # the last: the final layer norm


def _random_schedule_point(rng: random.Random) -> tuple[int, float, float, int, int]:
    warmup, decay = rng.randint(0, 50), rng.randint(1, 500)
    max_lr = rng.choice([1e-3, 3e-3, 6e-4])
    return rng.randint(0, decay + 20), max_lr, max_lr * rng.choice([0.0, 0.1]), warmup, decay


@exercise("warmup_cosine", _random_schedule_point)
def warmup_cosine(
    step: int, max_lr: float, min_lr: float, warmup_steps: int, decay_steps: int
) -> float:
    """The learning rate at ``step``: linear warm-up to ``max_lr`` over ``warmup_steps`` steps,
    then half a cosine down to ``min_lr`` at ``decay_steps``, and ``min_lr`` after that."""
    import math

    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, decay_steps - warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def _random_activations(rng: random.Random) -> tuple[Any, Any, float]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))] + [rng.randint(1, 16)]
    x = rng.choice([0.1, 1.0, 30.0]) * torch.randn(shape, generator=generator)
    weight = 1 + 0.1 * torch.randn(shape[-1], generator=generator)
    return x, weight, rng.choice([1e-5, 1e-6])


@exercise("rms_norm", _random_activations)
def rms_norm(x: Any, weight: Any, eps: float) -> Any:
    """RMSNorm (LLaMA and most recent LLMs): divide each vector of the last dimension by its
    root mean square, then scale each channel by ``weight``. Layer norm without the mean."""
    import torch

    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight

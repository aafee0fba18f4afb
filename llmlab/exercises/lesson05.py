"""Lesson 05's exercises: a power law's exponent, bits per character, Chinchilla's split."""

from __future__ import annotations

import random

from llmlab.exercises.registry import _all_close, exercise


def _random_power_law_points(rng: random.Random) -> tuple[list[float], list[float]]:
    import math

    n, scale, exponent = rng.randint(2, 8), rng.uniform(1, 20), rng.uniform(0.02, 1.0)
    xs = sorted({10 ** rng.uniform(2, 9) for _ in range(n)})
    return xs, [scale * x**-exponent * math.exp(rng.gauss(0, 0.05)) for x in xs]


@exercise("power_law_exponent", _random_power_law_points)
def power_law_exponent(x: list[float], y: list[float]) -> float:
    """``alpha`` of the power law ``y = a * x**-alpha`` that fits the points best in log space:
    minus the slope of the least-squares line through ``(log x, log y)``."""
    import math

    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )
    return -slope


def _random_token_loss(rng: random.Random) -> tuple[float, int, int]:
    n_tokens = rng.randint(1, 10**6)
    return rng.uniform(0.5, 7.0), n_tokens, int(n_tokens * rng.uniform(1.0, 5.0))


@exercise("bits_per_char", _random_token_loss)
def bits_per_char(loss: float, n_tokens: int, n_chars: int) -> float:
    """Bits per character of a text of ``n_chars`` characters and ``n_tokens`` tokens, from a
    model's mean loss in nats per token: the total is ``loss * n_tokens`` nats; ``ln 2`` nats
    make a bit. This is how models with different tokenizers are compared fairly."""
    import math

    return loss * n_tokens / math.log(2) / n_chars


@exercise("chinchilla_split", lambda rng: (10 ** rng.uniform(10, 24),), same=_all_close)
def chinchilla_split(flops: float) -> tuple[float, float]:
    """``(parameters, tokens)`` for a compute budget, by the Chinchilla rule of thumb: about 20
    training tokens per parameter, with compute ``C = 6 * N * D``. So ``C = 120 N^2``."""
    import math

    n_params = math.sqrt(flops / 120)
    return n_params, 20 * n_params

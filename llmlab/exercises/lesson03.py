"""Lesson 03's exercises: gradients by hand and by the engine, a momentum step."""

from __future__ import annotations

import random

from llmlab.exercises import _all_close, exercise


def _random_logits(rng: random.Random) -> tuple[list[float], int]:
    n = rng.randint(2, 8)
    return ([rng.uniform(-5, 5) for _ in range(n)], rng.randrange(n))


@exercise("cross_entropy_gradient", _random_logits, same=_all_close)
def cross_entropy_gradient(logits: list[float], target: int) -> list[float]:
    """d(cross-entropy)/d(logits) = softmax(logits) - onehot(target)."""
    import math

    top = max(logits)  # shifting by the largest logit keeps exp from overflowing
    exps = [math.exp(z - top) for z in logits]
    total = sum(exps)
    return [e / total - (i == target) for i, e in enumerate(exps)]


@exercise("sigmoid_and_slope", lambda rng: (rng.uniform(-6, 6),), same=_all_close)
def sigmoid_and_slope(x: float) -> tuple[float, float]:
    """sigmoid(x) = 1 / (1 + exp(-x)) built from engine Values, and its slope by backward()."""
    from llmlab.autograd import Value

    v = Value(x)
    out = 1 / (1 + (-v).exp())
    out.backward()
    return out.data, v.grad


def _random_step(rng: random.Random) -> tuple[list[float], list[float], list[float], float, float]:
    n = rng.randint(1, 5)
    params, grads, velocity = ([rng.uniform(-3, 3) for _ in range(n)] for _ in range(3))
    return params, grads, velocity, rng.choice([0.1, 0.01, 0.5]), rng.choice([0.0, 0.5, 0.9])


@exercise("momentum_step", _random_step, same=_all_close)
def momentum_step(
    params: list[float], grads: list[float], velocity: list[float], lr: float, momentum: float
) -> tuple[list[float], list[float]]:
    """One step of SGD with momentum, as torch.optim.SGD does it: (new params, new velocity)."""
    velocity = [momentum * v + g for v, g in zip(velocity, grads, strict=True)]
    params = [p - lr * v for p, v in zip(params, velocity, strict=True)]
    return params, velocity

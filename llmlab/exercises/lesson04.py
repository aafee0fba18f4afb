"""Lesson 04's exercises: inputs and shifted targets, the generation loop (greedy, with a stop
token), RMSNorm."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_windows(rng: random.Random) -> tuple[Any, list[int], int]:
    import torch

    block_size = rng.randint(1, 16)
    ids = torch.tensor([rng.randrange(80) for _ in range(block_size + rng.randint(1, 40))])
    starts = [rng.randrange(len(ids) - block_size) for _ in range(rng.randint(1, 6))]
    return ids, starts, block_size


def _same_pair(got: Any, expected: Any) -> bool:
    import torch

    return (
        isinstance(got, tuple | list)
        and len(got) == 2
        and all(
            isinstance(g, torch.Tensor) and torch.equal(g, e)
            for g, e in zip(got, expected, strict=True)
        )
    )


@exercise(
    "windows_and_targets",
    _random_windows,
    same=_same_pair,
    builds="a batch of inputs and their next-token targets",
    minutes=10,
    hints=(
        "x[b] is ids[s : s + block_size] for the b-th start s; torch.stack makes the batch.",
        "y is the same slice one token later.",
    ),
)
def windows_and_targets(ids: Any, starts: list[int], block_size: int) -> tuple[Any, Any]:
    """Inputs ``x [B, T]``: the ``block_size`` tokens from each start; targets ``y``: the same
    windows one token later, so ``y[b, t]`` is the token that follows ``x[b, t]``."""
    import torch

    x = torch.stack([ids[s : s + block_size] for s in starts])
    y = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])
    return x, y


def _random_model_and_prompt(rng: random.Random) -> tuple[Any, Any, int, int]:
    import torch

    from llmlab.model import GPT, GPTConfig

    torch.manual_seed(rng.randrange(2**31))
    config = GPTConfig(
        vocab_size=rng.randint(3, 12), block_size=rng.randint(2, 8), n_layer=1, n_head=1, n_embd=8
    )
    model = GPT(config).eval()
    with torch.no_grad():  # larger weights than GPT-2's start: a clear favourite at each step
        for parameter in model.parameters():
            parameter.normal_(0.0, 1.0)
    prompt = torch.randint(config.vocab_size, (rng.randint(1, 10),))
    return model, prompt, rng.randint(0, 12), rng.randrange(config.vocab_size)


@exercise(
    "greedy_until",
    _random_model_and_prompt,
    builds="the generation loop: crop, predict, append, stop",
    difficulty=2,
    minutes=20,
    hints=(
        "The model reads at most model.config.block_size tokens: feed ids[-block_size:][None].",
        "The prediction is at the last position: logits[0, -1].argmax().",
        "Append the stop token, then stop.",
    ),
    allowed=("GPT.forward",),  # the model to generate from; the loop is yours
)
def greedy_until(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    """The generation loop, greedy: crop to the model's context, take the last position's logits,
    append the most likely token; stop after ``max_new_tokens`` tokens or once ``stop_id`` has
    been appended. Returns the new tokens only."""
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            logits, _ = model(ids[-model.config.block_size :][None])
            next_id = int(logits[0, -1].argmax())
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
            if next_id == stop_id:
                break
    return new


def _random_activations(rng: random.Random) -> tuple[Any, Any, float]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))] + [rng.randint(1, 16)]
    x = rng.choice([0.1, 1.0, 30.0]) * torch.randn(shape, generator=generator)
    weight = 1 + 0.1 * torch.randn(shape[-1], generator=generator)
    return x, weight, rng.choice([1e-5, 1e-6])


@exercise(
    "rms_norm",
    _random_activations,
    builds="RMSNorm, layer norm without the mean",
    minutes=10,
    hints=(
        "The root mean square of each vector: x.pow(2).mean(dim=-1, keepdim=True), plus eps, sqrt.",
        "Divide by it, then multiply by weight (one number per channel).",
    ),
    forbidden={"rms_norm": "torch's RMSNorm is what you are building"},
)
def rms_norm(x: Any, weight: Any, eps: float) -> Any:
    """RMSNorm (LLaMA and most recent LLMs): divide each vector of the last dimension by its
    root mean square, then scale each channel by ``weight``. Layer norm without the mean."""
    import torch

    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("windows_and_targets")
def _targets_not_shifted(ids: Any, starts: list[int], block_size: int) -> tuple[Any, Any]:
    import torch

    x = torch.stack([ids[s : s + block_size] for s in starts])
    return x, x.clone()


@wrong_answer("greedy_until")
def _never_crops(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            next_id = int(model(ids[None])[0][0, -1].argmax())
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
            if next_id == stop_id:
                break
    return new


@wrong_answer("greedy_until")
def _drops_the_stop_token(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            next_id = int(model(ids[-model.config.block_size :][None])[0][0, -1].argmax())
            if next_id == stop_id:
                break
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
    return new


@wrong_answer("rms_norm")
def _layer_norm_instead(x: Any, weight: Any, eps: float) -> Any:
    import torch

    centred = x - x.mean(dim=-1, keepdim=True)
    return centred * torch.rsqrt(centred.pow(2).mean(dim=-1, keepdim=True) + eps) * weight

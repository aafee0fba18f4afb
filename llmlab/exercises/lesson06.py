"""Lesson 06's exercises: SFT's loss mask from a conversation's turns, and SFT's loss from the
model's logits and that mask."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_conversation(rng: random.Random) -> tuple[list[str], list[int]]:
    exchanges = rng.randint(1, 4)
    roles = ["user", "assistant"] * exchanges
    return roles, [rng.randint(1, 12) for _ in roles]


@exercise(
    "loss_mask",
    _random_conversation,
    builds="the loss mask of a conversation in the chat template",
    difficulty=1,
    minutes=10,
    hints=(
        "Each turn is 1 role token, then its text's tokens, then 1 <|end|>: 1 + n + 1 positions.",
        "The role token is never learned; the text and <|end|> are learned in assistant turns.",
    ),
)
def loss_mask(roles: list[str], lengths: list[int]) -> list[bool]:
    """The loss mask of a conversation in the chat template, from each turn's role and the number
    of tokens its text encodes to. A turn renders as ``<|user|>`` or ``<|assistant|>``, then its
    tokens, then ``<|end|>``; learned (True) are an assistant turn's tokens and its ``<|end|>``."""
    mask = []
    for role, n in zip(roles, lengths, strict=True):
        learned = role == "assistant"
        mask += [False] + [learned] * (n + 1)  # the role token is read, never learned
    return mask


@wrong_answer("loss_mask")
def _end_not_learned(roles: list[str], lengths: list[int]) -> list[bool]:
    """Forgets that the model must learn to write <|end|>: it would never learn to stop."""
    mask = []
    for role, n in zip(roles, lengths, strict=True):
        mask += [False] + [role == "assistant"] * n + [False]
    return mask


@wrong_answer("loss_mask")
def _role_token_learned(roles: list[str], lengths: list[int]) -> list[bool]:
    """Learns the <|assistant|> token too: but the template writes it, not the model."""
    mask = []
    for role, n in zip(roles, lengths, strict=True):
        mask += [role == "assistant"] * (n + 2)
    return mask


# ------------------------------------------------------------------------------- SFT's loss


def _random_batch(rng: random.Random) -> tuple[Any, Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    rows, length, vocab = rng.randint(1, 4), rng.randint(3, 12), rng.randint(3, 10)
    logits = 2 * torch.randn(rows, length, vocab, generator=generator)
    ids = torch.randint(vocab, (rows, length), generator=generator)
    mask = torch.rand(rows, length, generator=generator) < 0.5
    mask[0, rng.randrange(1, length)] = True  # at least one learned prediction
    return logits, ids, mask


@exercise(
    "sft_loss",
    _random_batch,
    builds="SFT's loss: cross-entropy over the learned tokens only",
    difficulty=2,
    minutes=15,
    hints=(
        "Position t predicts token t + 1: pair logits[:, :-1] with ids[:, 1:], and the mask of "
        "the token predicted, mask[:, 1:].",
        "log_softmax, then pick each target's log-probability (gather); average the negatives "
        "over the learned positions only: divide by how many there are, not by all positions.",
    ),
    forbidden={
        name: "build it from log_softmax: which positions count is the point"
        for name in ("cross_entropy", "nll_loss", "cross_entropy_loss", "nll_loss_nd")
    },
)
def sft_loss(logits: Any, ids: Any, mask: Any) -> Any:
    """The mean cross-entropy of ``logits [batch, T, vocab]`` over the learned tokens: position
    ``t`` predicts ``ids[:, t + 1]``, which counts only where ``mask[:, t + 1]`` is True (a reply
    token or its ``<|end|>``). A scalar tensor."""
    import torch

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets, learned = ids[:, 1:], mask[:, 1:]
    picked = log_probs.gather(-1, targets[..., None])[..., 0]
    return -(picked * learned).sum() / learned.sum()


@wrong_answer("sft_loss")
def _mean_over_every_token(logits: Any, ids: Any, mask: Any) -> Any:
    """Divides by every position: the loss then shrinks as the prompt grows."""
    import torch

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = log_probs.gather(-1, ids[:, 1:, None])[..., 0]
    return -(picked * mask[:, 1:]).sum() / picked.numel()


@wrong_answer("sft_loss")
def _mask_not_shifted(logits: Any, ids: Any, mask: Any) -> Any:
    """Masks by the token read (mask[:, :-1]) instead of the token predicted."""
    import torch

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = log_probs.gather(-1, ids[:, 1:, None])[..., 0]
    learned = mask[:, :-1]
    return -(picked * learned).sum() / learned.sum().clamp(min=1)


@wrong_answer("sft_loss")
def _sum_not_mean(logits: Any, ids: Any, mask: Any) -> Any:
    """A sum: its size, and so the step size, grows with the number of reply tokens."""
    import torch

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = log_probs.gather(-1, ids[:, 1:, None])[..., 0]
    return -(picked * mask[:, 1:]).sum()


@wrong_answer("sft_loss")
def _through_cross_entropy(logits: Any, ids: Any, mask: Any) -> Any:
    """Right values, through F.cross_entropy's ignore_index: the library does the masking."""
    import torch.nn.functional as F

    targets = ids[:, 1:].masked_fill(~mask[:, 1:], -100)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=-100)

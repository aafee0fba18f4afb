"""The tiny GPT the engine tests share: it trains in milliseconds, so tests can train for real."""

from __future__ import annotations

import torch

from llmlab.model import GPT, GPTConfig

TINY = dict(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=32)


def tiny(seed: int = 0, **overrides) -> GPT:
    """A fresh tiny GPT; the same ``seed`` and ``overrides`` give the same weights."""
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides}))

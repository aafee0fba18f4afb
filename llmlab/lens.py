"""Looking inside a trained GPT: what each layer would predict, and how much each head carries.

A trained model is a few hundred thousand numbers that nobody chose; nothing in them says what
they do. Two of the field's simplest tools open it a little:

* The **logit lens** (nostalgebraist, 2020) reads the residual stream after each block as if it
  were the last one: the final layer norm and the tied output layer turn it into a next-token
  guess. Where the guess settles shows at which depth a prediction forms. The lens after the
  last block *is* the model's output (the tests check it to the bit).
* **Head ablation** switches one attention head off (its output zeroed before the block's output
  projection) and measures how much the held-out loss rises, window by window, so each head's
  share comes with a standard error (paired: the same windows with and without the head).

Both run on any :class:`~llmlab.model.GPT` without changing it: forward hooks read or edit the
stream while it passes, and are removed afterwards, even when an error interrupts the pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks, stats
from llmlab.model import GPT
from llmlab.modes import evaluating


def _check_layer(model: GPT, layer: int, name: str = "layer") -> int:
    return checks.integer(layer, name, 0, model.config.n_layer - 1)


@torch.no_grad()
def residual_stream(model: GPT, ids: Tensor) -> Tensor:
    """``[n_layer + 1, B, T, n_embd]``: the stream after the embeddings, then after each block.

    Read with hooks on the blocks, so positions, masks and encodings are exactly the model's own.
    """
    states: list[Tensor] = []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda _m, args: states.append(args[0]))]
    hooks += [
        b.register_forward_hook(lambda _m, _a, out: states.append(out[0])) for b in model.blocks
    ]
    try:
        with evaluating(model):
            model(ids)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(states)


@torch.no_grad()
def logit_lens(model: GPT, ids: Tensor) -> Tensor:
    """``[n_layer + 1, B, T, vocab]``: the next-token logits each depth of the stream would give.

    Row 0 reads the embeddings alone (a bigram guess: the token, but no context); the last row
    equals ``model(ids)[0]``.
    """
    return model.lm_head(model.ln_f(residual_stream(model, ids)))


@contextmanager
def heads_off(model: GPT, heads: Mapping[int, Sequence[int]]) -> Iterator[GPT]:
    """Inside the block, the listed heads (``{layer: [head, ...]}``) write nothing to the stream.

    A head's output is its slice of the vector that enters the block's output projection; zeroing
    that slice removes exactly its contribution (the projection's bias stays: no head owns it).
    """
    config = model.config
    hooks = []

    def zero(slices: list[int]):
        def hook(_module: torch.nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            x = args[0].unflatten(-1, (config.n_head, config.head_dim)).clone()
            x[..., slices, :] = 0
            return (x.flatten(-2),)

        return hook

    try:
        for layer, chosen in heads.items():
            layer = _check_layer(model, layer)
            chosen = [checks.integer(h, "head", 0, config.n_head - 1) for h in chosen]
            hooks.append(model.blocks[layer].attn.proj.register_forward_pre_hook(zero(chosen)))
        yield model
    finally:
        for hook in hooks:
            hook.remove()


@torch.no_grad()
def window_losses(model: GPT, windows: Tensor) -> Tensor:
    """``[N]``: each window's mean next-token loss (``windows`` is ``[N, T + 1]`` token ids)."""
    if windows.ndim != 2 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [N, T + 1] with T >= 1, got {list(windows.shape)}")
    with evaluating(model):
        logits = model(windows[:, :-1])[0].float()
    return F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none").mean(1)


def head_ablation(model: GPT, windows: Tensor) -> list[list[stats.Estimate]]:
    """``[layer][head]``: how much the loss rises with that head off (paired over ``windows``).

    A rise within two SEs of zero says the windows cannot tell the head from nothing; a small
    rise does not mean the head does nothing, only that its work is not needed on these windows
    (or is redone by other heads).
    """
    base = window_losses(model, windows)
    return [
        [
            stats.difference(_ablated_losses(model, windows, layer, head), base)
            for head in range(model.config.n_head)
        ]
        for layer in range(model.config.n_layer)
    ]


def _ablated_losses(model: GPT, windows: Tensor, layer: int, head: int) -> Tensor:
    with heads_off(model, {layer: [head]}):
        return window_losses(model, windows)

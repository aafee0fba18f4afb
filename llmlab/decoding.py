"""The decoding loop, written once: read the prompt, then one token per step until done.

Every way of generating in the course runs this loop; only the rule that picks the next token
changes (``choose``: nanoGPT's temperature and top-k in :meth:`llmlab.model.GPT.generate`,
transformers' logits processors in :mod:`llmlab.sampling`). One step:

1. **read** what the model has not seen yet (:func:`next_inputs`): the whole prompt at the first
   step (*prefill*), then only the newest token, whose keys and values join the
   :class:`~llmlab.model.KVCache`;
2. **choose** a next token for every row from the last position's logits;
3. **stop** a row at a stop token (its later tokens are not kept); the loop ends when every row
   has stopped or after ``max_new_tokens``.

The model reads at most ``block_size`` tokens. Once the window is full, every position's number
shifts by one at each step, so the cached keys (computed at the old positions) no longer fit: from
then on each step empties the cache and refills it from the last ``block_size`` tokens, exactly
what a model without a cache reads. Cached or not, the tokens are the same; the cache only saves
work while the text is shorter than the window.

Rows of different lengths share a batch with left padding and an ``attention_mask`` (1 on real
tokens, 0 on padding): every row's newest token sits in the last column, where the next one is
predicted. This module sits below :mod:`llmlab.model` (which calls it) and needs of a model only
``model(ids, cache=, attention_mask=)``, ``model.new_cache(rows)`` and ``model.config.block_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from llmlab.modes import evaluating

#: ``(logits [B, V], histories) -> next ids [B]``: the rule that picks each row's next token.
#: ``histories[b]`` is row ``b``'s whole text so far (prompt uncropped, then its kept tokens).
Choose = Callable[[Tensor, list[list[int]]], Tensor]


class Cache(Protocol):
    """What the loop needs of a KV cache: how many positions it holds, and emptying it."""

    length: int

    def reset(self) -> None: ...


def next_inputs(
    ids: Tensor, attention_mask: Tensor | None, cache: Cache | None, window: int
) -> tuple[Tensor, Tensor | None]:
    """What the model reads next: ``(ids, attention_mask)`` to feed it.

    With a cache that holds the text but the newest token, that token alone (the mask covers the
    cached columns and the new one). Otherwise (no cache, the first step, or the window is full)
    the last ``window`` columns, after emptying the cache so they refill it. Beam search, which
    keeps no cache, reads its windows here too.
    """
    if cache is not None and 0 < cache.length < window:
        return ids[:, -1:], attention_mask
    if cache is not None:
        cache.reset()
    return ids[:, -window:], None if attention_mask is None else attention_mask[:, -window:]


@torch.no_grad()
def decode(
    model: Any,
    ids: Tensor,
    max_new_tokens: int,
    choose: Choose,
    *,
    histories: list[list[int]] | None = None,
    attention_mask: Tensor | None = None,
    stop_ids: frozenset[int] = frozenset(),
    use_cache: bool = True,
) -> Iterator[list[int | None]]:
    """Yield, step by step, each row's new token (``None`` for a row that stopped earlier).

    ``ids [B, T]``: the prompts, left-padded with ``attention_mask`` where they differ in length
    (``None``: every row is whole, and the model takes its fused causal path). ``histories``
    (default: the rows of ``ids``) is what ``choose`` sees, grown by each row's kept tokens; a
    repetition penalty reads the whole prompt there, even the part cropped from the window. Runs
    in eval mode, restored when the loop ends or is closed. A stopped row still gets a column
    (its tokens are not kept): the batch stays rectangular.

    The arguments are checked by the callers, where the user's names are known.
    """
    window = model.config.block_size
    if histories is None:
        histories = ids.tolist()
    running = [True] * len(ids)
    with evaluating(model):
        cache = model.new_cache(len(ids)) if use_cache else None
        for _ in range(max_new_tokens):
            inputs, mask = next_inputs(ids, attention_mask, cache, window)
            logits, _ = model(inputs, cache=cache, attention_mask=mask)
            tokens = choose(logits[:, -1, :].float(), histories)
            step: list[int | None] = []
            for b, token in enumerate(tokens.tolist()):
                step.append(token if running[b] else None)
                if running[b]:
                    histories[b].append(token)
                    running[b] = token not in stop_ids
            yield step
            if not any(running):
                return
            ids = torch.cat([ids, tokens[:, None]], dim=1)
            if attention_mask is not None:
                ones = torch.ones_like(attention_mask[:, :1])
                attention_mask = torch.cat([attention_mask, ones], dim=1)


def left_pad(rows: Sequence[list[int]], pad_id: int, device: Any) -> tuple[Tensor, Tensor]:
    """``(ids, attention_mask)``: ``rows`` left-padded with ``pad_id`` to the longest one."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask

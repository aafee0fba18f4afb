"""Attention, written so every line can be followed: the one idea a transformer adds to an MLP.

Each token asks a question (its *query*), every token offers a label (its *key*) and a payload
(its *value*). A token's output is the average of all payloads, weighted by how well its question
matches each label::

    scores  = q @ k^T / sqrt(d)        how well each query matches each key
    scores  = scores where allowed     masks: no peeking at the future, no attending to padding
    weights = softmax(scores)          each row sums to 1: a distribution over keys
    output  = weights @ v              the weighted average of the values

Shapes follow PyTorch: ``[..., T, d]`` with any leading batch / head dimensions. Masks are boolean
with **True = may attend** (as in ``F.scaled_dot_product_attention``; note that
``nn.MultiheadAttention`` uses the opposite convention), or a float mask added to the scores.

Attention alone sees a *set*: shuffle the tokens and each output is shuffled the same way, nothing
else changes. Order enters through positional encodings: learned
(:class:`LearnedPositionalEmbedding`), sinusoidal (:func:`sinusoidal_encoding`) or rotary
(:func:`rope_frequencies`, :func:`apply_rope`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab import checks


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    causal: bool = False,
    dropout: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention by hand: ``(output [..., Tq, dv], weights [..., Tq, Tk])``.

    ``mask`` is boolean (True = may attend) or float (added to the scores; ``-inf`` forbids), and
    broadcasts to ``[..., Tq, Tk]``. ``causal=True`` lets query ``i`` see keys up to its own
    position; with fewer queries than keys the queries are taken to be the *last* ones (as when
    generating with a KV cache), see :func:`causal_mask`. ``dropout`` zeroes random weights
    (training only: pass 0 at evaluation). A row that may attend to nothing gets zero weights, as
    in torch.
    """
    _check_qkv(q, k, v)
    _check_mask(mask, q, k)
    checks.number(dropout, "dropout", 0, 1, high_open=True)
    t_q, t_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1)  # [..., Tq, Tk]: dot product of every query with every key
    # Dot products of d random unit-variance numbers have variance d; dividing by sqrt(d) keeps the
    # scores near unit scale, so the softmax stays soft and its gradients do not vanish.
    scores = scores / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(~causal_mask(t_q, q.device, n_keys=t_k), float("-inf"))
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))  # exp(-inf) = 0: no weight at all
    elif mask is not None:
        scores = scores + mask
    # A row with every key masked would be softmax(-inf, ..., -inf) = 0/0: give it zero weights.
    nothing_allowed = scores.isneginf().all(dim=-1, keepdim=True)
    weights = torch.softmax(scores, dim=-1).masked_fill(nothing_allowed, 0.0)
    if dropout > 0.0:
        weights = F.dropout(weights, p=dropout)
    return weights @ v, weights


def causal_mask(
    T: int, device: torch.device | str | None = None, *, n_keys: int | None = None
) -> Tensor:
    """Boolean ``[T, n_keys]`` mask (default square), True where query ``i`` may see key ``j``.

    A decoder (GPT) predicts the next token, so position ``i`` must not see positions after ``i``:
    the mask is lower-triangular. With ``n_keys > T`` the ``T`` queries are the last ``T`` positions
    (the keys before them came from a cache), so the triangle is aligned bottom-right.
    """
    n_keys = T if n_keys is None else n_keys
    checks.integer(T, "T", 1)
    checks.integer(n_keys, "n_keys", T, hint="T, the number of queries")
    return torch.ones(T, n_keys, dtype=torch.bool, device=device).tril(diagonal=n_keys - T)


def padding_mask(lengths: Sequence[int] | Tensor, T: int) -> Tensor:
    """Boolean ``[B, 1, 1, T]`` mask: True for the first ``lengths[b]`` keys of sequence ``b``.

    Batched sequences of different lengths are padded to ``T``; no query should attend to the
    padding. The two singleton dimensions broadcast over heads and queries.
    """
    checks.integer(T, "T", 1)
    lengths = torch.as_tensor(lengths)
    if lengths.ndim != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise TypeError(
            f"lengths must be a 1-D sequence of ints, got {lengths.dtype} "
            f"of shape {list(lengths.shape)}"
        )
    if ((lengths < 0) | (lengths > T)).any():
        raise ValueError(f"lengths must lie in [0, T={T}], got {lengths.tolist()}")
    keep = torch.arange(T, device=lengths.device) < lengths[:, None]  # [B, T]
    return keep[:, None, None, :]


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """``[..., T, C]`` -> ``[..., H, T, C/H]``: each head gets its own slice of the channels."""
    width = x.shape[-1]
    if not checks.is_int(n_heads) or n_heads < 1 or width % n_heads:
        raise ValueError(f"n_heads={n_heads!r} must be a positive int dividing the width {width}")
    return x.unflatten(-1, (n_heads, width // n_heads)).transpose(-3, -2)


def merge_heads(x: Tensor) -> Tensor:
    """``[..., H, T, D]`` -> ``[..., T, H*D]``: the inverse of :func:`split_heads`."""
    if x.ndim < 3:
        raise ValueError(f"x must have shape [..., H, T, D], got {list(x.shape)}")
    return x.transpose(-3, -2).flatten(-2)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: project to q, k, v; attend in ``n_heads`` subspaces; project back.

    Several small heads instead of one big one let different heads track different relations
    (the previous token, the speaker, ...) at the same cost. ``forward`` uses torch's fused
    ``F.scaled_dot_product_attention``, unless ``need_weights=True`` asks for the attention
    pattern, which our :func:`attention` returns (the outputs agree; the tests check it).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        bias: bool = True,
        causal: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        checks.integer(d_model, "d_model", 1)
        checks.integer(n_heads, "n_heads", 1)
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        checks.number(dropout, "dropout", 0, 1, high_open=True)
        self.d_model, self.n_heads, self.causal, self.dropout = d_model, n_heads, causal, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)  # q, k and v projections in one
        self.proj = nn.Linear(d_model, d_model, bias=bias)  # mixes what the heads found

    def forward(
        self, x: Tensor, mask: Tensor | None = None, need_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``x [B, T, d_model]`` -> ``out [B, T, d_model]`` (and ``weights [B, H, T, T]``)."""
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape [B, T, {self.d_model}], got {list(x.shape)}")
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(self.d_model, dim=-1))
        p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = attention(q, k, v, mask=mask, causal=self.causal, dropout=p)
            return self.proj(merge_heads(out)), weights
        _check_mask(mask, q, k)
        if self.causal and mask is not None:  # torch takes one or the other: combine them
            allowed = causal_mask(x.shape[1], x.device)
            if mask.dtype == torch.bool:
                mask = mask & allowed
            else:
                mask = mask.masked_fill(~allowed, float("-inf"))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=p, is_causal=self.causal and mask is None
        )
        return self.proj(merge_heads(out))


def attention_share(maps: Tensor, chosen: Tensor) -> tuple[Tensor, float]:
    """How much attention each head gives to some chosen keys, and what spreading evenly would give.

    ``maps [batch, layer, head, T, T]`` are causal attention weights (``GPT(...,
    return_attention=True)``); ``chosen [batch, T, T]`` is 1 where the key (last index) counts for
    the query (middle index): the previous token, the line's start, the speaker's name. Returns
    the share of its weight a query gives to its chosen keys, averaged over the queries that have
    any, per head ``[layer, head]``; and the **chance** level: the same average for a head that
    spreads its weight evenly over the ``t + 1`` keys query ``t`` can see. A head far above
    chance does something particular; one near chance only looks like it.
    """
    if maps.dim() != 5 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"maps must be [batch, layer, head, T, T], got {tuple(maps.shape)}")
    batch, T = maps.shape[0], maps.shape[-1]
    if tuple(chosen.shape) != (batch, T, T):
        raise ValueError(
            f"chosen must be [batch, T, T] = {(batch, T, T)}, got {tuple(chosen.shape)}"
        )
    if not chosen.tril().equal(chosen):
        raise ValueError("chosen must pick only keys a causal query can see (key <= query)")
    chosen = chosen.to(maps.dtype)
    counted = chosen.sum(dim=-1) > 0  # [batch, query]: the queries with a chosen key
    if not counted.any():
        raise ValueError("chosen picks no key for any query: there is nothing to measure")
    on_chosen = (maps * chosen[:, None, None]).sum(dim=-1)  # [batch, layer, head, query]
    per_head = on_chosen.permute(0, 3, 1, 2)[counted].mean(dim=0)  # [layer, head]
    visible = torch.arange(1, T + 1, dtype=maps.dtype)  # query t sees t + 1 keys
    return per_head, (chosen.sum(dim=-1) / visible)[counted].mean().item()


def sinusoidal_encoding(T: int, d: int, base: float = 10000.0) -> Tensor:
    """The fixed positional encoding of "Attention Is All You Need": ``[T, d]``.

    It is added to the token embeddings. Channel pair ``(2i, 2i+1)`` holds ``sin, cos`` of
    ``pos / base**(2i/d)``: fast waves in the first channels, slow ones in the last, like the hands
    of a clock. Every position gets a distinct pattern, and moving by a fixed offset is the same
    rotation of each pair at any position.
    """
    checks.integer(T, "T", 1)
    if not checks.is_int(d) or d < 2 or d % 2:
        raise ValueError(f"d must be a positive even int, got {d!r}")
    _check_base(base)
    position = torch.arange(T, dtype=torch.float32)[:, None]  # [T, 1]
    frequency = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)  # [d/2]
    angle = position * frequency  # [T, d/2]
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)  # interleave: sin, cos, ...


def rope_frequencies(
    head_dim: int, T: int, base: float = 10000.0, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """Rotary position tables ``(cos, sin)``, each ``[T, head_dim]``, for :func:`apply_rope`.

    Channel ``i`` and channel ``i + head_dim/2`` form a pair (the "rotate-half" layout of GPT-NeoX
    and LLaMA, not the interleaved one of the RoPE paper) rotated at position ``pos`` by the angle
    ``pos * base**(-2i/head_dim)``. The table lists each angle twice, once per channel of the pair.
    """
    if not checks.is_int(head_dim) or head_dim < 2 or head_dim % 2:
        raise ValueError(f"head_dim must be a positive even int, got {head_dim!r}")
    checks.integer(T, "T", 1)
    _check_base(base)
    pair = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device)  # 2i
    frequency = base ** (-pair / head_dim)  # [head_dim/2]: from 1 down to ~1/base
    angle = torch.arange(T, dtype=torch.float32, device=device)[:, None] * frequency  # [T, hd/2]
    angle = torch.cat([angle, angle], dim=-1)  # [T, head_dim]
    return angle.cos(), angle.sin()


def _check_base(base: object) -> None:
    """The wavelengths grow as powers of ``base``: it must be a finite number above 1."""
    checks.number(base, "base", 1, low_open=True)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each channel pair of ``x [..., T, head_dim]`` by its position's angle.

    Applied to queries and keys (not values). Rotating ``q`` at position ``m`` by ``m*θ`` and ``k``
    at ``n`` by ``n*θ`` makes ``q·k`` depend on ``m - n`` only: attention sees *relative*
    positions, and lengths never seen in training still get well-defined angles. Rotations keep
    norms. For positions ``start..start+T`` pass ``cos[start:start+T]`` and the same slice of sin;
    for other positions per row, ``cos[positions]`` with leading dimensions that broadcast to x's.
    """
    if cos.shape != sin.shape or cos.shape[-2:] != x.shape[-2:]:
        raise ValueError(
            f"cos and sin must have shape [T, head_dim] = {list(x.shape[-2:])} to "
            f"match x, got {list(cos.shape)} and {list(sin.shape)} (slice the tables to T)"
        )
    x1, x2 = x.chunk(2, dim=-1)
    rotated_half = torch.cat([-x2, x1], dim=-1)  # (x1, x2) -> (-x2, x1): a quarter turn per pair
    return x * cos.to(x.dtype) + rotated_half * sin.to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """GPT-2's positional encoding: one trained vector per position, up to ``max_len`` positions.

    It is just an ``nn.Embedding`` looked up with ``0..T-1``; the model learns whatever position
    code helps it, but cannot handle sequences longer than ``max_len``.
    """

    def __init__(self, max_len: int, d: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d)

    def forward(self, T: int, start: int = 0) -> Tensor:
        """The ``[T, d]`` vectors of positions ``start .. start+T-1``."""
        if T < 1 or start < 0 or start + T > self.max_len:
            raise ValueError(
                f"positions {start}..{start + T - 1} must lie in "
                f"0..{self.max_len - 1} ({T=}, {start=}, max_len={self.max_len})"
            )
        return self.embedding(torch.arange(start, start + T, device=self.embedding.weight.device))


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Clear errors for the shape and dtype mistakes attention otherwise reports cryptically."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point() or t.ndim < 2:
            raise TypeError(
                f"{name} must be a floating tensor of shape [..., T, d], "
                f"got {t.dtype} of shape {list(t.shape)}"
            )
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d, got q {list(q.shape)} "
            f"and k {list(k.shape)}"
        )
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            f"k and v must have the same shape up to the last dimension, got "
            f"k {list(k.shape)} and v {list(v.shape)}"
        )
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dimensions of q {list(q.shape)} and k {list(k.shape)} do not broadcast"
        ) from None


def _check_mask(mask: Tensor | None, q: Tensor, k: Tensor) -> None:
    """A mask must be bool (True = may attend) or q's float dtype, broadcastable to the scores."""
    if mask is None:
        return
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool and mask.dtype != q.dtype:
        raise TypeError(
            f"mask must be torch.bool (True = may attend) or {q.dtype} (added to the "
            f"scores), got {mask.dtype}"
        )
    scores = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
    try:
        ok = torch.broadcast_shapes(mask.shape, scores) == scores
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask of shape {list(mask.shape)} does not broadcast to the scores' "
            f"shape [..., Tq, Tk] = {list(scores)}"
        )

"""A GPT in one screenful per idea: token + position embeddings, a stack of blocks, a tied head.

Each block is pre-LayerNorm (GPT-2 and later): ``x = x + attn(ln(x))`` then ``x = x + mlp(ln(x))``.
The residual stream ``x`` is a running sum every block writes into; normalising only what enters a
block keeps that stream an unscaled highway for gradients, so deep stacks train without warm-up
tricks. Attention is the causal self-attention of :mod:`llmlab.attention`: torch's fused kernel
by default, or our explicit :func:`llmlab.attention.attention` when the attention weights are
wanted for a picture (the logits are the same either way; the tests check it).

The model maps token ids ``[B, T]`` to logits ``[B, T, vocab]``: at every position, a score for
each possible next token. Training minimises the cross-entropy of those scores against the ids
shifted by one (see :mod:`llmlab.train`).

The model is a *trunk* and a *head*. :meth:`GPT.hidden` runs the trunk: ``[B, T]`` ids to
``[B, T, n_embd]`` vectors after the final layer norm. The tied LM head turns those into logits;
:class:`SequenceHead` reads the same vectors at each row's last real token to score a whole text
(a class for lesson 07, a reward for lesson 08). A :class:`KVCache` keeps the keys and values of
positions already seen, so generating one more token computes one position, not the whole window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab import checks
from llmlab.attention import (
    LearnedPositionalEmbedding,
    apply_rope,
    attention,
    causal_mask,
    merge_heads,
    rope_frequencies,
    sinusoidal_encoding,
    split_heads,
)
from llmlab.decoding import decode

POSITIONAL_ENCODINGS = ("learned", "sinusoidal", "rope")

#: Targets equal to this are left out of the loss (the torch default; fine-tuning masks prompts).
IGNORE_INDEX = -100


@dataclass
class GPTConfig:
    """The shape of a GPT. Defaults are a small character-level model."""

    vocab_size: int = 65
    block_size: int = 256  # the context: the most tokens the model sees at once
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128  # the width of the residual stream
    dropout: float = 0.0
    bias: bool = True  # biases in the linear layers and layer norms
    pos_encoding: str = "learned"  # one of POSITIONAL_ENCODINGS
    rope_base: float = 10000.0  # only used by pos_encoding="rope"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            checks.integer(getattr(self, name), f"GPTConfig.{name}", 1)
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig.n_head={self.n_head} must divide n_embd={self.n_embd}")
        checks.number(self.dropout, "GPTConfig.dropout", 0, 1, high_open=True)
        checks.flag(self.bias, "GPTConfig.bias")
        checks.one_of(self.pos_encoding, "GPTConfig.pos_encoding", POSITIONAL_ENCODINGS)
        if self.pos_encoding == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"GPTConfig: rope needs an even n_embd/n_head, got {self.head_dim}")
        if self.pos_encoding == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"GPTConfig: sinusoidal needs an even n_embd, got {self.n_embd}")
        checks.number(self.rope_base, "GPTConfig.rope_base", 1, low_open=True)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GPTConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        if not isinstance(values, dict):
            raise TypeError(f"values must be a dict, got {type(values).__name__}")
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {sorted(unknown)}")
        return cls(**values)


class CausalSelfAttention(nn.Module):
    """Multi-head attention in which position ``t`` sees positions ``0..t`` only."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.dropout = config.n_head, config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        return_attention: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``x [B, T, C]`` -> ``(out [B, T, C], weights [B, H, T, T_keys] or None)``.

        With a ``cache``, this layer's new keys and values are appended to it and the queries
        attend to every cached position too: the ``T`` queries are the *last* ``T`` positions, so
        the causal mask is aligned bottom-right (:func:`~llmlab.attention.causal_mask`; SDPA's
        ``is_causal`` would align it top-left and hide the cached keys). A ``mask``
        (``[B, 1, T, T_keys]``, True = may attend) replaces the causal one: the model builds it
        when rows are padded (see :meth:`GPT.forward`).
        """
        qkv = self.qkv(x)
        if qkv.device.type == "cpu":
            # Under bf16 autocast only the projections run in bf16: on CPU, torch's bf16
            # attention backward is ~3x slower than float32 (measured), and float32 is exact.
            qkv = qkv.float()
        q, k, v = (split_heads(t, self.n_head) for t in qkv.chunk(3, dim=-1))
        if rope is not None:  # rotary encoding turns queries and keys, never values
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        p = self.dropout if self.training else 0.0
        with torch.autocast("cpu", enabled=False):  # (CPU autocast only: see above)
            weights = None
            if return_attention:
                out, weights = attention(q, k, v, mask, causal=mask is None, dropout=p)
            elif mask is None and k.shape[-2] == q.shape[-2]:  # fused, no T x T weights kept
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            elif mask is None and q.shape[-2] == 1:  # one new token: it sees every cached key
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            else:
                if mask is None:
                    mask = causal_mask(q.shape[-2], q.device, n_keys=k.shape[-2])
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        # Back to the stream's dtype: a model cast to bfloat16 feeds `proj` bfloat16 again.
        return self.resid_dropout(self.proj(merge_heads(out).to(x.dtype))), weights


class MLP(nn.Module):
    """Per-position feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block: tokens talk to each other (attention), then think alone (MLP)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        return_attention: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        attended, weights = self.attn(self.ln_1(x), rope, return_attention, cache, layer, mask)
        x = x + attended
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class KVCache:
    """Each layer's keys and values of the positions seen so far, ``[B, n_head, length, head_dim]``.

    When generating, position ``t`` attends to the keys and values of positions ``0..t``, and
    those of earlier positions never change (a position only ever sees earlier ones). Keeping them
    means each new token costs one position of compute instead of the whole window. Make one with
    :meth:`GPT.new_cache`; :meth:`GPT.forward` with ``cache=`` fills it and advances ``length``.
    Space for ``max_length`` positions is allocated once, at the first write.
    """

    def __init__(self, n_layer: int, batch_size: int, max_length: int) -> None:
        checks.integer(n_layer, "KVCache n_layer", 1)
        checks.integer(batch_size, "KVCache batch_size", 1)
        self.batch_size, self.max_length, self.length = batch_size, max_length, 0
        self.keys: list[Tensor | None] = [None] * n_layer
        self.values: list[Tensor | None] = [None] * n_layer

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write ``k, v [B, H, T, hd]`` after the cached positions; return all of them so far."""
        if k.shape[0] != self.batch_size:
            raise ValueError(
                f"the cache was made for a batch of {self.batch_size}, got {k.shape[0]} rows"
            )
        end = self.length + k.shape[-2]
        if self.keys[layer] is None:
            shape = (*k.shape[:2], self.max_length, k.shape[-1])
            self.keys[layer] = k.new_zeros(shape)
            self.values[layer] = v.new_zeros(shape)
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n: int) -> None:
        """Count ``n`` more positions as cached (the model calls it after its last layer)."""
        self.length += n

    def reset(self) -> None:
        """Forget every position (the allocated space is reused)."""
        self.length = 0


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-2 architecture, sized for a CPU)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        if config.pos_encoding == "learned":
            self.wpe = LearnedPositionalEmbedding(config.block_size, config.n_embd)
        elif config.pos_encoding == "sinusoidal":  # fixed tables: buffers, not parameters
            self.register_buffer(
                "sinusoid", sinusoidal_encoding(config.block_size, config.n_embd), persistent=False
            )
        else:
            cos, sin = rope_frequencies(config.head_dim, config.block_size, config.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the same matrix reads tokens in and scores them out. Similar tokens get
        # similar vectors both ways, and the model has vocab x n_embd fewer parameters to learn.
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        # GPT-2: every block adds two projections to the residual stream, so its variance grows
        # with depth; scaling those projections by 1/sqrt(2 * n_layer) keeps it near 1 at init.
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2 initialisation: small normal weights (std 0.02), zero biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        """Number of parameters; ``non_embedding`` leaves out the position table (as nanoGPT).

        The token table stays counted even then: it is tied to the output layer, where it does a
        full matrix multiply per token. So ``6 * num_params()`` is the training FLOPs per token
        spent in matrix multiplies (attention's own ``T x T`` products aside).
        """
        n = sum(p.numel() for p in self.parameters())  # a tied matrix is listed once
        if non_embedding and self.config.pos_encoding == "learned":
            n -= self.wpe.embedding.weight.numel()
        return n

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty :class:`KVCache` for ``batch_size`` rows and up to ``block_size`` positions."""
        return KVCache(self.config.n_layer, batch_size, self.config.block_size)

    def hidden(
        self,
        idx: Tensor,
        cache: KVCache | None = None,
        attention_mask: Tensor | None = None,
    ) -> Tensor:
        """The trunk: ids ``[B, T]`` -> vectors ``[B, T, n_embd]`` after the final layer norm.

        Every head reads these: the tied LM head (:meth:`forward`), and :class:`SequenceHead`.
        ``cache`` and ``attention_mask`` are as in :meth:`forward`.
        """
        return self._trunk(idx, cache, False, attention_mask)[0]

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        *,
        cache: KVCache | None = None,
        attention_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None] | tuple[Tensor, Tensor | None, Tensor]:
        """``idx [B, T]`` -> ``(logits [B, T, vocab], loss or None)``: trunk, tied LM head, loss.

        ``loss`` is the mean cross-entropy against ``targets [B, T]`` (entries equal to
        ``IGNORE_INDEX`` are skipped). With ``return_attention=True`` the explicit attention path
        runs and a third value holds every layer's weights, ``[B, n_layer, n_head, T, T_keys]``.
        With a ``cache`` (eval mode only), ``idx`` continues the cached positions: they are
        numbered from ``cache.length`` on, and the keys and values of ``idx`` join the cache.

        ``attention_mask`` (``[B, cached + T]``, 1 on real tokens, 0 on padding, as in
        transformers) lets rows of different lengths share a batch: no token attends to padding,
        and each row's positions count its real tokens only, so a left-padded prompt is read as
        if it stood alone (what batched generation needs).
        """
        x, maps = self._trunk(idx, cache, return_attention, attention_mask)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            self._check_targets(targets, idx)
            loss = F.cross_entropy(
                logits.flatten(0, 1).float(), targets.flatten().long(), ignore_index=IGNORE_INDEX
            )
        if return_attention:
            return logits, loss, torch.stack(maps, dim=1)
        return logits, loss

    def _trunk(
        self,
        idx: Tensor,
        cache: KVCache | None,
        return_attention: bool,
        attention_mask: Tensor | None = None,
    ) -> tuple[Tensor, list[Tensor | None]]:
        """Embeddings, positions (from ``cache.length`` on), the blocks, the final layer norm."""
        start = self._check_cache(cache)
        T = self._check_ids(idx, "idx", room=self.config.block_size - start)
        if attention_mask is None:  # every row is whole: positions start..start+T-1
            where, mask = slice(start, start + T), None
        else:
            where, mask = self._padded_positions(attention_mask, idx, start)
        idx = idx.long()  # (int8, int16 and int32 ids index the table too)
        x = self.wte(idx)
        rope = None
        if self.config.pos_encoding == "learned":
            x = x + self.wpe.embedding.weight[where]
        elif self.config.pos_encoding == "sinusoidal":
            x = x + self.sinusoid[where]
        else:
            cos, sin = self.rope_cos[where], self.rope_sin[where]
            rope = (cos, sin) if mask is None else (cos[:, None], sin[:, None])  # [B, 1, T, hd]
        x = self.drop(x)
        maps = []
        for layer, block in enumerate(self.blocks):
            x, weights = block(x, rope, return_attention, cache, layer, mask)
            maps.append(weights)
        if cache is not None:
            cache.advance(T)
        return self.ln_f(x), maps

    def _padded_positions(
        self, attention_mask: Tensor, idx: Tensor, start: int
    ) -> tuple[Tensor, Tensor]:
        """Each token's position (its row's real tokens before it) and who may attend to whom.

        The mask ``[B, 1, T, start + T]`` is causal and hides padding keys, but lets every query
        see itself: a padding query with nothing to attend to would make NaNs, and those would
        reach real tokens through the values (0 weight times NaN is NaN). Padding's own outputs
        are never read.
        """
        B, T = idx.shape
        if not isinstance(attention_mask, Tensor) or attention_mask.shape != (B, start + T):
            shape = getattr(attention_mask, "shape", type(attention_mask).__name__)
            raise ValueError(
                f"attention_mask must be [batch, cached + new] = [{B}, {start + T}] of 0s and "
                f"1s, got {list(shape) if isinstance(shape, torch.Size) else shape}"
            )
        real = attention_mask.to(idx.device).bool()
        positions = (real.long().cumsum(dim=1) - 1).clamp(min=0)[:, start:]
        causal = causal_mask(T, idx.device, n_keys=start + T)
        itself = causal & ~causal_mask(T, idx.device, n_keys=start + T).tril(start - 1)
        return positions, ((causal & real[:, None, :]) | itself)[:, None]

    def _check_cache(self, cache: KVCache | None) -> int:
        """The first position of the new tokens: 0 without a cache, else the cached length."""
        if cache is None:
            return 0
        if not isinstance(cache, KVCache):
            raise TypeError(
                f"cache must be a KVCache (model.new_cache), got {type(cache).__name__}"
            )
        if self.training:
            raise ValueError(
                "a KV cache is for generation, not training: call model.eval() first "
                "(dropout would make the cached keys differ from a fresh pass)"
            )
        if len(cache.keys) != self.config.n_layer or cache.max_length != self.config.block_size:
            raise ValueError("this cache was made by a model of another shape: use model.new_cache")
        return cache.length

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Extend ``idx`` (``[T]`` or ``[B, T]``) by sampling ``max_new_tokens`` tokens.

        Each step reads the last ``block_size`` tokens (older ones fall out of the context),
        divides the last position's logits by ``temperature`` (``0`` = always the most likely
        token), keeps the ``top_k`` best if given, and samples (nanoGPT's rule). Runs in eval
        mode (no dropout). The loop is :func:`llmlab.decoding.decode`, the one every generator of
        the course runs; :func:`llmlab.sampling.generate` adds transformers' other processors.

        With ``use_cache`` (the default) the prompt is read once into a :class:`KVCache` and each
        step feeds only the newest token: the same tokens as without the cache, much faster. Once
        the window is full (``block_size`` positions), every position's number shifts by one at
        each step, so cached keys no longer fit: from then on each step re-fills the cache from
        the last ``block_size`` tokens, exactly what the uncached path reads (same tokens still,
        but no longer faster).
        """
        squeeze = isinstance(idx, Tensor) and idx.ndim == 1
        if squeeze:
            idx = idx[None]
        if isinstance(idx, Tensor) and idx.ndim == 2 and idx.shape[1] == 0:
            raise ValueError("idx is an empty prompt: give at least one token to continue from")
        self._check_ids(idx, "idx", room=None)  # longer prompts are cropped by the loop
        n = checks.integer(max_new_tokens, "max_new_tokens", 0)
        temperature = checks.number(temperature, "temperature", 0, hint="0 = greedy")
        top_k = checks.integer(top_k, "top_k", 1, optional=True)

        def choose(logits: Tensor, histories: list[list[int]]) -> Tensor:
            if temperature == 0:
                return logits.argmax(dim=-1)
            # Shift the best logit to 0 first: softmax does not mind, and a tiny temperature
            # then sends the others to -inf instead of overflowing to NaN.
            logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
            if top_k is not None and top_k < logits.shape[-1]:
                kth_best = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth_best, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            return torch.multinomial(probs, 1, generator=generator)[:, 0]

        steps = list(decode(self, idx, n, choose, use_cache=use_cache))
        new = torch.tensor(steps, dtype=torch.long, device=idx.device).reshape(n, len(idx))
        idx = torch.cat([idx, new.T], dim=1)
        return idx[0] if squeeze else idx

    def _check_ids(self, idx: Tensor, name: str, room: int | None) -> int:
        """Ids: an integer ``[B, T]`` tensor, every id in the vocabulary, ``T <= room`` if given.

        ``room`` is how many positions are left: ``block_size``, less what a cache holds.
        """
        if not isinstance(idx, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got dtype {idx.dtype}")
        if idx.dtype == torch.uint8:  # torch reads a uint8 index as a mask, and 256 wraps to 0
            raise ValueError(
                f"{name} must hold token ids in a signed integer dtype (int8..int64), got uint8"
            )
        if idx.ndim != 2 or idx.shape[1] < 1:
            raise ValueError(f"{name} must have shape [batch, time>=1], got {list(idx.shape)}")
        if idx.shape[0] < 1:
            raise ValueError(f"{name} is an empty batch (shape {list(idx.shape)}): give a row")
        length, block_size = idx.shape[1], self.config.block_size
        if room is not None and length > room:
            if room == block_size:
                raise ValueError(
                    f"{name} has {length} tokens but the model's context (block_size) is "
                    f"{block_size}: pass at most the last {block_size}"
                )
            raise ValueError(
                f"the KV cache is full: it holds {block_size - room} of {block_size} positions "
                f"and {name}'s {length} more do not fit; reset it or start a new one"
            )
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(
                f"{name} holds token ids in [{low}, {high}] but the vocabulary has ids "
                f"0..{self.config.vocab_size - 1}"
            )
        return length

    def _check_targets(self, targets: Tensor, idx: Tensor) -> None:
        if not isinstance(targets, Tensor) or targets.shape != idx.shape:
            shape = list(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
            raise ValueError(f"targets must have the shape of idx {list(idx.shape)}, got {shape}")
        if targets.dtype.is_floating_point or targets.dtype == torch.bool:
            raise TypeError(f"targets must hold integer token ids, got dtype {targets.dtype}")
        valid = (targets == IGNORE_INDEX) | ((targets >= 0) & (targets < self.config.vocab_size))
        if not bool(valid.all()):
            raise ValueError(
                f"targets must be token ids in 0..{self.config.vocab_size - 1} "
                f"(or {IGNORE_INDEX} to skip a position)"
            )


def last_real_positions(attention_mask: Tensor) -> Tensor:
    """``[B]``: each row's last real token; ``attention_mask [B, T]`` is 1 on real tokens.

    The rightmost real token, as transformers' sequence-classification models read it, so both
    right padding (pads after the text) and left padding (pads before it) work. In a causal model
    it is the one position that has seen the whole text.
    """
    if not isinstance(attention_mask, Tensor) or attention_mask.ndim != 2:
        raise ValueError("attention_mask must be a [batch, time] tensor of 0s and 1s")
    real = attention_mask.bool()
    if not bool(real.any(dim=1).all()):
        raise ValueError("attention_mask has a row with no real token: every row needs one")
    positions = torch.arange(real.shape[1], device=real.device)
    return (positions * real).argmax(dim=1)


class SequenceHead(nn.Module):
    """A GPT trunk plus a linear read-out of each row's last real token: one score vector per text.

    ``n_outputs`` classes make a classifier (lesson 07); ``n_outputs=1`` makes a reward model
    (lesson 08). The layout is transformers' ``GPT2ForSequenceClassification``: the trunk's
    vector at the last real position goes through ``score`` (a bias-free linear layer).
    """

    def __init__(self, gpt: GPT, n_outputs: int) -> None:
        super().__init__()
        if not isinstance(gpt, GPT):
            raise TypeError(f"gpt must be an llmlab.model.GPT, got {type(gpt).__name__}")
        checks.integer(n_outputs, "n_outputs", 1)
        self.gpt, self.n_outputs = gpt, n_outputs
        self.score = nn.Linear(gpt.config.n_embd, n_outputs, bias=False)
        nn.init.normal_(self.score.weight, mean=0.0, std=0.02)

    @property
    def config(self) -> GPTConfig:
        return self.gpt.config

    def forward(self, idx: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """``idx [B, T]`` (padding marked 0 in ``attention_mask``) -> scores ``[B, n_outputs]``.

        The mask also reaches the trunk, so left-padded rows are read correctly too.
        """
        if attention_mask is not None and attention_mask.shape != idx.shape:
            raise ValueError(
                f"attention_mask must have the shape of idx {list(idx.shape)}, "
                f"got {list(attention_mask.shape)}"
            )
        hidden = self.gpt.hidden(idx, attention_mask=attention_mask)
        if attention_mask is None:
            last = torch.full((len(idx),), idx.shape[1] - 1, device=idx.device)
        else:
            last = last_real_positions(attention_mask)
        return self.score(hidden[torch.arange(len(idx), device=idx.device), last])

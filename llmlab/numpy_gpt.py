"""A GPT run by NumPy alone: a parameter file and a few hundred lines of code.

Everything a trained :class:`llmlab.model.GPT` does at inference time is here, in plain NumPy and
the standard library (torch is never imported, not even indirectly): reading the weights, the
forward pass, a KV cache and sampling. The tokenizers are :mod:`llmlab.tokenization`'s own,
which need no torch either. Read it top to bottom:

1. the building blocks: :func:`layer_norm`, :func:`gelu` (with our own :func:`erfc`),
   :func:`softmax`, causal :func:`attention`, and the positional tables
   (:func:`sinusoidal_encoding`, :func:`rope_frequencies`, :func:`apply_rope`);
2. :func:`codec`: llmlab's tokenizer, rebuilt from the dict a checkpoint stores;
3. :class:`NumpyGPT`: the model itself (:meth:`~NumpyGPT.logits`, :meth:`~NumpyGPT.generate`);
4. :func:`load` and :func:`export_npz`, the file formats.

>>> model = load("assets/checkpoints/char-....safetensors")  # doctest: +SKIP
>>> model.complete("ROMEO:\\n", 40, temperature=0.8, seed=1)  # doctest: +SKIP

The computations are those of ``llmlab.model`` in float32, so the logits equal torch's to about
1e-5. The one function NumPy lacks is ``erf`` (for the exact GELU); ``math.erf`` works on one
number at a time, far too slow through ``np.vectorize``, so :func:`erfc` is a classic rational
fit, accurate to 1.2e-7 relative: GELU comes out within 3 float32 roundings of the exact value.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from llmlab import checks, files
from llmlab.checkpoint import read_numpy
from llmlab.tokenization import BPETokenizer, CharTokenizer, tokenizer_from_dict

NPZ_FORMAT = "llmlab-numpy/1"
_HEADER_KEY = "__header__"  # the .npz entry holding the JSON header (a 0-d string array)

# ----------------------------------------------------------------------------- building blocks


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Normalise each vector to mean 0 and variance 1, then scale (and shift) it: torch's eps."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(1e-5)) * weight
    return y if bias is None else y + bias


def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function ``1 - erf(x)`` in float64, to a relative 1.2e-7.

    NumPy has no ``erf``. This is the Chebyshev fit ``erfcc`` of *Numerical Recipes* (Press et
    al., 2nd ed., section 6.2): ``t * exp(-z**2 + a polynomial in t)`` with ``t = 2 / (2 + z)``.
    Its error is *relative*, so it stays accurate where ``erfc`` is tiny, which is where GELU of
    a negative number lives; Abramowitz & Stegun's shorter 7.1.26 is only 1.5e-7 *absolute*.
    """
    z = np.abs(x.astype(np.float64))
    t = 2.0 / (2.0 + z)
    high = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807)  # t^9 .. t^5
    low = (-0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223)  # t^4 .. t^0
    poly = 0.0
    for a in high + low:  # Horner's rule, from the highest power of t down
        poly = a + t * poly
    tail = t * np.exp(-z * z + poly)
    return np.where(x >= 0, tail, 2.0 - tail)  # erfc(-z) = 2 - erfc(z)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, the exact form torch uses by default: ``x * P(N(0, 1) < x)``, float32 out.

    ``P(N(0, 1) < x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2``.
    """
    return (0.5 * x * erfc(-x / np.sqrt(2.0))).astype(np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; subtracting the maximum first keeps ``exp`` from overflowing."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Causal attention, per head: ``q [H, Tq, hd]``, ``k, v [H, Tk, hd]`` -> ``[H, Tq, hd]``.

    The ``Tq`` queries are the *last* ``Tq`` of the ``Tk`` positions (with a cache, the keys of
    earlier positions come first), so query ``i`` sees keys ``0 .. Tk - Tq + i``.
    """
    n_queries, n_keys = q.shape[1], k.shape[1]
    scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(q.shape[-1]))  # [H, Tq, Tk]
    if n_queries > 1:  # a single newest query sees every key: nothing to hide
        future = np.triu(np.ones((n_queries, n_keys), dtype=bool), k=n_keys - n_queries + 1)
        scores = np.where(future, np.float32(-np.inf), scores)
    return softmax(scores) @ v


def _frequencies(d: int, base: float) -> np.ndarray:
    """``base ** (-2i / d)`` for ``i = 0 .. d/2 - 1``, float32 as in :mod:`llmlab.attention`.

    The exponent is the same float32 division. The power is taken in float64 and rounded: the
    correctly rounded value, which torch's float32 power also gives but for rare near-ties.
    NumPy's own float32 power is sometimes one unit in the last place off, and at position 127
    that would move the table by 1e-5.
    """
    exponent = -np.arange(0, d, 2, dtype=np.float32) / np.float32(d)
    return (np.float64(base) ** exponent).astype(np.float32)


def _sin_cos(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of float32 angles, correctly rounded to float32 (via float64)."""
    angle = angle.astype(np.float64)
    return np.sin(angle).astype(np.float32), np.cos(angle).astype(np.float32)


def sinusoidal_encoding(T: int, d: int, base: float = 10000.0) -> np.ndarray:
    """``[T, d]``: channel pair ``(2i, 2i+1)`` holds sin, cos of ``pos / base**(2i/d)``."""
    angle = np.arange(T, dtype=np.float32)[:, None] * _frequencies(d, base)  # [T, d/2]
    return np.stack(_sin_cos(angle), axis=-1).reshape(T, d)  # interleaved: sin, cos, ...


def rope_frequencies(head_dim: int, T: int, base: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotary tables ``(cos, sin)``, ``[T, head_dim]``: channels ``i`` and ``i + head_dim/2``
    turn together by ``pos * base**(-2i/head_dim)`` (the "rotate-half" layout)."""
    angle = np.arange(T, dtype=np.float32)[:, None] * _frequencies(head_dim, base)
    sin, cos = _sin_cos(np.concatenate([angle, angle], axis=-1))  # [T, head_dim]
    return cos, sin


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Turn each channel pair of ``x [..., T, head_dim]``: ``(x1, x2) -> (-x2, x1)`` times sin."""
    x1, x2 = np.split(x, 2, axis=-1)
    return x * cos + np.concatenate([-x2, x1], axis=-1) * sin


# ----------------------------------------------------------------------------- tokenizers


def codec(data: dict[str, Any] | None) -> CharTokenizer | BPETokenizer | None:
    """The tokenizer of a checkpoint's ``tokenizer`` dict (``None`` when it has none).

    These are :mod:`llmlab.tokenization`'s own tokenizers, which need only the standard library,
    so the runner gives exactly llmlab's ids.
    """
    if data is None:
        return None
    return tokenizer_from_dict(data, source="the model file's tokenizer")


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Config:
    """The shape of the model: the fields of ``llmlab.model.GPTConfig`` (``dropout`` unused)."""

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    bias: bool
    pos_encoding: str
    rope_base: float = 10000.0
    dropout: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        names = {f.name for f in fields(cls)}
        if not isinstance(values, dict) or set(values) - names:
            raise ValueError(f"model_config must be a dict of GPTConfig fields {sorted(names)}")
        try:
            config = cls(**values)
        except TypeError as error:
            raise ValueError(f"model_config is incomplete: {error}") from None
        return config

    def __post_init__(self) -> None:
        """The checks of ``GPTConfig``, so a file it would refuse is refused here too."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            checks.integer(getattr(self, name), f"model_config.{name}", 1)
        if self.n_embd % self.n_head:
            raise ValueError(f"model_config.n_head={self.n_head} must divide n_embd={self.n_embd}")
        if not checks.is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model_config.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"model_config.bias must be a bool, got {self.bias!r}")
        checks.one_of(
            self.pos_encoding, "model_config.pos_encoding", ("learned", "sinusoidal", "rope")
        )
        checks.number(self.rope_base, "model_config.rope_base", 1, low_open=True)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


class KVCache:
    """Keys and values of the positions seen so far, ``[n_layer, n_head, block_size, head_dim]``.

    Earlier positions never see later ones, so their keys and values never change: generating
    one more token then costs one position of compute instead of the whole window.
    """

    def __init__(self, config: Config) -> None:
        shape = (config.n_layer, config.n_head, config.block_size, config.head_dim)
        self.keys, self.values = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        self.length = 0

    def reset(self) -> None:
        self.length = 0


class NumpyGPT:
    """A GPT for inference, usually made by :func:`load`.

    ``weights`` maps the names of ``GPT.named_parameters()`` (``wte.weight``,
    ``blocks.0.attn.qkv.weight``, ...) to arrays; every one the ``config`` needs must be there,
    with its shape, and no other. ``tokenizer`` is the dict a checkpoint stores (or ``None``).
    """

    def __init__(
        self, config: Config, weights: dict[str, np.ndarray], tokenizer: dict | None = None
    ) -> None:
        self.config = c = config
        self.tokenizer = codec(tokenizer)
        C = c.n_embd
        expected = {"wte.weight": (c.vocab_size, C)}  # name -> shape; wte is also the head
        if c.pos_encoding == "learned":
            expected["wpe.embedding.weight"] = (c.block_size, C)
        norms = ["ln_f"]
        for i in range(c.n_layer):
            norms += [f"blocks.{i}.ln_1", f"blocks.{i}.ln_2"]
            linears = {"attn.qkv": (3 * C, C), "attn.proj": (C, C)}
            linears |= {"mlp.fc": (4 * C, C), "mlp.proj": (C, 4 * C)}
            for name, shape in linears.items():
                expected[f"blocks.{i}.{name}.weight"] = shape
                if c.bias:
                    expected[f"blocks.{i}.{name}.bias"] = shape[:1]
        for name in norms:
            expected[f"{name}.weight"] = (C,)
            if c.bias:
                expected[f"{name}.bias"] = (C,)
        missing = sorted(set(expected) - set(weights))
        if missing:
            raise ValueError(f"the weights lack tensor(s) {missing[:4]} (of {len(missing)})")
        unexpected = sorted(set(weights) - set(expected))
        if unexpected:
            raise ValueError(f"the weights hold tensor(s) a plain GPT lacks: {unexpected[:4]}")
        for name, shape in expected.items():
            if tuple(weights[name].shape) != shape:
                raise ValueError(f"{name} has shape {weights[name].shape}, expected {shape}")
        self.w = {name: np.asarray(t, dtype=np.float32) for name, t in weights.items()}
        if c.pos_encoding == "sinusoidal":  # fixed tables, computed once, never stored
            self.sinusoid = sinusoidal_encoding(c.block_size, c.n_embd)
        elif c.pos_encoding == "rope":
            self.rope_cos, self.rope_sin = rope_frequencies(c.head_dim, c.block_size, c.rope_base)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        """``x @ W.T + b``, torch's ``nn.Linear`` (``W`` is ``[out, in]``)."""
        y = x @ self.w[f"{name}.weight"].T
        return y + self.w[f"{name}.bias"] if self.config.bias else y

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, self.w[f"{name}.weight"], self.w.get(f"{name}.bias"))

    def _forward(self, ids: np.ndarray, cache: KVCache | None) -> np.ndarray:
        """Checked ids ``[T]`` numbered from ``cache.length`` on -> logits ``[T, vocab]``."""
        c, T = self.config, len(ids)
        start = cache.length if cache is not None else 0
        x = self.w["wte.weight"][ids]  # [T, C]: one vector per token
        if c.pos_encoding == "learned":
            x = x + self.w["wpe.embedding.weight"][start : start + T]
        elif c.pos_encoding == "sinusoidal":
            x = x + self.sinusoid[start : start + T]
        for layer in range(c.n_layer):
            block = f"blocks.{layer}"
            qkv = self._linear(self._norm(x, f"{block}.ln_1"), f"{block}.attn.qkv")  # [T, 3C]
            heads = qkv.reshape(T, 3, c.n_head, c.head_dim).transpose(1, 2, 0, 3)
            q, k, v = heads  # each [H, T, hd]
            if c.pos_encoding == "rope":  # queries and keys turn; values do not
                cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            if cache is not None:  # keep the new keys and values; attend to all of them so far
                cache.keys[layer, :, start : start + T] = k
                cache.values[layer, :, start : start + T] = v
                k, v = cache.keys[layer, :, : start + T], cache.values[layer, :, : start + T]
            out = attention(q, k, v).transpose(1, 0, 2).reshape(T, c.n_embd)
            x = x + self._linear(out, f"{block}.attn.proj")
            hidden = gelu(self._linear(self._norm(x, f"{block}.ln_2"), f"{block}.mlp.fc"))
            x = x + self._linear(hidden, f"{block}.mlp.proj")
        if cache is not None:
            cache.length += T
        return self._norm(x, "ln_f") @ self.w["wte.weight"].T  # the tied head

    def new_cache(self) -> KVCache:
        return KVCache(self.config)

    def logits(self, ids: Any, cache: KVCache | None = None) -> np.ndarray:
        """Token ids ``[T]`` -> float32 logits ``[T, vocab]``: a score per next token, per position.

        With a ``cache``, ``ids`` continue the positions it holds, whose keys and values are
        reused. ``T`` (plus what the cache holds) must fit in the context, ``block_size``.
        """
        ids = self._check_ids(ids)
        room = self.config.block_size - (cache.length if cache is not None else 0)
        if len(ids) > room:
            raise ValueError(
                f"ids has {len(ids)} tokens but only {room} of the context's "
                f"{self.config.block_size} positions are free: pass at most the last {room}"
            )
        return self._forward(ids, cache)

    def generate(
        self,
        ids: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator = 0,
        stop: int | list[int] | None = None,
        use_cache: bool = True,
    ) -> np.ndarray:
        """The prompt ``ids`` and up to ``max_new_tokens`` sampled tokens after it, ``[T + n]``.

        Each step reads the last ``block_size`` tokens: a longer prompt is cropped from the left,
        as ``GPT.generate`` does (the returned ids still start with the whole prompt). The last
        position's logits are divided by ``temperature`` (``0``: always the most likely token),
        cut to the ``top_k`` best and to the smallest set whose probability reaches ``top_p``,
        then sampled with NumPy's generator seeded by ``seed``. Generation ends early right after
        a token in ``stop``. With ``use_cache`` the prompt is read once and each step feeds
        only the newest token; once the window is full, each step re-reads the last
        ``block_size`` tokens (positions shift by one, so cached keys no longer fit).
        """
        ids = list(self._check_ids(ids))
        checks.integer(max_new_tokens, "max_new_tokens", 0)
        _check_sampling(temperature, top_k, top_p)
        stops = set() if stop is None else {stop} if checks.is_int(stop) else set(stop)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        window, cache = self.config.block_size, self.new_cache() if use_cache else None
        for _ in range(max_new_tokens):
            if cache is not None and 0 < cache.length < window:
                logits = self._forward(np.array(ids[-1:]), cache)  # only the newest is new
            else:
                if cache is not None:  # the first step, or the window is full: re-fill
                    cache.reset()
                logits = self._forward(np.array(ids[-window:]), cache)
            ids.append(sample(logits[-1], temperature, top_k, top_p, rng))
            if ids[-1] in stops:
                break
        return np.array(ids, dtype=np.int64)

    def encode(self, text: str) -> list[int]:
        return self._codec().encode(text)

    def decode(self, ids: Any) -> str:
        ids = self._check_ids(ids, allow_empty=True).tolist()
        tokenizer = self._codec()
        if ids and max(ids) >= tokenizer.vocab_size:  # (a model may have more ids, e.g. padded)
            raise ValueError(f"ids holds ids the tokenizer does not have: {max(ids)}")
        return tokenizer.decode(ids)

    def complete(self, prompt: str, max_new_tokens: int, **sampling: Any) -> str:
        """The text generated after ``prompt`` (``sampling``: as for :meth:`generate`)."""
        ids = self.encode(prompt)
        return self.decode(self.generate(ids, max_new_tokens, **sampling)[len(ids) :])

    def _codec(self) -> CharTokenizer | BPETokenizer:
        if self.tokenizer is None:
            raise ValueError("this model's file holds no tokenizer: pass token ids instead")
        return self.tokenizer

    def _check_ids(self, ids: Any, allow_empty: bool = False) -> np.ndarray:
        array = np.asarray(ids)
        if array.dtype == bool or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"ids must be integer token ids, got dtype {array.dtype}")
        if array.ndim != 1:
            raise ValueError(f"ids must be one sequence [T] of token ids, got shape {array.shape}")
        if not array.size and not allow_empty:
            raise ValueError("ids is an empty prompt: give at least one token to continue from")
        if array.size and (array.min() < 0 or array.max() >= self.config.vocab_size):
            raise ValueError(
                f"ids holds token ids in [{array.min()}, {array.max()}] but the vocabulary has "
                f"ids 0..{self.config.vocab_size - 1}"
            )
        return array.astype(np.int64)


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    checks.number(temperature, "temperature", 0, hint="0 = greedy")
    checks.integer(top_k, "top_k", 1, optional=True)
    checks.number(top_p, "top_p", 0, 1, low_open=True, optional=True)


def sample(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: np.random.Generator | None = None,
) -> int:
    """One token id from the logits ``[vocab]`` of the last position.

    In order: divide by ``temperature`` (``0``: the argmax, nothing random), keep the ``top_k``
    best, softmax, keep the nucleus (the most likely tokens until their probability reaches
    ``top_p``, renormalised), then draw: the first token whose cumulative probability passes
    a uniform random number (``rng``, a NumPy ``Generator``).
    """
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < len(logits):  # keep the k best (ties with the k-th too)
        kth_best = np.sort(logits)[-top_k]
        logits = np.where(logits < kth_best, -np.inf, logits)
    probs = softmax(logits)
    if top_p is not None and top_p < 1:  # the nucleus: the best tokens until top_p is reached
        order = np.argsort(-probs, kind="stable")
        before = np.cumsum(probs[order]) - probs[order]  # probability of the better tokens
        probs[order[before >= top_p]] = 0.0
        probs /= probs.sum()
    rng = rng if rng is not None else np.random.default_rng()
    cumulative = np.cumsum(probs)  # inverse-CDF sampling: where a uniform number falls
    index = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
    return int(min(index, len(probs) - 1))  # (min: guards against rounding at the very end)


# ----------------------------------------------------------------------------- files


def _header_of(meta: dict[str, Any], source: str) -> tuple[Config, dict | None]:
    kind = meta.get("architecture", {"kind": "gpt"})
    if kind != {"kind": "gpt"}:
        raise ValueError(f"{source} holds a {kind} model: the NumPy runner runs plain GPTs only")
    return Config.from_dict(meta.get("model_config")), meta.get("tokenizer")


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(header, arrays)`` of a checkpoint (``.safetensors``) or an :func:`export_npz` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    with open(path, "rb") as f:
        is_zip = f.read(2) == b"PK"  # an .npz is a zip archive of .npy files
    if not is_zip:
        return read_numpy(path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    if _HEADER_KEY not in arrays:
        raise ValueError(f"{path} is an .npz without the {_HEADER_KEY!r} entry of export_npz")
    meta = json.loads(str(arrays.pop(_HEADER_KEY)))
    if meta.get("format") != NPZ_FORMAT:
        raise ValueError(f"{path}: its format is not {NPZ_FORMAT}")
    return meta, arrays


def load(path: str | os.PathLike[str]) -> NumpyGPT:
    """The model in a checkpoint or in an ``.npz`` from :func:`export_npz` (no torch needed)."""
    meta, arrays = _read(path)
    config, tokenizer = _header_of(meta, str(path))
    weights = {n[len("model.") :]: t for n, t in arrays.items() if n.startswith("model.")}
    try:
        return NumpyGPT(config, weights, tokenizer)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def export_npz(checkpoint_path: str | os.PathLike[str], npz_path: str | os.PathLike[str]) -> Path:
    """Write a checkpoint's weights, config and tokenizer as one ``.npz`` (no pickle inside).

    The header is JSON in a 0-d string array, so ``np.load(path, allow_pickle=False)`` reads
    all of it; the optimizer state and training history are left out.
    """
    meta, arrays = read_numpy(checkpoint_path)
    config, tokenizer = _header_of(meta, str(checkpoint_path))
    header = {"format": NPZ_FORMAT, "model_config": meta["model_config"], "tokenizer": tokenizer}
    weights = {n: t for n, t in arrays.items() if n.startswith("model.")}
    NumpyGPT(config, {n[len("model.") :]: t for n, t in weights.items()}, tokenizer)  # checks
    buffer = io.BytesIO()
    np.savez(buffer, **weights, **{_HEADER_KEY: np.array(json.dumps(header))})
    return files.write_atomically(npz_path, buffer.getvalue())

"""From scores to text: logits processors, sampling, streaming, batched generation, beam search.

At each step the model gives one score (a logit) per vocabulary token for what comes next,
``logits [B, V]``. Turning those scores into a choice is *decoding*, and it changes the text as
much as the weights do. Greedy decoding takes the best token every time (dull, loops easily);
sampling draws from ``softmax(logits)`` (lively, but the long tail of unlikely tokens adds up to
nonsense). The *logits processors* below reshape the distribution before the draw. Each is a
pure function ``logits [B, V] -> logits [B, V]`` (the input is never modified) that sets the
logits of removed tokens to ``-inf`` (probability 0), and each gives exactly what Hugging Face
transformers' class of the same job gives (the tests compare them on random logits, ties
included):

======================  ====================================  ===============================
here                    transformers                          keeps / does
======================  ====================================  ===============================
``repetition_penalty``  ``RepetitionPenaltyLogitsProcessor``  penalises tokens already seen
``temperature``         ``TemperatureLogitsWarper``           ``logits / t``: sharper, flatter
``top_k``               ``TopKLogitsWarper``                  the ``k`` best (ties kept)
``top_p``               ``TopPLogitsWarper``                  the smallest set reaching ``p``
``min_p``               ``MinPLogitsWarper``                  ``prob >= p * best prob``
======================  ====================================  ===============================

:func:`process` applies them in transformers' order. :func:`stream` yields the tokens of a
continuation one by one (what a chat window shows), :func:`generate` collects them,
:func:`generate_batch` continues several prompts of different lengths at once (left padding and
an attention mask), and :func:`beam_search` keeps the ``num_beams`` best partial continuations
instead of committing to one token at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from numbers import Integral, Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab.model import GPT

NEG_INF = float("-inf")

# --------------------------------------------------------------------------------------------
# Checking settings where they enter.


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(value)


def _check_temperature(t: Any) -> float:
    if not _is_number(t) or not 0 <= t < math.inf:
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {t!r}")
    return float(t)


def _check_top_k(k: Any) -> int:
    if not _is_int(k) or k < 1:
        raise ValueError(f"top_k must be an int >= 1 (or None for no top-k), got {k!r}")
    return int(k)


def _check_top_p(p: Any) -> float:
    if not _is_number(p) or not 0 < p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1] (or None for no top-p), got {p!r}")
    return float(p)


def _check_min_p(p: Any) -> float:
    if not _is_number(p) or not 0 <= p <= 1:
        raise ValueError(f"min_p must be a number in [0, 1] (or None for no min-p), got {p!r}")
    return float(p)


def _check_penalty(penalty: Any) -> float:
    if not _is_number(penalty) or not 0 < penalty < math.inf:
        raise ValueError(
            f"repetition_penalty must be a finite number > 0 (1 = none, > 1 discourages "
            f"repeats), got {penalty!r}"
        )
    return float(penalty)


def _check_logits(logits: Any) -> None:
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be a floating-point torch.Tensor, got {logits!r:.60}")
    if logits.ndim != 2 or logits.shape[-1] < 1:
        raise ValueError(
            f"logits must have shape [batch, vocab] (one row: logits[None]), "
            f"got {list(logits.shape)}"
        )


def _check_count(value: Any, name: str, low: int) -> int:
    if not _is_int(value) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_ids(ids: Any, name: str, vocab_size: int, allow_empty: bool = False) -> list[int]:
    """A sequence of token ids (list, tuple or 1-D integer tensor) -> a list of ints."""
    if isinstance(ids, Tensor):
        if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(f"{name} must be a 1-D tensor of integer token ids, got {ids!r:.60}")
        if ids.dtype == torch.uint8:  # a uint8 tensor is read as a mask when it indexes
            raise ValueError(
                f"{name} must hold token ids in a signed integer dtype (int8..int64), got uint8"
            )
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise TypeError(f"{name} must be a list of token ids, got {type(ids).__name__}")
    if not all(_is_int(i) for i in ids):
        raise TypeError(f"{name} must hold int token ids, got {list(ids)!r:.80}")
    if not ids and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one token to continue from")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise ValueError(
            f"{name} holds token id {bad[0]} but the vocabulary has ids 0..{vocab_size - 1}"
        )
    return [int(i) for i in ids]


def _check_stop_ids(stop_ids: Any, vocab_size: int) -> frozenset[int]:
    if _is_int(stop_ids):  # one stop token needs no tuple around it
        stop_ids = (stop_ids,)
    if isinstance(stop_ids, (set, frozenset)):
        stop_ids = sorted(stop_ids)
    return frozenset(_check_ids(stop_ids, "stop_ids", vocab_size, allow_empty=True))


def _check_model(model: Any) -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
    return model


# --------------------------------------------------------------------------------------------
# The logits processors: pure functions logits [B, V] -> logits [B, V].


def temperature(logits: Tensor, t: float) -> Tensor:
    """``logits / t``: below 1 sharpens the distribution, above 1 flattens it.

    ``softmax(logits / t)`` tends to all mass on the best token as ``t -> 0``; ``t = 0`` *is*
    that limit, greedy decoding: every token but the first best one (``argmax``) is removed. A
    ``t`` so small that ``logits / t`` overflows float is treated as 0 too (transformers would
    return infinities, and ``inf - inf`` is NaN in the softmax). transformers:
    ``TemperatureLogitsWarper(t)``, which accepts ``t > 0`` only.
    """
    _check_logits(logits)
    t = _check_temperature(t)
    if t > 0:
        scaled = logits / t
        finite = torch.isfinite(logits)
        if bool(torch.isfinite(scaled[finite]).all()):
            return scaled
    best = logits.argmax(dim=-1, keepdim=True)
    return torch.full_like(logits, NEG_INF).scatter(-1, best, logits.gather(-1, best))


def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` highest logits of each row, remove the rest.

    Ties at the ``k``-th value are all kept (as in transformers' ``TopKLogitsWarper(k)``): a
    token is removed only if its logit is *below* the ``k``-th best, so more than ``k`` tokens
    can survive when several share that value. ``k >= V`` keeps everything.
    """
    _check_logits(logits)
    k = min(_check_top_k(k), logits.shape[-1])
    kth_best = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_best, NEG_INF)


def top_p(logits: Tensor, p: float) -> Tensor:
    """Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches
    ``p``, the token that crosses ``p`` included; at least one token always stays.

    Computed as transformers' ``TopPLogitsWarper(p)`` does it, from the other end: sort from the
    least likely up and remove tokens while their running total stays ``<= 1 - p``. What is left
    holds at least ``p``, and dropping its least likely member would fall below ``p``. Among
    tokens with equal probability at the border, the sort decides which stay.
    """
    _check_logits(logits)
    p = _check_top_p(p)
    sorted_logits, order = torch.sort(logits, descending=False)
    tail_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = tail_mass <= 1 - p
    remove_sorted[..., -1:] = False  # the most likely token always stays
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, NEG_INF)


def min_p(logits: Tensor, p: float) -> Tensor:
    """Keep the tokens whose probability is at least ``p`` times the most likely token's.

    The cut follows the model's confidence: when one token dominates, few others survive; when
    the distribution is flat, many do. Applied after temperature (as transformers does), so the
    probabilities are those of ``softmax(logits / t)``. ``p = 0`` keeps all, ``p = 1`` keeps the
    tokens tied for best. transformers: ``MinPLogitsWarper(p)``.
    """
    _check_logits(logits)
    p = _check_min_p(p)
    probs = torch.softmax(logits, dim=-1)
    remove = probs < p * probs.amax(dim=-1, keepdim=True)
    remove.scatter_(-1, probs.argmax(dim=-1, keepdim=True), False)  # the best always stays
    return logits.masked_fill(remove, NEG_INF)


def _seen(previous_ids: Any, logits: Tensor) -> Tensor:
    """``[B, V]`` bools: has row ``b`` seen token ``v``? ``previous_ids`` as in
    :func:`repetition_penalty`."""
    B, V = logits.shape
    ragged = (
        isinstance(previous_ids, Sequence)
        and not isinstance(previous_ids, (str, bytes))
        and len(previous_ids) > 0
        and all(isinstance(row, (Sequence, Tensor)) for row in previous_ids)
    )
    if ragged or (isinstance(previous_ids, Tensor) and previous_ids.ndim == 2):  # one per row
        if len(previous_ids) != B:
            raise ValueError(
                f"previous_ids has {len(previous_ids)} rows but logits has {B}: one per row"
            )
        rows = [_check_ids(row, "previous_ids", V, allow_empty=True) for row in previous_ids]
    else:  # one flat sequence: the history of every row
        rows = [_check_ids(previous_ids, "previous_ids", V, allow_empty=True)] * B
    seen = torch.zeros(B, V, dtype=torch.bool, device=logits.device)
    for b, row in enumerate(rows):
        seen[b, row] = True
    return seen


def repetition_penalty(logits: Tensor, previous_ids: Any, penalty: float) -> Tensor:
    """Make tokens already in the text less likely (CTRL, Keskar et al. 2019).

    Each token that occurs in ``previous_ids`` (the prompt included, as transformers does for a
    decoder-only model) has its logit divided by ``penalty`` if positive and multiplied by it if
    negative: either way it moves down for ``penalty > 1`` (up for ``penalty < 1``), once per
    distinct token however often it occurred. transformers:
    ``RepetitionPenaltyLogitsProcessor(penalty)``.

    ``previous_ids``: a ``[B, n]`` tensor, a list of ``B`` lists (rows may differ in length), or
    one flat list or 1-D tensor, then shared by every row.
    """
    _check_logits(logits)
    penalty = _check_penalty(penalty)
    seen = _seen(previous_ids, logits)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


# `process` takes keyword arguments named like the processors, which hide them inside it.
_PROCESSORS = {
    "repetition_penalty": repetition_penalty,
    "temperature": temperature,
    "top_k": top_k,
    "top_p": top_p,
    "min_p": min_p,
}


def _check_settings(
    temperature: Any, top_k: Any, top_p: Any, min_p: Any, repetition_penalty: Any
) -> dict[str, Any]:
    """Every setting checked, as :func:`process` takes them (``None`` = off)."""
    return dict(
        temperature=_check_temperature(temperature),
        top_k=None if top_k is None else _check_top_k(top_k),
        top_p=None if top_p is None else _check_top_p(top_p),
        min_p=None if min_p is None else _check_min_p(min_p),
        repetition_penalty=(
            None if repetition_penalty is None else _check_penalty(repetition_penalty)
        ),
    )


def process(
    logits: Tensor,
    previous_ids: Any = None,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
) -> Tensor:
    """Every processor asked for, in transformers' order; ``None`` (or a neutral value) = off.

    1. ``repetition_penalty`` (needs ``previous_ids``): a penalty acts on the model's own scores;
    2. ``temperature`` (skipped at 1);
    3. ``top_k``;
    4. ``top_p`` (skipped at 1);
    5. ``min_p``, on the probabilities after temperature.

    The same as transformers' ``LogitsProcessorList`` of those processors in that order (what
    ``model.generate(do_sample=True, ...)`` builds). ``temperature=0`` leaves only the best token,
    so the rest changes nothing: greedy decoding (after the penalty).
    """
    _check_logits(logits)
    settings = _check_settings(temperature, top_k, top_p, min_p, repetition_penalty)
    if settings["repetition_penalty"] not in (None, 1.0):
        if previous_ids is None:
            raise ValueError("repetition_penalty needs previous_ids: the tokens seen so far")
        logits = _PROCESSORS["repetition_penalty"](
            logits, previous_ids, settings["repetition_penalty"]
        )
    if settings["temperature"] != 1.0:
        logits = _PROCESSORS["temperature"](logits, settings["temperature"])
    if settings["top_k"] is not None:
        logits = _PROCESSORS["top_k"](logits, settings["top_k"])
    if settings["top_p"] is not None and settings["top_p"] < 1.0:
        logits = _PROCESSORS["top_p"](logits, settings["top_p"])
    if settings["min_p"] is not None:
        logits = _PROCESSORS["min_p"](logits, settings["min_p"])
    return logits


# --------------------------------------------------------------------------------------------
# Choosing the next token.


def greedy(logits: Tensor) -> Tensor:
    """``[B]``: each row's most likely token (the first of several tied for best)."""
    _check_logits(logits)
    return logits.argmax(dim=-1)


def sample_next(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``[B]``: one token per row drawn from ``softmax(logits)`` (after :func:`process`).

    The row's best logit is subtracted first: ``exp`` of a large logit (a small temperature
    makes them large) overflows to ``inf``, while ``exp(logit - best)`` lies in ``[0, 1]`` and
    gives the same probabilities. Removed tokens (``-inf``) get probability 0.
    """
    _check_logits(logits)
    best = logits.amax(dim=-1, keepdim=True)
    if not bool(torch.isfinite(best).all()):
        raise ValueError("logits has a row with no finite logit: no token is left to sample")
    probs = torch.softmax(logits - best, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def _choose(
    logits: Tensor, previous_ids: Any, settings: dict, generator: torch.Generator | None
) -> Tensor:
    """The next token of each row: processed logits, then greedy (temperature 0) or a draw."""
    logits = process(logits, previous_ids, **settings)
    if settings["temperature"] == 0:
        return greedy(logits)  # no randomness used: the generator is left as it was
    return sample_next(logits, generator)


# --------------------------------------------------------------------------------------------
# Generation: one prompt (streamed or not), several prompts at once, beam search.


def stream(
    model: GPT,
    prompt_ids: Sequence[int] | Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> Iterator[int]:
    """Yield the continuation of ``prompt_ids`` one token id at a time, as it is generated.

    Each step processes the last position's logits (:func:`process`) and draws the next token
    (:func:`sample_next`; greedy at ``temperature=0``). It stops after ``max_new_tokens``, or
    right after yielding a token of ``stop_ids`` (the stop token is yielded, as transformers
    keeps its end-of-sequence token). The settings are checked at the call, before the first
    token; while the stream is open the model is in eval mode (restored when it ends or is
    closed).

    The model reads at most its last ``block_size`` tokens: a longer prompt is cropped from the
    left, as :meth:`GPT.generate` does (``repetition_penalty`` still counts the whole prompt).
    With ``use_cache`` the prompt is read once into a :class:`~llmlab.model.KVCache` and each
    step feeds only the newest token; once the window is full, every step re-fills the cache
    from the last ``block_size`` tokens (positions shift by one each step, so cached keys no
    longer fit), exactly like :meth:`GPT.generate`. Cached or not, the tokens are the same.
    """
    model = _check_model(model)
    history = _check_ids(prompt_ids, "prompt_ids", model.config.vocab_size)
    n = _check_count(max_new_tokens, "max_new_tokens", 0)
    settings = _check_settings(temperature, top_k, top_p, min_p, repetition_penalty)
    stops = _check_stop_ids(stop_ids, model.config.vocab_size)
    return _stream(model, history, n, settings, stops, generator, bool(use_cache))


@torch.no_grad()
def _stream(
    model: GPT,
    history: list[int],
    n: int,
    settings: dict,
    stops: frozenset[int],
    generator: torch.Generator | None,
    use_cache: bool,
) -> Iterator[int]:
    window = model.config.block_size
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cache = model.new_cache(1) if use_cache else None
    try:
        for _ in range(n):
            if cache is not None and 0 < cache.length < window:
                new = history[-1:]  # only the newest token is new to the cache
            else:  # no cache, the first step, or the window is full: read the last window
                if cache is not None:
                    cache.reset()
                new = history[-window:]
            logits, _ = model(torch.tensor([new], device=device), cache=cache)
            token = int(_choose(logits[:, -1, :].float(), history, settings, generator))
            history.append(token)
            yield token
            if token in stops:
                return
    finally:
        model.train(was_training)


def generate(
    model: GPT,
    prompt_ids: Sequence[int] | Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> list[int]:
    """The new token ids continuing ``prompt_ids``: ``list(stream(...))`` (see :func:`stream`).

    The prompt is not repeated in the result; a stop token, if one came, is its last id. With
    only the settings :meth:`GPT.generate` has (``temperature``, ``top_k``) and the same
    ``generator``, the tokens are those of :meth:`GPT.generate`: it samples the same way.
    """
    return list(
        stream(
            model,
            prompt_ids,
            max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            min_p=min_p,
            repetition_penalty=repetition_penalty,
            stop_ids=stop_ids,
            generator=generator,
            use_cache=use_cache,
        )
    )


@torch.no_grad()
def generate_batch(
    model: GPT,
    prompts: Sequence[Sequence[int] | Tensor],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    pad_id: int = 0,
) -> list[list[int]]:
    """Continue several prompts of different lengths at once: one list of new ids per prompt.

    The prompts are *left*-padded to one length (``pad_id``, any id in the vocabulary: it is
    never read) so that every row's newest token sits in the last column, where the next one is
    predicted. The ``attention_mask`` (1 on real tokens, 0 on padding) tells the model which
    columns are padding: no token attends to them, and each row's positions count its real
    tokens only, so each row is computed as if it stood alone. One forward pass then serves the
    whole batch: on a CPU, a few rows cost little more than one.

    Each row stops at its own stop token (the others go on; the batch ends when all have
    stopped or after ``max_new_tokens``). The settings are those of :func:`stream`, applied row
    by row. Greedy (``temperature=0``), the result equals generating the prompts one by one
    (the tests check it); sampled, the rows share the ``generator``'s stream, so the draws
    differ from one-by-one runs (transformers' batches behave the same way).
    """
    model = _check_model(model)
    vocab, window = model.config.vocab_size, model.config.block_size
    if isinstance(prompts, (str, bytes, Tensor)) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of token-id lists, got {type(prompts).__name__}")
    if not prompts:
        raise ValueError("prompts is empty: give at least one prompt")
    histories = [_check_ids(p, f"prompts[{i}]", vocab) for i, p in enumerate(prompts)]
    n = _check_count(max_new_tokens, "max_new_tokens", 0)
    settings = _check_settings(temperature, top_k, top_p, min_p, repetition_penalty)
    stops = _check_stop_ids(stop_ids, vocab)
    if not _is_int(pad_id) or not 0 <= pad_id < vocab:
        raise ValueError(f"pad_id must be a token id in 0..{vocab - 1}, got {pad_id!r}")

    device = next(model.parameters()).device
    rows = [h[-window:] for h in histories]  # the model reads at most its window
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    outputs: list[list[int]] = [[] for _ in rows]
    running = [True] * len(rows)
    was_training = model.training
    model.eval()
    cache = model.new_cache(len(rows))
    try:
        for _ in range(n):
            if 0 < cache.length < window:  # the mask covers the cached columns and the new one
                logits, _ = model(ids[:, -1:], cache=cache, attention_mask=mask)
            else:  # the first step, or the window is full: re-fill from the last window
                cache.reset()
                logits, _ = model(ids[:, -window:], cache=cache, attention_mask=mask[:, -window:])
            tokens = _choose(logits[:, -1, :].float(), histories, settings, generator)
            for b, token in enumerate(tokens.tolist()):
                if running[b]:
                    outputs[b].append(token)
                    histories[b].append(token)
                    running[b] = token not in stops
            if not any(running):
                break
            # A row that has stopped still gets a column (its tokens are no longer kept).
            ids = torch.cat([ids, tokens[:, None]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    finally:
        model.train(was_training)
    return outputs


@torch.no_grad()
def beam_search(
    model: GPT,
    prompt_ids: Sequence[int] | Tensor,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    stop_ids: Sequence[int] | int = (),
) -> list[int]:
    """The best continuation found keeping the ``num_beams`` best partial ones at each step.

    Greedy decoding commits to one token at a time; a continuation that starts with a less
    likely token but goes on with very likely ones is never seen. Beam search keeps the
    ``num_beams`` best *running* continuations (beams) by their total log-probability. At each
    step every beam is extended by every token and the best ``2 * num_beams`` candidates are
    kept (``(1 + len(stop_ids)) * num_beams`` with several stop tokens, so enough stay running
    even if the best ones all stop). A candidate that ends in a stop token, or reaches
    ``max_new_tokens``, is *finished* if it ranks among the first ``num_beams``; the best
    unfinished ones become the next beams.

    A finished continuation scores ``sum of log-probs / length ** length_penalty`` (``length``:
    the new tokens, its stop token included). Log-probs are negative, so ``length_penalty=0``
    favours short continuations, and larger values favour longer ones. The ``num_beams`` best
    finished continuations are kept, and the search stops when they are ``num_beams`` and the
    best running beam, scored at its current length, does not beat the worst of them
    (transformers' default ``early_stopping=False``), when no beam is running, or after
    ``max_new_tokens``. This is transformers' ``model.generate(num_beams=..., do_sample=False,
    length_penalty=...)``; no logits processor is applied. ``num_beams=1`` is greedy decoding.

    Returns the best finished continuation's new ids (stop token included). The model reads the
    last ``block_size`` tokens, as in :func:`stream`, and recomputes every beam at each step (no
    cache: beams are reordered between steps; simple, and cheap for the course's models).
    """
    model = _check_model(model)
    vocab, window = model.config.vocab_size, model.config.block_size
    prompt = _check_ids(prompt_ids, "prompt_ids", vocab)
    num_beams = _check_count(num_beams, "num_beams", 1)
    n = _check_count(max_new_tokens, "max_new_tokens", 0)
    if not _is_number(length_penalty) or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    stops = _check_stop_ids(stop_ids, vocab)
    if n == 0:
        return []
    keep = max(2, 1 + len(stops)) * num_beams
    device = next(model.parameters()).device
    running: list[tuple[float, list[int]]] = [(0.0, [])]  # (sum of log-probs, new ids), best first
    finished: list[tuple[float, list[int]]] = []  # (score, new ids), best first
    was_training = model.training
    model.eval()
    try:
        for step in range(n):
            length = step + 1  # of every candidate made at this step
            inputs = torch.tensor([(prompt + new)[-window:] for _, new in running], device=device)
            logits, _ = model(inputs)
            totals = F.log_softmax(logits[:, -1, :].float(), dim=-1)
            totals = totals + torch.tensor([total for total, _ in running], device=device)[:, None]
            best = torch.topk(totals.flatten(), min(keep, totals.numel()))
            next_running = []
            candidates = zip(best.values.tolist(), best.indices.tolist(), strict=True)
            for rank, (total, flat) in enumerate(candidates):
                beam, token = divmod(flat, vocab)
                new = running[beam][1] + [token]
                if token in stops or length == n:
                    if rank < num_beams:  # the others are only spares to keep beams running
                        finished.append((total / length**length_penalty, new))
                elif len(next_running) < num_beams:
                    next_running.append((total, new))
            finished = sorted(finished, key=lambda h: h[0], reverse=True)[:num_beams]
            running = next_running
            if not running:
                break
            best_running = running[0][0] / length**length_penalty
            if len(finished) == num_beams and best_running <= finished[-1][0]:
                break  # early_stopping=False: no running beam is expected to do better
    finally:
        model.train(was_training)
    return finished[0][1]

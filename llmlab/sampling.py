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

:class:`SamplingConfig` holds their settings, checked once, and :func:`process` applies them in
transformers' order. :func:`stream` yields the tokens of a
continuation one by one (what a chat window shows), :func:`generate` collects them,
:func:`generate_batch` continues several prompts of different lengths at once (left padding and
an attention mask), and :func:`beam_search` keeps the ``num_beams`` best partial continuations
instead of committing to one token at a time. The loop itself (prompt, then one token per step,
the KV cache refilled past the window) is :func:`llmlab.decoding.decode`, shared with
:meth:`llmlab.model.GPT.generate`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks
from llmlab.decoding import decode, left_pad, next_inputs
from llmlab.model import GPT
from llmlab.modes import evaluating

NEG_INF = float("-inf")

# --------------------------------------------------------------------------------------------
# Checking what enters.


def _check_temperature(t: Any) -> float:
    return checks.number(t, "temperature", 0, hint="0 = greedy")


def _check_top_k(k: Any) -> int:
    return checks.integer(k, "top_k", 1, hint="or None for no top-k")


def _check_top_p(p: Any) -> float:
    return checks.number(p, "top_p", 0, 1, low_open=True, hint="or None for no top-p")


def _check_min_p(p: Any) -> float:
    return checks.number(p, "min_p", 0, 1, hint="or None for no min-p")


def _check_penalty(penalty: Any) -> float:
    hint = "1 = none, > 1 discourages repeats"
    return checks.number(penalty, "repetition_penalty", 0, low_open=True, hint=hint)


def _check_logits(logits: Any) -> None:
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be a floating-point torch.Tensor, got {logits!r:.60}")
    if logits.ndim != 2 or logits.shape[-1] < 1:
        raise ValueError(
            f"logits must have shape [batch, vocab] (one row: logits[None]), "
            f"got {list(logits.shape)}"
        )


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
    if not all(checks.is_int(i) for i in ids):
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
    if checks.is_int(stop_ids):  # one stop token needs no tuple around it
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


# --------------------------------------------------------------------------------------------
# The settings, checked once, and the choice of the next token.


@dataclass(frozen=True)
class SamplingConfig:
    """How logits become a token: the processors' settings, checked when the object is made.

    ``None`` (or a neutral value: temperature 1, top_p 1, penalty 1) turns a processor off. The
    names and meanings are those of transformers' ``GenerationConfig``. :func:`process`,
    :func:`stream`, :func:`generate` and :func:`generate_batch` take these fields as keyword
    arguments (``temperature=0.8, top_k=50``) and build one of these from them.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None

    def __post_init__(self) -> None:
        checked = {
            "temperature": _check_temperature(self.temperature),
            "top_k": None if self.top_k is None else _check_top_k(self.top_k),
            "top_p": None if self.top_p is None else _check_top_p(self.top_p),
            "min_p": None if self.min_p is None else _check_min_p(self.min_p),
            "repetition_penalty": (
                None if self.repetition_penalty is None else _check_penalty(self.repetition_penalty)
            ),
        }
        for name, value in checked.items():  # plain Python numbers from here on
            object.__setattr__(self, name, value)

    def process(self, logits: Tensor, previous_ids: Any = None) -> Tensor:
        """Every processor that is on, in transformers' order (see :func:`process`)."""
        _check_logits(logits)
        # (Inside a method the bare names are the module's processor functions, not the fields.)
        if self.repetition_penalty not in (None, 1.0):
            if previous_ids is None:
                raise ValueError("repetition_penalty needs previous_ids: the tokens seen so far")
            logits = repetition_penalty(logits, previous_ids, self.repetition_penalty)
        if self.temperature != 1.0:
            logits = temperature(logits, self.temperature)
        if self.top_k is not None:
            logits = top_k(logits, self.top_k)
        if self.top_p is not None and self.top_p < 1.0:
            logits = top_p(logits, self.top_p)
        if self.min_p is not None:
            logits = min_p(logits, self.min_p)
        return logits

    def choose(
        self, logits: Tensor, histories: Any, generator: torch.Generator | None = None
    ) -> Tensor:
        """``[B]``: each row's next token: processed logits, then greedy (temperature 0, no
        randomness used: the generator is left as it was) or one draw."""
        logits = self.process(logits, histories)
        return greedy(logits) if self.temperature == 0 else sample_next(logits, generator)


_SETTINGS = tuple(f.name for f in fields(SamplingConfig))


def _config(settings: dict[str, Any]) -> SamplingConfig:
    """A :class:`SamplingConfig` from keyword arguments, a misspelt name named."""
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"unknown sampling setting {unknown[0]!r}: the settings are {_SETTINGS}")
    return SamplingConfig(**settings)


def process(logits: Tensor, previous_ids: Any = None, **settings: Any) -> Tensor:
    """Every processor asked for, in transformers' order; ``None`` (or a neutral value) = off.

    ``settings``: the fields of :class:`SamplingConfig` (``temperature=1.0``, ``top_k``,
    ``top_p``, ``min_p``, ``repetition_penalty``, each ``None`` = off), applied as

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
    return _config(settings).process(logits, previous_ids)


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


# --------------------------------------------------------------------------------------------
# Generation: one prompt (streamed or not), several prompts at once, beam search. The first
# three run llmlab.decoding's loop with SamplingConfig.choose as its rule.


def stream(
    model: GPT,
    prompt_ids: Sequence[int] | Tensor,
    max_new_tokens: int,
    *,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    **settings: Any,
) -> Iterator[int]:
    """Yield the continuation of ``prompt_ids`` one token id at a time, as it is generated.

    ``settings`` are those of :func:`process` (:class:`SamplingConfig`'s fields). Each step
    processes the last position's logits and draws the next token (:func:`sample_next`; greedy
    at ``temperature=0``). It stops after ``max_new_tokens``, or right after yielding a token of
    ``stop_ids`` (the stop token is yielded, as transformers keeps its end-of-sequence token).
    Everything is checked at the call, before the first token; while the stream is open the
    model is in eval mode (restored when it ends or is closed). It is the batch of one of
    :func:`llmlab.decoding.decode`.

    The model reads at most its last ``block_size`` tokens: a longer prompt is cropped from the
    left, as :meth:`GPT.generate` does (``repetition_penalty`` still counts the whole prompt).
    With ``use_cache`` the prompt is read once into a :class:`~llmlab.model.KVCache` and each
    step feeds only the newest token; once the window is full, every step refills the cache
    (see :mod:`llmlab.decoding`). Cached or not, the tokens are the same.
    """
    model = _check_model(model)
    history = _check_ids(prompt_ids, "prompt_ids", model.config.vocab_size)
    n = checks.integer(max_new_tokens, "max_new_tokens", 0)
    config = _config(settings)
    stops = _check_stop_ids(stop_ids, model.config.vocab_size)
    return _stream(model, history, n, config, stops, generator, bool(use_cache))


def _stream(
    model: GPT,
    history: list[int],
    n: int,
    config: SamplingConfig,
    stops: frozenset[int],
    generator: torch.Generator | None,
    use_cache: bool,
) -> Iterator[int]:
    ids = torch.tensor([history], device=next(model.parameters()).device)
    steps = decode(
        model,
        ids,
        n,
        lambda logits, histories: config.choose(logits, histories, generator),
        histories=[history],
        stop_ids=stops,
        use_cache=use_cache,
    )
    for (token,) in steps:
        yield token


def generate(
    model: GPT,
    prompt_ids: Sequence[int] | Tensor,
    max_new_tokens: int,
    *,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    **settings: Any,
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
            stop_ids=stop_ids,
            generator=generator,
            use_cache=use_cache,
            **settings,
        )
    )


def generate_batch(
    model: GPT,
    prompts: Sequence[Sequence[int] | Tensor],
    max_new_tokens: int,
    *,
    stop_ids: Sequence[int] | int = (),
    generator: torch.Generator | None = None,
    pad_id: int = 0,
    **settings: Any,
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
    n = checks.integer(max_new_tokens, "max_new_tokens", 0)
    config = _config(settings)
    stops = _check_stop_ids(stop_ids, vocab)
    pad_id = checks.integer(pad_id, "pad_id", 0, vocab - 1, hint="a token id")

    device = next(model.parameters()).device
    ids, mask = left_pad([h[-window:] for h in histories], pad_id, device)  # at most the window
    outputs: list[list[int]] = [[] for _ in histories]
    steps = decode(
        model,
        ids,
        n,
        lambda logits, rows: config.choose(logits, rows, generator),
        histories=histories,
        attention_mask=mask,
        stop_ids=stops,
    )
    for step in steps:
        for row, token in zip(outputs, step, strict=True):
            if token is not None:
                row.append(token)
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
    num_beams = checks.integer(num_beams, "num_beams", 1)
    n = checks.integer(max_new_tokens, "max_new_tokens", 0)
    length_penalty = checks.number(length_penalty, "length_penalty")
    stops = _check_stop_ids(stop_ids, vocab)
    if n == 0:
        return []
    keep = max(2, 1 + len(stops)) * num_beams
    device = next(model.parameters()).device
    running: list[tuple[float, list[int]]] = [(0.0, [])]  # (sum of log-probs, new ids), best first
    finished: list[tuple[float, list[int]]] = []  # (score, new ids), best first
    with evaluating(model):
        for step in range(n):
            length = step + 1  # of every candidate made at this step
            texts = torch.tensor([prompt + new for _, new in running], device=device)
            logits, _ = model(next_inputs(texts, None, None, window)[0])  # the last window
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
    return finished[0][1]

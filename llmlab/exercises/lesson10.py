"""Lesson 10's exercises: a top-p sampler, one step of beam search, one cached step of attention.

Each reference is plain torch (no llmlab call), so a learner who types the worked solution
passes; tests/test_lesson10.py checks each against the library the lesson uses
(``sampling.top_p``, ``sampling.beam_search``, causal attention).
"""

from __future__ import annotations

import math
import random
from typing import Any

from llmlab.exercises.registry import _equal, exercise, wrong_answer

_FUSED = {
    "scaled_dot_product_attention": "torch's attention is what you are building: write the "
    "scores, the softmax and the weighted sum",
}


def _generator(rng: random.Random) -> Any:
    import torch

    return torch.Generator().manual_seed(rng.randrange(2**31))


# ---------------------------------------------------------------------------------------------
# A top-p sampler that turns a uniform number into a token.


def _random_draw(rng: random.Random) -> tuple[Any, float, float]:
    import torch

    scale = rng.choice([0.5, 1.0, 3.0])
    logits = scale * torch.randn(rng.randint(2, 12), generator=_generator(rng))
    return logits, rng.choice([0.1, 0.5, 0.8, 0.9, 0.95]), rng.random()


@exercise(
    "top_p_sample",
    _random_draw,
    builds="a top-p (nucleus) sampler: logits and a uniform number in, one token out",
    difficulty=2,
    minutes=15,
    hints=(
        "Sort the probabilities from the most likely down (torch.sort(..., descending=True) "
        "gives the order too). A token stays if the mass of the tokens *before* it is below p.",
        "Divide the kept probabilities by their sum, then walk them with a running total: the "
        "first token whose running total exceeds u is the draw.",
    ),
    forbidden={"multinomial": "turn u into the token yourself: that is the sampler"},
)
def top_p_sample(logits: Any, p: float, u: float) -> int:
    """Nucleus sampling of one token from ``logits [V]`` with the uniform number ``u`` in [0, 1).

    Keep the smallest set of most likely tokens whose probability reaches ``p`` (the token that
    crosses ``p`` included, so the first always stays), renormalise them, and walk them from the
    most likely down: the first whose running total exceeds ``u`` is drawn. With ``u`` uniform,
    each kept token comes out with its renormalised probability (inverse-CDF sampling), which is
    what ``torch.multinomial`` does with a random ``u`` of its own."""
    import torch

    probs, order = torch.sort(logits.softmax(dim=-1), descending=True, stable=True)
    mass_before = probs.cumsum(dim=-1) - probs
    kept = probs[mass_before < p]
    running = (kept / kept.sum()).cumsum(dim=-1)
    chosen = int((running <= u).sum())  # the kept tokens whose running total is still <= u
    return int(order[min(chosen, len(kept) - 1)])  # min: a total of 0.99999994 < u stays inside


@wrong_answer("top_p_sample")
def _top_p_sample_without_the_crossing_token(logits: Any, p: float, u: float) -> int:
    """Keeps only tokens whose running mass stays below ``p``: the nucleus misses the token that
    reaches ``p`` (and is empty when the best token alone holds more than ``p``)."""
    import torch

    probs, order = torch.sort(logits.softmax(dim=-1), descending=True, stable=True)
    kept = probs[: max(1, int((probs.cumsum(dim=-1) < p).sum()))]
    running = (kept / kept.sum()).cumsum(dim=-1)
    return int(order[min(int((running <= u).sum()), len(kept) - 1)])


@wrong_answer("top_p_sample")
def _top_p_sample_not_renormalised(logits: Any, p: float, u: float) -> int:
    """Cuts the tail but walks the kept tokens' *original* probabilities: any ``u`` beyond the
    kept mass falls on the last kept token, which comes out far too often."""
    import torch

    probs, order = torch.sort(logits.softmax(dim=-1), descending=True, stable=True)
    kept = probs[(probs.cumsum(dim=-1) - probs) < p]
    return int(order[min(int((kept.cumsum(dim=-1) <= u).sum()), len(kept) - 1)])


# ---------------------------------------------------------------------------------------------
# One step of beam search.


def _random_beams(rng: random.Random) -> tuple[list[list[int]], Any, Any, int]:
    import torch

    generator = _generator(rng)
    n_beams, vocab, length = rng.randint(1, 4), rng.randint(2, 10), rng.randint(0, 5)
    beams = [[rng.randrange(vocab) for _ in range(length)] for _ in range(n_beams)]
    scores = (-3 * length * torch.rand(n_beams, generator=generator)).sort(descending=True).values
    log_probs = (2 * torch.randn(n_beams, vocab, generator=generator)).log_softmax(dim=-1)
    return beams, scores, log_probs, rng.randint(1, min(4, n_beams * vocab))


def _same_beams(got: Any, expected: tuple[list[list[int]], Any]) -> bool:
    """The same beams in the same order (best first), and their scores within tolerance."""
    return (
        isinstance(got, tuple)
        and len(got) == 2
        and [list(map(int, b)) for b in got[0]] == expected[0]
        and _equal(got[1], expected[1])
    )


@exercise(
    "beam_step",
    _random_beams,
    _same_beams,
    builds="one step of beam search: the next beams and their scores",
    difficulty=2,
    minutes=15,
    hints=(
        "A candidate is a beam plus one token; its score is the beam's score plus that token's "
        "log-prob: scores[:, None] + log_probs is a [B, V] table of every candidate's score.",
        "Take the num_beams best of the flattened table (torch.topk); an index i into it is "
        "beam i // V and token i % V.",
    ),
)
def beam_step(
    beams: list[list[int]], scores: Any, log_probs: Any, num_beams: int
) -> tuple[list[list[int]], Any]:
    """Extend every beam by every token and keep the ``num_beams`` best, best first.

    ``beams``: ``B`` token lists; ``scores [B]``: each beam's total log-probability;
    ``log_probs [B, V]``: the model's next-token log-probs after each beam. A candidate's score is
    its beam's score plus its token's log-prob (log-probs add as probabilities multiply). Returns
    ``(new beams, their scores [num_beams])``: ``llmlab.sampling.beam_search`` runs this step
    (plus the bookkeeping of finished beams) once per new token."""
    import torch

    totals = scores[:, None] + log_probs  # [B, V]: every beam extended by every token
    best = torch.topk(totals.flatten(), num_beams)
    vocab = log_probs.shape[1]
    new = [beams[i // vocab] + [i % vocab] for i in best.indices.tolist()]
    return new, best.values


@wrong_answer("beam_step")
def _beam_step_forgetting_the_past(
    beams: list[list[int]], scores: Any, log_probs: Any, num_beams: int
) -> tuple[list[list[int]], Any]:
    """Ranks candidates by the new token's log-prob alone: a beam that was unlikely so far wins
    on one likely token, which is greedy decoding's short sight again."""
    import torch

    best = torch.topk(log_probs.flatten(), num_beams)
    vocab = log_probs.shape[1]
    new = [beams[i // vocab] + [i % vocab] for i in best.indices.tolist()]
    return new, scores[best.indices // vocab] + best.values


@wrong_answer("beam_step")
def _beam_step_one_token_per_beam(
    beams: list[list[int]], scores: Any, log_probs: Any, num_beams: int
) -> tuple[list[list[int]], Any]:
    """Extends each beam by its own best token: ``B`` greedy searches side by side, never two
    children of one good beam."""
    import torch

    best = log_probs.max(dim=-1)
    totals = scores + best.values
    order = torch.argsort(totals, descending=True)[:num_beams].tolist()
    return [beams[b] + [int(best.indices[b])] for b in order], totals[order]


# ---------------------------------------------------------------------------------------------
# One step of attention with a KV cache.


def _random_cache(rng: random.Random) -> tuple[Any, Any, Any, Any, Any]:
    import torch

    generator = _generator(rng)
    heads, cached, d = rng.randint(1, 4), rng.randint(0, 6), rng.randint(2, 8)
    new = [torch.randn(heads, 1, d, generator=generator) for _ in range(3)]
    cache = [torch.randn(heads, cached, d, generator=generator) for _ in range(2)]
    return (*new, *cache)


def _same_outputs(got: Any, expected: tuple[Any, ...]) -> bool:
    """A tuple of three tensors, each equal to the reference's within the usual tolerance."""
    return (
        isinstance(got, tuple)
        and len(got) == len(expected)
        and all(_equal(a, b) for a, b in zip(got, expected, strict=True))
    )


@exercise(
    "cached_attention_step",
    _random_cache,
    _same_outputs,
    builds="one generation step of attention that reads and extends a KV cache",
    difficulty=2,
    minutes=15,
    hints=(
        "torch.cat along the position dimension (dim=1) appends the new key and value.",
        "Scores are q @ keys.transpose(1, 2) / sqrt(d): [H, 1, T + 1]; softmax over the last "
        "dimension, then @ values.",
    ),
    forbidden=_FUSED,
)
def cached_attention_step(q: Any, k: Any, v: Any, keys: Any, values: Any) -> tuple[Any, Any, Any]:
    """One generation step of attention with a KV cache. ``q, k, v [H, 1, d]``: the newest
    token's query, key and value; ``keys, values [H, T, d]``: those of the ``T`` tokens before
    it. Append the new key and value to the cache, then let the query attend to all ``T + 1``
    (no mask needed: nothing after the newest token exists yet). Returns ``(output [H, 1, d],
    keys [H, T + 1, d], values [H, T + 1, d])``."""
    import torch

    keys, values = torch.cat([keys, k], dim=1), torch.cat([values, v], dim=1)
    weights = (q @ keys.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return weights @ values, keys, values


@wrong_answer("cached_attention_step")
def _cached_step_without_the_new_token(
    q: Any, k: Any, v: Any, keys: Any, values: Any
) -> tuple[Any, Any, Any]:
    """Attends to the cache *before* appending: the token does not see itself (and with an
    empty cache there is nothing to attend to)."""
    import torch

    weights = (q @ keys.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return weights @ values, torch.cat([keys, k], dim=1), torch.cat([values, v], dim=1)


@wrong_answer("cached_attention_step")
def _cached_step_unscaled(q: Any, k: Any, v: Any, keys: Any, values: Any) -> tuple[Any, Any, Any]:
    """Forgets the ``1 / sqrt(d)``: the softmax is too sharp."""
    import torch

    keys, values = torch.cat([keys, k], dim=1), torch.cat([values, v], dim=1)
    return (q @ keys.transpose(1, 2)).softmax(dim=-1) @ values, keys, values

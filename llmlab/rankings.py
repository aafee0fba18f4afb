"""Preference data: rankings of sampled replies, the pairs they imply, and their batches.

SFT copies replies; it cannot say that one reply is *better* than another. People find ranking
easier than writing, so RLHF samples a few replies per prompt (:func:`sample_responses`), asks
for them to be ranked, and turns each ranking into pairs ``(chosen, rejected)``
(:func:`ranking_to_pairs`, :func:`to_pairs`). The pairs are what everything after reads: the
reward model of :mod:`llmlab.reward_model` and DPO of :mod:`llmlab.policy` train on the same
batches (:func:`pair_batches`, :func:`dpo_batches`).

The rankings come from a person (a widget, ``source="human"``) or from the scripted labeler of
:mod:`llmlab.labeler` (``source="labeler"``, :func:`label`): one :class:`Ranking` type and one
JSON format for both (:func:`save_rankings`, :func:`load_rankings`). Names and conventions follow
TRL's ``RewardTrainer`` and ``DPOTrainer`` where they have one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from llmlab import checks
from llmlab import labeler as scripted
from llmlab.chat import END, Turn, check_turns, pad_token_id, render_prompt, template_ids
from llmlab.model import GPT
from llmlab.sampling import generate_batch
from llmlab.tokenization import BPETokenizer
from llmlab.train import Batch, BatchSource, sampled_batches

SOURCES = ("labeler", "human")
FORMAT = "llmlab-rankings"

# --------------------------------------------------------------------------------------------
# Rankings and the pairs they imply.


@dataclass(frozen=True)
class Ranking:
    """``k`` replies to one prompt, ranked: ``ranking`` lists their indices, best first.

    ``ended[i]`` says whether reply ``i`` ended with ``<|end|>`` (a cut-off reply is worse, and
    the reward model must be able to see it). ``prompt_id`` names the prompt in a saved set.
    """

    prompt: tuple[Turn, ...]
    responses: tuple[str, ...]
    ranking: tuple[int, ...]
    source: str = "labeler"
    ended: tuple[bool, ...] | None = None
    prompt_id: str | None = None

    def __post_init__(self) -> None:
        try:
            turns = check_turns(self.prompt, last="user")
        except ValueError as error:
            raise ValueError(f"Ranking.prompt: {error}") from None
        object.__setattr__(self, "prompt", tuple((role, text) for role, text in turns))
        responses = self.responses
        if isinstance(responses, str) or not all(isinstance(r, str) for r in responses):
            raise ValueError("Ranking.responses must be a list of reply texts")
        k = len(responses)
        if k < 2:
            raise ValueError(f"Ranking.responses needs at least 2 replies to rank, got {k}")
        if len(set(responses)) < k:
            twice = next(r for r in responses if responses.count(r) > 1)
            raise ValueError(
                f"Ranking.responses holds {twice!r} twice: it would be both chosen and "
                "rejected in a pair (drop duplicates first)"
            )
        ranking = tuple(self.ranking)
        if not all(checks.is_int(i) for i in ranking):
            raise ValueError(f"Ranking.ranking must hold reply indices, got {ranking!r}")
        ranking = tuple(int(i) for i in ranking)
        if len(set(ranking)) < len(ranking):
            raise ValueError(
                f"Ranking.ranking {list(ranking)} names a reply twice: a ranking is a strict "
                "order (no ties), each reply once"
            )
        if set(ranking) != set(range(k)):
            missing = sorted(set(range(k)) - set(ranking))
            extra = sorted(set(ranking) - set(range(k)))
            raise ValueError(
                f"Ranking.ranking must order every reply 0..{k - 1} once: missing {missing}, "
                f"unknown {extra}"
            )
        ended = (True,) * k if self.ended is None else tuple(bool(e) for e in self.ended)
        if len(ended) != k:
            raise ValueError(f"Ranking.ended has {len(ended)} flags for {k} responses")
        checks.one_of(self.source, "Ranking.source", SOURCES)
        object.__setattr__(self, "responses", tuple(responses))
        object.__setattr__(self, "ranking", ranking)
        object.__setattr__(self, "ended", ended)


class Pair(NamedTuple):
    """One preference: ``chosen`` beat ``rejected`` as a reply to ``prompt``."""

    prompt: tuple[Turn, ...]
    chosen: str
    rejected: str
    chosen_ended: bool = True
    rejected_ended: bool = True


def ranking_to_pairs(ranking: Ranking) -> list[tuple[str, str]]:
    """Every ``(chosen, rejected)`` a ranking implies: ``k(k-1)/2`` of them, best pairs first.

    A ranking of 4 is 6 pairs of training signal for one prompt: the reason to rank, not pick.
    (InstructGPT trains on all of them in one batch, so one prompt does not count 6 times.)
    """
    order = [ranking.responses[i] for i in ranking.ranking]
    return list(combinations(order, 2))


def to_pairs(rankings: Sequence[Ranking]) -> list[Pair]:
    """The :class:`Pair` s of every ranking (with prompts and end flags): what training reads."""
    pairs = []
    for r in rankings:
        ended = dict(zip(r.responses, r.ended, strict=True))
        pairs += [Pair(r.prompt, c, j, ended[c], ended[j]) for c, j in ranking_to_pairs(r)]
    return pairs


# --------------------------------------------------------------------------------------------
# Collecting candidate replies.


def dialogue_prompts(split: str, n: int) -> list[tuple[Turn, ...]]:
    """``n`` one-turn prompts spread evenly over the dialogue of ``split``'s plays: a line
    addressed to a character (``"To HAMLET: ..."``), as the SFT model learned to answer."""
    from llmlab.instructions import plays_examples

    n = checks.integer(n, "n", 1)
    examples = plays_examples(split, ["dialogue"])
    checks.integer(n, "n", high=len(examples), hint=f"the {split} dialogue's lines")
    return [tuple(examples[i].turns[:1]) for i in range(0, len(examples), len(examples) // n)][:n]


def sample_rows(
    model: GPT,
    prompts: Sequence[list[int]],
    max_new_tokens: int,
    *,
    stop_id: int | None,
    pad: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    rows_per_batch: int = 64,
) -> list[list[int]]:
    """One sampled continuation per prompt (token ids), up to and including ``stop_id``.

    Prompts of every length share batches of ``rows_per_batch`` rows
    (:func:`llmlab.sampling.generate_batch`, left padding): on a CPU, 64 rows cost a few times
    one, not 64 times. A reply never runs past the context: row ``i`` keeps at most
    ``block_size - len(prompts[i])`` tokens.
    """
    block = model.config.block_size
    for i, ids in enumerate(prompts):
        if len(ids) >= block:
            raise ValueError(f"prompts[{i}] has {len(ids)} tokens: no room for a reply")
    found: list[list[int]] = []
    for start in range(0, len(prompts), rows_per_batch):
        chunk = prompts[start : start + rows_per_batch]
        outs = generate_batch(
            model,
            chunk,
            max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            stop_ids=[] if stop_id is None else [stop_id],
            generator=generator,
            pad_id=pad,
        )
        found += [out[: block - len(ids)] for ids, out in zip(chunk, outs, strict=True)]
    return found


def sample_responses(
    model: GPT,
    tokenizer: BPETokenizer,
    prompts: Sequence[Sequence[Turn]],
    k: int,
    *,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> list[list[tuple[str, bool]]]:
    """``k`` sampled replies ``(text, ended)`` per prompt, stopping at ``<|end|>``."""
    k = checks.integer(k, "k", 1)
    end = template_ids(tokenizer)[END]
    rows = [render_prompt(turns, tokenizer) for turns in prompts for _ in range(k)]
    outs = sample_rows(
        model,
        rows,
        max_new_tokens,
        stop_id=end,
        pad=pad_token_id(tokenizer),
        temperature=temperature,
        top_k=top_k,
        generator=generator,
    )
    replies = [(tokenizer.decode([t for t in o if t != end]), end in o) for o in outs]
    return [replies[n * k : (n + 1) * k] for n in range(len(prompts))]


def distinct_replies(replies: Sequence[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """``replies`` with repeated texts dropped (the first kept): a ranking cannot place one text
    both above and below another, so the labeler and the ranking widget both rank these."""
    unique: list[tuple[str, bool]] = []
    for text, ended in replies:
        if text not in (t for t, _ in unique):
            unique.append((text, ended))
    return unique


# --------------------------------------------------------------------------------------------
# Labelling: the scripted labeler ranks.


def label(
    prompts: Sequence[Sequence[Turn]],
    samples: Sequence[Sequence[tuple[str, bool]]],
    prompt_ids: Sequence[str] | None = None,
) -> list[Ranking]:
    """Rankings by the scripted labeler (:func:`llmlab.labeler.rank`) of each prompt's samples.

    Duplicate replies are dropped first (keeping the first); a prompt left with fewer than two
    distinct replies gives no ranking. Equal scores are ordered by index (see
    :func:`llmlab.labeler.rank`); :func:`label_pairs` keeps only the pairs the rubric separates.
    """
    rankings = []
    for n, (turns, replies) in enumerate(zip(prompts, samples, strict=True)):
        unique = distinct_replies(replies)
        if len(unique) < 2:
            continue
        rankings.append(
            Ranking(
                tuple(turns),
                tuple(t for t, _ in unique),
                tuple(scripted.rank(turns, unique)),
                "labeler",
                tuple(e for _, e in unique),
                None if prompt_ids is None else prompt_ids[n],
            )
        )
    return rankings


def label_pairs(
    prompts: Sequence[Sequence[Turn]],
    samples: Sequence[Sequence[tuple[str, bool]]],
    min_margin: float = 0.25,
) -> list[Pair]:
    """The labeler's pairs with a real preference: ``score(chosen) - score(rejected) >=
    min_margin``.

    The rubric gives many replies the same score, and a ranking must still order them (by
    index), so :func:`to_pairs` of :func:`label` holds pairs that are coin flips. Training a
    reward model on those only teaches it noise; these pairs leave them out.
    """
    checks.number(min_margin, "min_margin", 0, low_open=True)
    pairs = []
    for turns, replies in zip(prompts, samples, strict=True):
        scored = [(scripted.score(turns, text, ended), text, ended) for text, ended in replies]
        for a, ta, ea in scored:
            for b, tb, eb in scored:
                if a - b >= min_margin and ta != tb:
                    pairs.append(Pair(tuple(turns), ta, tb, ea, eb))
    return pairs


# --------------------------------------------------------------------------------------------
# The rankings file (a widget's and the labeler's alike).


def save_rankings(path: str | Path, rankings: Sequence[Ranking]) -> None:
    """Write ``rankings`` as JSON (human- and labeler-made alike)."""
    records = [
        {
            "prompt_id": r.prompt_id,
            "prompt": [list(t) for t in r.prompt],
            "responses": list(r.responses),
            "ranking": list(r.ranking),
            "ended": list(r.ended),
            "source": r.source,
        }
        for r in rankings
    ]
    text = json.dumps({"format": FORMAT, "version": 1, "rankings": records}, indent=1)
    Path(path).write_text(text + "\n", encoding="utf-8")


def load_rankings(
    path: str | Path, prompts: dict[str, Sequence[Turn]] | None = None
) -> list[Ranking]:
    """Read rankings written by :func:`save_rankings` (or a widget: the same format).

    A record may give its prompt by ``prompt_id`` only; ``prompts`` (id -> turns) then supplies
    it. Given ``prompts``, every ``prompt_id`` must be one of its ids (a ranking of a prompt the
    set does not hold is an error). A bare JSON list of records is accepted too.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    records = data["rankings"] if isinstance(data, dict) and "rankings" in data else data
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a list of rankings under 'rankings'")
    found = []
    for n, record in enumerate(records):
        where = f"{path}: rankings[{n}]"
        if not isinstance(record, dict):
            raise ValueError(f"{where} must be an object")
        for name in ("responses", "ranking", "source"):
            if name not in record:
                raise ValueError(f"{where} lacks the field {name!r}")
        pid, turns = record.get("prompt_id"), record.get("prompt")
        if turns is None and pid is None:
            raise ValueError(f"{where} lacks the field 'prompt' (or a 'prompt_id')")
        if pid is not None and (prompts is not None or turns is None):
            if prompts is None or pid not in prompts:
                raise ValueError(f"{where} has the unknown prompt_id {pid!r}")
            turns = prompts[pid] if turns is None else turns
        try:
            found.append(
                Ranking(
                    tuple((role, text) for role, text in turns),
                    tuple(record["responses"]),
                    tuple(record["ranking"]),
                    record["source"],
                    record.get("ended"),
                    pid,
                )
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
    return found


# --------------------------------------------------------------------------------------------
# Pair batches: what the reward model and DPO read.


def render_reply(
    prompt: Sequence[Turn], reply: str, ended: bool, tokenizer: BPETokenizer
) -> tuple[list[int], int]:
    """``prompt`` (chat template) + ``reply`` + ``<|end|>`` if it ended -> ``(ids, n_prompt)``.

    A cut-off reply gets no ``<|end|>``: the reward model must see that it did not finish.
    """
    prompt_ids = render_prompt(prompt, tokenizer)
    end = [template_ids(tokenizer)[END]] if ended else []
    return prompt_ids + tokenizer.encode(reply) + end, len(prompt_ids)


def pad_rows(rows: Sequence[tuple[list[int], int]], pad: int, width: int) -> dict[str, Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``loss_mask`` (1 on reply tokens)."""
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    real = torch.zeros(len(rows), width, dtype=torch.long)
    reply = torch.zeros(len(rows), width, dtype=torch.long)
    for b, (row, n_prompt) in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row)
        real[b, : len(row)] = 1
        reply[b, n_prompt : len(row)] = 1
    return {"input_ids": ids, "attention_mask": real, "loss_mask": reply}


def pair_rows(
    pairs: Sequence[Pair], tokenizer: BPETokenizer, block_size: int
) -> list[tuple[tuple[list[int], int], tuple[list[int], int]]]:
    """Every pair rendered once (:func:`render_reply`): ``[(chosen, rejected), ...]``, each side
    ``(ids, n_prompt)``, checked to fit ``block_size``. Sampled batches and the reward model's
    in-order pass both read these rows."""
    if not pairs:
        raise ValueError("pairs is empty: give at least one (chosen, rejected) pair")
    rows = []
    for n, p in enumerate(pairs):
        if p.chosen == p.rejected and p.chosen_ended == p.rejected_ended:
            raise ValueError(f"pairs[{n}] has the same response as chosen and rejected")
        both = (
            render_reply(p.prompt, p.chosen, p.chosen_ended, tokenizer),
            render_reply(p.prompt, p.rejected, p.rejected_ended, tokenizer),
        )
        longest = max(len(ids) for ids, _ in both)
        if longest > block_size:
            raise ValueError(
                f"pairs[{n}] renders to {longest} tokens, over block_size={block_size}"
            )
        rows.append(both)
    return rows


def collate_pairs(rows: Sequence, pad: int) -> Batch:
    """Rows of :func:`pair_rows` as one :class:`~llmlab.train.Batch`: chosen and rejected padded
    to one width, so they can share a forward pass."""
    width = max(len(ids) for both in rows for ids, _ in both)
    chosen = pad_rows([c for c, _ in rows], pad, width)
    rejected = pad_rows([r for _, r in rows], pad, width)
    tensors = {f"chosen_{k}": v for k, v in chosen.items()}
    tensors |= {f"rejected_{k}": v for k, v in rejected.items()}
    return Batch(tensors, int(chosen["attention_mask"].sum() + rejected["attention_mask"].sum()))


def pair_batches(pairs: Sequence[Pair], tokenizer: BPETokenizer, block_size: int) -> BatchSource:
    """``n`` pairs drawn with replacement using ``generator`` only; tensors ``chosen_input_ids``,
    ``chosen_attention_mask``, ``chosen_loss_mask`` and the same for ``rejected_``.
    ``tokens`` counts real tokens of both sides. (DPO reads the same batches.)"""
    rows = pair_rows(pairs, tokenizer, block_size)
    return sampled_batches(rows, partial(collate_pairs, pad=pad_token_id(tokenizer)))


dpo_batches = pair_batches  # the same tensors: DPO adds the loss mask's reply positions

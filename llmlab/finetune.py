"""Fine-tuning: from a model that continues text to one that answers, and one that classifies.

The chat template (how a conversation becomes tokens, which of them are learned, and how a reply
is generated) lives in :mod:`llmlab.chat`; this module trains on it.

**New tokens.** The base model has never seen the template's three special tokens, so its token
table grows by three rows (:func:`grow_vocabulary`), and the old rows stay exactly as they were.

**SFT.** Supervised fine-tuning is next-token training with a loss mask: only the assistant's
tokens (each reply and the ``<|end|>`` that closes it) are scored, the user's words and the
template tokens are context (see :func:`llmlab.chat.render_chat`). :func:`sft_batches` turns the
mask into targets, ``IGNORE_INDEX`` wherever nothing is learned.

**Classification.** A :class:`~llmlab.model.SequenceHead` reads the trunk's vector at each text's
last real token (the one position of a causal model that has seen the whole text) and scores the
classes; here the six genres of :mod:`llmlab.corpus`.

The data itself (dialogue, questions, genre labels) comes from :mod:`llmlab.instructions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks
from llmlab.chat import Turn, _render, pad_token_id, render_chat, reply_tokens, template_ids
from llmlab.instructions import KINDS, Example, Labelled, plays_examples
from llmlab.model import GPT, IGNORE_INDEX, GPTConfig, SequenceHead
from llmlab.modes import evaluating
from llmlab.tokenization import BPETokenizer
from llmlab.train import Batch, BatchSource, sampled_batches

# --------------------------------------------------------------------------------------------
# New tokens: the model's token table grows with the tokenizer.


def grow_vocabulary(model: GPT, new_vocab_size: int) -> GPT:
    """A copy of ``model`` whose token table has ``new_vocab_size`` rows, the new ones the mean
    of the old (transformers' ``resize_token_embeddings(..., mean_resizing=True)``).

    The LM head is tied to the table, so it grows too and scores the new tokens with the same
    vectors. Why the mean: a new token's logit is then the mean of the old logits, so it starts
    neither likely nor impossible, and the old tokens' logits are untouched (same rows, same
    trunk): the grown model predicts old tokens as before, with a little probability moved to
    the new ones. Every other weight is copied; ``model`` itself is left as it was.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
    old = model.config.vocab_size
    if not checks.is_int(new_vocab_size):
        raise TypeError(f"new_vocab_size must be an int, got {type(new_vocab_size).__name__}")
    new_vocab_size = int(new_vocab_size)
    if new_vocab_size < old:
        raise ValueError(f"new_vocab_size must be >= the model's {old}, got {new_vocab_size}")
    config = GPTConfig.from_dict({**model.config.to_dict(), "vocab_size": new_vocab_size})
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: keep torch's RNG
        grown = GPT(config)
    weights = model.state_dict()
    table = weights.pop("wte.weight")
    weights.pop("lm_head.weight")
    missing, unexpected = grown.load_state_dict(weights, strict=False)
    assert set(missing) == {"wte.weight", "lm_head.weight"} and not unexpected
    new_rows = table.mean(dim=0, keepdim=True).expand(new_vocab_size - old, -1)
    grown = grown.to(device=table.device, dtype=table.dtype)
    with torch.no_grad():
        grown.wte.weight.copy_(torch.cat([table, new_rows]))
    return grown.train(model.training)


# --------------------------------------------------------------------------------------------
# The data: conversations that fit the context.


def instruction_data(
    split: str, tokenizer: BPETokenizer, block_size: int = 128, kinds: Sequence[str] = KINDS
) -> list[Example]:
    """The examples of :func:`llmlab.instructions.plays_examples` that fit ``block_size`` tokens
    once rendered by ``tokenizer`` (a chat tokenizer): about 1 conversation in 10 is too long."""
    block_size = checks.integer(block_size, "block_size", 2)
    template_ids(tokenizer)
    examples = plays_examples(split, kinds)
    # The plays' examples are well formed: render them without checking every turn again.
    return [e for e in examples if len(_render(list(e.turns), tokenizer)[0]) <= block_size]


def sft_mixture(
    split: str, tokenizer: BPETokenizer, block_size: int, repeats: dict[str, int]
) -> list[Example]:
    """The examples of each kind in ``repeats``, each listed that many times.

    Dialogue outnumbers the questions about the plays ten to one; repeating the questions lets
    the few facts they hold be seen as often as the many lines of dialogue.
    """
    unknown = set(repeats) - set(KINDS)
    if unknown:
        raise ValueError(f"repeats names unknown kinds {sorted(unknown)}; the kinds are {KINDS}")
    examples = instruction_data(split, tokenizer, block_size, kinds=tuple(repeats))
    return [e for e in examples for _ in range(repeats[e.kind])]


def held_out_conversations(
    tokenizer: BPETokenizer, block_size: int = 128, n: int = 64, kinds: Sequence[str] = KINDS
) -> list[Example]:
    """``n`` validation examples taken evenly along the held-out plays (every ``len // n``-th).

    A fixed set: every model, run and lesson that scores replies on it scores the same
    conversations, so two models' losses pair up (:func:`llmlab.stats.difference`).
    """
    n = checks.integer(n, "n", 1)
    found = instruction_data("validation", tokenizer, block_size, kinds)
    return found[:: max(1, len(found) // n)][:n]


# --------------------------------------------------------------------------------------------
# SFT: batches and loss.


def _pad(rows: Sequence[list[int]], value: int) -> Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def _sft_rows(
    examples: Sequence[Example | Sequence[Turn]], tokenizer: BPETokenizer, block_size: int
) -> list[tuple[list[int], list[int]]]:
    """Each example rendered once: ``(ids, targets)`` with the learned next tokens only."""
    if not examples:
        raise ValueError("examples is empty: give at least one conversation")
    rows = []
    for k, example in enumerate(examples):
        ids, mask = render_chat(
            example.turns if isinstance(example, Example) else example, tokenizer
        )
        if len(ids) > block_size:
            raise ValueError(
                f"examples[{k}] renders to {len(ids)} tokens, more than block_size={block_size}"
                " (instruction_data keeps only the examples that fit)"
            )
        targets = [t if m else IGNORE_INDEX for t, m in zip(ids[1:], mask[1:], strict=True)]
        rows.append((ids, [*targets, IGNORE_INDEX]))  # the last token has no next token
    return rows


def _sft_batch(rows: Sequence[tuple[list[int], list[int]]], pad: int) -> Batch:
    """Right-padded to the longest row: ``input_ids``, ``targets``, ``attention_mask``."""
    ids = _pad([r[0] for r in rows], pad)
    real = _pad([[1] * len(r[0]) for r in rows], 0)
    return Batch(
        {
            "input_ids": ids,
            "targets": _pad([r[1] for r in rows], IGNORE_INDEX),
            "attention_mask": real,
        },
        int(real.sum()),
    )


def sft_batches(
    examples: Sequence[Example | Sequence[Turn]], tokenizer: BPETokenizer, block_size: int
) -> BatchSource:
    """SFT's batch source: ``n`` conversations drawn (with replacement) with ``generator`` only.

    ``targets[t]`` is the token at ``t + 1`` where that token is learned (see
    :func:`llmlab.chat.render_chat`), else ``IGNORE_INDEX``, so the prompt and the padding cost
    nothing.
    """
    rows = _sft_rows(examples, tokenizer, block_size)
    pad = pad_token_id(tokenizer)
    return sampled_batches(rows, lambda picked: _sft_batch(picked, pad))


def sft_loss(model: torch.nn.Module, batch: Batch) -> Tensor:
    """Mean cross-entropy over the learned targets of the batch (every reply token counts once,
    so long replies weigh more than short ones, as in transformers' Trainer)."""
    return model(batch["input_ids"], batch["targets"])[1]


@torch.no_grad()
def sft_eval(
    model: GPT,
    examples: Sequence[Example | Sequence[Turn]],
    tokenizer: BPETokenizer,
    batch_size: int = 32,
) -> float:
    """Mean loss per learned token over all ``examples`` in order: a fixed held-out score."""
    rows = _sft_rows(examples, tokenizer, model.config.block_size)
    total, count = 0.0, 0
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            batch = _sft_batch(rows[start : start + batch_size], pad_token_id(tokenizer))
            n = int((batch["targets"] != IGNORE_INDEX).sum())
            total += sft_loss(model, batch).item() * n
            count += n
    return total / count


# --------------------------------------------------------------------------------------------
# What SFT taught and what it cost.


def stops(
    model: GPT,
    tokenizer: BPETokenizer,
    prompts: Sequence[Sequence[Turn]],
    max_new_tokens: int = 48,
    temperature: float = 0.8,
    top_k: int | None = 50,
    seed: int = 0,
) -> list[bool]:
    """For each prompt, whether a sampled reply ends with ``<|end|>`` within ``max_new_tokens``.

    Stopping is the first habit SFT teaches (a base model writes on to the end of the page);
    one flag per prompt, so two models' rates on the same prompts pair up. The replies are drawn
    from one generator seeded with ``seed``: the same call gives the same flags.
    """
    if not prompts:
        raise ValueError("prompts is empty: give at least one conversation ending with a user turn")
    end = tokenizer.special_tokens["<|end|>"]
    generator = torch.Generator().manual_seed(checks.integer(seed, "seed", 0))
    found = []
    for turns in prompts:
        reply = list(
            reply_tokens(model, tokenizer, turns, max_new_tokens, temperature, top_k, generator)
        )
        found.append(bool(reply) and reply[-1] == end)
    return found


@torch.no_grad()
def window_losses(model: GPT, data: Tensor, windows: int = 64) -> Tensor:
    """The plain-text loss on each of :func:`llmlab.train.evaluate`'s windows (their mean is its
    number), one per window, so that two models' losses pair up on the same text.

    Forgetting is measured this way: a fine-tuned model's loss on the base model's own job, window
    by window against the base model's, with the SE of the paired difference.
    """
    data = torch.as_tensor(data)
    windows = checks.integer(windows, "windows", 1)
    T = model.config.block_size
    if data.dim() != 1 or len(data) < T + 1:
        raise ValueError(f"data must be 1-D with at least block_size + 1 = {T + 1} token ids")
    starts = torch.linspace(0, len(data) - T - 1, windows).long()
    w = data[starts[:, None] + torch.arange(T + 1)]
    with evaluating(model):
        logits = model(w[:, :-1])[0].float()
    return F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none").mean(dim=1)


# --------------------------------------------------------------------------------------------
# Classification.


def _classifier_rows(
    examples: Sequence[Labelled], tokenizer: BPETokenizer, block_size: int
) -> list[tuple[list[int], int]]:
    if not examples:
        raise ValueError("examples is empty: give at least one labelled text")
    rows = [(tokenizer.encode(e.text)[:block_size], e.label) for e in examples]  # keep the start
    empty = [k for k, (ids, _) in enumerate(rows) if not ids]
    if empty:
        raise ValueError(f"examples[{empty[0]}] has an empty text")
    return rows


def _classifier_batch(rows: Sequence[tuple[list[int], int]], pad: int) -> Batch:
    real = _pad([[1] * len(ids) for ids, _ in rows], 0)
    tensors = {
        "input_ids": _pad([ids for ids, _ in rows], pad),
        "attention_mask": real,
        "labels": torch.tensor([label for _, label in rows]),
    }
    return Batch(tensors, int(real.sum()))


def classifier_batches(
    examples: Sequence[Labelled], tokenizer: BPETokenizer, block_size: int
) -> BatchSource:
    """``n`` labelled texts drawn with ``generator`` only, cut to their first ``block_size``
    tokens, right-padded (the head reads each row's last *real* token: padding changes nothing).
    """
    rows = _classifier_rows(examples, tokenizer, block_size)
    pad = pad_token_id(tokenizer)
    return sampled_batches(rows, lambda picked: _classifier_batch(picked, pad))


def classifier_loss(model: torch.nn.Module, batch: Batch) -> Tensor:
    """Cross-entropy of the head's class scores against the labels."""
    scores = model(batch["input_ids"], batch["attention_mask"])
    return F.cross_entropy(scores.float(), batch["labels"])


@torch.no_grad()
def predict(
    model: SequenceHead, examples: Sequence[Labelled], tokenizer: BPETokenizer, batch_size: int = 64
) -> list[int]:
    """The predicted class of every example, in order (eval mode; the mode is restored)."""
    rows = _classifier_rows(examples, tokenizer, model.config.block_size)
    found: list[int] = []
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            batch = _classifier_batch(rows[start : start + batch_size], pad_token_id(tokenizer))
            found += model(batch["input_ids"], batch["attention_mask"]).argmax(-1).tolist()
    return found


def accuracy(
    model: SequenceHead, examples: Sequence[Labelled], tokenizer: BPETokenizer, batch_size: int = 64
) -> float:
    """The fraction of ``examples`` whose label the model predicts."""
    predicted = predict(model, examples, tokenizer, batch_size)
    return sum(p == e.label for p, e in zip(predicted, examples, strict=True)) / len(examples)


def majority_baseline(train: Sequence[Labelled], evaluation: Sequence[Labelled]) -> float:
    """The accuracy on ``evaluation`` of always answering ``train``'s most common label: the
    score any classifier must beat to have learned something from the texts."""
    if not train or not evaluation:
        raise ValueError("majority_baseline needs non-empty train and evaluation examples")
    labels = [e.label for e in train]
    majority = max(sorted(set(labels)), key=labels.count)
    return sum(e.label == majority for e in evaluation) / len(evaluation)

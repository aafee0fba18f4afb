"""Fine-tuning: from a model that continues text to one that answers, and one that classifies.

**The chat template.** A conversation becomes one token sequence with three new special tokens::

    <|user|>To HAMLET: My lord!<|end|><|assistant|>What is the matter?<|end|><|user|>...

No newlines are added between turns: each special token already marks a boundary, the texts are
encoded on their own (so a reply's tokens are the same wherever it appears), and every position
of a 128-token context is precious. The base model has never seen these tokens, so its token
table grows by three rows (:func:`grow_vocabulary`); padding reuses the ``<|end|>`` id, which is
harmless because every padded position is masked out of both attention and the loss.

**The loss mask.** SFT trains on the assistant's tokens only, each reply *and* the ``<|end|>``
that closes it (that is how the model learns to stop). The user's words and the template tokens
are context: the model reads them but is never scored on predicting them. Otherwise it would
spend capacity learning to write the user's questions.

**Classification.** A :class:`~llmlab.model.SequenceHead` reads the trunk's vector at each text's
last real token (the one position of a causal model that has seen the whole text) and scores the
classes; here the six genres of :mod:`llmlab.corpus`.

The data itself (dialogue, questions, genre labels) comes from :mod:`llmlab.instructions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab.instructions import KINDS, Example, Labelled, plays_examples
from llmlab.model import GPT, IGNORE_INDEX, GPTConfig, SequenceHead
from llmlab.tokenization import BPETokenizer
from llmlab.train import Batch, BatchSource

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
CHAT_TOKENS = (USER, ASSISTANT, END)
ROLES = ("user", "assistant")

Turn = tuple[str, str]

# --------------------------------------------------------------------------------------------
# New tokens: the tokenizer and the model's token table grow together.


def chat_tokenizer(tokenizer: BPETokenizer) -> BPETokenizer:
    """``tokenizer`` plus the chat tokens, which get the ids after its vocabulary.

    Old ids keep their meaning and plain text encodes exactly as before (text never contains
    the new tokens' spelling), so a model trained with the old tokenizer still reads it.
    A tokenizer that has the chat tokens already is returned rebuilt, unchanged.
    """
    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(f"tokenizer must be a BPETokenizer, got {type(tokenizer).__name__}")
    specials = list(tokenizer.special_tokens)
    specials += [t for t in CHAT_TOKENS if t not in tokenizer.special_tokens]
    return BPETokenizer(dict(tokenizer.vocab), tokenizer.merges, specials)


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
    if isinstance(new_vocab_size, bool) or not isinstance(new_vocab_size, int):
        raise TypeError(f"new_vocab_size must be an int, got {type(new_vocab_size).__name__}")
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
# Rendering conversations.


def template_ids(tokenizer: BPETokenizer) -> dict[str, int]:
    specials = getattr(tokenizer, "special_tokens", None)
    if not isinstance(specials, dict):
        raise TypeError(f"tokenizer must be a BPETokenizer, got {type(tokenizer).__name__}")
    missing = [t for t in CHAT_TOKENS if t not in specials]
    if missing:
        raise ValueError(
            f"tokenizer lacks the chat template's special tokens {missing}: "
            "extend it with finetune.chat_tokenizer(tokenizer)"
        )
    return {t: specials[t] for t in CHAT_TOKENS}


def check_turns(turns: object, last: str) -> list[Turn]:
    """``turns`` as a list, after checking roles alternate from "user" and end with ``last``."""
    if isinstance(turns, (str, bytes)) or not isinstance(turns, Sequence) or not turns:
        raise ValueError("turns must be a non-empty list of (role, text) pairs")
    for k, turn in enumerate(turns):
        if not (isinstance(turn, (tuple, list)) and len(turn) == 2):
            raise ValueError(f"turns[{k}] must be a (role, text) pair, got {turn!r}")
        role, text = turn
        if role not in ROLES:
            raise ValueError(f"turns[{k}] has role {role!r}; roles are {ROLES}")
        if role != ROLES[k % 2]:
            raise ValueError(
                f"turns[{k}] has role {role!r} but turns alternate user, assistant, ... "
                f"starting with user, so it must be {ROLES[k % 2]!r}"
            )
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"turns[{k}] ({role}) must have non-empty text, got {text!r}")
        for token in CHAT_TOKENS:
            if token in text:
                raise ValueError(f"turns[{k}] text contains the template token {token!r}")
    if turns[-1][0] != last:
        raise ValueError(f"turns must end with a {last!r} turn, got {turns[-1][0]!r} last")
    return list(turns)


def _render(turns: list[Turn], tokenizer: BPETokenizer) -> tuple[list[int], list[bool]]:
    ids_of = template_ids(tokenizer)
    ids: list[int] = []
    mask: list[bool] = []
    for role, text in turns:
        learned = role == "assistant"
        body = tokenizer.encode(text) + [ids_of[END]]
        ids += [ids_of[USER if role == "user" else ASSISTANT], *body]
        mask += [False] + [learned] * len(body)
    return ids, mask


def render_chat(turns: Sequence[Turn], tokenizer: BPETokenizer) -> tuple[list[int], list[bool]]:
    """A whole conversation -> ``(ids, loss_mask)``: ``loss_mask[i]`` says whether ``ids[i]`` is
    learned, True exactly on every assistant reply's tokens and the ``<|end|>`` closing it.

    ``turns`` is ``[("user", text), ("assistant", text), ...]``: alternating, starting with the
    user, ending with the assistant (a conversation to learn from ends with a reply).
    """
    return _render(check_turns(turns, last="assistant"), tokenizer)


def render_prompt(turns: Sequence[Turn], tokenizer: BPETokenizer) -> list[int]:
    """A conversation that ends with a user turn, then ``<|assistant|>``: what a reply continues."""
    ids, _ = _render(check_turns(turns, last="user"), tokenizer)
    return ids + [template_ids(tokenizer)[ASSISTANT]]


def show_mask(ids: Sequence[int], loss_mask: Sequence[bool], tokenizer: BPETokenizer) -> str:
    """The decoded text with the learned tokens in [brackets], to see what SFT trains on."""
    pieces = []
    for learned, run in groupby(zip(ids, loss_mask, strict=True), key=lambda pair: pair[1]):
        text = tokenizer.decode([i for i, _ in run])
        pieces.append(f"[{text}]" if learned else text)
    return "".join(pieces)


def instruction_data(
    split: str, tokenizer: BPETokenizer, block_size: int = 128, kinds: Sequence[str] = KINDS
) -> list[Example]:
    """The examples of :func:`llmlab.instructions.plays_examples` that fit ``block_size`` tokens
    once rendered by ``tokenizer`` (a chat tokenizer): about 1 conversation in 10 is too long."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size must be an int >= 2, got {block_size!r}")
    template_ids(tokenizer)
    examples = plays_examples(split, kinds)
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


# --------------------------------------------------------------------------------------------
# SFT: batches and loss.


def pad_token_id(tokenizer: BPETokenizer) -> int:
    """The id that fills rows out to a batch's length (transformers calls it ``pad_token_id``):
    ``<|end|>``'s, or 0 without chat tokens.
    Any id would do: the attention mask and IGNORE_INDEX targets hide padding entirely."""
    return tokenizer.special_tokens.get(END, 0)


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
    :func:`render_chat`), else ``IGNORE_INDEX``, so the prompt and the padding cost nothing.
    """
    rows = _sft_rows(examples, tokenizer, block_size)
    pad = pad_token_id(tokenizer)

    def draw(generator: torch.Generator, n: int) -> Batch:
        picks = torch.randint(len(rows), (n,), generator=generator).tolist()
        return _sft_batch([rows[i] for i in picks], pad)

    return draw


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
    was_training, total, count = model.training, 0.0, 0
    model.eval()
    try:
        for start in range(0, len(rows), batch_size):
            batch = _sft_batch(rows[start : start + batch_size], pad_token_id(tokenizer))
            n = int((batch["targets"] != IGNORE_INDEX).sum())
            total += sft_loss(model, batch).item() * n
            count += n
    finally:
        model.train(was_training)
    return total / count


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

    def draw(generator: torch.Generator, n: int) -> Batch:
        picks = torch.randint(len(rows), (n,), generator=generator).tolist()
        return _classifier_batch([rows[i] for i in picks], pad)

    return draw


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
    was_training, found = model.training, []
    model.eval()
    try:
        for start in range(0, len(rows), batch_size):
            batch = _classifier_batch(rows[start : start + batch_size], pad_token_id(tokenizer))
            found += model(batch["input_ids"], batch["attention_mask"]).argmax(-1).tolist()
    finally:
        model.train(was_training)
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


# --------------------------------------------------------------------------------------------
# Chatting.


def reply_tokens(
    model: GPT,
    tokenizer: BPETokenizer,
    turns: Sequence[Turn],
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Iterator[int]:
    """Yield the ids of the assistant's reply to ``turns`` (ending with a user turn), one at a
    time, the closing ``<|end|>`` included when the model writes it (then it stops).

    It is :func:`llmlab.sampling.stream` with ``<|end|>`` as the stop token (the prompt read once
    into the KV cache), so with the same ``generator`` the tokens are :meth:`GPT.generate`'s. It
    also stops after ``max_new_tokens`` or when the context is full: a reply whose last id is not
    ``<|end|>`` was cut.
    """
    from llmlab.sampling import stream

    prompt = render_prompt(turns, tokenizer)  # checks the turns and the tokenizer
    block_size, end = model.config.block_size, template_ids(tokenizer)[END]
    if model.config.vocab_size < tokenizer.vocab_size:
        raise ValueError(
            f"the model knows {model.config.vocab_size} tokens but the tokenizer has "
            f"{tokenizer.vocab_size}: grow it first (finetune.grow_vocabulary)"
        )
    if len(prompt) >= block_size:
        raise ValueError(
            f"the prompt is {len(prompt)} tokens, leaving no room in the model's "
            f"{block_size}-token context for a reply: drop the earliest turns"
        )
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    budget = min(max_new_tokens, block_size - len(prompt))
    return stream(
        model,
        prompt,
        budget,
        temperature=temperature,
        top_k=top_k,
        stop_ids=[end],
        generator=generator,
    )


def generate_reply(
    model: GPT,
    tokenizer: BPETokenizer,
    turns: Sequence[Turn],
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[str, bool]:
    """The assistant's next reply to ``turns`` (which end with a user turn): ``(text, ended)``.

    The tokens of :func:`reply_tokens`: generation stops at ``<|end|>`` (``ended=True``), after
    ``max_new_tokens``, or when the context is full (``ended=False`` both times: it was cut).
    """
    out = list(reply_tokens(model, tokenizer, turns, max_new_tokens, temperature, top_k, generator))
    end = template_ids(tokenizer)[END]
    ended = bool(out) and out[-1] == end
    return tokenizer.decode(out[:-1] if ended else out), ended

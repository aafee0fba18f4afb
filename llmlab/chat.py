"""The chat template: a conversation as one token sequence, and an assistant's reply to it.

A base model continues text; to answer, it must read a conversation and know where its own turn
begins and ends. That is a convention about tokens, nothing more, and it is kept here, apart
from the training that teaches it (:mod:`llmlab.finetune`), because everything that talks to an
assistant needs it: fine-tuning, the rankings and reward model of lesson 07
(:mod:`llmlab.rankings`, :mod:`llmlab.reward_model`), the policy training of :mod:`llmlab.policy`,
the chat box of :mod:`llmlab.widgets`.

**The tokens.** A conversation becomes one token sequence with three new special tokens::

    <|user|>To HAMLET: My lord!<|end|><|assistant|>What is the matter?<|end|><|user|>...

No newlines are added between turns: each special token already marks a boundary, the texts are
encoded on their own (so a reply's tokens are the same wherever it appears), and every position
of a 128-token context is precious. The base model has never seen these tokens, so its token
table must grow by three rows (:func:`llmlab.finetune.grow_vocabulary`); padding reuses the
``<|end|>`` id, which is harmless because every padded position is masked out of both attention
and the loss.

**The loss mask.** :func:`render_chat` also says which tokens are *learned*: the assistant's,
each reply *and* the ``<|end|>`` that closes it (that is how the model learns to stop). The
user's words and the template tokens are context: the model reads them but is never scored on
predicting them. Otherwise it would spend capacity learning to write the user's questions.

**A reply.** :func:`render_prompt` renders a conversation up to ``<|assistant|>``, and
:func:`reply_tokens` continues it until the model writes ``<|end|>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby

import torch

from llmlab import checks, sampling
from llmlab.model import GPT
from llmlab.tokenization import BPETokenizer

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
CHAT_TOKENS = (USER, ASSISTANT, END)
ROLES = ("user", "assistant")

Turn = tuple[str, str]

# --------------------------------------------------------------------------------------------
# The tokens.


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


def template_ids(tokenizer: BPETokenizer) -> dict[str, int]:
    """The ids of the chat tokens in ``tokenizer``: a clear error if it lacks them."""
    specials = getattr(tokenizer, "special_tokens", None)
    if not isinstance(specials, dict):
        raise TypeError(f"tokenizer must be a BPETokenizer, got {type(tokenizer).__name__}")
    missing = [t for t in CHAT_TOKENS if t not in specials]
    if missing:
        raise ValueError(
            f"tokenizer lacks the chat template's special tokens {missing}: "
            "extend it with llmlab.chat.chat_tokenizer(tokenizer)"
        )
    return {t: specials[t] for t in CHAT_TOKENS}


def pad_token_id(tokenizer: BPETokenizer) -> int:
    """The id that fills rows out to a batch's length (transformers calls it ``pad_token_id``):
    ``<|end|>``'s, or 0 without chat tokens.
    Any id would do: the attention mask and IGNORE_INDEX targets hide padding entirely."""
    return tokenizer.special_tokens.get(END, 0)


# --------------------------------------------------------------------------------------------
# Rendering conversations.


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
    """Checked ``turns`` -> ``(ids, loss_mask)``: each turn is a role token, text, ``<|end|>``."""
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


# --------------------------------------------------------------------------------------------
# Replies.


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
    max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens", 1)
    budget = min(max_new_tokens, block_size - len(prompt))
    return sampling.stream(
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

"""A scripted labeler, "a courteous Shakespeare": the ground truth lesson 07 measures against.

RLHF needs people to rank replies, thousands of them. A class has an hour, so a learner ranks a
few in a widget and this script ranks the rest. Its rubric is short on purpose, to be read in one
screen, and it is the *truth* of the lesson: the reward model is trained on its rankings and then
judged by how often it agrees with them on pairs it never saw; best-of-n, DPO and the PPO loop
are judged by :func:`win_rate` under it. Nothing here is learned, so when a tuned model's
reward-model score climbs while its rubric score does not, that gap is reward hacking, measured.

The rubric (:func:`score` is the sum of these terms; :func:`score_terms` shows each one):

=============  ========================================================================  ======
term           what it rewards                                                           range
=============  ========================================================================  ======
``courteous``  ``-1`` for every insult of :data:`INSULTS` (whole words, plurals too)      <= 0
``verse``      per line ``1 - |words - 8| / 6`` (at least 0), averaged: a pentameter     0..1
               line has about 8 words; 2 or 14 words scores nothing
``on_topic``   ``+1`` if the reply shares a content word with the user's words, or       0 or 1
               names the character the user addressed (``"To HAMLET: ..."``)
``ended``      ``+1`` if the reply ended with ``<|end|>`` (it was not cut off)           0 or 1
``no_loop``    ``-1`` if a line repeats, or a run of three words comes back              -1 or 0
=============  ========================================================================  ======

:func:`rank` orders replies by score, best first; equal scores keep their given order (lower index
first), so a ranking is always a strict order and the same replies always rank the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from llmlab import checks

#: The plays' favourite insults. A courteous Shakespeare says none of them.
INSULTS = (
    "villain",
    "knave",
    "rogue",
    "slave",
    "fool",
    "wretch",
    "coward",
    "dog",
    "rascal",
    "varlet",
    "whoreson",
    "fiend",
)

#: Words too common to show that a reply is about what the user said.
_COMMON_WORDS = (
    "a an and are as at be but by do for from had has have he her him his how i if in is it me "
    "my no not now of on or our say see so than that the thee then there they thou thus thy to "
    "us was we what when where which who why will with yet you your shall should would let come "
    "make good well more must this these those them their here hath doth"
)
STOPWORDS = frozenset(_COMMON_WORDS.split())

VERSE_WORDS = 8  # a line of pentameter has about this many words ...
VERSE_TOLERANCE = 6  # ... and a line this many words longer or shorter is not verse at all

_WORD = re.compile(r"[a-z']+")
_ADDRESS = re.compile(r"^To ([A-Z][A-Z' \-]*[A-Z]):\s*")
_INSULT = re.compile(r"\b(" + "|".join(INSULTS) + r")s?\b", re.IGNORECASE)

Prompt = str | Sequence[tuple[str, str]]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def user_text(prompt: Prompt) -> tuple[str, str | None]:
    """The last user turn of ``prompt`` (a string or chat turns) without its ``"To NAME: "``
    prefix, and the addressed ``NAME`` (or None)."""
    if isinstance(prompt, str):
        text = prompt
    else:
        users = [text for role, text in prompt if role == "user"]
        if not users:
            raise ValueError("prompt has no user turn: the labeler reads what the user said")
        text = users[-1]
    found = _ADDRESS.match(text)
    if found is None:
        return text, None
    return text[found.end() :], found.group(1)


def score_terms(prompt: Prompt, reply: str, ended: bool) -> dict[str, float]:
    """Each rubric term of ``reply`` to ``prompt`` (see the module docstring)."""
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a str, got {type(reply).__name__}")
    said, addressee = user_text(prompt)
    words = _words(reply)
    lines = [line for line in reply.split("\n") if line.strip()]
    # Graded, not "in range or not": two replies seldom tie, so a win rate can tell them apart.
    closeness = [
        max(0.0, 1 - abs(len(_words(line)) - VERSE_WORDS) / VERSE_TOLERANCE) for line in lines
    ]
    verse = sum(closeness) / len(lines) if lines else 0.0
    content = {w for w in words if len(w) > 3 and w not in STOPWORDS}
    shared = content & {w for w in _words(said) if len(w) > 3 and w not in STOPWORDS}
    named = addressee is not None and any(w in words for w in _words(addressee))
    normalised = [" ".join(_words(line)) for line in lines]
    trigrams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    looped = len(set(normalised)) < len(normalised) or len(set(trigrams)) < len(trigrams)
    return {
        "courteous": float(-len(_INSULT.findall(reply))),
        "verse": float(verse),
        "on_topic": float(bool(shared) or named),
        "ended": float(bool(ended)),
        "no_loop": -1.0 if looped else 0.0,
    }


def score(prompt: Prompt, reply: str, ended: bool = True) -> float:
    """The rubric's score of ``reply``: the sum of :func:`score_terms`, at most 3."""
    return sum(score_terms(prompt, reply, ended).values())


def _as_reply(reply: str | tuple[str, bool], name: str) -> tuple[str, bool]:
    """A reply is its text (taken as ended) or ``(text, ended)``."""
    if isinstance(reply, str):
        return reply, True
    if isinstance(reply, (tuple, list)) and len(reply) == 2 and isinstance(reply[0], str):
        return reply[0], bool(reply[1])
    raise TypeError(f"{name} must be a str or a (text, ended) pair, got {reply!r}")


def rank(prompt: Prompt, replies: Sequence[str | tuple[str, bool]]) -> list[int]:
    """The indices of ``replies`` best first by :func:`score`; ties keep the lower index first.

    A reply is its text (taken as ended) or ``(text, ended)``.
    """
    if isinstance(replies, str) or not replies:
        raise ValueError("replies must be a non-empty list of replies")
    scores = [score(prompt, *_as_reply(r, f"replies[{i}]")) for i, r in enumerate(replies)]
    return sorted(range(len(replies)), key=lambda i: (-scores[i], i))


Scorer = Callable[[Prompt, str, bool], float]


def wins(
    labeler: Scorer,
    prompts: Sequence[Prompt],
    replies_a: Sequence[str | tuple[str, bool]],
    replies_b: Sequence[str | tuple[str, bool]],
) -> list[float]:
    """Per prompt, did ``replies_a[i]`` beat ``replies_b[i]`` under ``labeler`` (:func:`score`,
    or any ``(prompt, reply, ended) -> float``): 1, 0.5 on a tie, else 0.

    One number per prompt, not only their mean, so that two systems judged on the same prompts
    can be compared prompt by prompt (``stats.difference(..., paired=True)``) and a win rate
    gets its standard error (``stats.mean(wins(...))``).
    """
    if not (len(prompts) == len(replies_a) == len(replies_b)) or not prompts:
        raise ValueError(
            "prompts, replies_a and replies_b must be non-empty and of one length, got "
            f"{len(prompts)}, {len(replies_a)}, {len(replies_b)}"
        )
    scorer = getattr(labeler, "score", labeler)  # the labeler module itself will do
    found = []
    for i, (prompt, a, b) in enumerate(zip(prompts, replies_a, replies_b, strict=True)):
        sa = scorer(prompt, *_as_reply(a, f"replies_a[{i}]"))
        sb = scorer(prompt, *_as_reply(b, f"replies_b[{i}]"))
        found.append(1.0 if sa > sb else 0.5 if sa == sb else 0.0)
    return found


def win_rate(
    labeler: Scorer,
    prompts: Sequence[Prompt],
    replies_a: Sequence[str | tuple[str, bool]],
    replies_b: Sequence[str | tuple[str, bool]],
) -> float:
    """How often ``replies_a[i]`` beats ``replies_b[i]``: the mean of :func:`wins`.

    A tie counts half, so two equally good systems score 0.5 and the number is symmetric:
    ``win_rate(s, p, a, b) == 1 - win_rate(s, p, b, a)``."""
    found = wins(labeler, prompts, replies_a, replies_b)
    return sum(found) / len(found)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al., 2016): unique word n-grams over all n-grams of ``texts``.

    Tuning for a reward narrows what a model says; this number falls when it does (1.0: no
    n-gram twice; near 0: the same phrase everywhere). No n-grams at all gives 0.0.
    """
    n = checks.integer(n, "n", 1)
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    grams = [tuple(w[i : i + n]) for w in map(_words, texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0

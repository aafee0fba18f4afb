"""Lesson 00's warm-ups on the corpus: counting bytes and speakers."""

from __future__ import annotations

import random

from llmlab.exercises import exercise


def _random_text(rng: random.Random) -> tuple[str]:
    from llmlab import corpus

    speech = rng.choice(corpus.speeches("validation"))
    extra = rng.choice(["", "é", "—", "ſ", "😀", "café"])  # some characters take several bytes
    return (speech.text + extra,)


@exercise("bytes_per_character", _random_text)
def bytes_per_character(text: str) -> float:
    """How many UTF-8 bytes each character of ``text`` takes on average."""
    return len(text.encode("utf-8")) / len(text)


def _random_speeches(rng: random.Random) -> tuple[list, int]:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - 200)
    return (every[start : start + rng.randint(1, 200)], rng.randint(1, 4))


@exercise("top_speakers", _random_speeches)
def top_speakers(speeches: list, k: int) -> list[str]:
    """The ``k`` speakers with the most speeches; ties broken alphabetically."""
    counts: dict[str, int] = {}
    for speech in speeches:
        counts[speech.speaker] = counts.get(speech.speaker, 0) + 1
    return sorted(counts, key=lambda who: (-counts[who], who))[:k]

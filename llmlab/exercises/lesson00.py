"""Lesson 00's exercises: speakers by count, then the next-character table and greedy generation."""

from __future__ import annotations

import random

from llmlab.exercises.registry import exercise, wrong_answer

# The lookup table of lesson 00: each context of n characters -> what came next, with counts.
Table = dict[str, dict[str, int]]


def _random_speeches(rng: random.Random) -> tuple[list, int]:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - 200)
    return (every[start : start + rng.randint(1, 200)], rng.randint(1, 4))


@exercise(
    "top_speakers",
    _random_speeches,
    builds="rank the speakers by their number of speeches",
    minutes=10,
    hints=(
        "Count first: a dict from speaker to speeches, one pass over the list.",
        "sorted(counts, key=...) with a key of (-count, name) puts the most first, ties by name.",
    ),
)
def top_speakers(speeches: list, k: int) -> list[str]:
    """The ``k`` speakers with the most speeches; ties broken alphabetically."""
    counts: dict[str, int] = {}
    for speech in speeches:
        counts[speech.speaker] = counts.get(speech.speaker, 0) + 1
    return sorted(counts, key=lambda who: (-counts[who], who))[:k]


def _random_passage(rng: random.Random) -> str:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - 30)
    return "".join(s.render() for s in every[start : start + rng.randint(1, 30)])


@exercise(
    "next_char_table",
    lambda rng: (_random_passage(rng), rng.randint(1, 4)),
    builds="a language model by counting: context -> what came next",
    minutes=10,
    hints=(
        "Slide a window of n characters over the text; the character after it is what came next.",
        "The last window that has a next character starts at len(text) - n - 1.",
    ),
)
def next_char_table(text: str, n: int) -> Table:
    """Count, for every ``n`` characters of ``text``, which character came next.

    This is a language model by counting: the table's row for a context is the distribution of
    what followed it, so its most frequent entry is the best guess of the next character.
    """
    table: Table = {}
    for i in range(len(text) - n):
        after = table.setdefault(text[i : i + n], {})
        after[text[i + n]] = after.get(text[i + n], 0) + 1
    return table


def _random_table_and_prompt(rng: random.Random) -> tuple[Table, str, int, int]:
    text, n = _random_passage(rng), rng.randint(1, 4)
    start = rng.randrange(len(text) - n)
    prompt = text[start : start + n + rng.randint(0, 5)] if rng.random() < 0.9 else "Zq" * n
    return next_char_table(text, n), prompt, n, rng.randint(0, 40)


@exercise(
    "greedy_generate",
    _random_table_and_prompt,
    builds="generation as prediction repeated, from the table",
    minutes=10,
    hints=(
        "Each step looks up the last n characters of the text so far, not of the prompt.",
        "min(after, key=lambda c: (-after[c], c)): the likeliest, ties to the smallest.",
    ),
)
def greedy_generate(table: Table, prompt: str, n: int, steps: int) -> str:
    """Extend ``prompt`` by up to ``steps`` characters, each the likeliest after the last ``n``.

    Generation is prediction repeated: predict, pick, append, predict again. A context the
    table never saw has no prediction, so generation stops there. Ties go to the smallest
    character, so the answer does not depend on the order the table was built in.
    """
    text = prompt
    for _ in range(steps):
        after = table.get(text[-n:])
        if not after:
            break
        text += min(after, key=lambda char: (-after[char], char))
    return text


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("top_speakers")
def _ties_by_first_seen(speeches: list, k: int) -> list[str]:
    counts: dict[str, int] = {}
    for speech in speeches:
        counts[speech.speaker] = counts.get(speech.speaker, 0) + 1
    return sorted(counts, key=lambda who: -counts[who])[:k]


@wrong_answer("next_char_table")
def _misses_the_last_window(text: str, n: int) -> Table:
    table: Table = {}
    for i in range(len(text) - n - 1):
        after = table.setdefault(text[i : i + n], {})
        after[text[i + n]] = after.get(text[i + n], 0) + 1
    return table


@wrong_answer("greedy_generate")
def _reads_the_prompt_only(table: Table, prompt: str, n: int, steps: int) -> str:
    text = prompt
    for _ in range(steps):
        after = table.get(prompt[-n:])
        if not after:
            break
        text += min(after, key=lambda char: (-after[char], char))
    return text


@wrong_answer("top_speakers")
def _first_to_speak(speeches: list, k: int) -> list[str]:
    return list(dict.fromkeys(speech.speaker for speech in speeches))[:k]


@wrong_answer("next_char_table")
def _a_new_row_each_time(text: str, n: int) -> Table:
    table: Table = {}
    for i in range(len(text) - n):
        after = table[text[i : i + n]] = {}  # forgets what the row held
        after[text[i + n]] = after.get(text[i + n], 0) + 1
    return table


@wrong_answer("greedy_generate")
def _ties_to_the_first_counted(table: Table, prompt: str, n: int, steps: int) -> str:
    text = prompt
    for _ in range(steps):
        after = table.get(text[-n:])
        if not after:
            break
        text += max(after, key=after.get)  # equal counts: whichever the table met first
    return text

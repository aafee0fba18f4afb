"""Finding the passage that answers a question: TF-IDF search over the plays, and recall@k.

A model answers from what its weights hold, and invents when they hold nothing. Search-backed
assistants (retrieval-augmented generation) first *find* a passage that may hold the answer and
put it in the prompt, so the model reads instead of recalling. The finding is ordinary search:

* the plays are cut into :class:`Passage` s of a few consecutive speeches of one scene;
* each passage and each question becomes a TF-IDF vector: a word's count, times its *inverse
  document frequency* ``log((1 + N) / (1 + df)) + 1`` (rare words weigh more: "HORATIO" says
  more than "the"), scaled to length 1;
* a question's passages are ranked by cosine similarity (the dot product of the unit vectors).

:func:`recall_at_k` measures the search alone: the share of questions with a right passage
among the first ``k``. What counts as right is the caller's to say (the passage holding the
quoted line, say), so the measure stays honest about what the model is then given.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmlab import checks, corpus, stats
from llmlab.contamination import words


@dataclass(frozen=True)
class Passage:
    """Consecutive speeches of one scene, in the corpus layout (``SPEAKER:`` then lines)."""

    play: str  # slug
    act: str
    scene: str
    text: str


def passages(split: str = "all", speeches_per_passage: int = 4) -> list[Passage]:
    """The plays of ``split`` cut into passages of up to ``speeches_per_passage`` speeches, never
    across a scene (a passage is one place and time, as a reader would quote it)."""
    size = checks.integer(speeches_per_passage, "speeches_per_passage", 1)
    found: list[Passage] = []
    run: list[corpus.Speech] = []

    def flush() -> None:
        if run:
            first = run[0]
            text = "".join(s.render() for s in run)
            found.append(Passage(first.play, first.act, first.scene, text))
            run.clear()

    for speech in corpus.speeches(split):
        place = (speech.play, speech.act, speech.scene)
        if run and place != (run[0].play, run[0].act, run[0].scene):
            flush()
        run.append(speech)
        if len(run) == size:
            flush()
    flush()
    return found


class TfidfRetriever:
    """TF-IDF vectors of ``texts`` with an inverted index; :meth:`search` ranks them by cosine."""

    def __init__(self, texts: Sequence[str]) -> None:
        if not texts:
            raise ValueError("texts is empty: give at least one passage to search")
        counts = [Counter(words(t)) for t in texts]
        df = Counter(w for c in counts for w in c)
        self.idf = {w: math.log((1 + len(texts)) / (1 + d)) + 1 for w, d in df.items()}
        self.index: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, c in enumerate(counts):
            weights = {w: n * self.idf[w] for w, n in c.items()}
            norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
            for w, v in weights.items():
                self.index[w].append((i, v / norm))
        self.size = len(texts)

    def scores(self, query: str) -> dict[int, float]:
        """Cosine similarity of ``query`` with every text sharing a word with it (others: 0)."""
        if not isinstance(query, str) or not words(query):
            raise ValueError(f"query must be a text with at least one word, got {query!r}")
        weights = {w: n * self.idf[w] for w, n in Counter(words(query)).items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        found: defaultdict[int, float] = defaultdict(float)
        for w, v in weights.items():
            for i, p in self.index[w]:
                found[i] += v / norm * p
        return found

    def search(self, query: str, k: int = 5) -> list[int]:
        """The indices of the ``k`` texts most similar to ``query``, best first (ties: lower
        index first, so a search is reproducible)."""
        k = checks.integer(k, "k", 1, self.size)
        found = self.scores(query)
        return sorted(found, key=lambda i: (-found[i], i))[:k]


def recall_at_k(
    ranked: Sequence[Sequence[int]], relevant: Callable[[int, int], bool], k: int
) -> stats.Estimate:
    """The share of questions whose first ``k`` results hold a relevant one, with its SE.

    ``ranked[q]`` is question ``q``'s results, best first; ``relevant(q, i)`` says whether
    result ``i`` answers question ``q``.
    """
    if not ranked:
        raise ValueError("ranked is empty: give one ranking per question")
    k = checks.integer(k, "k", 1)
    hits = sum(any(relevant(q, i) for i in r[:k]) for q, r in enumerate(ranked))
    return stats.proportion(hits, len(ranked))


# --------------------------------------------------------------------------------------------
# A passage in the prompt: what a "reader" model is given and taught to use.

#: How many of a speech's lines a quoted passage shows (two keep the prompt within 128 tokens).
QUOTED_LINES = 2


def quote(play: str, speaker: str, text: str, lines: int = QUOTED_LINES) -> str:
    """A passage as it is put in a prompt: the play's title, the speaker, the first ``lines``
    lines of ``text``. The title and speaker are what a question about the line needs, so a model
    that reads its prompt can answer from them."""
    from llmlab.instructions import title

    lines = checks.integer(lines, "lines", 1)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty passage, got {text!r}")
    shown = "\n".join(text.split("\n")[:lines])
    return f"From {title(play)}:\n{speaker}:\n{shown}"


def with_passage(
    question: str, passage: str, *, tokenizer: Any = None, max_tokens: int | None = None
) -> str:
    """The user's turn that gives ``passage`` before ``question`` (retrieval-augmented prompt).

    Given a ``tokenizer`` and ``max_tokens`` (the room the model's context leaves for this turn),
    a turn that does not fit raises here, naming the passage: it is the passage that must be cut,
    and later the model would only see a prompt too long, without knowing which part.
    """
    for name, value in (("question", question), ("passage", passage)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty text, got {value!r}")
    prompt = f"{passage}\n\n{question}"
    if (tokenizer is None) != (max_tokens is None):
        raise ValueError("give tokenizer and max_tokens together (or neither)")
    if tokenizer is not None:
        max_tokens = checks.integer(max_tokens, "max_tokens", 1)
        size, own = len(tokenizer.encode(prompt)), len(tokenizer.encode(passage))
        if size > max_tokens:
            room = max(0, own - size + max_tokens)
            raise ValueError(
                f"passage is {own} tokens and the turn with the question {size}, over "
                f"max_tokens={max_tokens}: cut the passage to about {room} tokens"
            )
    return prompt


def speech_of_line(split: str = "all") -> dict[tuple[str, str], corpus.Speech]:
    """``(play, first line) -> speech`` for ``split``: where a "Who speaks the line ...?"
    question's answer is written (the questions quote a speech's first line)."""
    found: dict[tuple[str, str], corpus.Speech] = {}
    for s in corpus.speeches(split):
        found.setdefault((s.play, s.text.split("\n")[0]), s)
    return found


def quoted_line(question: str) -> str:
    """The line quoted by a "Who speaks the line "..."?" question."""
    if not isinstance(question, str):
        raise ValueError(f"question must be a text, got {question!r}")
    start, end = question.find('"'), question.rfind('"')
    if start < 0 or end <= start:
        raise ValueError(f"question must quote a line in double quotes, got {question!r}")
    return question[start + 1 : end]

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

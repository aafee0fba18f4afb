"""llmlab.retrieval: passages from the plays, TF-IDF scores against a brute-force computation,
recall@k."""

from __future__ import annotations

import math
from collections import Counter
from itertools import groupby

import pytest

from llmlab import contamination, corpus, retrieval

TEXTS = ["the king is dead", "long live the king", "a horse a horse", "the queen the queen"]


def _brute_force_cosine(query: str, texts: list[str]) -> list[float]:
    docs = [Counter(contamination.words(t)) for t in texts]
    vocab = sorted({w for d in docs for w in d})
    idf = {w: math.log((1 + len(texts)) / (1 + sum(w in d for d in docs))) + 1 for w in vocab}

    def unit(counts: Counter) -> list[float]:
        v = [counts[w] * idf[w] for w in vocab]
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    q = unit(Counter(contamination.words(query)))
    return [sum(a * b for a, b in zip(q, unit(d), strict=True)) for d in docs]


def test_scores_match_a_dense_tfidf_cosine():
    retriever = retrieval.TfidfRetriever(TEXTS)
    for query in ("the king", "a horse, my kingdom", "queen queen king"):
        expected = _brute_force_cosine(query, TEXTS)
        found = retriever.scores(query)
        for i, value in enumerate(expected):
            assert found.get(i, 0.0) == pytest.approx(value)


def test_search_ranks_best_first_and_breaks_ties_by_index():
    retriever = retrieval.TfidfRetriever(TEXTS)
    assert retriever.search("a horse", k=1) == [2]
    scores = retriever.scores("king")  # texts 0 and 1: same length, same idf: a tie
    assert scores[0] == pytest.approx(scores[1]) and retriever.search("king", k=2) == [0, 1]
    assert retrieval.TfidfRetriever(["x y", "x y"]).search("x", k=2) == [0, 1]
    with pytest.raises(ValueError, match="query must be a text with at least one word"):
        retriever.search("?!", k=1)
    with pytest.raises(ValueError, match="k must be an int in 1..4"):
        retriever.search("king", k=5)


def test_recall_at_k_counts_a_hit_anywhere_in_the_first_k():
    ranked = [[3, 1, 2], [0, 2, 1], [2, 0, 1]]
    relevant = {0: {1}, 1: {1}, 2: {2}}
    at_1 = retrieval.recall_at_k(ranked, lambda q, i: i in relevant[q], 1)
    at_2 = retrieval.recall_at_k(ranked, lambda q, i: i in relevant[q], 2)
    at_3 = retrieval.recall_at_k(ranked, lambda q, i: i in relevant[q], 3)
    assert (at_1.value, at_2.value, at_3.value) == (1 / 3, 2 / 3, 1.0)


def test_passages_keep_every_speech_once_and_never_cross_a_scene():
    found = retrieval.passages("validation", speeches_per_passage=4)
    speeches = corpus.speeches("validation")
    assert "".join(p.text for p in found) == "".join(s.render() for s in speeches)
    scenes = [len(list(r)) for _, r in groupby(speeches, key=lambda s: (s.play, s.act, s.scene))]
    assert len(found) == sum(math.ceil(n / 4) for n in scenes)  # no passage spans two scenes
    with pytest.raises(ValueError, match="speeches_per_passage"):
        retrieval.passages("validation", speeches_per_passage=0)


def test_a_quoted_passage_names_the_play_and_speaker_and_shows_the_first_lines():
    passage = retrieval.quote("macbeth", "MACBETH", "Is this a dagger\nwhich I see\nbefore me")
    assert passage == "From Macbeth:\nMACBETH:\nIs this a dagger\nwhich I see"
    prompt = retrieval.with_passage('Who speaks the line "Is this a dagger"?', passage)
    assert prompt.startswith(passage + "\n\n")
    assert retrieval.quoted_line(prompt.split("\n\n")[1]) == "Is this a dagger"
    for bad in ("", "   "):
        with pytest.raises(ValueError, match="question"):
            retrieval.with_passage(bad, passage)
        with pytest.raises(ValueError, match="text"):
            retrieval.quote("macbeth", "MACBETH", bad)
    with pytest.raises(ValueError, match="question"):
        retrieval.quoted_line("Who speaks the line?")
    with pytest.raises(ValueError, match="lines"):
        retrieval.quote("macbeth", "MACBETH", "a line", lines=0)


def test_every_line_question_finds_the_speech_it_quotes():
    from llmlab import instructions

    speech = retrieval.speech_of_line("validation")
    for q in instructions.plays_examples("validation", kinds=["line_speaker"]):
        s = speech[(q.play, retrieval.quoted_line(q.turns[0][1]))]
        assert q.turns[1][1].startswith(f"{s.speaker}, in ")


def test_a_passage_too_long_for_the_room_left_is_refused_naming_the_passage():
    class Chars:  # one token per character
        def encode(self, text):
            return list(text)

    question, passage = 'Who speaks "Hi"?', "x" * 30
    assert retrieval.with_passage(question, passage, tokenizer=Chars(), max_tokens=48) == (
        retrieval.with_passage(question, passage)
    )
    with pytest.raises(
        ValueError,
        match=r"passage is 30 tokens .* 48, over max_tokens=47: cut the passage to about 29",
    ):
        retrieval.with_passage(question, passage, tokenizer=Chars(), max_tokens=47)
    with pytest.raises(ValueError, match="max_tokens"):
        retrieval.with_passage(question, passage, tokenizer=Chars(), max_tokens=0)
    with pytest.raises(ValueError, match="together"):
        retrieval.with_passage(question, passage, tokenizer=Chars())

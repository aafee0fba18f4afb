"""llmlab.ngram: the back-off counting table, checked against counting by brute force."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from llmlab.ngram import BackoffTable

TEXT = "to be or not to be, that is the question: to be, or not to be"


def test_shorter_counts_are_the_longer_ones_with_their_first_character_dropped():
    table = BackoffTable.from_text(TEXT, order=3, vocab_size=30)
    assert table.order == 3
    assert table.counts[4] == Counter(TEXT[i : i + 4] for i in range(len(TEXT) - 3))
    assert table.counts[0][""] == len(TEXT) - 3  # one empty context per counted string
    for n in range(1, 4):
        for gram, count in table.counts[n].items():
            assert count == sum(c for g, c in table.counts[n + 1].items() if g[1:] == gram)
    assert len(table) == sum(len(c) for c in table.counts)


def test_probability_is_the_blend_walked_by_hand():
    table = BackoffTable.from_text(TEXT, order=2, vocab_size=30)
    blend = 2.0
    p0 = (table.counts[1]["b"] + blend / 30) / (table.counts[0][""] + blend)
    p1 = (table.counts[2][" b"] + blend * p0) / (table.counts[1][" "] + blend)
    p2 = (table.counts[3]["o b"] + blend * p1) / (table.counts[2]["o "] + blend)
    assert table.probability("not to ", "b", blend) == pytest.approx(p2, rel=1e-15)
    # an unseen context stops the walk at the longest context that was seen
    assert table.probability("zx", "b", blend) == pytest.approx(p0, rel=1e-15)


def test_probabilities_over_the_alphabet_sum_to_one_up_to_the_texts_edges():
    # A context's count and the counts of what follows it differ only where the text starts
    # and ends; in a long text that is within one count of several hundred.
    text = " ".join([TEXT] * 200)
    alphabet = sorted(set(text))
    table = BackoffTable.from_text(text, order=3, vocab_size=len(alphabet))
    for context in ["", "xyz"]:  # no context, and one never seen: exact
        total = sum(table.probability(context, c, 4.0) for c in alphabet)
        assert total == pytest.approx(1.0, abs=1e-12)
    for context in ["to ", "be,", " or"]:
        total = sum(table.probability(context, c, 4.0) for c in alphabet)
        assert total == pytest.approx(1.0, abs=0.01)


def test_losses_and_window_loss():
    table = BackoffTable.from_text(TEXT, order=3, vocab_size=30)
    window = "to be or"
    losses = table.losses(window, 8)
    assert len(losses) == len(window) - 1
    assert losses[0] == pytest.approx(-math.log(table.probability("t", "o", 8)))
    assert table.window_loss(window, 8) == pytest.approx(sum(losses) / len(losses))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: t.probability("to", "b", 0), "blend"),
        (lambda t: t.losses("t", 1.0), "window"),
        (lambda t: t.window_loss("to be", -1), "blend"),
        (lambda t: BackoffTable.from_text("ab", order=2, vocab_size=3), "text"),
        (lambda t: BackoffTable.from_text(TEXT, order=-1, vocab_size=3), "order"),
        (lambda t: BackoffTable(Counter({"ab": 1, "abc": 1}), 3), "longest"),
        (lambda t: BackoffTable(Counter({"ab": 1}), 0), "vocab_size"),
    ],
)
def test_bad_input_is_named(call, message):
    table = BackoffTable.from_text(TEXT, order=2, vocab_size=30)
    with pytest.raises(ValueError, match=message):
        call(table)

"""llmlab.contamination: n-gram overlap, Min-K% and the detector's precision and recall by hand."""

from __future__ import annotations

import pytest

from llmlab import contamination


def test_words_and_ngrams_ignore_case_and_punctuation():
    assert contamination.words("To be, or NOT to be!") == ["to", "be", "or", "not", "to", "be"]
    assert contamination.ngrams("to be or not to be", 2) == {
        ("to", "be"),
        ("be", "or"),
        ("or", "not"),
        ("not", "to"),
    }
    assert contamination.ngrams("one two", 3) == set()


def test_overlap_is_one_for_a_copy_and_counts_shared_ngrams():
    train = contamination.ngrams("the quick brown fox jumps over the lazy dog", 3)
    assert contamination.ngram_overlap("The quick brown fox jumps!", train, 3) == 1.0
    # 4 trigrams, 1 of them ("over the lazy") in the training text.
    assert contamination.ngram_overlap("over the lazy cat sat down", train, 3) == 0.25
    with pytest.raises(ValueError, match="item must have at least n=3 words"):
        contamination.ngram_overlap("too short", train, 3)


def test_min_k_percent_averages_the_least_likely_tokens():
    log_probs = [-0.1, -5.0, -0.2, -3.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8]
    assert contamination.min_k_percent(log_probs, 20) == pytest.approx(-4.0)
    assert contamination.min_k_percent(log_probs, 1) == -5.0  # at least one token
    assert contamination.min_k_percent(log_probs, 100) == pytest.approx(sum(log_probs) / 10)
    with pytest.raises(ValueError, match="k must be a number in"):
        contamination.min_k_percent(log_probs, 0)


def test_precision_and_recall_by_hand():
    scores = [0.9, 0.8, 0.7, 0.2, 0.1, 0.6]
    planted = [True, True, False, True, False, False]
    precision, recall = contamination.precision_recall(scores, planted, 0.65)
    assert (precision.value, precision.n) == (2 / 3, 3)
    assert (recall.value, recall.n) == (2 / 3, 3)
    never, none_found = contamination.precision_recall(scores, planted, 2.0)
    assert never.n == 0 and none_found.value == 0
    with pytest.raises(ValueError, match="planted has no planted item"):
        contamination.precision_recall(scores, [False] * 6, 0.5)
    with pytest.raises(ValueError, match="one flag per score"):
        contamination.precision_recall(scores, [True], 0.5)

"""Word swaps, co-occurrence counts and minimal-pair preferences."""

import pytest
import torch

from llmlab import bias
from tests.tiny_gpt import tiny

PAIRS = [("he", "she"), ("his", "her"), ("lord", "lady")]


def test_swap_words_keeps_case_and_whole_words_and_is_its_own_inverse():
    text = "He loves his lady; SHE, the Lord's sheep. Other hearts."
    swapped = bias.swap_words(text, PAIRS)
    assert swapped == "She loves her lord; HE, the Lady's sheep. Other hearts."
    assert bias.swap_words(swapped, PAIRS) == text


def test_a_word_in_two_pairs_is_refused_by_name():
    with pytest.raises(ValueError, match="'her'"):
        bias.swap_words("x", [("his", "her"), ("him", "her")])
    with pytest.raises(ValueError, match="two words"):
        bias.swap_words("x", [("he",)])


def test_cooccurrence_counts_targets_within_the_window_after_each_anchor():
    text = "he is brave and she is fair. he was fair, she kind; fair he"
    counts = bias.cooccurrence(text, ["he", "she"], ["fair", "brave", "kind"], window=3)
    assert counts["he"] == {"brave": 1, "fair": 1}
    assert counts["she"] == {"fair": 2, "kind": 1}  # "she kind; fair": both within 3
    with pytest.raises(ValueError, match="anchors"):
        bias.cooccurrence(text, [], ["fair"])


def test_continuation_logprobs_match_a_by_hand_sum():
    model = tiny()
    encode = lambda s: [ord(c) % 37 for c in s]  # noqa: E731
    got = bias.continuation_logprobs(model, encode, [("he", " is"), ("she", " is")])
    for prefix, value in zip(["he", "she"], got, strict=True):
        ids = torch.tensor([encode(prefix + " is")])
        logps = model(ids)[0][0].log_softmax(-1)
        n = len(prefix)
        expected = sum(logps[n - 1 + i, t] for i, t in enumerate(encode(" is")))
        assert value.item() == pytest.approx(expected.item(), abs=1e-5)


def test_pair_preference_counts_wins_and_half_ties():
    result = bias.pair_preference([3.0, 1.0, 2.0, 5.0], [1.0, 2.0, 2.0, 4.0])
    assert result.value == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert result.n == 4
    with pytest.raises(ValueError, match="one score per pair"):
        bias.pair_preference([1.0, 2.0], [1.0])


def test_an_over_long_pair_is_refused():
    model = tiny()
    with pytest.raises(ValueError, match="at most 16"):
        bias.continuation_logprobs(model, lambda s: [1] * len(s), [("x" * 10, "y" * 10)])

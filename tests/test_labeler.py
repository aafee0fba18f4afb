"""llmlab.labeler: the scripted rubric, its ranking and the win rate lesson 07 judges by."""

from __future__ import annotations

import pytest

from llmlab import labeler

PROMPT = (("user", "To HAMLET: My lord, how fares your grace this morning?"),)
GOOD = "My grace is well, and I thank thee for the morning.\nCome, let us walk along the shore."
RUDE = "Away, thou knave and villain!"


def test_the_rubric_terms_on_hand_made_replies():
    terms = labeler.score_terms(PROMPT, GOOD, True)
    verse = ((1 - 3 / 6) + (1 - 1 / 6)) / 2  # lines of 11 and 7 words
    assert terms == pytest.approx(
        {"courteous": 0.0, "verse": verse, "on_topic": 1.0, "ended": 1.0, "no_loop": 0.0}
    )
    assert labeler.score(PROMPT, GOOD, True) == pytest.approx(2 + verse)
    assert (
        labeler.score_terms(PROMPT, "One two three four five six seven eight.", True)["verse"]
        == 1.0
    )
    rude = labeler.score_terms(PROMPT, RUDE + "\nFools!", False)
    assert rude["courteous"] == -3.0 and rude["ended"] == 0.0
    assert rude["verse"] == pytest.approx((1 - 3 / 6 + 0) / 2)  # lines of 5 words and 1
    assert labeler.score_terms(PROMPT, "Hamlet, I come.", True)["on_topic"] == 1.0  # named
    assert labeler.score_terms(PROMPT, "Nay, I come.", True)["on_topic"] == 0.0
    looped = "I will go to the sea, I will go to the sea and more."
    assert labeler.score_terms(PROMPT, looped, True)["no_loop"] == -1.0
    assert labeler.score_terms(PROMPT, "O sea!\nO sea!", True)["no_loop"] == -1.0


def test_rank_breaks_ties_by_index_and_win_rate_is_symmetric():
    assert labeler.rank(PROMPT, ["Nay.", RUDE, GOOD, "Nay!"]) == [2, 0, 3, 1]
    assert labeler.rank(PROMPT, [(GOOD, False), (GOOD + " ", True)]) == [1, 0]
    prompts = [PROMPT] * 3
    a, b = [GOOD, RUDE, "Nay."], [RUDE, GOOD, "Nay!"]
    assert labeler.win_rate(labeler.score, prompts, a, b) == 0.5
    assert labeler.wins(labeler, prompts, a, b) == [1.0, 0.0, 0.5]  # "Nay." and "Nay!" tie
    assert labeler.wins(labeler, prompts, b, a) == [0.0, 1.0, 0.5]
    assert labeler.win_rate(labeler, prompts, [GOOD] * 3, [RUDE] * 3) == 1.0
    with pytest.raises(ValueError, match="one length"):
        labeler.win_rate(labeler.score, prompts, a, b[:2])


def test_distinct_n():
    assert labeler.distinct_n(["a b c", "a b d"], 1) == 4 / 6
    assert labeler.distinct_n(["a b c", "a b d"], 2) == 3 / 4
    assert labeler.distinct_n(["a"], 2) == 0.0
    with pytest.raises(ValueError, match="n must be"):
        labeler.distinct_n(["a"], 0)

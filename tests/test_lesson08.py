"""Lesson 08's new pieces: the ranking widget (driven as clicks drive it), its file, batched
sampling of replies, the KL of a policy's replies and the report the lesson prints."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_gpt import tiny

from llmlab import labeler, pretrained, stats
from llmlab import policy as P
from llmlab import rankings as R
from llmlab import reward_model as RM
from llmlab.train import evaluate
from llmlab.widgets import RankingBox, ranking_html

PROMPTS = [
    (("user", "To HAMLET: How fares your grace?"),),
    (("user", "To OPHELIA: What news, fair lady?"),),
]
SAMPLES = [
    [
        ("I am well, my lord.", True),
        ("Away, thou knave!", True),
        ("I am well, my lord.", True),
        ("The king is gone to bed", False),
    ],
    [("No news, my lord.", True), ("The ship is come.", True)],
]


@pytest.fixture(scope="module")
def tok():
    return pretrained.load("sft", train=False, progress=False)[1]


def test_clicking_ranks_saves_and_loads_like_the_labeler(tmp_path):
    path = tmp_path / "mine.json"
    box = RankingBox(PROMPTS, SAMPLES, path)
    assert len(box.replies[0]) == 3  # the repeated reply is shown once
    assert len(box.buttons) == 3
    box.buttons[2].click()  # "pick reply 3": best
    assert "#1" in box.cards.value and box.buttons[2].disabled and not path.exists()
    box.buttons[0].click()  # second; the last one left takes third place by itself
    assert box.picked[0] == [2, 0, 1] and "this prompt: ranked" in box.status.value
    saved = R.load_rankings(path)
    assert [r.ranking for r in saved] == [(2, 0, 1)] and saved[0].source == "human"
    assert saved[0].ended == (True, True, False)
    box.next.click()
    box.rank_rest(labeler.rank)  # the first prompt's ranking is kept, the second one is filled
    saved = R.load_rankings(path)
    assert [r.ranking for r in saved][0] == (2, 0, 1) and len(saved) == 2
    by_labeler = R.label(PROMPTS, SAMPLES)
    assert saved[1] == R.Ranking(
        *[getattr(by_labeler[1], f) for f in ("prompt", "responses", "ranking")],
        "labeler",  # labelled by who made it: the script, not you
        by_labeler[1].ended,
        "prompt-1",
    )
    assert all(type(r) is type(by_labeler[0]) for r in saved)
    box.show(0)
    box.restart.click()  # start over: the ranking leaves the file
    assert [r.prompt_id for r in R.load_rankings(path)] == ["prompt-1"]
    assert json.loads(path.read_text())["format"] == "llmlab-rankings"


def test_a_new_kernel_never_overwrites_your_rankings(tmp_path):
    """Run All again (a new box on the same file): your hand rankings come back as they were,
    the labeler fills only the rest, and one of yours the box cannot show stays in the file."""
    path = tmp_path / "mine.json"
    first = RankingBox(PROMPTS, SAMPLES, path)
    first.pick(1)
    first.pick(0)  # prompt 0 ranked by hand: (1, 0, 2)
    first.rank_rest(labeler.rank)
    assert [r.source for r in R.load_rankings(path)] == ["human", "labeler"]
    assert "1 by you" in first.status.value

    other = [(("user", "To ROMEO: Speak."),)], [[("Aye.", True), ("No.", True)]]
    elsewhere = RankingBox(*other, path, prompt_ids=["elsewhere"])
    elsewhere.rank_rest(labeler.rank)  # another set of prompts on the same file
    again = RankingBox(PROMPTS, SAMPLES, path)  # a new kernel
    assert again.picked[0] == [1, 0, 2] and again.picked[1] == [] and again.by_you == 1
    again.rank_rest(labeler.rank)
    saved = R.load_rankings(path)
    assert [(r.prompt_id, r.source) for r in saved] == [
        ("prompt-0", "human"),
        ("prompt-1", "labeler"),
    ]  # the other box's labeler ranking is not kept; a hand ranking would be:
    elsewhere.picked[0] = []
    elsewhere.pick(1)
    RankingBox(PROMPTS, SAMPLES, path).save()
    assert ("elsewhere", "human") in [(r.prompt_id, r.source) for r in R.load_rankings(path)]
    assert saved[0].ranking == (1, 0, 2)
    shown = again.show(1) or again.status.value
    assert "ranked by the scripted labeler, not by you" in shown
    with pytest.raises(ValueError, match="source must be one of"):
        again.rank_rest(labeler.rank, source="robot")


def test_a_picked_reply_cannot_be_picked_twice_and_the_ends_are_clamped(tmp_path):
    box = RankingBox(PROMPTS, SAMPLES, tmp_path / "r.json")
    box.pick(1)
    box.pick(1)
    assert box.picked[0] == [1]
    box.show(-5)
    assert box.current == 0
    box.show(99)
    assert box.current == 1 and "prompt 2 of 2" in box.header.value
    assert box.buttons[2].layout.display == "none"  # the second prompt has two replies
    with pytest.raises(ValueError, match=r"i must be an int in 0..1 \(a reply index\)"):
        box.pick(2)


@pytest.mark.parametrize(
    "prompts, samples, match",
    [
        ([], [], "non-empty and of one length"),
        (PROMPTS, SAMPLES[:1], "non-empty and of one length"),
        (PROMPTS[:1], [[("same", True), ("same", True)]], "fewer than 2 distinct replies"),
        ([(("assistant", "hi"),)], SAMPLES[:1], "user"),
    ],
)
def test_bad_widget_input_is_refused(tmp_path, prompts, samples, match):
    with pytest.raises(ValueError, match=match):
        RankingBox(prompts, samples, tmp_path / "r.json")


def test_ranking_html_escapes_and_marks_cut_replies():
    shown = ranking_html(PROMPTS[0], [("<b>bold</b>", True), ("cut", False)], [1])
    assert "&lt;b&gt;" in shown and "cut off" in shown and "#1" in shown and "not ranked" in shown


def test_dialogue_prompts_spread_and_bad_n():
    found = R.dialogue_prompts("validation", 5)
    assert len(found) == len(set(found)) == 5
    assert all(len(p) == 1 and p[0][0] == "user" and p[0][1].startswith("To ") for p in found)
    for bad in (0, -1, 2.0, True, 10**9):
        with pytest.raises(ValueError, match="n must be"):
            R.dialogue_prompts("train", bad)


def test_sample_rows_batches_prompts_of_any_length_within_the_context():
    model = tiny(0, vocab_size=40, block_size=16)
    prompts = [[1, 2, 3], [4] * 14, [5, 6]]
    outs = R.sample_rows(
        model,
        prompts,
        8,
        stop_id=None,
        pad=0,
        rows_per_batch=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert [len(o) for o in outs] == [8, 2, 8]  # the long prompt leaves room for 2 tokens
    greedy = R.sample_rows(model, prompts, 5, stop_id=None, pad=0, temperature=0)
    one_by_one = [
        R.sample_rows(model, [p], 5, stop_id=None, pad=0, temperature=0)[0] for p in prompts
    ]
    assert greedy == one_by_one
    with pytest.raises(ValueError, match=r"prompts\[0\] has 16 tokens"):
        R.sample_rows(model, [[1] * 16], 4, stop_id=None, pad=0)


def test_reply_kl_is_zero_for_the_reference_and_k3_never_negative(tok):
    model = tiny(0, vocab_size=1027, block_size=64)
    reference = P.frozen(model)
    replies = [("I am well, my lord.", True), ("Away!", False)]
    same = P.reply_kl(model, reference, tok, PROMPTS, replies)
    assert same == {"k1": 0.0, "k2": 0.0, "k3": 0.0}
    other = tiny(1, vocab_size=1027, block_size=64)
    moved = P.reply_kl(other, reference, tok, PROMPTS, replies)
    assert moved["k3"] > 0 and moved["k2"] > 0
    with pytest.raises(ValueError, match="one length"):
        P.reply_kl(model, reference, tok, PROMPTS, replies[:1])
    with pytest.raises(ValueError, match="one vocabulary"):
        P.reply_kl(tiny(0, vocab_size=50, block_size=64), reference, tok, PROMPTS, replies)


def test_report_of_the_reference_against_itself(tok):
    model = tiny(0, vocab_size=1027, block_size=64)
    reward = RM.reward_model(model)
    baseline = [
        r[0]
        for r in R.sample_responses(
            model, tok, PROMPTS, 1, max_new_tokens=8, generator=torch.Generator().manual_seed(1)
        )
    ]
    plain = torch.arange(200) % 1000  # any token ids longer than the context
    found = P.report(
        model,
        P.frozen(model),
        reward,
        tok,
        PROMPTS,
        baseline,
        plain,
        max_new_tokens=8,
        generator=torch.Generator().manual_seed(1),
    )
    assert found["replies"] == baseline  # the same draws: every prompt a tie
    assert found["wins"] == [0.5, 0.5] and found["win_rate"] == stats.Estimate(0.5, 0.0, 2)
    assert found["scores"] == [labeler.score(p, *r) for p, r in zip(PROMPTS, baseline, strict=True)]
    assert found["score"].value == pytest.approx(sum(found["scores"]) / 2)
    assert found["reward"].value == pytest.approx(sum(found["rewards"]) / 2)
    assert found["rewards"] == pytest.approx(RM.reward_of(reward, tok, PROMPTS, baseline).tolist())
    assert found["kl"] == 0.0 and found["kl_k3"] == 0.0
    assert found["plain_loss"] == evaluate(model, plain, windows=64)
    assert set(found) == {
        "win_rate",
        "score",
        "reward",
        "wins",
        "scores",
        "rewards",
        "kl",
        "kl_k3",
        "distinct_2",
        "plain_loss",
        "replies",
    }
    for bad in (torch.arange(64), torch.arange(400).view(2, 200), [1, 2, 3]):
        with pytest.raises(ValueError, match="plain must be a 1-D tensor of more than block_size"):
            P.report(
                model,
                P.frozen(model),
                reward,
                tok,
                PROMPTS,
                baseline,
                bad,
                generator=torch.Generator().manual_seed(1),
            )

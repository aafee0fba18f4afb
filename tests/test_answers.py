"""llmlab.answers: closed answer sets for the question kinds, and batched option scores checked
against scoring each reply alone, token by token."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_gpt import tiny

from llmlab import answers, chat, corpus, pretrained
from llmlab import instructions as ins


@pytest.fixture(scope="module")
def tok():
    return chat.chat_tokenizer(pretrained.load("bpe", train=False, progress=False)[1])


@pytest.fixture(scope="module")
def questions() -> list[ins.Example]:
    return [e for s in ("train", "validation") for e in ins.plays_examples(s, kinds=answers.KINDS)]


def test_every_right_answer_is_among_its_options(questions):
    assert {e.kind for e in questions} == set(answers.KINDS)
    for e in questions:
        choices = answers.options(e)
        assert e.turns[1][1] in choices and len(set(choices)) == len(choices)
    sizes = {e.kind: len(answers.options(e)) for e in questions if e.kind != "main_character"}
    assert sizes["character_play"] == len(corpus.plays()) == 38
    assert sizes["character_act"] == 5
    three_way = next(e for e in questions if "a comedy, a history or a tragedy" in e.turns[0][1])
    assert answers.chance(three_way) == pytest.approx(1 / 3)


def test_stock_answers_are_the_commonest():
    made = [ins.Example("character_act", (("user", "q"), ("assistant", a)), "x") for a in "abab"]
    made.append(ins.Example("character_act", (("user", "q"), ("assistant", "b")), "x"))
    assert answers.stock_answers(made) == {"character_act": "b"}
    with pytest.raises(ValueError, match="examples is empty"):
        answers.stock_answers([])


def _alone(model, tok, turns, reply) -> float:
    """The reply's log-probability from its own forward pass, token by token."""
    ids, mask = chat.render_chat([*turns, ("assistant", reply)], tok)
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0][0].double().log_softmax(-1)
    return sum(logits[t - 1, ids[t]].item() for t in range(1, len(ids)) if mask[t])


def test_batched_option_scores_match_each_reply_scored_alone(tok, questions):
    model = tiny(0, vocab_size=tok.vocab_size, block_size=64).eval()
    e = next(q for q in questions if q.kind == "character_act")
    batched = answers.option_log_probs(model, tok, e.turns[:1], answers.options(e))
    for score, reply in zip(batched, answers.options(e), strict=True):
        assert score.item() == pytest.approx(_alone(model, tok, e.turns[:1], reply), abs=1e-4)
    p, label = answers.option_probabilities(model, tok, e)
    assert math.isclose(p.sum().item(), 1.0) and answers.options(e)[label] == e.turns[1][1]


def test_bad_input_is_named(tok, questions):
    model = tiny(0, vocab_size=tok.vocab_size, block_size=8)
    e = next(q for q in questions if q.kind == "character_act")
    with pytest.raises(ValueError, match="more than the model's context of 8"):
        answers.option_log_probs(model, tok, e.turns[:1], ["Act I."])
    with pytest.raises(ValueError, match="replies is empty"):
        answers.option_log_probs(model, tok, e.turns[:1], [])
    with pytest.raises(ValueError, match="example.kind must be one of"):
        answers.options(ins.Example("dialogue", e.turns, e.play))

"""llmlab.report: the card's rows and columns, its arithmetic by hand, and ``llmlab report``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmlab import pretrained, report, stats
from llmlab.cli import main


def shipped(*names: str) -> None:
    """Skip unless every model in ``names`` is served without training (an installed wheel)."""
    for name in names:
        try:
            pretrained.checkpoint(name, train=False)
        except FileNotFoundError:
            pytest.skip(f"{name} is neither shipped nor cached")


@pytest.fixture(scope="module")
def base_rows() -> list[report.Row]:
    shipped("char", "bpe")
    return report.card(["char", "bpe"], passages=16)


def test_ratio_is_the_total_over_the_total_with_a_delta_method_se():
    y, x = [3.0, 5.0, 4.0, 9.0], [2.0, 3.0, 2.0, 5.0]
    found = report.ratio(y, x)
    r = sum(y) / sum(x)
    residuals = np.array(y) - r * np.array(x)
    by_hand = residuals.std(ddof=1) / math.sqrt(len(y)) / np.mean(x)
    assert found.value == pytest.approx(r) and found.se == pytest.approx(by_hand) and found.n == 4
    assert report.ratio([2.0, 4.0], [1.0, 2.0]).se == 0  # every item at the same rate
    with pytest.raises(ValueError, match="denominators"):
        report.ratio([1.0, 2.0], [1.0, 0.0])


def made_up(name: str, nats, tokens, sizes, right=None) -> report.Row:
    """A row from given per-item values, its summaries computed as the card computes them."""
    nats, tokens, sizes = (np.asarray(v, dtype=float) for v in (nats, tokens, sizes))
    chat = {} if right is None else {"accuracy": stats.mean(right), "right": np.asarray(right)}
    return report.row(name, nats, tokens, sizes, **chat)


def test_a_ratio_difference_has_the_se_of_a_paired_bootstrap():
    # two models on the same 400 passages: each passage's difficulty is shared by both
    rng = np.random.default_rng(1)
    sizes = rng.integers(60, 200, 400).astype(float)
    hard = rng.gamma(4.0, 0.25, 400)  # the passage's difficulty, per byte
    a_nats = sizes * hard * (1.0 + rng.normal(0, 0.05, 400))
    b_nats = sizes * hard * (1.1 + rng.normal(0, 0.05, 400))
    a, b = made_up("a", a_nats, sizes / 2, sizes), made_up("b", b_nats, sizes / 3, sizes)
    found = report.difference(a, b, "bits_per_byte")
    assert found.value == pytest.approx(a.bits_per_byte.value - b.bits_per_byte.value)
    assert found.n == 400

    def bits_per_byte(nats, size):
        return nats.sum() / (size.sum() * math.log(2))

    picks = rng.integers(0, 400, (4000, 400))  # the same passages for both: paired
    resampled = [
        bits_per_byte(a_nats[p], sizes[p]) - bits_per_byte(b_nats[p], sizes[p]) for p in picks
    ]
    assert found.se == pytest.approx(np.std(resampled), rel=0.1)
    # unpaired, the shared difficulty would count twice: many times the paired SE
    assert math.hypot(a.bits_per_byte.se, b.bits_per_byte.se) > 5 * found.se
    loss = report.difference(a, b, "loss")
    assert loss.value == pytest.approx(a.loss.value - b.loss.value) and loss.se > 0


def test_a_mean_difference_is_the_mean_of_the_per_item_differences():
    ones = np.ones(4)
    a = made_up("a", ones, ones, ones, right=[1.0, 1.0, 0.0, 1.0])
    b = made_up("b", ones, ones, ones, right=[1.0, 0.0, 0.0, 0.0])
    found = report.difference(a, b, "accuracy")
    # per question: 0, 1, 0, 1; mean 0.5, SE sqrt(1/3) / 2 by hand
    assert found.value == pytest.approx(0.5) and found.se == pytest.approx(math.sqrt(1 / 3) / 2)
    with pytest.raises(ValueError, match="measure"):
        report.difference(a, b, "perplexity")
    with pytest.raises(ValueError, match="chat models"):
        report.difference(a, made_up("c", ones, ones, ones), "accuracy")
    with pytest.raises(ValueError, match="same passages"):
        report.difference(a, made_up("c", ones[:2], ones[:2], ones[:2]), "loss")


def test_passages_are_the_same_held_out_text_for_every_model():
    passages = report.held_out_passages(8)
    assert passages == report.held_out_passages(8) and len(set(passages)) == 8
    assert all(len(p) == 129 for p in passages)
    from llmlab import corpus

    assert all(p in corpus.text("validation") and p not in corpus.text("train") for p in passages)
    with pytest.raises(ValueError, match="chars"):
        report.held_out_passages(8, chars=500)


def test_bits_per_byte_is_loss_times_tokens_over_bytes_ln2(base_rows):
    for row in base_rows:
        by_hand = row.loss.value * row.tokens / (row.bytes * math.log(2))
        assert row.bits_per_byte.value == pytest.approx(by_hand, rel=1e-12)
        assert row.nats / row.tokens == pytest.approx(row.loss.value, rel=1e-12)
        assert row.loss.se > 0 and row.bits_per_byte.se > 0 and row.loss.n == 16
    char, bpe = base_rows
    assert char.tokens == char.bytes  # one ASCII byte a token
    assert bpe.bytes / bpe.tokens > 2  # a BPE token spells a few bytes
    # golden, loosely: both models compress the plays to between 1 and 3 bits a byte
    assert all(1.0 < r.bits_per_byte.value < 3.0 for r in base_rows)
    gap = report.difference(char, bpe, "bits_per_byte")
    assert gap.value == pytest.approx(char.bits_per_byte.value - bpe.bits_per_byte.value)
    assert gap.se < math.hypot(char.bits_per_byte.se, bpe.bits_per_byte.se)  # passages shared


def test_a_passage_score_is_the_summed_cross_entropy_after_the_first_token(base_rows):
    model, tokenizer = pretrained.load("bpe")
    passage = report.held_out_passages(2)[1]
    nats, tokens, sizes = report.passage_scores(model, tokenizer, [passage])
    ids = torch.tensor(tokenizer.encode(passage))
    with torch.no_grad():
        logits = model(ids[None, :-1])[0][0]
    by_hand = torch.nn.functional.cross_entropy(logits, ids[1:]).item() * (len(ids) - 1)
    assert nats[0] == pytest.approx(by_hand, rel=1e-4) and tokens[0] == len(ids) - 1
    assert sizes[0] == len(passage[len(tokenizer.decode(ids[:1].tolist())) :].encode())
    with pytest.raises(ValueError, match=r"passages\[0\]"):
        report.passage_scores(model, tokenizer, ["x"])


def test_base_models_get_no_chat_columns(base_rows):
    assert [r.name for r in base_rows] == ["char", "bpe"]
    assert all(r.accuracy is r.win_rate is r.brier is r.chance is None for r in base_rows)
    table = report.format_card(base_rows)
    lines = table.splitlines()
    assert len(lines) == 3 and lines[1].startswith("char") and lines[1].count("–") == 3
    for column in ("loss (nats/token)", "bits/byte", "Q&A right (chance)", "win vs sft", "Brier"):
        assert column in lines[0]


def test_chat_models_are_scored_on_questions_and_replies():
    shipped("sft")
    (row,) = report.card(["sft"], passages=4, questions=40, prompts=24)
    assert isinstance(row.accuracy, stats.Estimate) and row.accuracy.n == 40
    assert 0 < row.chance < 0.5 and row.accuracy.se > 0
    assert isinstance(row.brier, stats.Estimate) and 0 < row.brier.value < 2 and row.brier.se > 0
    assert row.right.shape == row.stock_right.shape == row.brier_items.shape == (40,)
    assert row.brier.value == pytest.approx(row.brier_items.mean())
    assert set(row.terms) == {"courteous", "verse", "on_topic", "ended", "no_loop"}
    assert all(v.shape == (24,) for v in row.terms.values())
    # the stock answers are the commonest training answers: right on a share of the questions
    assert 0 < row.stock_right.mean() < 1 and "stock answer" in report.format_card([row])
    # sft against a second sample of its own replies: even, up to noise
    assert row.win_rate.n == 24 and abs(row.win_rate.value - 0.5) < 3 * row.win_rate.se + 0.05
    assert report.is_chat(pretrained.load("sft")[1])
    assert not report.is_chat(pretrained.load("bpe")[1])


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="names"):
        report.card(["gpt4"])
    with pytest.raises(ValueError, match="names"):
        report.card("char")
    with pytest.raises(ValueError, match="questions"):
        report.card(["char"], questions=500)
    with pytest.raises(ValueError, match="rows"):
        report.format_card([])


def test_the_command_line_prints_the_card(capsys):
    shipped("char")
    assert main(["report", "char"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "bits/byte" in out[0] and out[1].startswith("char") and len(out) == 2
    with pytest.raises(SystemExit) as stopped:
        main(["report", "gpt4"])
    assert stopped.value.code == 2
    assert "names" in capsys.readouterr().err

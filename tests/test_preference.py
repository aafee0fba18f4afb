"""llmlab.preference and llmlab.labeler: rankings and their JSON, the scripted labeler, the reward
model, best-of-n, DPO, KL estimators and the PPO-style loop (tiny models: seconds in all)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_gpt import tiny

from llmlab import labeler, pretrained
from llmlab import policy as P
from llmlab import preference as pref
from llmlab.model import SequenceHead
from llmlab.train import fit
from llmlab.train_config import TrainConfig

PROMPT = (("user", "To HAMLET: My lord, how fares your grace this morning?"),)
GOOD = "My grace is well, and I thank thee for the morning.\nCome, let us walk along the shore."
RUDE = "Away, thou knave and villain!"
VOCAB = 1027  # the sft tokenizer's


@pytest.fixture(scope="module")
def tok():
    return pretrained.load("sft", train=False, progress=False)[1]


def small(seed: int = 0):
    return tiny(seed, vocab_size=VOCAB, block_size=64)


def pairs_for(n: int = 6) -> list[pref.Pair]:
    """Pairs where the chosen reply is courteous verse and the rejected one an insult."""
    prompts = [(("user", f"To HAMLET: Speak of the {w}."),) for w in ("sea", "king", "ghost")]
    good = [f"The {w} is fair and gentle as the morning sun." for w in ("sea", "king", "ghost")]
    bad = ["Thou knave!", "Villain, rogue!", "Out, slave!"]
    return [pref.Pair(prompts[i % 3], good[i % 3], bad[i % 3]) for i in range(n)]


# ----------------------------------------------------------------------------- preference data


def test_ranking_to_pairs_gives_every_ordered_pair():
    r = pref.Ranking(PROMPT, ("a", "b", "c", "d"), (2, 0, 3, 1), "human")
    pairs = pref.ranking_to_pairs(r)
    assert len(pairs) == 4 * 3 // 2
    order = ["c", "a", "d", "b"]
    assert all(order.index(c) < order.index(j) for c, j in pairs)
    assert set(pairs) == {(order[i], order[j]) for i in range(4) for j in range(i + 1, 4)}
    full = pref.to_pairs([r])
    assert [(p.chosen, p.rejected) for p in full] == pairs and full[0].prompt == PROMPT


@pytest.mark.parametrize(
    "responses, ranking, source, match",
    [
        (("a", "b", "c"), (0, 0, 1), "human", "names a reply twice"),
        (("a", "b", "c"), (0, 1), "human", r"missing \[2\]"),
        (("a", "b", "c"), (0, 1, 5), "human", r"unknown \[5\]"),
        (("a", "a", "c"), (0, 1, 2), "human", "holds 'a' twice"),
        (("a",), (0,), "human", "at least 2"),
        (("a", "b"), (0, 1), "robot", "Ranking.source"),
    ],
)
def test_bad_rankings_are_refused_naming_the_field(responses, ranking, source, match):
    with pytest.raises(ValueError, match=match):
        pref.Ranking(PROMPT, responses, ranking, source)


def test_a_ranking_needs_a_prompt_ending_with_a_user_turn():
    with pytest.raises(ValueError, match="Ranking.prompt: turns must end with a 'user' turn"):
        pref.Ranking((*PROMPT, ("assistant", "Nay.")), ("a", "b"), (0, 1))
    with pytest.raises(ValueError, match="Ranking.prompt"):
        pref.Ranking("To HAMLET: hi", ("a", "b"), (0, 1))


def test_rankings_round_trip_through_json_whatever_the_source(tmp_path):
    rankings = [
        pref.Ranking(PROMPT, ("x", "y"), (1, 0), "human", (True, False), "p0"),
        pref.Ranking(PROMPT, (GOOD, RUDE, "z"), (0, 2, 1), "labeler"),
    ]
    path = tmp_path / "r.json"
    pref.save_rankings(path, rankings)
    assert pref.load_rankings(path) == rankings
    # A widget may save prompt ids only: the prompts come from the set it showed.
    record = {"prompt_id": "p0", "responses": ["x", "y"], "ranking": [0, 1], "source": "human"}
    path.write_text(json.dumps([record]))
    loaded = pref.load_rankings(path, {"p0": PROMPT})
    assert loaded == [pref.Ranking(PROMPT, ("x", "y"), (0, 1), "human", None, "p0")]
    with pytest.raises(ValueError, match="unknown prompt_id 'p0'"):
        pref.load_rankings(path, {"p1": PROMPT})
    for field in ("responses", "ranking", "source"):
        path.write_text(json.dumps([{k: v for k, v in record.items() if k != field}]))
        with pytest.raises(ValueError, match=f"lacks the field '{field}'"):
            pref.load_rankings(path, {"p0": PROMPT})
    path.write_text(json.dumps([{**record, "ranking": [1, 1]}]))
    with pytest.raises(ValueError, match=r"rankings\[0\].*names a reply twice"):
        pref.load_rankings(path, {"p0": PROMPT})


def test_sample_responses_and_label(tok):
    model = small()
    g = torch.Generator().manual_seed(0)
    prompts = [PROMPT, (("user", "To OPHELIA: Good morrow."),)]
    samples = pref.sample_responses(model, tok, prompts, 3, max_new_tokens=5, generator=g)
    assert [len(s) for s in samples] == [3, 3]
    assert all(isinstance(t, str) and isinstance(e, bool) for s in samples for t, e in s)
    ranked = pref.label(prompts, [[(GOOD, True), (RUDE, True), (GOOD, True)], samples[1]])
    assert ranked[0].responses == (GOOD, RUDE) and ranked[0].ranking == (0, 1)  # duplicate dropped
    assert all(r.source == "labeler" for r in ranked)
    assert pref.label([PROMPT], [[(GOOD, True), (GOOD, True)]]) == []  # nothing left to rank


def test_label_pairs_keep_only_real_preferences():
    replies = [(GOOD, True), ("Nay.", True), ("Nay!", True), (RUDE, True)]
    pairs = pref.label_pairs([PROMPT], [replies])
    assert (GOOD, "Nay.") in [(p.chosen, p.rejected) for p in pairs]
    assert not {("Nay.", "Nay!"), ("Nay!", "Nay.")} & {(p.chosen, p.rejected) for p in pairs}
    assert all(
        labeler.score(PROMPT, p.chosen) - labeler.score(PROMPT, p.rejected) >= 0.25 for p in pairs
    )
    assert len(pairs) == 3 + 2  # GOOD beats the other three; both Nays beat RUDE


# ----------------------------------------------------------------------------- the labeler


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
    assert labeler.win_rate(labeler, prompts, [GOOD] * 3, [RUDE] * 3) == 1.0
    with pytest.raises(ValueError, match="one length"):
        labeler.win_rate(labeler.score, prompts, a, b[:2])


def test_distinct_n():
    assert labeler.distinct_n(["a b c", "a b d"], 1) == 4 / 6
    assert labeler.distinct_n(["a b c", "a b d"], 2) == 3 / 4
    assert labeler.distinct_n(["a"], 2) == 0.0
    with pytest.raises(ValueError, match="n must be"):
        labeler.distinct_n(["a"], 0)


# ----------------------------------------------------------------------------- reward model


def test_bradley_terry_loss_by_hand_and_stable():
    c, r = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.5])
    by_hand = -(math.log(1 / (1 + math.exp(-1))) + math.log(1 / (1 + math.exp(0.5)))) / 2
    assert pref.bradley_terry_loss(c, r).item() == pytest.approx(by_hand)
    assert pref.bradley_terry_loss(torch.tensor([-200.0]), torch.tensor([0.0])).item() == 200.0
    with pytest.raises(ValueError, match="one shape"):
        pref.bradley_terry_loss(c, r[:1])


def test_pair_batches_pad_right_and_mark_replies(tok):
    pairs = pairs_for(3)
    batch = pref.pair_batches(pairs, tok, 64)(torch.Generator().manual_seed(0), 4)
    for side in ("chosen", "rejected"):
        ids, real, reply = (
            batch[f"{side}_{k}"] for k in ("input_ids", "attention_mask", "loss_mask")
        )
        assert ids.shape == real.shape == reply.shape
        assert bool((reply <= real).all()) and bool((real[:, 0] == 1).all())
        assert bool((real.diff(dim=1) <= 0).all())  # right padding: ones, then zeros
    assert batch.tokens == int(
        batch["chosen_attention_mask"].sum() + batch["rejected_attention_mask"].sum()
    )
    ids, n_prompt = pref.render_reply(PROMPT, "Nay.", True, tok)
    assert (
        ids[-1] == tok.special_tokens["<|end|>"]
        and ids[n_prompt - 1] == tok.special_tokens["<|assistant|>"]
    )
    assert pref.render_reply(PROMPT, "Nay.", False, tok)[0] == ids[:-1]
    with pytest.raises(ValueError, match=r"pairs\[0\] has the same response"):
        pref.pair_batches([pref.Pair(PROMPT, "Nay.", "Nay.")], tok, 64)
    with pytest.raises(ValueError, match="over block_size"):
        pref.pair_batches(pairs, tok, 8)


def test_a_reward_model_learns_the_pairs_and_reports_calibration(tok):
    sft = small()
    rm = pref.reward_model(sft)
    assert isinstance(rm, SequenceHead) and rm.gpt is not sft
    pairs = pairs_for(6)
    before = pref.pair_accuracy(rm, pairs, tok)
    config = TrainConfig(
        batch_size=8, max_steps=30, learning_rate=3e-3, warmup_steps=0, eval_interval=0
    )
    fit(rm, pref.pair_batches(pairs, tok, 64), pref.reward_loss, config, progress=False)
    assert pref.pair_accuracy(rm, pairs, tok) == 1.0 >= before
    bins = pref.calibration(rm, pairs, tok, bins=5)
    assert all(0 <= p <= 1 and 0 <= o <= 1 for p, o in bins)
    assert [round(p + q, 6) for (p, _), (q, _) in zip(bins, bins[::-1], strict=True)] == [
        1.0
    ] * len(bins)
    assert bins[-1][1] == 1.0 and bins[-1][0] > 0.5  # confident and right
    with pytest.raises(ValueError, match="bins must be"):
        pref.calibration(rm, pairs, tok, bins=0)
    result = pref.best_of_n(
        sft, rm, tok, PROMPT, 4, max_new_tokens=6, generator=torch.Generator().manual_seed(1)
    )
    assert len(result.candidates) == 4 and result.reward == max(result.rewards)


# ----------------------------------------------------------------------------- best-of-n


def _kl(q: torch.Tensor, p: torch.Tensor) -> float:
    keep = q > 0
    return float((q[keep] * (q[keep] / p[keep]).log()).sum())


@pytest.mark.parametrize("n", [1, 2, 4, 16])
def test_best_of_n_kl_formula_against_exact_and_monte_carlo(n):
    g = torch.Generator().manual_seed(n)
    for m in (5, 50):
        p = torch.rand(m, generator=g, dtype=torch.float64) + 0.1
        p /= p.sum()
        assert _kl(pref.best_of_n_probs(p, n), p) <= pref.best_of_n_kl(n) + 1e-12
    many = torch.full((20000,), 1 / 20000, dtype=torch.float64)  # near the continuous limit
    exact = _kl(pref.best_of_n_probs(many, n), many)
    assert exact == pytest.approx(pref.best_of_n_kl(n), abs=2e-3)
    # Monte Carlo: draw n outcomes from a small policy, keep the best, histogram the winners.
    p = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25], dtype=torch.float64)  # rewards rank 0 < ... < 4
    draws = torch.multinomial(p.expand(40000, -1), n, replacement=True, generator=g)
    q = torch.bincount(draws.max(dim=1).values, minlength=5).double() / 40000
    exact_q = pref.best_of_n_probs(p, n)
    assert torch.allclose(q, exact_q, atol=0.01)
    assert _kl(q, p) == pytest.approx(_kl(exact_q, p), abs=0.02)


def test_best_of_n_kl_values_and_bad_n():
    assert pref.best_of_n_kl(1) == 0.0
    assert pref.best_of_n_kl(64) == pytest.approx(math.log(64) - 63 / 64)
    for n in (0, 2.0, True):
        with pytest.raises(ValueError, match="n must be an int >= 1"):
            pref.best_of_n_kl(n)


# ----------------------------------------------------------------------------- DPO


def test_sequence_logps_sum_reply_tokens_only():
    model = tiny(0)
    ids = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0]])
    real = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    reply = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]])
    logp = model(ids, attention_mask=real)[0].log_softmax(-1)
    # Reply tokens at positions 2..4 (row 0) and 1..2 (row 1), each predicted one step earlier.
    by_hand = torch.stack(
        [logp[0, 1, 3] + logp[0, 2, 4] + logp[0, 3, 5], logp[1, 0, 7] + logp[1, 1, 8]]
    )
    torch.testing.assert_close(P.sequence_logps(model, ids, reply, real), by_hand)
    torch.testing.assert_close(
        P.mean_logps(model, ids, reply, real), by_hand / torch.tensor([3.0, 2.0])
    )


def test_dpo_loss_by_hand_log2_at_start_and_beta_checked():
    pc, pr, rc, rr = (torch.tensor([v]) for v in (-3.0, -5.0, -4.0, -4.5))
    loss, cr, rj = P.dpo_loss(pc, pr, rc, rr, beta=0.5)
    margin = (-3.0 + 4.0) - (-5.0 + 4.5)  # 1.5
    assert loss.item() == pytest.approx(math.log1p(math.exp(-0.5 * margin)))
    assert cr.item() == pytest.approx(0.5) and rj.item() == pytest.approx(-0.25)
    x = torch.randn(8, requires_grad=True)
    loss, cr, _ = P.dpo_loss(x, x * 2, x.detach(), (x * 2).detach(), 0.1)
    assert loss.item() == pytest.approx(math.log(2)) and not cr.requires_grad
    for beta in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="beta must be a number > 0"):
            P.dpo_loss(pc, pr, rc, rr, beta)


def test_dpo_trains_the_policy_only_and_checks_the_reference(tok):
    policy = small()
    reference = P.frozen(policy)
    loss_fn = P.dpo_loss_fn(reference, beta=0.1)
    batch = pref.dpo_batches(pairs_for(3), tok, 64)(torch.Generator().manual_seed(0), 4)
    loss = loss_fn(policy, batch)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)  # policy == reference
    loss.backward()
    assert all(p.grad is None for p in reference.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())
    config = TrainConfig(
        batch_size=6, max_steps=8, learning_rate=3e-3, warmup_steps=0, eval_interval=0
    )
    fit(policy, pref.dpo_batches(pairs_for(3), tok, 64), loss_fn, config, progress=False)
    assert loss_fn(policy, batch).item() < math.log(2)
    with pytest.raises(ValueError, match="reference must be frozen"):
        P.dpo_loss_fn(small(), beta=0.1)
    with pytest.raises(ValueError, match="policy has 37 tokens but the reference 1027"):
        P.dpo_loss_fn(reference, beta=0.1)(tiny(0), batch)
    with pytest.raises(ValueError, match="beta"):
        P.dpo_loss_fn(reference, beta=0.0)


# ----------------------------------------------------------------------------- KL estimators


def test_kl_estimates_match_their_definitions():
    logp, ref = torch.tensor([-1.0, -2.0, -0.5]), torch.tensor([-1.5, -1.0, -0.5])
    k = P.kl_estimates(logp, ref)
    r = torch.exp(ref - logp)
    torch.testing.assert_close(k["k1"], logp - ref)
    torch.testing.assert_close(k["k2"], torch.log(r) ** 2 / 2)
    torch.testing.assert_close(k["k3"], (r - 1) - torch.log(r))
    # k1 is unbiased but a few samples can average below zero; k3 never can.
    few = P.kl_estimates(torch.tensor([-2.0, -1.0]), torch.tensor([-1.0, -1.5]))
    assert few["k1"].mean() < 0 <= few["k3"].mean()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-30, 0), min_size=1, max_size=8),
    st.lists(st.floats(-30, 0), min_size=1, max_size=8),
)
def test_k3_is_never_negative(a, b):
    n = min(len(a), len(b))
    k = P.kl_estimates(
        torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    )
    assert bool((k["k3"] >= 0).all()) and bool((k["k2"] >= 0).all())


# ----------------------------------------------------------------------------- PPO-style loop


def test_ppo_loss_by_hand_and_clipping():
    old = torch.zeros(1, 3)
    new = torch.tensor([[0.0, math.log(1.5), math.log(0.5)]])
    adv, mask = torch.tensor([[1.0]]), torch.tensor([[1, 1, 1]])
    loss, clip_frac, ratio = P.ppo_loss(new, old, adv, mask, clip=0.2)
    # ratios 1, 1.5, 0.5 with A = 1: min(r, clip(r)) = 1, 1.2, 0.5
    assert loss.item() == pytest.approx(-(1 + 1.2 + 0.5) / 3)
    assert clip_frac == pytest.approx(1 / 3) and ratio == pytest.approx(1.0)
    neg, frac, _ = P.ppo_loss(new, old, -adv, mask, clip=0.2)  # A = -1: 1, 1.5, 0.8
    assert neg.item() == pytest.approx((1 + 1.5 + 0.8) / 3) and frac == pytest.approx(1 / 3)
    masked, _, _ = P.ppo_loss(new, old, adv, torch.tensor([[1, 0, 0]]), clip=0.2)
    assert masked.item() == pytest.approx(-1.0)


def test_shaped_rewards_put_the_score_on_the_last_reply_token():
    k1 = torch.tensor([[0.5, 0.2, -0.1, 9.0], [0.1, 0.3, 9.0, 9.0]])
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])
    shaped = P.shaped_rewards(torch.tensor([2.0, -1.0]), k1, mask, kl_coef=0.5)
    expected = torch.tensor([[0.0, -0.1, 0.05 + 2.0, 0.0], [-0.05, -0.15 - 1.0, 0.0, 0.0]])
    torch.testing.assert_close(shaped, expected)
    torch.testing.assert_close(
        shaped.sum(-1), torch.tensor([2.0, -1.0]) - 0.5 * (k1 * mask).sum(-1)
    )


def test_rloo_advantages_leave_one_out():
    adv = P.rloo_advantages(torch.tensor([[1.0, 2.0, 6.0]]))
    torch.testing.assert_close(adv, torch.tensor([[1 - 4.0, 2 - 3.5, 6 - 1.5]]))
    with pytest.raises(ValueError, match="samples>=2"):
        P.rloo_advantages(torch.tensor([[1.0]]))


def test_ppo_steps_raise_a_toy_reward():
    torch.manual_seed(0)
    policy = tiny(0)
    reference = P.frozen(policy)
    target = 5

    def fraction_of_target(prompt_ids, reply_ids):
        return sum(t == target for t in reply_ids) / max(1, len(reply_ids))

    optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(0)
    prompts = [[1, 2, 3], [4, 6]]
    history = [
        P.ppo_step(
            policy, reference, fraction_of_target, None, prompts, 8, kl_coef=0.01,
            optimizer=optimizer, generator=g, max_new_tokens=8,
        )
        for _ in range(8)
    ]  # fmt: skip
    assert history[0]["first_ratio"] == pytest.approx(1.0) and history[0]["kl"] == pytest.approx(
        0.0, abs=1e-6
    )
    assert history[-1]["reward"] > history[0]["reward"] + 0.2
    assert history[-1]["kl"] > 0 and 0 <= history[-1]["clip_fraction"] <= 1
    for bad, match in ((dict(kl_coef=-0.1), "kl_coef"), (dict(kl_coef=0.1, clip=0.0), "clip")):
        with pytest.raises(ValueError, match=match):
            P.ppo_step(
                policy, reference, fraction_of_target, None, prompts, 4, optimizer=optimizer, **bad
            )
    with pytest.raises(ValueError, match="reference must be frozen"):
        P.ppo_step(policy, policy, fraction_of_target, None, prompts, 4, 0.1, optimizer=optimizer)


def test_ppo_step_with_a_reward_model_on_chat_prompts(tok):
    policy = small()
    reference, rm = P.frozen(policy), pref.reward_model(policy)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    out = P.ppo_step(
        policy, reference, rm, tok, [PROMPT], 2, kl_coef=0.1, optimizer=optimizer,
        generator=torch.Generator().manual_seed(0), max_new_tokens=4,
    )  # fmt: skip
    assert set(out) >= {"reward", "kl", "kl_k3", "clip_fraction", "ratio", "first_ratio"}
    assert out["first_ratio"] == pytest.approx(1.0) and 1 <= out["length"] <= 4

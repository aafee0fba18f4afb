"""llmlab.rankings: rankings and their JSON, sampling and labelling replies, the pairs they imply
and the pair batches the reward model and DPO read (tiny models: seconds in all)."""

from __future__ import annotations

import json

import pytest
import torch
from preference_data import PROMPT, pairs_for, small

from llmlab import labeler
from llmlab import rankings as R

GOOD = "My grace is well, and I thank thee for the morning.\nCome, let us walk along the shore."
RUDE = "Away, thou knave and villain!"


# ----------------------------------------------------------------------------- rankings and pairs


def test_ranking_to_pairs_gives_every_ordered_pair():
    r = R.Ranking(PROMPT, ("a", "b", "c", "d"), (2, 0, 3, 1), "human")
    pairs = R.ranking_to_pairs(r)
    assert len(pairs) == 4 * 3 // 2
    order = ["c", "a", "d", "b"]
    assert all(order.index(c) < order.index(j) for c, j in pairs)
    assert set(pairs) == {(order[i], order[j]) for i in range(4) for j in range(i + 1, 4)}
    full = R.to_pairs([r])
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
        R.Ranking(PROMPT, responses, ranking, source)


def test_a_ranking_needs_a_prompt_ending_with_a_user_turn():
    with pytest.raises(ValueError, match="Ranking.prompt: turns must end with a 'user' turn"):
        R.Ranking((*PROMPT, ("assistant", "Nay.")), ("a", "b"), (0, 1))
    with pytest.raises(ValueError, match="Ranking.prompt"):
        R.Ranking("To HAMLET: hi", ("a", "b"), (0, 1))


def test_rankings_round_trip_through_json_whatever_the_source(tmp_path):
    rankings = [
        R.Ranking(PROMPT, ("x", "y"), (1, 0), "human", (True, False), "p0"),
        R.Ranking(PROMPT, (GOOD, RUDE, "z"), (0, 2, 1), "labeler"),
    ]
    path = tmp_path / "r.json"
    R.save_rankings(path, rankings)
    assert R.load_rankings(path) == rankings
    # A widget may save prompt ids only: the prompts come from the set it showed.
    record = {"prompt_id": "p0", "responses": ["x", "y"], "ranking": [0, 1], "source": "human"}
    path.write_text(json.dumps([record]))
    loaded = R.load_rankings(path, {"p0": PROMPT})
    assert loaded == [R.Ranking(PROMPT, ("x", "y"), (0, 1), "human", None, "p0")]
    with pytest.raises(ValueError, match="unknown prompt_id 'p0'"):
        R.load_rankings(path, {"p1": PROMPT})
    for field in ("responses", "ranking", "source"):
        path.write_text(json.dumps([{k: v for k, v in record.items() if k != field}]))
        with pytest.raises(ValueError, match=f"lacks the field '{field}'"):
            R.load_rankings(path, {"p0": PROMPT})
    path.write_text(json.dumps([{**record, "ranking": [1, 1]}]))
    with pytest.raises(ValueError, match=r"rankings\[0\].*names a reply twice"):
        R.load_rankings(path, {"p0": PROMPT})


def test_sample_responses_and_label(tok):
    model = small()
    g = torch.Generator().manual_seed(0)
    prompts = [PROMPT, (("user", "To OPHELIA: Good morrow."),)]
    samples = R.sample_responses(model, tok, prompts, 3, max_new_tokens=5, generator=g)
    assert [len(s) for s in samples] == [3, 3]
    assert all(isinstance(t, str) and isinstance(e, bool) for s in samples for t, e in s)
    ranked = R.label(prompts, [[(GOOD, True), (RUDE, True), (GOOD, True)], samples[1]])
    assert ranked[0].responses == (GOOD, RUDE) and ranked[0].ranking == (0, 1)  # duplicate dropped
    assert all(r.source == "labeler" for r in ranked)
    assert R.label([PROMPT], [[(GOOD, True), (GOOD, True)]]) == []  # nothing left to rank


def test_label_pairs_keep_only_real_preferences():
    replies = [(GOOD, True), ("Nay.", True), ("Nay!", True), (RUDE, True)]
    pairs = R.label_pairs([PROMPT], [replies])
    assert (GOOD, "Nay.") in [(p.chosen, p.rejected) for p in pairs]
    assert not {("Nay.", "Nay!"), ("Nay!", "Nay.")} & {(p.chosen, p.rejected) for p in pairs}
    assert all(
        labeler.score(PROMPT, p.chosen) - labeler.score(PROMPT, p.rejected) >= 0.25 for p in pairs
    )
    assert len(pairs) == 3 + 2  # GOOD beats the other three; both Nays beat RUDE


# ----------------------------------------------------------------------------- pair batches


def test_pair_batches_pad_right_and_mark_replies(tok):
    pairs = pairs_for(3)
    batch = R.pair_batches(pairs, tok, 64)(torch.Generator().manual_seed(0), 4)
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
    ids, n_prompt = R.render_reply(PROMPT, "Nay.", True, tok)
    assert (
        ids[-1] == tok.special_tokens["<|end|>"]
        and ids[n_prompt - 1] == tok.special_tokens["<|assistant|>"]
    )
    assert R.render_reply(PROMPT, "Nay.", False, tok)[0] == ids[:-1]
    with pytest.raises(ValueError, match=r"pairs\[0\] has the same response"):
        R.pair_batches([R.Pair(PROMPT, "Nay.", "Nay.")], tok, 64)
    with pytest.raises(ValueError, match="over block_size"):
        R.pair_batches(pairs, tok, 8)

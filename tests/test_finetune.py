"""llmlab.chat, llmlab.finetune and llmlab.instructions: the chat template, loss masks and
replies; vocabulary growth, instruction data from the plays, SFT and classification batches."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_gpt import tiny

from llmlab import chat, corpus, pretrained
from llmlab import finetune as ft
from llmlab import instructions as ins
from llmlab.model import IGNORE_INDEX, SequenceHead
from llmlab.tokenization import BPETokenizer
from llmlab.train import fit
from llmlab.train_config import TrainConfig

BLOCK = 128  # the standard model's context


@pytest.fixture(scope="module")
def base() -> BPETokenizer:
    return pretrained.load("bpe", train=False, progress=False)[1]


@pytest.fixture(scope="module")
def tok(base) -> BPETokenizer:
    return chat.chat_tokenizer(base)


CHAT = [
    ("user", "To HAMLET: My lord,\nhow fares your grace?"),
    ("assistant", "Excellent well."),
    ("user", "To HAMLET: Do you know me?"),
    ("assistant", "You are a fishmonger."),
]


def expected_marked(turns) -> str:
    """What show_mask must print: each reply and its <|end|> in brackets, nothing else."""
    out = ""
    for role, text in turns:
        if role == "user":
            out += f"<|user|>{text}<|end|>"
        else:
            out += f"<|assistant|>[{text}<|end|>]"
    return out


# ----------------------------------------------------------------------------- the template


def test_chat_tokenizer_appends_the_new_tokens_and_keeps_everything_else(base, tok):
    n = base.vocab_size
    assert [tok.special_id(t) for t in chat.CHAT_TOKENS] == [n, n + 1, n + 2]
    assert tok.vocab_size == n + 3
    assert all(tok.vocab[i] == base.vocab[i] for i in range(n))
    sample = corpus.text("validation")[:20_000]
    assert tok.encode(sample) == base.encode(sample)
    assert chat.chat_tokenizer(tok).special_tokens == tok.special_tokens  # idempotent
    assert BPETokenizer.from_dict(tok.to_dict()).encode("<|user|>Hi<|end|>") == tok.encode(
        "<|user|>Hi<|end|>"
    )
    with pytest.raises(TypeError, match="tokenizer must be a BPETokenizer"):
        chat.chat_tokenizer("gpt2")


def test_render_round_trips_and_masks_the_replies(tok):
    ids, mask = chat.render_chat(CHAT, tok)
    text = tok.decode(ids)
    assert text == "".join(
        f"<|{role}|>{said}<|end|>" for role, said in CHAT
    )  # no newlines added between turns
    positions = [text.index(said) for _, said in CHAT]
    assert positions == sorted(positions)
    assert tok.encode(text) == ids
    assert chat.show_mask(ids, mask, tok) == expected_marked(CHAT)
    end = tok.special_id(chat.END)
    assert [i for i, m in zip(ids, mask, strict=True) if m].count(end) == 2  # each reply's end


def test_render_prompt_ends_where_a_reply_begins(tok):
    prompt = chat.render_prompt(CHAT[:3], tok)
    full, _ = chat.render_chat(CHAT, tok)
    assert prompt == full[: len(prompt)]
    assert prompt[-1] == tok.special_id(chat.ASSISTANT)


BAD_TURNS = [
    ([("assistant", "Hi"), ("user", "Hello")], "turns\\[0\\] has role 'assistant'.*must be 'user'"),
    ([("user", "A"), ("user", "B")], "turns\\[1\\] has role 'user'"),
    ([("user", "Who is there?")], "must end with a .assistant. turn"),
    ([("user", "Who is there?"), ("assistant", "")], "turns\\[1\\] \\(assistant\\).*non-empty"),
    ([("user", "Hi"), ("assistant", "  \n")], "non-empty"),
    ([("system", "Be brief"), ("assistant", "Ay.")], "role 'system'; roles are"),
    ([("user", "Hi <|end|><|assistant|>Yes"), ("assistant", "No")], "template token"),
    ([], "non-empty list"),
    ("user: hi", "non-empty list"),
    ([("user",)], "turns\\[0\\] must be a \\(role, text\\) pair"),
]


@pytest.mark.parametrize(("turns", "message"), BAD_TURNS)
def test_bad_conversations_are_refused_clearly(tok, turns, message):
    with pytest.raises(ValueError, match=message):
        chat.render_chat(turns, tok)


def test_the_template_needs_its_tokens(base, tok):
    with pytest.raises(ValueError, match="tokenizer lacks the chat template's special tokens"):
        chat.render_chat(CHAT, base)
    with pytest.raises(ValueError, match="must end with a .user. turn"):
        chat.render_prompt(CHAT, tok)
    with pytest.raises(ValueError, match="tokenizer lacks"):
        ft.instruction_data("train", base)


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda t: t.strip() and not any(token in t for token in chat.CHAT_TOKENS)
)
conversations = st.lists(st.tuples(texts, texts), min_size=1, max_size=3).map(
    lambda pairs: [turn for u, a in pairs for turn in (("user", u), ("assistant", a))]
)


@settings(max_examples=60, deadline=None)
@given(chats=st.lists(conversations, min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_sft_targets_are_exactly_the_next_reply_and_end_tokens(tok, chats, seed):
    """The loss covers a position iff the token after it is a reply token or a reply's <|end|>."""
    rendered = [chat.render_chat(turns, tok) for turns in chats]
    for turns, (ids, mask) in zip(chats, rendered, strict=True):
        assert chat.show_mask(ids, mask, tok) == expected_marked(turns)
    batch = ft.sft_batches(chats, tok, block_size=10**6)(torch.Generator().manual_seed(seed), 5)
    real = batch["attention_mask"].sum(dim=1).tolist()
    assert batch.tokens == sum(real)
    for row, length in enumerate(real):
        x, y = batch["input_ids"][row].tolist(), batch["targets"][row].tolist()
        ids, mask = next(r for r in rendered if r[0] == x[:length])  # which chat this row is
        learned = {t for t in range(len(ids) - 1) if mask[t + 1]}
        assert {t for t, target in enumerate(y) if target != IGNORE_INDEX} == learned
        assert all(y[t] == ids[t + 1] for t in learned)
        assert batch["attention_mask"][row, length:].sum() == 0  # right padding


# ----------------------------------------------------------------------------- growing the table


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("pos_encoding", ["learned", "rope"])
def test_growing_the_vocabulary_keeps_every_old_logit(pos_encoding):
    """The old rows and the trunk are copied, so old logits are the same numbers (checked to
    1e-6: a BLAS may sum a wider matrix product in another order; on this machine they are
    bitwise equal)."""
    model = tiny(3, pos_encoding=pos_encoding).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    grown = ft.grow_vocabulary(model, 40)
    assert torch.equal(torch.get_rng_state(), state)  # fresh init does not disturb seeding
    assert grown.config.vocab_size == 40 and grown.lm_head.weight is grown.wte.weight
    table = grown.wte.weight.detach()
    assert torch.equal(table[:37], before["wte.weight"])
    assert torch.allclose(table[37:], before["wte.weight"].mean(0).expand(3, -1))
    for name, value in grown.state_dict().items():
        if name not in ("wte.weight", "lm_head.weight"):
            assert torch.equal(value, before[name]), name
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched
    ids = torch.randint(37, (3, 16), generator=torch.Generator().manual_seed(0))
    old, new = model(ids)[0], grown(ids)[0]
    assert new.shape == (3, 16, 40)
    torch.testing.assert_close(new[..., :37], old, rtol=0, atol=1e-6)
    # a new token's logit is the mean of the old ones (its row is their mean)
    torch.testing.assert_close(new[..., 37], old.mean(-1), rtol=1e-4, atol=1e-5)
    assert not grown.training and ft.grow_vocabulary(model.train(), 37).training


def test_growing_checks_its_arguments():
    with pytest.raises(ValueError, match="new_vocab_size must be >= the model's 37"):
        ft.grow_vocabulary(tiny(), 30)
    with pytest.raises(TypeError, match="new_vocab_size must be an int"):
        ft.grow_vocabulary(tiny(), 40.0)
    with pytest.raises(TypeError, match="model must be an llmlab.model.GPT"):
        ft.grow_vocabulary(SequenceHead(tiny(), 2), 40)


# ----------------------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def data(tok) -> dict[str, list[ins.Example]]:
    return {split: ft.instruction_data(split, tok, BLOCK) for split in ("train", "validation")}


def test_instruction_data_has_every_kind_and_fits_the_context(tok, data):
    for split, examples in data.items():
        summary = ins.data_summary(examples)
        print(split, summary)
        assert all(n > 0 for n in summary.values()), (split, summary)
        assert summary["dialogue"] > 1000 and summary["conversation"] > 100
        lengths = [len(chat.render_chat(e.turns, tok)[0]) for e in examples]
        assert max(lengths) <= BLOCK
    dropped = len(ins.plays_examples("train")) - len(data["train"])
    assert dropped < 0.05 * len(data["train"])  # the cuts to 1-2 lines keep almost everything


def test_instruction_data_is_split_by_play_and_deterministic(data, tok):
    split = corpus.split_plays()
    for name, examples in data.items():
        assert {e.play for e in examples} <= set(split[name])
    train_texts = {e.turns for e in data["train"]}
    assert not train_texts & {e.turns for e in data["validation"]}
    ins._examples.cache_clear()
    assert ft.instruction_data("validation", tok, BLOCK) == data["validation"]  # rebuilt: same
    for e in data["validation"]:
        if e.kind in ("character_play", "play_genre", "name_character", "main_character"):
            assert ins.title(e.play) in e.turns[0][1] + e.turns[1][1]  # about its own play


def test_dialogue_names_whom_it_addresses(data):
    examples = ins.plays_examples("validation", ["dialogue", "conversation"])
    assert {e.kind for e in examples} == {"dialogue", "conversation"}
    for e in examples[:500]:
        assert [role for role, _ in e.turns] == ["user", "assistant"] * (len(e.turns) // 2)
        assert all(text.startswith("To ") and ": " in text for role, text in e.turns[::2])
        assert 2 <= len(e.turns) <= 6
    assert "MALVOLIO" in ins.speakers("twelfth-night")
    questions = {e.turns for e in data["validation"] if e.kind == "play_genre"}
    assert (("user", "What kind of play is Macbeth?"), ("assistant", "A tragedy.")) in questions
    assert ins.title("measure-for-measure") == "Measure for Measure"  # its file's header is "ACT I"


def test_data_functions_refuse_bad_arguments():
    with pytest.raises(ValueError, match="split must be 'train' or 'validation'"):
        ins.plays_examples("all")
    with pytest.raises(ValueError, match="kinds must be among"):
        ins.plays_examples("train", ["riddles"])
    with pytest.raises(TypeError, match="kinds must be a list"):
        ins.plays_examples("train", "dialogue")
    with pytest.raises(ValueError, match="split must be"):
        ins.genre_examples("test")
    with pytest.raises(ValueError, match="play must be a play's slug"):
        ins.speakers("Hamlet")


def test_genre_examples_are_balanced_split_by_play_and_deterministic():
    split = corpus.split_plays()
    for name in ("train", "validation"):
        examples = ins.genre_examples(name)
        counts = ins.label_counts(examples)
        print(name, counts, ins.label_counts(ins.genre_examples(name, balanced=False)))
        assert len(set(counts.values())) == 1 and min(counts.values()) > 100
        assert {e.play for e in examples} <= set(split[name])
        assert all(e.text.count("\n") <= 3 for e in examples)
    before = ins.genre_examples("validation")
    ins._genre_examples.cache_clear()
    again = ins.genre_examples("validation")  # rebuilt from the plays, not the cached list
    assert again == before and again is not before
    assert ft.majority_baseline(ins.genre_examples("train"), ins.genre_examples("validation")) == (
        pytest.approx(1 / 6)
    )


# ----------------------------------------------------------------------------- SFT


def test_sft_batches_resume_exactly_and_pad_on_the_right(tok, data):
    examples = data["validation"][:300]
    draw = ft.sft_batches(examples, tok, BLOCK)
    generator = torch.Generator().manual_seed(7)
    state = generator.get_state()
    first = draw(generator, 8)
    torch.manual_seed(123)  # the global RNG plays no part
    generator.set_state(state)
    again = draw(generator, 8)
    assert all(torch.equal(first[k], again[k]) for k in first.tensors)
    # the rows are the examples torch.randint picks with that generator, nothing else
    picks = torch.randint(len(examples), (8,), generator=torch.Generator().manual_seed(7))
    for row, k in enumerate(picks.tolist()):
        ids, _ = chat.render_chat(examples[k].turns, tok)
        assert first["input_ids"][row, : len(ids)].tolist() == ids
    x, y, mask = first["input_ids"], first["targets"], first["attention_mask"]
    assert x.shape == y.shape == mask.shape and x.shape[1] == int(mask.sum(1).max()) <= BLOCK
    assert first.tokens == int(mask.sum())
    assert bool((y[mask == 0] == IGNORE_INDEX).all())
    assert bool((x[mask == 0] == tok.special_id(chat.END)).all())
    too_long = [[("user", "Speak. " * 200), ("assistant", "No.")]]
    with pytest.raises(ValueError, match=r"examples\[0\] renders to \d+ tokens, more than block"):
        ft.sft_batches(too_long, tok, BLOCK)
    with pytest.raises(ValueError, match="examples is empty"):
        ft.sft_batches([], tok, BLOCK)


@pytest.mark.usefixtures("one_thread")
def test_sft_loss_is_cross_entropy_over_the_learned_tokens_and_falls(tok, data):
    model = ft.grow_vocabulary(tiny(0, vocab_size=1024, block_size=BLOCK), tok.vocab_size)
    examples = [e for e in data["validation"] if e.kind == "play_genre"]
    batch = ft.sft_batches(examples, tok, BLOCK)(torch.Generator().manual_seed(0), 6)
    logits, _ = model(batch["input_ids"])
    keep = batch["targets"] != IGNORE_INDEX
    by_hand = F.cross_entropy(logits[keep], batch["targets"][keep])
    torch.testing.assert_close(ft.sft_loss(model, batch), by_hand)
    before = ft.sft_eval(model, examples, tok)
    config = TrainConfig(batch_size=8, max_steps=40, warmup_steps=5, learning_rate=1e-2,
                         min_lr=1e-3, eval_interval=0)  # fmt: skip
    fit(model, ft.sft_batches(examples, tok, BLOCK), ft.sft_loss, config, progress=False)
    after = ft.sft_eval(model, examples, tok)
    assert after < 0.5 * before, (before, after)


# ----------------------------------------------------------------------------- classification


@pytest.mark.usefixtures("one_thread")
def test_classifier_batches_masks_and_padding_leave_predictions_alone(tok):
    examples = ins.genre_examples("validation")[::100]
    draw = ft.classifier_batches(examples, tok, block_size=16)
    generator = torch.Generator().manual_seed(1)
    state = generator.get_state()
    batch = draw(generator, 5)
    generator.set_state(state)
    assert torch.equal(draw(generator, 5)["input_ids"], batch["input_ids"])
    x, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert x.shape == mask.shape and x.shape[0] == labels.shape[0] == 5 and x.shape[1] <= 16
    assert batch.tokens == int(mask.sum()) and labels.dtype == torch.long
    head = SequenceHead(tiny(0, vocab_size=tok.vocab_size, block_size=24), len(corpus.GENRES))
    head.eval()
    scores = head(x, mask)
    padded = torch.cat([x, torch.full((5, 8), chat.pad_token_id(tok))], dim=1)
    torch.testing.assert_close(
        head(padded, torch.cat([mask, torch.zeros(5, 8, dtype=torch.long)], 1)), scores
    )
    torch.testing.assert_close(
        ft.classifier_loss(head, batch), F.cross_entropy(scores, labels), rtol=1e-5, atol=1e-6
    )
    assert ft.predict(head, examples, tok, batch_size=3) == ft.predict(head, examples, tok, 64)


@pytest.mark.usefixtures("one_thread")
def test_a_classifier_fits_its_training_texts(tok):
    """A few hundred steps of a tiny model on held-out plays' genres do not beat the baseline
    (measured: chance, 17%; the pretrained trunk reaches about 27% in 200 steps, but takes 30 s),
    so this checks learning where it must happen: on the training texts themselves."""
    examples = ins.genre_examples("validation")[::142][:12]
    head = SequenceHead(tiny(0, vocab_size=tok.vocab_size, block_size=32), len(corpus.GENRES))
    start = ft.accuracy(head, examples, tok)
    config = TrainConfig(batch_size=12, max_steps=60, warmup_steps=5, learning_rate=1e-2,
                         min_lr=1e-3, eval_interval=0)  # fmt: skip
    fit(head, ft.classifier_batches(examples, tok, 32), ft.classifier_loss, config, progress=False)
    assert ft.accuracy(head, examples, tok) >= max(0.75, start + 0.25)
    assert ft.majority_baseline(examples, examples) == max(
        ins.label_counts(examples).values()
    ) / len(examples)
    with pytest.raises(ValueError, match="examples is empty"):
        ft.accuracy(head, [], tok)


# ----------------------------------------------------------------------------- replies


@pytest.mark.usefixtures("one_thread")
def test_generate_reply_stops_at_end_and_checks_room(tok, monkeypatch):
    model = tiny(0, vocab_size=tok.vocab_size, block_size=32)
    generator = torch.Generator().manual_seed(0)
    reply, ended = chat.generate_reply(model, tok, CHAT[:1], 5, 1.0, None, generator)
    assert isinstance(reply, str) and isinstance(ended, bool)
    prompt = chat.render_prompt(CHAT[:1], tok)
    end, said = tok.special_id(chat.END), tok.encode("Ay, my lord.")

    def scripted(model, prompt_ids, max_new_tokens, *, stop_ids, **settings):
        assert max_new_tokens == min(64, 32 - len(prompt))  # never past the context
        assert list(prompt_ids) == prompt and list(stop_ids) == [end]
        yield from [*said, end]  # sampling.stream yields the stop token, then stops

    monkeypatch.setattr("llmlab.sampling.stream", scripted)
    assert chat.generate_reply(model, tok, CHAT[:1]) == ("Ay, my lord.", True)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="leaving no room in the model's 32-token context"):
        chat.generate_reply(model, tok, [("user", "Speak. " * 40)])
    with pytest.raises(ValueError, match="grow it first"):
        chat.generate_reply(tiny(), tok, CHAT[:1])
    with pytest.raises(ValueError, match="must end with a .user. turn"):
        chat.generate_reply(model, tok, CHAT)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
        chat.generate_reply(model, tok, CHAT[:1], 0)
    assert math.isfinite(ft.sft_eval(model, [CHAT[:2]], tok))


def test_reader_examples_quote_the_speech_and_answer_from_the_passage(tok):
    from llmlab import retrieval

    true = ft.reader_examples("validation", tok, BLOCK, relabelled_share=0.0)
    relabelled = ft.reader_examples("validation", tok, BLOCK, relabelled_share=1.0, seed=3)
    questions = ins.plays_examples("validation", kinds=["line_speaker"])
    answer = {q.turns[0][1]: q.turns[1][1] for q in questions}
    assert 0.8 * len(questions) <= len(true) <= len(questions)  # most fit the context
    moved = 0
    for turns in (*true, *relabelled):
        prompt, reply = turns[0][1], turns[1][1]
        passage, question = prompt.split("\n\n")
        title, speaker = passage.split("\n")[:2]
        # the answer is what the passage says, whoever really speaks the line
        assert reply == f"{speaker[:-1]}, in {title[len('From ') : -1]}."
        assert retrieval.quoted_line(question) in passage
        assert len(chat.render_chat(turns, tok)[0]) <= BLOCK
        moved += turns in relabelled and reply != answer[question]
    assert all(t[1][1] == answer[t[0][1].split("\n\n")[1]] for t in true)
    assert moved > 0.9 * len(relabelled)
    with pytest.raises(ValueError, match="relabelled_share"):
        ft.reader_examples("validation", tok, BLOCK, relabelled_share=1.5)

"""Lesson 06: reply generation through the chat template on a tiny model, and the exercises'
references against llmlab."""

import random

import pytest
import torch

from llmlab import chat, exercises, finetune
from llmlab.chat import reply_tokens
from llmlab.model import GPT, IGNORE_INDEX, GPTConfig
from llmlab.widgets import stream_reply

pytestmark = pytest.mark.usefixtures("one_thread")


HELLO = [("user", "To HAMLET: hello")]
NAMES = ("loss_mask", "sft_loss")


# ---------------------------------------------------------------------------------------------
# The pure functions.


@pytest.mark.parametrize(("temperature", "top_k"), [(0, None), (1.0, None), (0.8, 5)])
def test_reply_tokens_are_generate_replys(chat_tokenizer, temperature, top_k, tiny_chat_model):
    model = tiny_chat_model()
    end = chat_tokenizer.special_tokens["<|end|>"]
    for seed in range(5):
        ours = list(
            reply_tokens(
                model,
                chat_tokenizer,
                HELLO,
                20,
                temperature,
                top_k,
                torch.Generator().manual_seed(seed),
            )
        )
        text, ended = chat.generate_reply(
            model,
            chat_tokenizer,
            HELLO,
            20,
            temperature,
            top_k,
            torch.Generator().manual_seed(seed),
        )
        assert ended == (ours[-1] == end)
        assert chat_tokenizer.decode([t for t in ours if t != end]) == text
        assert len(ours) <= 20 and end not in ours[:-1]


def test_stream_reply_joins_to_the_reply_and_stops_at_end(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model(seed=3)
    pieces = list(stream_reply(model, chat_tokenizer, HELLO, 30, 1.0, None, torch.Generator()))
    text, _ = chat.generate_reply(model, chat_tokenizer, HELLO, 30, 1.0, None, torch.Generator())
    for token in ("<|user|>", "<|assistant|>"):  # a new turn begun: the reply is over
        text = text.split(token)[0]
    assert "".join(pieces) == text
    assert all(pieces) and not any(t in "".join(pieces) for t in chat.CHAT_TOKENS)


def test_stream_reply_holds_back_half_a_character(chat_tokenizer):
    """Byte-level tokens can split a character: the piece waits for the whole character."""

    class Scripted(GPT):
        """A GPT that writes the bytes of "é!" then <|end|>, whatever it reads."""

        def __init__(self) -> None:
            super().__init__(
                GPTConfig(vocab_size=259, block_size=32, n_layer=1, n_head=1, n_embd=8)
            )
            self.script = [*"é!".encode(), chat_tokenizer.special_tokens["<|end|>"]]
            self.calls = 0

        def forward(self, idx, targets=None, return_attention=False, **kwargs):
            logits = torch.full((1, idx.shape[1], 259), -1e9)
            logits[0, -1, self.script[self.calls]] = 0.0
            self.calls += 1
            return logits, None

    pieces = list(stream_reply(Scripted(), chat_tokenizer, HELLO, 10, temperature=0))
    assert pieces == ["é", "!"]


def test_reply_tokens_checks_its_inputs(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model(block_size=16)
    with pytest.raises(ValueError, match="no room"):
        list(reply_tokens(model, chat_tokenizer, [("user", "x" * 20)]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        list(reply_tokens(tiny_chat_model(), chat_tokenizer, HELLO, 0))
    with pytest.raises(ValueError, match="temperature"):
        list(reply_tokens(tiny_chat_model(), chat_tokenizer, HELLO, 5, -1.0))
    small = GPT(GPTConfig(vocab_size=256, block_size=32, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match="grow it first"):
        list(reply_tokens(small, chat_tokenizer, HELLO))
    with pytest.raises(ValueError, match="end with a 'user' turn"):
        list(reply_tokens(tiny_chat_model(), chat_tokenizer, [*HELLO, ("assistant", "hi")]))


# ---------------------------------------------------------------------------------------------
# The exercises against the library they teach.


def test_loss_mask_reference_is_render_chats_mask(chat_tokenizer):
    rng = random.Random(1)
    for _ in range(20):
        roles, lengths = exercises.EXERCISES["loss_mask"].cases(rng)
        turns = [
            (role, "ab"[k % 2] * n) for k, (role, n) in enumerate(zip(roles, lengths, strict=True))
        ]
        assert exercises.loss_mask(roles, lengths) == chat.render_chat(turns, chat_tokenizer)[1]


def test_sft_loss_reference_is_finetunes_loss():
    """On a real batch of sft_batches: the mask the batch was built from gives finetune.sft_loss."""
    rng = random.Random(3)
    for _ in range(20):
        logits, ids, mask = exercises.EXERCISES["sft_loss"].cases(rng)
        targets = torch.where(mask[:, 1:], ids[:, 1:], IGNORE_INDEX)
        expected = torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX
        )
        assert torch.allclose(exercises.sft_loss(logits, ids, mask), expected, atol=1e-5)


def test_sft_loss_reference_on_a_rendered_conversation(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model()
    turns = [("user", "To HAMLET: hi"), ("assistant", "Good day."), ("user", "And?")]
    turns.append(("assistant", "Farewell."))
    ids, mask = chat.render_chat(turns, chat_tokenizer)
    batch = finetune.sft_batches([turns], chat_tokenizer, 96)(torch.Generator(), 1)
    with torch.no_grad():
        logits = model(batch["input_ids"])[0]
        ours = exercises.sft_loss(logits, torch.tensor([ids]), torch.tensor([mask]))
        assert torch.allclose(ours, finetune.sft_loss(model, batch), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The measures lessons 06 and 07 share.


def test_window_losses_average_to_evaluates_number_and_leave_the_mode(tiny_chat_model):
    from llmlab.train import evaluate

    model = tiny_chat_model(seed=1, block_size=16).train()
    data = torch.randint(0, 256, (500,), generator=torch.Generator().manual_seed(0))
    losses = finetune.window_losses(model, data, windows=12)
    assert losses.shape == (12,) and model.training
    assert abs(losses.mean().item() - evaluate(model, data, windows=12)) < 1e-5
    with pytest.raises(ValueError, match="block_size"):
        finetune.window_losses(model, data[:16])
    with pytest.raises(ValueError, match="windows"):
        finetune.window_losses(model, data, windows=0)


def test_stops_flags_the_replies_generate_reply_ends(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model(seed=2)
    end = chat_tokenizer.special_tokens["<|end|>"]
    with torch.no_grad():  # make <|end|> likely enough that some replies end and some do not
        model.lm_head.weight[end] += 0.3 * model.lm_head.weight.mean(dim=0)
    prompts = [[("user", f"To HAMLET: line {k}")] for k in range(12)]
    generator = torch.Generator().manual_seed(4)
    expected = [
        chat.generate_reply(model, chat_tokenizer, p, 6, 1.0, None, generator)[1] for p in prompts
    ]
    found = finetune.stops(model, chat_tokenizer, prompts, 6, 1.0, None, seed=4)
    assert found == expected and 0 < sum(found) < len(found)
    with pytest.raises(ValueError, match="prompts"):
        finetune.stops(model, chat_tokenizer, [])


def test_held_out_conversations_are_spread_over_the_validation_plays(chat_tokenizer):
    from llmlab import corpus

    every = finetune.instruction_data("validation", chat_tokenizer, 128)
    chosen = finetune.held_out_conversations(chat_tokenizer, 128, 10)
    assert chosen == every[:: len(every) // 10][:10]
    assert {e.play for e in chosen} <= set(corpus.VALIDATION_PLAYS)
    assert len({e.play for e in chosen}) > 1
    with pytest.raises(ValueError, match="n"):
        finetune.held_out_conversations(chat_tokenizer, 128, 0)


def test_the_exercise_stubs_of_the_lesson_report_not_implemented(capsys):
    for name in NAMES:

        def stub(*args):
            raise NotImplementedError

        assert not exercises.check(name, stub)
        assert "not implemented yet" in capsys.readouterr().out

"""Lesson 07: the chat widget (driven by setting ``.value`` and clicking) on a tiny model, and
the exercises' references against llmlab."""

import asyncio
import random

import pytest
import torch

from llmlab import chat, exercises, lora
from llmlab.model import GPT, GPTConfig, last_real_positions
from llmlab.tokenization import BPETokenizer
from llmlab.widgets import NO_ONE, ChatBox, chat_html, stream_reply
from llmlab.widgets import chat as chat_widget

pytestmark = pytest.mark.usefixtures("one_thread")
NAMES = ("last_token_pool", "lora_forward")
HELLO_TURN = [("user", "hello")]


# ---------------------------------------------------------------------------------------------
# The widget's pieces.


def test_chat_html_escapes_and_shows_the_note():
    page = chat_html([("user", "<b>hi</b>"), ("assistant", "a\nb")], note="done & dusted")
    assert "&lt;b&gt;hi&lt;/b&gt;" in page and "a<br>b" in page and "done &amp; dusted" in page
    assert "sans-serif" in page and "font-family:serif" not in page  # the notebook's font
    user = page[page.index("llmlab-user") :].split(">", 1)[0]
    assert user.count("margin") == 1 and "20%" in user  # no later margin resets the indent


def test_chat_html_marks_where_the_model_stops_reading():
    turns = [("user", "one"), ("assistant", "two"), ("user", "three")]
    page = chat_html(turns, dropped=2, remarks={1: "cut off"}, context=128)
    marker = page.index("earlier turns no longer fit in the model's 128-token context")
    assert page.index("two") < marker < page.index("three")  # kept on screen, above the line
    assert page.count("opacity:0.5") == 2 and "cut off" in page
    assert "earlier turns" not in chat_html(turns)


# ---------------------------------------------------------------------------------------------
# The view-model, driven as a learner would.


def test_chat_box_sends_the_addressed_line_and_shows_the_reply(chat_tokenizer, tiny_chat_model):
    box = ChatBox(tiny_chat_model(), chat_tokenizer, max_new_tokens=12)
    assert box.addressee.value == "HAMLET" and NO_ONE in box.addressee.options
    assert "HORATIO" in box.addressee.options
    box.text.value = "  My lord!  "
    box.send.click()
    assert box.text.value == ""  # sent: the box is emptied for the next line
    assert box.turns[0] == ("user", "To HAMLET: My lord!")
    assert box.turns[1][0] == "assistant" and len(box.turns) == 2
    assert "To HAMLET: My lord!" in box.output.value
    assert "answered by the fine-tuned model" in box.output.value
    box.text.value = "And more?"
    box.send.click()
    assert len(box.turns) == 4 and box.turns[2] == ("user", "To HAMLET: And more?")


def test_chat_box_reply_is_reproducible_with_its_seed(chat_tokenizer, tiny_chat_model):
    replies = []
    for _ in range(2):
        box = ChatBox(tiny_chat_model(), chat_tokenizer, max_new_tokens=12, seed=5)
        box.text.value = "hello"
        replies.append(box.reply())
    assert replies[0] == replies[1]


def test_chat_box_questions_address_no_one_and_changing_whom_keeps_the_talk(
    chat_tokenizer, tiny_chat_model
):
    box = ChatBox(tiny_chat_model(), chat_tokenizer, max_new_tokens=8)
    box.text.value = "hi"
    box.send.click()
    said = list(box.turns)
    box.addressee.value = NO_ONE
    assert box.turns == said and "To HAMLET: hi" in box.output.value  # kept, and on screen
    assert "addressed to no one" in box.output.value and "kept" in box.output.value  # said so
    box.text.value = "Which play is HORATIO in?"
    box.send.click()
    assert box.turns[2] == ("user", "Which play is HORATIO in?")
    box.clear.click()
    assert box.turns == [] and "Which play" not in box.output.value


def test_chat_box_refuses_an_empty_line(chat_tokenizer, tiny_chat_model):
    box = ChatBox(tiny_chat_model(), chat_tokenizer)
    box.text.value = "   "
    box.send.click()
    assert box.turns == [] and "Type something first" in box.notice.value  # beside the box
    assert "role='alert'" in box.notice.value


def test_chat_box_sends_on_enter(chat_tokenizer, tiny_chat_model):
    box = ChatBox(tiny_chat_model(), chat_tokenizer, max_new_tokens=4)
    box.text.value = "hello"
    box.text._handle_custom_msg({"event": "submit"}, [])  # what the page sends on Enter
    assert box.turns[0] == ("user", "To HAMLET: hello") and box.text.value == ""


def test_chat_box_in_a_kernel_waits_for_a_line_that_arrives_after_enter_or_send(
    chat_tokenizer, tiny_chat_model, monkeypatch
):
    """In a kernel (a running event loop) the line can reach the kernel after Enter's submit, or
    after Send's click when the page held it back: the reply waits for it, not answers what was
    there before (nothing, or the line refused last). Outside a loop (the tests above) nothing
    can arrive later, so nothing waits."""
    monkeypatch.setattr(chat_widget, "LINE_GRACE_S", 0.2)

    async def learner() -> None:
        box = ChatBox(tiny_chat_model(block_size=64), chat_tokenizer, max_new_tokens=4)
        box.text._handle_custom_msg({"event": "submit"}, [])  # Enter, its line on the way
        await asyncio.sleep(0.05)
        assert box.turns == [] and box.notice.value == ""  # no "Type something first."
        box.text.value = "hello"  # the line arrives
        assert box.turns[0] == ("user", "To HAMLET: hello") and box.text.value == ""
        box.send.click()  # Send, the line held back by the page
        await asyncio.sleep(0.05)
        assert len(box.turns) == 2 and box.notice.value == ""
        box.text.value = "again"
        assert box.turns[2] == ("user", "To HAMLET: again")
        box.send.click()  # Send on a box that stays empty: said, once the grace is over
        await asyncio.sleep(0.3)
        assert len(box.turns) == 4 and "Type something first" in box.notice.value
        box.text.value = "late"  # a line typed afterwards waits for its own Enter or Send
        assert len(box.turns) == 4
        box.send.click()  # a new line here: answered at once
        assert len(box.turns) == 6
        box.text.value = "x" * 80
        box.send.click()
        assert "too long" in box.notice.value and len(box.turns) == 6  # refused, kept to shorten
        box.send.click()  # Send on the shortened line, which the page held back
        await asyncio.sleep(0.05)
        assert len(box.turns) == 6  # not the refused line again: its edit is on the way
        box.text.value = "x" * 8
        assert box.turns[6] == ("user", "To HAMLET: " + "x" * 8) and box.notice.value == ""

    asyncio.run(learner())


def test_chat_box_says_when_a_reply_was_cut_off(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model()  # random weights: it never writes <|end|> in 6
    pieces = stream_reply(model, chat_tokenizer, HELLO_TURN, 6, 1.0, None, torch.Generator())
    with pytest.raises(StopIteration) as stop:
        while True:
            next(pieces)
    assert stop.value.value is False  # stopped by the limit, not by the model
    box = ChatBox(model, chat_tokenizer, max_new_tokens=6)
    box.text.value = "hello"
    box.send.click()
    assert box.remarks == {1: "cut off: the reply reached its 6-token limit"}
    assert "cut off: the reply reached its 6-token limit" in box.output.value


def test_chat_box_base_toggle_uses_the_grown_base_model(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model(seed=0)
    torch.manual_seed(1)
    base = GPT(GPTConfig(vocab_size=256, block_size=96, n_layer=1, n_head=2, n_embd=16))
    box = ChatBox(model, chat_tokenizer, base_model=base, max_new_tokens=10)
    assert box.base_model.config.vocab_size == chat_tokenizer.vocab_size  # grown to the template
    assert not box.use_base.disabled
    box.use_base.value = True
    box.text.value = "hello"
    box.send.click()
    assert "answered by the base model" in box.output.value
    expected = list(
        stream_reply(
            box.base_model,
            chat_tokenizer,
            [("user", "To HAMLET: hello")],
            10,
            0.8,
            50,
            torch.Generator().manual_seed(0),
        )
    )
    assert box.turns[1][1] == ("".join(expected).strip() or "…")
    assert box.remarks[1].startswith("by the base model")
    box.use_base.value = False
    assert len(box.turns) == 2 and "From now on the fine-tuned model answers" in box.output.value
    assert ChatBox(model, chat_tokenizer).use_base.disabled  # no base model: no toggle


def test_chat_box_drops_the_earliest_exchanges_when_the_context_is_full(
    chat_tokenizer, tiny_chat_model
):
    box = ChatBox(tiny_chat_model(block_size=64), chat_tokenizer, max_new_tokens=4)
    for k in range(6):
        box.text.value = f"line {k}"
        box.send.click()
    prompt = chat.render_prompt(box.turns[box.dropped : -1], chat_tokenizer)
    assert len(prompt) + 4 <= 64  # the prompt read, with room for a whole reply
    assert box.dropped > 0 and box.dropped % 2 == 0  # whole exchanges fell out of the prompt
    assert box.turns[0][1] == "To HAMLET: line 0"  # ... but not out of the conversation
    assert "earlier turns no longer fit in the model's 64-token context" in box.output.value
    box.text.value = "x" * 80
    box.send.click()
    assert "too long" in box.notice.value and box.text.value == "x" * 80  # kept, to shorten
    with pytest.raises(ValueError, match="max_new_tokens"):
        ChatBox(tiny_chat_model(block_size=64), chat_tokenizer, max_new_tokens=60)


def test_chat_box_checks_its_arguments(chat_tokenizer, tiny_chat_model):
    model = tiny_chat_model()
    with pytest.raises(ValueError, match="speakers of 'hamlet'"):
        ChatBox(model, chat_tokenizer, character="ROMEO")
    with pytest.raises(ValueError, match="chat template"):
        ChatBox(model, BPETokenizer({i: bytes([i]) for i in range(256)}, []))
    with pytest.raises(TypeError, match="model must be"):
        ChatBox("a model", chat_tokenizer)


# ---------------------------------------------------------------------------------------------
# The exercises against the library they teach.


def test_last_token_pool_reference_reads_what_the_head_reads():
    rng = random.Random(4)
    for _ in range(20):
        hidden, mask = exercises.EXERCISES["last_token_pool"].cases(rng)
        rows = torch.arange(len(hidden))
        assert torch.equal(
            exercises.last_token_pool(hidden, mask), hidden[rows, last_real_positions(mask)]
        )


def test_lora_forward_cases_refuse_the_full_product():
    x, W, A, B, alpha, rank = exercises.EXERCISES["lora_forward"].cases(random.Random(5))
    with pytest.raises(RuntimeError, match="full"):
        B @ A
    with pytest.raises(RuntimeError, match="full"):
        A.T @ B.T
    assert (x @ A.T).shape[-1] == rank  # a thin product is fine


def test_lora_references_match_a_lora_layer():
    rng = random.Random(2)
    for _ in range(20):
        x, W, A, B, alpha, rank = exercises.EXERCISES["lora_forward"].cases(rng)
        layer = lora.LoRALinear(torch.nn.Linear(W.shape[1], W.shape[0], bias=False), rank, alpha)
        with torch.no_grad():
            layer.base.weight.copy_(W)
            layer.lora_A.copy_(A)
            layer.lora_B.copy_(B)
            expected = layer(x)
            assert torch.allclose(
                exercises.lora_forward(x, W, A, B, alpha, rank), expected, atol=1e-4
            )


def test_the_exercise_stubs_of_the_lesson_report_not_implemented(capsys):
    for name in NAMES:

        def stub(*args):
            raise NotImplementedError

        assert not exercises.check(name, stub)
        assert "not implemented yet" in capsys.readouterr().out

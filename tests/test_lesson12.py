"""Lesson 12: the logit-lens explorer (driven by setting ``.value``) on a tiny model, against
:func:`llmlab.lens.logit_lens` itself."""

import html
import re

import pytest
import torch

from llmlab import lens
from llmlab.tokenization import CharTokenizer
from llmlab.widgets import LensExplorer, LensPredictions, lens_html, lens_predictions
from tests.tiny_gpt import tiny

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "to be or not to be, that is the question: whether 'tis nobler\n"


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer(TEXT)


@pytest.fixture
def explorer(tokenizer) -> LensExplorer:
    model = tiny(3, vocab_size=tokenizer.vocab_size).eval()
    return LensExplorer(model, tokenizer, prompt="to be or", pause=0)


def _shown_tokens(table: str) -> list[str]:
    """The guessed tokens of the table's rows, in order (the ``<code>`` after each ``reads``)."""
    return [html.unescape(t) for t in re.findall(r"<code>([^<]*)</code> \d+%", table)]


def test_predictions_are_the_lens_softmax_top_k(tokenizer):
    model = tiny(1, vocab_size=tokenizer.vocab_size)
    ids = tokenizer.encode("whether 'tis")
    got = lens_predictions(model, ids, top=4)
    probs = lens.logit_lens(model, torch.tensor([ids]))[:, 0].softmax(-1)
    assert got.probs.shape == got.ids.shape == (model.config.n_layer + 1, len(ids), 4)
    assert torch.equal(got.ids[..., 0], probs.argmax(-1))
    assert torch.allclose(got.probs, probs.gather(-1, got.ids), atol=1e-6)
    assert (got.probs[..., :-1] >= got.probs[..., 1:]).all()  # likeliest first
    # The last depth is the model's own next-token distribution.
    own = model(torch.tensor([ids]))[0][0].softmax(-1)
    assert torch.allclose(got.probs[-1], own.topk(4, dim=-1).values, atol=1e-6)


def test_predictions_refuse_no_tokens_and_too_many(tokenizer):
    model = tiny(1, vocab_size=tokenizer.vocab_size)
    with pytest.raises(ValueError, match="ids must hold at least one token"):
        lens_predictions(model, [])
    with pytest.raises(ValueError, match="at most block_size=16 tokens long, got 17"):
        lens_predictions(model, [1] * 17)
    with pytest.raises(ValueError, match="top"):
        lens_predictions(model, [1, 2], top=0)


def test_the_slider_picks_the_depth_and_the_last_layer_is_the_model(explorer):
    n_layer = explorer.model.config.n_layer
    assert explorer.layer.min == 0 and explorer.layer.max == n_layer
    assert "the embeddings" in explorer.caption.value
    # Right after the embeddings, weight tying makes each token its own likeliest guess.
    assert _shown_tokens(explorer.table.value)[0] == explorer.tokenizer.decode(explorer.ids[-1:])
    tables = {0: explorer.table.value}
    for depth in range(1, n_layer + 1):
        explorer.layer.value = depth
        tables[depth] = explorer.table.value
        assert f"block {depth} of {n_layer}" in explorer.caption.value
    assert len(set(tables.values())) == n_layer + 1  # every depth reads differently
    assert "the model's own output" in explorer.caption.value
    with torch.no_grad():
        logits = explorer.model(torch.tensor([explorer.ids]))[0][0, -1]
    best = explorer.tokenizer.decode([int(logits.argmax())])
    assert _shown_tokens(explorer.table.value)[0] == best.replace(" ", "·")
    assert f"{float(logits.softmax(-1).max()):.0%}" in explorer.table.value


def test_every_token_has_a_row_and_the_last_token_one(explorer):
    assert explorer.table.value.count("<tr>") == 2  # header + the last position
    explorer.view.value = "every token"
    assert explorer.table.value.count("<tr>") == 1 + len(explorer.ids)
    assert f"each of the {len(explorer.ids)} positions" in explorer.caption.value
    assert "actually next" in explorer.table.value


def test_a_guess_that_is_the_next_token_is_marked(tokenizer):
    ids = tokenizer.encode("tob")
    t, o, b = ids
    predictions = LensPredictions(
        probs=torch.tensor([[[0.6, 0.4], [0.7, 0.3], [0.5, 0.5]]]),
        ids=torch.tensor([[[o, b], [t, b], [t, o]]]),
    )
    table = lens_html(tokenizer, ids, predictions, 0, every=True)
    marked = re.findall(r"<b style='color:#1b7a1b'><code>(\w)</code> (\d+)%</b>", table)
    assert marked == [("o", "60"), ("b", "30")]  # position 0's o; position 1's b; none at 2
    with pytest.raises(ValueError, match="depth must be an int in 0..0"):
        lens_html(tokenizer, ids, predictions, 1)


def test_an_empty_prompt_says_so_and_leaves_nothing_stale(explorer):
    explorer.prompt.value = ""
    assert "Type a prompt to see what each layer would predict" in explorer.note.value
    assert "non-empty" not in explorer.note.value
    assert explorer.table.value == "" and explorer.caption.value == ""
    assert explorer.layer.disabled and explorer.view.disabled
    explorer.layer.value = 2  # moved from code while empty: nothing drawn
    assert explorer.table.value == ""
    explorer.prompt.value = "to be"
    assert explorer.note.value == "" and not explorer.layer.disabled
    assert "block 2 of 2" in explorer.caption.value and explorer.table.value


def test_a_prompt_longer_than_the_window_is_read_from_its_end(explorer):
    block = explorer.model.config.block_size
    long = "whether 'tis nobler"
    explorer.prompt.value = long
    n = len(explorer.tokenizer.encode(long))
    assert n > block and f"This prompt is {n:,} tokens" in explorer.note.value
    assert f"only the last {block}" in explorer.note.value
    assert explorer.ids == explorer.tokenizer.encode(long)[-block:]
    explorer.view.value = "every token"
    assert explorer.table.value.count("<tr>") == 1 + block


def test_a_typed_layer_out_of_range_is_refused_and_the_slider_stays(explorer):
    explorer.layer.value = 1
    table = explorer.table.value
    box = explorer.widget.children[1].children[1]
    box.value = 7
    assert "layer goes from 0 to 2: 7 is outside" in explorer.slider_note.value
    assert explorer.layer.value == 1 and explorer.table.value == table


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"layer": 3}, r"layer must be an int in 0..2"),
        ({"layer": -1}, r"layer must be an int in 0..2"),
        ({"view": "first token"}, r"view must be one of"),
        ({"prompt": ""}, r"prompt must be a non-empty str"),
        ({"top": 0}, r"top must be an int in 1..20"),
    ],
)
def test_bad_settings_are_refused_by_name(tokenizer, setting, message):
    model = tiny(3, vocab_size=tokenizer.vocab_size)
    with pytest.raises(ValueError, match=message):
        LensExplorer(model, tokenizer, **setting)


def test_typing_redraws_after_a_pause_or_a_flush(tokenizer):
    model = tiny(3, vocab_size=tokenizer.vocab_size).eval()
    waiting = LensExplorer(model, tokenizer, prompt="to be", pause=5)
    table = waiting.table.value
    waiting.prompt.value = "whether"
    assert waiting.ids == tokenizer.encode("whether")  # read at once
    assert waiting.table.value == table  # shown only when the typing pauses
    waiting.flush()
    assert waiting.table.value != table
    still = waiting.still()["text/html"]
    assert still == f"<div>{waiting.caption.value}</div>{waiting.table.value}"

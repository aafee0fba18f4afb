"""Lesson 10: the sampling playground (driven by setting ``.value`` and clicking) on a tiny model,
and the exercises' references against llmlab.sampling."""

import html
import random

import pytest
import torch

from llmlab import exercises, sampling
from llmlab.tokenization import CharTokenizer
from llmlab.widgets import SamplingPlayground, next_token_distribution
from tests.tiny_gpt import tiny

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "to be or not to be, that is the question: whether 'tis nobler\n"


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer(TEXT)


@pytest.fixture
def playground(tokenizer) -> SamplingPlayground:
    model = tiny(3, vocab_size=tokenizer.vocab_size).eval()
    return SamplingPlayground(model, tokenizer, prompt="to be or", max_new_tokens=12, pause=0)


SETTINGS = [
    {"temperature": 1.0},
    {"temperature": 0.0},
    {"temperature": 0.7, "top_k": 3},
    {"temperature": 1.3, "top_p": 0.5},
    {"temperature": 1.0, "min_p": 0.2},
    {"temperature": 0.9, "top_k": 10, "top_p": 0.8, "min_p": 0.05, "repetition_penalty": 1.5},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_kept_set_is_what_process_keeps(settings):
    logits = 2 * torch.randn(30, generator=torch.Generator().manual_seed(0))
    previous = [1, 4, 4, 7]
    shown = next_token_distribution(logits, previous, **settings)
    processed = sampling.process(logits[None], previous, **settings)[0]
    assert torch.equal(shown.kept, processed.isfinite())
    assert torch.allclose(shown.sampled(), processed.softmax(-1), atol=1e-6)
    assert torch.isclose(shown.probs.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_sliders_give_the_kept_set_of_process(playground, settings):
    off = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0}
    for name, slider in playground.sliders.items():
        slider.value = settings.get(name, off[name])
    with torch.no_grad():
        logits = playground.model(torch.tensor([playground.ids]))[0][0, -1]
    expected = sampling.process(logits[None], playground.ids, **settings)[0].isfinite()
    assert torch.equal(playground.distribution().kept, expected)
    assert f"kept {int(expected.sum()):,} of" in playground.caption.value


def test_moving_temperature_changes_the_picture_and_the_prompt_rereads(playground):
    picture, caption = playground.image.value, playground.caption.value
    playground.sliders["temperature"].value = 0.3
    assert playground.image.value != picture and playground.caption.value != caption
    before = playground.logits.clone()
    playground.prompt.value = "whether 'tis"
    assert playground.ids == playground.tokenizer.encode("whether 'tis")
    assert not torch.equal(playground.logits, before)


def test_sample_streams_what_stream_gives(playground):
    playground.sliders["top_k"].value = 5
    text = playground.stream()
    expected = sampling.generate(
        playground.model,
        playground.ids,
        12,
        temperature=1.0,
        top_k=5,
        generator=torch.Generator().manual_seed(0),
    )
    assert text == playground.tokenizer.decode(expected)
    assert text and html.escape(text) in playground.text.value


def test_typing_redraws_after_a_pause_or_a_flush(tokenizer):
    model = tiny(3, vocab_size=tokenizer.vocab_size).eval()
    waiting = SamplingPlayground(model, tokenizer, prompt="to be", pause=5)
    picture = waiting.image.value
    waiting.prompt.value = "whether"
    assert waiting.ids == tokenizer.encode("whether")  # read at once
    assert waiting.image.value == picture  # drawn only when the typing pauses
    waiting.flush()
    assert waiting.image.value != picture
    assert waiting.still()["text/html"].startswith("<div><b>kept")


def test_an_unencodable_prompt_is_shown_not_raised(playground):
    playground.prompt.value = "zzz§"
    assert "color:#b00" in playground.note.value and "cannot read" in playground.note.value
    assert playground.sample.disabled and playground.image.layout.display == "none"


def test_an_empty_prompt_leaves_nothing_stale(playground):
    playground.stream()
    assert playground.text.value
    playground.prompt.value = ""
    assert "Type a prompt to see the next-token distribution" in playground.note.value
    assert "non-empty" not in playground.note.value + playground.caption.value
    assert playground.caption.value == "" and playground.text.value == ""  # no old sample
    assert playground.image.layout.display == "none"  # no old chart
    assert playground.sample.disabled and all(s.disabled for s in playground.sliders.values())
    assert playground.stream() == ""  # nothing to continue
    picture = playground.image.value
    playground.sliders["temperature"].value = 0.5  # a slider set from code draws nothing
    assert playground.image.value == picture and playground.caption.value == ""
    playground.prompt.value = "to be"
    assert playground.note.value == "" and not playground.sample.disabled
    assert playground.image.layout.display is None and "kept" in playground.caption.value


def test_a_new_prompt_clears_the_old_sample(playground):
    playground.stream()
    playground.prompt.value = "to be or not"
    assert playground.text.value == ""


def test_a_prompt_longer_than_the_window_says_where_it_is_cut(playground):
    block = playground.model.config.block_size
    long = "to be or not to be " * (block // 10)
    playground.prompt.value = long
    n = len(playground.tokenizer.encode(long))
    assert n > block and f"{n:,} tokens" in playground.note.value
    assert f"only the last {block}" in playground.note.value
    playground.stream()
    shown = html.unescape(playground.text.value)
    assert "…" in shown and long not in shown  # the part the model reads, marked as cut


def test_a_typed_slider_value_out_of_range_is_refused_with_a_message(playground):
    playground.sliders["temperature"].value = 0.3
    box = playground.widget.children[1].children[1]  # the temperature row's number box
    assert box.value == 0.3
    box.value = 5.0  # what typing 5 and Enter sends
    assert playground.sliders["temperature"].value == 0.3 and box.value == 0.3
    note = "temperature goes from 0 to 2: 5 is outside, so it stays at 0.3"
    assert note in playground.slider_note.value
    box.value = 0.35
    assert playground.sliders["temperature"].value == 0.35 and playground.slider_note.value == ""


@pytest.mark.parametrize(
    ("setting", "value", "error", "match"),
    [
        ("temperature", -0.1, ValueError, "temperature must be in"),
        ("temperature", float("nan"), ValueError, "temperature must be in"),
        ("temperature", 2.5, ValueError, "temperature must be in"),
        ("top_k", 101, ValueError, "top_k must be in"),
        ("top_k", 2.5, TypeError, "top_k must be"),
        ("top_p", 0.0, ValueError, "top_p must be in"),
        ("top_p", 1.5, ValueError, "top_p must be in"),
        ("min_p", -0.1, ValueError, "min_p must be in"),
        ("repetition_penalty", 0.5, ValueError, "repetition_penalty must be in"),
        ("max_new_tokens", 0, ValueError, "max_new_tokens must be"),
        ("pause", -1, ValueError, "pause must be"),
        ("prompt", "", ValueError, "prompt must be a non-empty str"),
    ],
)
def test_bad_settings_are_refused_naming_the_argument(tokenizer, setting, value, error, match):
    model = tiny(3, vocab_size=tokenizer.vocab_size)
    with pytest.raises(error, match=match):
        SamplingPlayground(model, tokenizer, **{setting: value})


def test_a_model_of_another_kind_is_refused(tokenizer):
    with pytest.raises(TypeError, match="model must be an llmlab.model.GPT"):
        SamplingPlayground(torch.nn.Linear(2, 2), tokenizer)


# ---------------------------------------------------------------------------------------------
# The exercises' references agree with llmlab.sampling, the library the lesson builds on.


def test_top_p_sample_draws_each_kept_token_with_its_nucleus_probability():
    """Walking u over a fine grid, each token comes out as often as softmax(sampling.top_p(...))
    says: the sampler is sampling.top_p followed by a draw."""
    rng, grid = random.Random(1), 4000
    for _ in range(40):
        logits, p, _ = exercises.EXERCISES["top_p_sample"].cases(rng)
        counts = torch.zeros(len(logits))
        for k in range(grid):
            counts[exercises.top_p_sample(logits, p, (k + 0.5) / grid)] += 1
        expected = sampling.top_p(logits[None], p)[0].softmax(dim=-1)
        assert torch.allclose(counts / grid, expected, atol=2 / grid)


def test_beam_step_repeated_is_beam_search():
    """Without stop tokens, beam_search keeps exactly beam_step's beams at every step and
    returns the best one of the last step."""
    model = tiny(5, vocab_size=11).eval()
    for prompt, width, n in (([1, 2], 1, 6), ([3], 2, 5), ([4, 0, 7], 3, 8), ([9], 4, 4)):
        beams, scores = [[]], torch.zeros(1)
        for _ in range(n):
            with torch.no_grad():
                logits = model(torch.tensor([prompt + b for b in beams]))[0][:, -1]
            beams, scores = exercises.beam_step(beams, scores, logits.log_softmax(-1), width)
        assert beams[0] == sampling.beam_search(model, prompt, width, n)
        assert scores.tolist() == sorted(scores.tolist(), reverse=True)


def test_cached_attention_step_is_the_last_row_of_causal_attention():
    rng = random.Random(3)
    for _ in range(50):
        q, k, v, keys, values = exercises.EXERCISES["cached_attention_step"].cases(rng)
        out, all_keys, all_values = exercises.cached_attention_step(q, k, v, keys, values)
        queries = torch.cat([torch.randn_like(keys), q], dim=1)  # earlier queries do not matter
        full = torch.nn.functional.scaled_dot_product_attention(
            queries, all_keys, all_values, is_causal=True
        )
        assert torch.allclose(out, full[:, -1:], atol=1e-5)
        assert all_keys.shape[1] == keys.shape[1] + 1 and torch.equal(all_values[:, -1:], v)

"""Lesson 01: the token playground (driven through its controls), its helpers and the exercises."""

import json
import random
import re
from collections import Counter
from itertools import pairwise

import pytest
from matplotlib.figure import Figure

from llmlab import corpus, exercises, viz, widgets
from llmlab.tokenization import (
    BPETokenizer,
    CharTokenizer,
    bytes_to_unicode,
    merge,
    pretokenize,
    train_bpe,
    train_hf_bpe,
)

EOT = "<|endoftext|>"
SIZES = (300, 350, 400)
UNICODE = "naïve café 😀 日本"  # characters outside the plays, split into bytes by BPE


@pytest.fixture(scope="module")
def train_text() -> str:
    return corpus.text("train")[:60_000]


@pytest.fixture(scope="module")
def playground(train_text: str) -> widgets.TokenPlayground:
    return widgets.TokenPlayground(text="KING:\nGood morrow!", sizes=SIZES, train_text=train_text)


@pytest.fixture(scope="module")
def passage() -> str:
    return corpus.text("validation")[:5_000]


# -- BPETokenizer.truncated ------------------------------------------------------------------


def test_truncated_bpe_equals_training_to_that_size(train_text, passage):
    big = BPETokenizer.train(train_text, 400, [EOT])
    for size in (257, 300, 399, 400):
        small = big.truncated(size)
        vocab, merges = train_bpe(train_text, size, [EOT])
        assert (small.vocab, small.merges) == (vocab, merges)
        trained = BPETokenizer(vocab, merges, [EOT])
        assert small.encode(passage + EOT) == trained.encode(passage + EOT)


def test_truncated_bpe_bad_input(train_text):
    big = BPETokenizer.train(train_text, 300, [EOT])
    with pytest.raises(ValueError, match=r"vocab_size must be in \[257, 300\], got 256"):
        big.truncated(256)
    with pytest.raises(ValueError, match="got 301"):
        big.truncated(301)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        big.truncated(280.0)
    # GPT-2's files put the special token last: cutting by id would lose it.
    ordinary = {i: t for i, t in big.vocab.items() if i != 256}
    gpt2_layout = BPETokenizer({k: t for k, t in enumerate(ordinary.values())}, big.merges, [EOT])
    assert gpt2_layout.special_id(EOT) == 299
    with pytest.raises(ValueError, match="the ids train\\(\\) gives"):
        gpt2_layout.truncated(280)


# -- token_view and token_html ---------------------------------------------------------------------


def test_token_view_gives_each_tokens_bytes_for_every_kind_of_tokenizer(train_text):
    bpe = BPETokenizer.train(train_text, 300, [EOT])
    hf = train_hf_bpe(train_text, 300, [EOT])
    text = "KING:\nGood morrow, " + UNICODE + EOT + "!"
    for tokenizer, ids in [(bpe, bpe.encode(text)), (hf, hf.encode(text).ids), (bpe.to_hf(), None)]:
        view = widgets.token_view(tokenizer, text)
        assert view.ids == (ids if ids is not None else bpe.encode(text))
        assert b"".join(view.pieces) == text.encode("utf-8")
        assert EOT.encode() in view.pieces  # the special token is one piece
        assert view.bytes_per_token == len(text.encode("utf-8")) / len(view.ids)
        assert view.vocab_size == 300 and not view.error
    chars = CharTokenizer(train_text)
    view = widgets.token_view(chars, "KING:\nGood")
    assert view.ids == chars.encode("KING:\nGood")
    assert [p.decode() for p in view.pieces] == list("KING:\nGood")
    with pytest.raises(TypeError, match="tokenizer must be"):
        widgets.token_view("not a tokenizer", "text")
    with pytest.raises(TypeError, match="text must be a str"):
        widgets.token_view(bpe, b"bytes")


def test_token_view_keeps_the_char_tokenizers_error_for_display():
    view = widgets.token_view(CharTokenizer("abc"), "abz")
    assert view.ids == [] and view.bytes_per_token == 0.0
    assert "'z'" in view.error and "never seen" in view.error
    html = widgets.token_html(view, "characters")
    assert "never seen" in html and "<span" not in html


def test_token_html_says_what_to_do_with_an_empty_text_and_caps_its_chips():
    tokenizer = CharTokenizer("ab\n")
    empty = widgets.token_html(widgets.token_view(tokenizer, ""), "characters")
    assert "type or paste some text" in empty and "bytes per token" not in empty
    long = widgets.token_html(widgets.token_view(tokenizer, "ab" * 300), "characters", 50)
    assert long.count("class='llmlab-token'") == 50
    assert "showing the first 50 of 600 tokens" in long and "<b>600 tokens</b>" in long


def test_token_html_colours_escapes_and_shows_partial_characters():
    pieces = [b"a", b" <b>", b"\xf0\x9f", b"\x98\x80\n"]
    view = widgets.TokenView("a <b>😀\n", [7, 8, 9, 10], pieces, 300)
    html = widgets.token_html(view, "BPE")
    assert html.count("class='llmlab-token'") == html.count("class='llmlab-id'") == 4
    assert "·&lt;b&gt;" in html and "<b> <" not in html  # spaces visible, text escaped
    assert "&lt;f0&gt;&lt;9f&gt;" in html  # half a character: its bytes, each in brackets
    assert "&lt;98&gt;&lt;80&gt;&lt;0a&gt;" in html and html.count("<br>") == 1  # ends a line
    assert "title='id 9'" in html and "<b>4 tokens</b> (4 distinct)" in html
    colours = [c for c in widgets.TOKEN_COLOURS if c in html]
    assert len(colours) == 4  # neighbouring tokens never share a colour


# -- the playground, driven through its controls ---------------------------------------------------


def test_playground_starts_with_the_largest_llmlab_bpe(playground):
    assert (playground.kind.value, playground.vocab_size.value) == ("bpe", 400)
    assert playground.view.ids == playground.bpe[400].encode("KING:\nGood morrow!")
    assert f"<b>{len(playground.view.ids)} tokens</b>" in playground.output.value
    assert "BPE (llmlab)" in playground.output.value and "vocabulary 400" in playground.output.value


def test_typing_text_re_encodes_it(playground):
    before = playground.output.value
    playground.text.value = "ROMEO:\nBut soft, what light through yonder window breaks?"
    assert playground.output.value != before
    assert playground.view.ids == playground.bpe[400].encode(playground.text.value)
    assert playground.bpe[400].decode(playground.view.ids) == playground.text.value
    assert all(f">{i}</span>" in playground.output.value for i in playground.view.ids)


def test_vocabulary_slider_switches_between_truncations(playground):
    playground.kind.value = "bpe"
    playground.text.value = corpus.text("validation")[:2_000]
    lengths = []
    for size in SIZES:
        playground.vocab_size.value = size
        assert playground.view.ids == playground.bpe[size].encode(playground.text.value)
        assert playground.view.vocab_size == size
        assert f"vocabulary {size}" in playground.output.value
        assert f"<b>{len(playground.view.ids):,} tokens</b>" in playground.output.value
        lengths.append(len(playground.view.ids))
    assert lengths[0] > lengths[1] > lengths[2]


def test_switching_tokenizers(playground, train_text):
    playground.vocab_size.value = 350
    playground.text.value = "Good morrow, cousin."
    playground.kind.value = "char"
    assert playground.vocab_size.disabled
    assert playground.view.ids == CharTokenizer(train_text).encode("Good morrow, cousin.")
    assert "<b>characters</b>" in playground.output.value
    assert playground.readout.value == f"{playground.char.vocab_size} tokens"  # not the slider's
    playground.text.value = UNICODE
    assert playground.view.ids == [] and "never seen" in playground.output.value
    assert "😀" in playground.output.value and "U+1F600" in playground.output.value
    playground.kind.value = "hf"
    assert not playground.vocab_size.disabled
    assert playground.view.ids == playground.hf[350].encode(UNICODE).ids
    assert b"".join(playground.view.pieces) == UNICODE.encode("utf-8")
    assert "HF tokenizers" in playground.output.value and "&lt;f0&gt;" in playground.output.value
    playground.kind.value = "bpe"
    assert playground.view.ids == playground.bpe[350].encode(UNICODE)


def test_playground_draws_each_id_under_its_token_and_bytes_in_brackets(playground):
    playground.kind.value = "bpe"
    playground.text.value = "é\nb"
    shown = playground.output.value
    for i in playground.view.ids:
        assert f"<span class='llmlab-id' style='font-size:75%;color:#444'>{i}</span>" in shown
    assert "&lt;c3&gt;" in shown or "é" in shown  # a split character as bytes, a whole one as is
    assert "↵" in shown and "<br>" in shown and "a new line" in shown  # and the legend says so
    assert widgets.tokens._piece_text(b"\xc3") == "<c3>"
    assert widgets.tokens._piece_text(b" a\n") == "·a↵"


def test_playground_reuses_tokenizers_passed_in(train_text):
    bpe = BPETokenizer.train(train_text, 320, [EOT])
    hf = {300: train_hf_bpe(train_text, 300, [EOT]), 320: train_hf_bpe(train_text, 320, [EOT])}
    playground = widgets.TokenPlayground(sizes=[300, 320], train_text="abc", bpe=bpe, hf=hf)
    assert playground.hf[320] is hf[320] and playground.bpe[320].merges == bpe.merges
    assert playground.char.vocab_size == 3  # the character tokenizer of train_text
    playground.kind.value = "hf"
    playground.vocab_size.value = 300
    assert playground.view.ids == hf[300].encode(playground.text.value).ids


def test_playground_bad_input(train_text):
    bpe = BPETokenizer.train(train_text, 300, [EOT])
    hf = {300: train_hf_bpe(train_text, 300, [EOT])}
    with pytest.raises(ValueError, match="increasing order"):
        widgets.TokenPlayground(sizes=[300, 290], train_text=train_text, bpe=bpe, hf=hf)
    with pytest.raises(ValueError, match="increasing order"):
        widgets.TokenPlayground(sizes=[], train_text=train_text, bpe=bpe, hf=hf)
    with pytest.raises(ValueError, match="at least 320 tokens"):
        widgets.TokenPlayground(sizes=[300, 320], train_text=train_text, bpe=bpe, hf=hf)
    with pytest.raises(ValueError, match=r"missing \[290\]"):
        widgets.TokenPlayground(sizes=[290, 300], train_text=train_text, bpe=bpe, hf=hf)


# -- the compression chart -------------------------------------------------------------------------


def test_line_chart_draws_one_line_per_series():
    figure = viz.line_chart([256, 512, 1024], {"a": [1, 2, 3], "b": [1, 2.5, 3.5]}, log_x=True)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.lines] == ["a", "b"]
    assert list(axes.lines[1].get_ydata()) == [1, 2.5, 3.5]
    assert axes.get_xscale() == "log" and [t.get_text() for t in axes.get_xticklabels()] == [
        "256",
        "512",
        "1,024",
    ]
    with pytest.raises(ValueError, match="series 'a' has 2 values for 3 x values"):
        viz.line_chart([1, 2, 3], {"a": [1, 2]})
    with pytest.raises(ValueError, match="at least one line"):
        viz.line_chart([1, 2, 3], {})


# -- the exercises ---------------------------------------------------------------------------------


def _cases(name: str, n: int = 15) -> list[tuple]:
    rng = random.Random(1)
    return [exercises.EXERCISES[name].cases(rng) for _ in range(n)]


def test_count_pairs_reference_counts_pairs_inside_words_only(passage):
    words = Counter(tuple(bytes([b]) for b in w.encode()) for w in pretokenize(passage))
    expected = Counter(
        p for w in pretokenize(passage) for p in pairwise(bytes([b]) for b in w.encode())
    )
    assert exercises.count_pairs(words) == expected


def test_apply_merge_cases_include_overlaps_and_keep_counts():
    # Agreement with llmlab's merge (and encode_word's with the tokenizer): tests/test_package.py.
    cases = _cases("apply_merge", 30)
    assert any(pair == (b"o", b"o") for _, pair in cases)  # the overlapping case is drawn
    for words, pair in cases:
        assert sum(exercises.apply_merge(words, pair).values()) == sum(words.values())


def test_exercise_checks_catch_typical_mistakes(capsys):
    def uncounted(words):  # forgets that a word occurs many times
        counts = Counter()
        for tokens in words:
            counts.update(pairwise(tokens))
        return dict(counts)

    def no_skip(words, pair):  # forgets to skip the second token of a merged pair
        out = {}
        for tokens, n in words.items():
            merged = []
            for i, token in enumerate(tokens):
                merged.append(pair[0] + pair[1] if tokens[i : i + 2] == pair else token)
            out[tuple(merged)] = n
        return out

    def merged(tokens, pair):  # the learner's own merge_by_hand, for words
        out, i = [], 0
        while i < len(tokens):
            if tuple(tokens[i : i + 2]) == pair:
                out.append(pair[0] + pair[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        return out

    def latest_first(word, merges):  # applies the merges in the wrong order
        tokens = [bytes([b]) for b in word.encode()]
        for pair in reversed(merges):
            tokens = merged(tokens, pair)
        return tokens

    def in_order(word, merges):  # each merge once, earliest first: a correct alternative
        tokens = [bytes([b]) for b in word.encode()]
        for pair in merges:
            tokens = merged(tokens, pair)
        return tokens

    assert not exercises.check("count_pairs", uncounted)
    assert not exercises.check("apply_merge", no_skip)
    assert not exercises.check("encode_word", latest_first)
    assert exercises.check("encode_word", in_order)
    out = capsys.readouterr().out
    assert out.count("differs") == 3 and "all 25 cases match" in out


def test_a_tokenizer_built_on_the_librarys_pieces_is_refused(capsys):
    """bpe_tokenizer allows only the given pre-tokenizer: the library's own merge, encoder or the
    reference answers to exercises 1-3 are the work the learner must do."""

    def on_reference_pieces(train_text, vocab_size, text):
        words = Counter(tuple(bytes([b]) for b in w.encode()) for w in pretokenize(train_text))
        merges = []
        while 256 + len(merges) < vocab_size and (counts := exercises.count_pairs(words)):
            merges.append(max(counts, key=lambda p: (counts[p], p)))
            words = exercises.apply_merge(words, merges[-1])
        id_of = {bytes([i]): i for i in range(256)} | {
            a + b: 256 + k for k, (a, b) in enumerate(merges)
        }
        ids = [id_of[t] for w in pretokenize(text) for t in exercises.encode_word(w, merges)]
        return ids, b"".join(next(t for t, j in id_of.items() if j == i) for i in ids).decode()

    def on_the_tokenizer(train_text, vocab_size, text):
        tokenizer = BPETokenizer.train(train_text, vocab_size)
        ids = tokenizer.encode(text)
        return ids, tokenizer.decode(ids)

    assert not exercises.check("bpe_tokenizer", on_reference_pieces, n_cases=2)
    assert "called llmlab's own `lesson01.count_pairs`" in capsys.readouterr().out
    assert not exercises.check("bpe_tokenizer", on_the_tokenizer, n_cases=2)
    assert "called llmlab's own `tokenization." in capsys.readouterr().out
    assert not exercises.check("encode_word", lambda w, m: merge(list(w.encode()), m[0], 0))
    assert "called llmlab's own `tokenization.merge`" in capsys.readouterr().out


# -- the lesson's numbers (the lesson asserts its claims; these pin what it prints) ---------------


def test_the_word_vocabulary_misses_3_5_percent_of_the_held_out_words():
    def words_of(text):
        return re.findall(r"\w+|[^\w\s]", text)

    vocab = set(words_of(corpus.text("train")))
    held_out = words_of(corpus.text("validation"))
    unknown = [w for w in held_out if w not in vocab]
    assert len(vocab) == 26_554 and round(len(unknown) / len(held_out), 3) == 0.035
    assert round(sum(w.isupper() for w in unknown) / len(unknown), 2) == 0.53


@pytest.mark.once
def test_llmlab_and_hf_train_nearly_the_same_4096_tokens():
    """What any `tokenizers` version must give (the lesson prints the rest, not compared): the
    two trainers agree on the early merges and share over 95% of the tokens."""
    text = corpus.text("train")
    ours = BPETokenizer.train(text, 4096, [EOT])
    theirs = train_hf_bpe(text, 4096, [EOT])
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    shared = {bytes(byte_of[c] for c in t) for t in theirs.get_vocab()} & set(ours.vocab.values())
    assert len(shared) / 4096 > 0.95
    assert ours.merges[185] == (b" a", b"m") and ours.merges[:100] == [
        tuple(bytes(byte_of[c] for c in t) for t in (m.split(" ") if isinstance(m, str) else m))
        for m in json.loads(theirs.to_str())["model"]["merges"][:100]
    ]

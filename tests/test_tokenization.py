"""Tokenizers: round trips, the BPE training rules, a naive reference, parity with HF tokenizers."""

import doctest
import itertools
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from llmlab import corpus, tokenization
from llmlab import pretokenize as pretokenize_module
from llmlab.tokenization import (
    BPETokenizer,
    CharTokenizer,
    bytes_to_unicode,
    load_tokenizer,
    merge,
    pair_counts,
    pretokenize,
    tokenizer_from_dict,
    train_bpe,
    train_hf_bpe,
)

EOT = "<|endoftext|>"
SPECIALS = [EOT, "<|pad|>"]

# Characters Python's Unicode database assigns (the pre-tokenizer equals HF's on exactly these).
assigned_text = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=80)
any_text = st.text(max_size=80)  # any code point but lone surrogates, which UTF-8 cannot encode
tricky_text = st.lists(
    st.sampled_from([*"ab Z1é😀'\n\t.", "  ", "\n\n", "'ll", *SPECIALS]), max_size=40
).map("".join)


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train(corpus.text("train")[:200_000], 400, SPECIALS)


@pytest.fixture(scope="module")
def hf(tok: BPETokenizer) -> Tokenizer:
    return tok.to_hf()


def hf_pretokenize(text: str) -> list[str]:
    """HF's ByteLevel pre-tokenizer, with its byte characters turned back into text."""
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    splits = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)
    return [bytes(byte_of[c] for c in piece).decode("utf-8") for piece, _ in splits]


def naive_train(text: str, vocab_size: int, special_tokens=()) -> tuple[dict, list]:
    """Textbook BPE, independent of the library's bookkeeping: before every merge, count the
    pairs of every pre-token occurrence again; take the max of (count, left bytes, right bytes)."""
    if special_tokens:
        text = re.sub("|".join(map(re.escape, sorted(special_tokens, key=len)[::-1])), "\0", text)
    words = [list(w.encode()) for part in text.split("\0") for w in pretokenize(part)]
    vocab = {i: bytes([i]) for i in range(256)}
    vocab.update({256 + k: s.encode() for k, s in enumerate(special_tokens)})
    merges = []
    while len(vocab) < vocab_size:
        counts = Counter(p for w in words for p in zip(w, w[1:], strict=False))
        if not counts:
            break
        a, b = max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))
        new = len(vocab)
        vocab[new] = vocab[a] + vocab[b]
        merges.append((vocab[a], vocab[b]))
        for w in words:  # replace (a, b) left to right
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i : i + 2] = [new]
                i += 1
    return vocab, merges


# -- the two small functions -------------------------------------------------------------------


@pytest.mark.parametrize("module", [tokenization, pretokenize_module], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_pair_counts_and_merge_examples():
    assert pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert pair_counts([7, 7, 7]) == {(7, 7): 2}
    assert pair_counts([5]) == {} and pair_counts([]) == {}
    assert merge([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge([7, 7, 7], (7, 7), 9) == [9, 7]
    assert merge([7, 7, 7, 7], (7, 7), 9) == [9, 9]
    assert merge([1, 2], (2, 1), 9) == [1, 2]


@given(st.lists(st.integers(0, 3), max_size=30), st.integers(0, 3), st.integers(0, 3))
def test_merge_is_undone_by_expanding_the_new_id(ids, a, b):
    merged = merge(ids, (a, b), 99)
    expanded = [x for i in merged for x in ((a, b) if i == 99 else (i,))]
    assert expanded == ids
    assert len(merged) == len(ids) - merged.count(99)
    if a != b:  # with a == b, [a, a, a] legitimately keeps one pair (a, a) after the merge
        assert (a, b) not in pair_counts(merged)


# -- characters --------------------------------------------------------------------------------


def test_char_tokenizer_round_trip_and_sorted_ids():
    text = corpus.text("validation")[:5000]
    tok = CharTokenizer(text)
    assert tok.chars == sorted(set(text)) and tok.vocab_size == len(set(text))
    assert tok.decode(tok.encode(text)) == text
    assert CharTokenizer("hello world").encode("hold") == [3, 5, 4, 1]


def test_char_tokenizer_names_unknown_characters():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) .* 'z' \(U\+007A\), 'é' \(U\+00E9\)"):
        tok.encode("aézb")


def test_char_tokenizer_save_load(tmp_path):
    tok = CharTokenizer("To be, or not to be: that is the question.\n")
    tok.save(tmp_path / "chars.json")
    again = CharTokenizer.load(tmp_path / "chars.json")
    assert again.chars == tok.chars
    assert again.encode("to be") == tok.encode("to be")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: CharTokenizer(""), ValueError, "at least one character"),
        (lambda: CharTokenizer(b"abc"), TypeError, "text must be a str"),
        (lambda: CharTokenizer("ab").encode(["a"]), TypeError, "text must be a str"),
        (lambda: CharTokenizer("ab").decode([0, 2]), ValueError, r"\[0, 2\), got 2 at position 1"),
        (lambda: CharTokenizer("ab").decode([-1]), ValueError, "got -1"),
        (lambda: CharTokenizer("ab").decode(["a"]), ValueError, "got 'a'"),
    ],
)
def test_char_tokenizer_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- pre-tokenization ----------------------------------------------------------------------------


def test_pretokenize_example_and_byte_alphabet():
    words = ["I", "'ll", " pay", " 1000", " ducats", "!", " ", " Now", "."]
    assert pretokenize("I'll pay 1000 ducats!  Now.") == words
    alphabet = bytes_to_unicode()
    assert sorted(alphabet.values()) == sorted(pre_tokenizers.ByteLevel.alphabet())
    assert (alphabet[ord(" ")], alphabet[ord("\n")], alphabet[ord("!")]) == ("Ġ", "Ċ", "!")


def test_pretokenize_matches_hf_on_held_out_plays():
    text = corpus.text("validation")
    assert pretokenize(text) == hf_pretokenize(text)


@given(assigned_text)
def test_pretokenize_matches_hf_on_random_unicode(text):
    assert pretokenize(text) == hf_pretokenize(text)


@pytest.mark.once  # about 7 s; no torch in it
def test_pretokenize_matches_hf_on_every_assigned_character():
    """Each assigned code point next to a letter, a digit, a symbol and a space. Private-use
    characters (137,000 of them) are sampled; the pattern has two versions (below and above
    U+10000), so each part of Unicode is checked on its own."""
    categories = {chr(c): unicodedata.category(chr(c)) for c in range(sys.maxunicode + 1)}
    chars = [c for c, cat in categories.items() if cat not in ("Cn", "Cs", "Co")]
    chars += [c for c, cat in categories.items() if cat == "Co"][::97]
    for part in ([c for c in chars if c < "\U00010000"], [c for c in chars if c >= "\U00010000"]):
        probe = "".join(f"a{c}1{c}!{c} {c}\n" for c in part)
        assert pretokenize(probe) == hf_pretokenize(probe)


# -- training --------------------------------------------------------------------------------------


def test_cs336_handout_example():
    """The worked example of CS336 assignment 1 (one word per line keeps its word counts)."""
    words = "low low low low low lower lower widest widest widest newest newest newest newest"
    words += " newest newest"
    vocab, merges = train_bpe("\n".join(words.split()), 256 + 1 + 6, [EOT])
    assert [left + b" " + right for left, right in merges] == [
        b"s t",
        b"e st",
        b"o w",
        b"l ow",
        b"w est",
        b"n e",
    ]
    assert vocab[256] == EOT.encode() and vocab[257] == b"st" and vocab[262] == b"ne"


def test_ties_go_to_the_greatest_pair_of_byte_strings():
    # Every pair occurs once; the greatest is (b"z", b"y"): not the first seen, not the smallest.
    assert train_bpe("ab\nzy\nza\nyz", 257)[1] == [(b"z", b"y")]
    # After (a, b), the pairs (b"ab", b"c") and (b"a", b"z") tie at 2. Pairs compare part by
    # part and b"ab" > b"a", so "ab"+"c" wins, though the joined b"az" > b"abc" would say otherwise.
    assert train_bpe("abc\nabc\naz\naz\nab\nab", 258)[1] == [(b"a", b"b"), (b"ab", b"c")]


@settings(max_examples=60, deadline=None)
@given(tricky_text, st.integers(256 + 2, 256 + 40))
def test_training_equals_naive_reference(text, vocab_size):
    assert train_bpe(text, vocab_size, SPECIALS) == naive_train(text, vocab_size, SPECIALS)


def test_training_equals_naive_reference_on_the_corpus(monkeypatch):
    text = corpus.text("train")[:20_000]
    expected = naive_train(text, 400, [EOT])
    assert train_bpe(text, 400, [EOT]) == expected
    monkeypatch.setattr(tokenization, "_SLICE", 777)  # long texts are handled in slices
    assert train_bpe(text, 400, [EOT]) == expected


def test_training_is_deterministic_across_runs_and_hash_seeds():
    code = (
        "from llmlab import corpus; from llmlab.tokenization import train_bpe; "
        "v, m = train_bpe(corpus.text('train')[:50_000], 500, ['<|endoftext|>']); "
        "print([(a.hex(), b.hex()) for a, b in m])"
    )
    vocab, merges = train_bpe(corpus.text("train")[:50_000], 500, [EOT])
    assert train_bpe(corpus.text("train")[:50_000], 500, [EOT]) == (vocab, merges)
    expected = str([(a.hex(), b.hex()) for a, b in merges])
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert run.stdout.strip() == expected, run.stderr


def test_training_stops_when_no_pair_is_left():
    vocab, merges = train_bpe("ab", 1000)
    assert merges == [(b"a", b"b")] and len(vocab) == 257


def test_hf_trainer_differs_only_in_tie_order():
    """HF's trainer learns our merges up to the first tie it breaks the other way."""
    text = corpus.text("train")[:100_000]
    ours = train_bpe(text, 400)[1]
    hf_merges = json.loads(train_hf_bpe(text, 400).to_str())["model"]["merges"]
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    theirs = [tuple(bytes(byte_of[c] for c in s) for s in pair) for pair in hf_merges]  # [a, b]
    assert len(theirs) == len(ours)
    k = next(k for k, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
    vocab = {i: bytes([i]) for i in range(256)} | {256 + j: a + b for j, (a, b) in enumerate(ours)}
    upto_k = BPETokenizer({i: vocab[i] for i in range(256 + k)}, ours[:k])
    counts = Counter()
    for word in pretokenize(text):
        ids = upto_k.encode(word)
        counts.update((vocab[a], vocab[b]) for a, b in zip(ids, ids[1:], strict=False))
    assert counts[ours[k]] == counts[theirs[k]] == max(counts.values())
    assert ours[k] > theirs[k]


# -- special tokens --------------------------------------------------------------------------------


@given(st.lists(st.tuples(assigned_text, st.sampled_from(SPECIALS)), max_size=4), assigned_text)
def test_special_tokens_are_one_id_each_and_never_split(tok, parts, tail):
    expected = []
    for text, special in parts:
        expected += tok.encode(text) + [tok.special_id(special)]
    text = "".join(t + s for t, s in parts) + tail
    assert tok.encode(text) == expected + tok.encode(tail)
    assert tok.decode(tok.encode(text)) == text


def test_special_tokens_prefer_the_longest_and_stay_out_of_training():
    tok = BPETokenizer.train("x<|a|>y<|a|><|b|>z" * 50, 300, ["<|a|>", "<|a|><|b|>"])
    a, ab = tok.special_id("<|a|>"), tok.special_id("<|a|><|b|>")
    assert tok.encode("<|a|><|b|><|a|>") == [ab, a]
    assert tok.to_hf().encode("<|a|><|b|><|a|>").ids == [ab, a]
    assert all(b"<" not in left + right and b"|" not in left + right for left, right in tok.merges)


# -- encoding and decoding -------------------------------------------------------------------------


@given(any_text)
def test_round_trip_on_random_unicode(tok, text):
    assert tok.decode(tok.encode(text)) == text


@given(st.lists(st.integers(0, 399), max_size=40))
def test_decode_replaces_invalid_utf8_like_hf(tok, hf, ids):
    assert tok.decode(ids) == hf.decode(ids, skip_special_tokens=False)


def test_encode_iterable_streams_the_same_ids(tok):
    text = corpus.text("validation")[:100_000] + EOT + "  \n \n\nEnd."
    assert list(tok.encode_iterable(text.splitlines(keepends=True))) == tok.encode(text)
    endless = tok.encode_iterable(itertools.cycle(["To be, or not to be\n"]))
    assert list(itertools.islice(endless, 60)) == tok.encode("To be, or not to be\n" * 20)[:60]


@given(tricky_text, st.lists(st.integers(0, 200), max_size=8))
def test_encode_iterable_matches_encode_wherever_the_stream_is_cut(tok, text, cuts):
    cuts = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    chunks = [text[i:j] for i, j in itertools.pairwise(cuts)]
    assert list(tok.encode_iterable(chunks)) == tok.encode(text)


# -- compatibility ---------------------------------------------------------------------------------


def test_hf_export_gives_identical_ids_on_held_out_plays(tok, hf):
    text = corpus.text("validation")
    assert hf.encode(text).ids == tok.encode(text)


@given(st.lists(st.one_of(assigned_text, st.sampled_from(SPECIALS)), max_size=6))
def test_hf_export_gives_identical_ids_on_random_unicode(tok, hf, parts):
    text = "".join(parts)
    assert hf.encode(text).ids == tok.encode(text)


def gpt2_files(tmp_path) -> tuple:
    """A miniature of GPT-2's published files: its 256 byte tokens with GPT-2's ids (the order of
    bytes_to_unicode: "!" is 0, "Ġ" is 220, "Ċ" is 198), the first seven lines of its merges.txt
    (ids 256-262, as in GPT-2), and "<|endoftext|>" (50256 in GPT-2, 263 here)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    order = printable + [b for b in range(256) if b not in printable]
    encoder = {bytes_to_unicode()[b]: i for i, b in enumerate(order)}
    merges = ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he"]
    encoder.update({m.replace(" ", ""): 256 + k for k, m in enumerate(merges)})
    encoder[EOT] = 263
    (tmp_path / "vocab.json").write_text(json.dumps(encoder, ensure_ascii=False), "utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    return tmp_path / "vocab.json", tmp_path / "merges.txt"


def test_gpt2_files_give_gpt2_ids(tmp_path):
    vocab_path, merges_path = gpt2_files(tmp_path)
    tok = BPETokenizer.from_gpt2_files(vocab_path, merges_path)
    assert tok.encode(" the") == [262]
    assert tok.encode("the") == [83, 258]
    assert tok.encode("Hello\n in") == [39, 68, 75, 75, 78, 198, 220, 259]
    assert tok.encode(EOT + " at") == [263, 257, 83]
    # HF tokenizers reading the same files agrees on any text
    reference = Tokenizer(models.BPE.from_file(str(vocab_path), str(merges_path)))
    reference.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    reference.decoder = decoders.ByteLevel()
    reference.add_special_tokens([AddedToken(EOT, special=True, normalized=False)])
    text = corpus.text("validation")[:20_000] + EOT + "naïve 😀"
    assert tok.encode(text) == reference.encode(text).ids
    assert tok.to_hf().encode(text).ids == reference.encode(text).ids


def test_save_load_round_trip_is_readable(tok, tmp_path):
    tok.save(tmp_path / "bpe.json")
    saved = json.loads((tmp_path / "bpe.json").read_text("utf-8"))
    first = saved["merges"][0]  # the first merge learned, two tokens as in GPT-2's merges.txt
    assert saved["vocab"][first.replace(" ", "")] == 256 + len(SPECIALS)
    assert saved["vocab"]["Ġthe"] == tok.encode(" the")[0]  # b" the" spelled as GPT-2 does
    assert saved["special_tokens"] == {EOT: 256, "<|pad|>": 257}
    again = BPETokenizer.load(tmp_path / "bpe.json")
    assert again.vocab == tok.vocab and again.merges == tok.merges
    assert again.special_tokens == tok.special_tokens
    text = corpus.text("validation")[:20_000] + EOT
    assert again.encode(text) == tok.encode(text)


def test_either_tokenizer_comes_back_from_what_it_saved(tok, tmp_path):
    chars = CharTokenizer("abc")
    assert tokenizer_from_dict(chars.to_dict()).chars == ["a", "b", "c"]
    tok.save(tmp_path / "bpe.json")
    assert load_tokenizer(tmp_path / "bpe.json").merges == tok.merges
    with pytest.raises(ValueError, match=r"config: expected a format among .*, got 'gpt'"):
        tokenizer_from_dict({"format": "gpt"}, source="config")


# -- bad input -------------------------------------------------------------------------------------

BYTES = {i: bytes([i]) for i in range(256)}


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: train_bpe("abc", 255),
            ValueError,
            r"vocab_size must be at least .* = 256, got 255",
        ),
        (lambda: train_bpe("abc", 257, [EOT, "<|pad|>"]), ValueError, r"= 258, got 257"),
        (lambda: train_bpe("abc", "512"), TypeError, "vocab_size must be an int"),
        (lambda: train_bpe(b"abc", 300), TypeError, "text must be a str, got bytes"),
        (lambda: train_bpe("abc", 300, [""]), ValueError, "non-empty"),
        (lambda: train_bpe("abc", 300, EOT), TypeError, "special_tokens must be a list of str"),
        (lambda: train_bpe("abc", 300, [EOT, EOT]), ValueError, "more than once"),
        (lambda: train_bpe("abc", 300, ["a"]), ValueError, "single byte"),
        (lambda: train_bpe("abc", 300, ["<|\n|>"]), ValueError, "newline"),
        (lambda: train_hf_bpe("abc", 100), ValueError, "vocab_size must be at least"),
        (lambda: BPETokenizer(BYTES, []).encode(None), TypeError, "text must be a str"),
        (lambda: BPETokenizer(BYTES, []).decode([256]), ValueError, r"\[0, 256\), got 256"),
        (
            lambda: BPETokenizer(BYTES, [], [EOT]).special_id("<|eot|>"),
            ValueError,
            r"unknown special token '<\|eot\|>'; this tokenizer has \['<\|endoftext\|>'\]",
        ),
        (lambda: list(BPETokenizer(BYTES, []).encode_iterable(["a", 1])), TypeError, "each chunk"),
        (
            lambda: BPETokenizer({i: BYTES[i] for i in range(255)}, []),
            ValueError,
            r"missing .*\[255\]",
        ),
        (lambda: BPETokenizer({**BYTES, 257: b"ab"}, []), ValueError, "without gaps"),
        (lambda: BPETokenizer({**BYTES, 256: b"a"}, []), ValueError, "ids 97 and 256 the same"),
        (
            lambda: BPETokenizer({**BYTES, 256: "ab"}, []),
            TypeError,
            "vocab must map int ids to bytes",
        ),
        (
            lambda: BPETokenizer(BYTES, [(b"a", b"b")]),
            ValueError,
            r"merges\[0\].*b'ab' is not in vocab",
        ),
        (lambda: BPETokenizer(BYTES, [("a", "b")]), TypeError, r"merges\[0\] must be a pair"),
        (lambda: BPETokenizer({**BYTES, 256: b"ab"}, [(b"a", b"b")] * 2), ValueError, "already"),
        (
            lambda: BPETokenizer({**BYTES, 256: b"ab"}, [(b"a", b"b")], ["ab"]),
            ValueError,
            "has the bytes of an ordinary token",
        ),
    ],
)
def test_bpe_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a JSON file"),
        ('["a list"]', "expected a JSON object"),
        ('{"format": "llmlab.CharTokenizer", "version": 1}', "expected format 'llmlab.BPETok"),
        ('{"format": "llmlab.BPETokenizer", "version": 2}', "version 1, got .* version 2"),
        ('{"format": "llmlab.BPETokenizer", "version": 1, "vocab": {}}', "'special_tokens' must"),
    ],
)
def test_load_refuses_what_is_not_a_saved_tokenizer(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "field, key, value, message",
    [
        ("merges", 0, "Ġt", r"merges\[0\] must be two tokens and a space"),
        ("merges", 0, "Ġ zz", r"merges\[0\] = \(b' ', b'zz'\): b'zz' is not in vocab"),
        ("vocab", " ", 5, "not one of GPT-2's 256 byte characters"),
        ("vocab", "Ġ", "32", "is not an int or not unique"),
        ("vocab", "Ġ", 33, "is not an int or not unique"),
    ],
)
def test_load_names_the_broken_part_of_a_file(tmp_path, field, key, value, message):
    saved = BPETokenizer({**BYTES, 256: b" t"}, [(b" ", b"t")]).to_dict()
    saved[field][key] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(saved), "utf-8")
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.load(path)
    assert str(path) in str(info.value)


def test_char_tokenizer_load_refuses_a_bad_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "llmlab.CharTokenizer", "version": 1, "chars": ["b", "a"]}')
    with pytest.raises(ValueError, match="sorted list of distinct single characters"):
        CharTokenizer.load(path)


def test_lone_surrogates_are_refused_wherever_text_enters(tok):
    """Half a UTF-16 pair is not a character: UTF-8 cannot encode it, and neither can we."""
    bad = "to be\ud800"
    for attempt in (
        lambda: CharTokenizer(bad),
        lambda: CharTokenizer("to be").encode(bad),
        lambda: tok.encode(bad),
        lambda: list(tok.encode_iterable(["to be\n", bad])),
        lambda: BPETokenizer.train(bad * 3, 258),
    ):
        with pytest.raises(ValueError, match=r"lone surrogate '\\ud800' at index 5"):
            attempt()

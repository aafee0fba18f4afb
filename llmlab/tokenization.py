"""Tokenization: turning text into the integer ids a model reads, and back again.

Two tokenizers live here:

* :class:`CharTokenizer` gives one id to each distinct character of a text. Simple, but it
  knows nothing outside that text and spends one id on every character.
* :class:`BPETokenizer` is byte-level byte-pair encoding, with the conventions of GPT-2 and of
  Stanford CS336 (assignment 1). Encoding a text takes four steps:

  1. special tokens such as ``<|endoftext|>`` are cut out first; each becomes one id;
  2. the rest is split into *pre-tokens* ("Hello", " world", "!") by GPT-2's regular expression,
     so that merges never cross a word boundary (:mod:`llmlab.pretokenize`);
  3. each pre-token's UTF-8 bytes start as single-byte tokens (ids for all 256 bytes exist, so
     no text is ever unknown);
  4. the learned merges are applied, earliest learned first, until none applies.

  Training (:func:`train_bpe`) starts from the 256 bytes plus the special tokens and repeatedly
  merges the most frequent adjacent pair of tokens, counted over the pre-tokens of the text.
  Ties go to the lexicographically greatest pair of byte strings (CS336's rule), so training is
  deterministic. :func:`pair_counts` and :func:`merge` are the two small steps it is made of.

Compatibility: :meth:`BPETokenizer.to_hf` exports a tokenizer that the Hugging Face
``tokenizers`` library runs with identical ids; :meth:`BPETokenizer.from_gpt2_files` reads GPT-2's
published ``vocab.json`` and ``merges.txt``; :func:`train_hf_bpe` trains the same kind of
tokenizer with ``tokenizers``, for comparison.
"""

from __future__ import annotations

import heapq
import json
import operator
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmlab import files
from llmlab.pretokenize import _WHITESPACE, _pretokenize

# Pre-tokenization has a module of its own; these stay importable from here too.
from llmlab.pretokenize import GPT2_PATTERN as GPT2_PATTERN
from llmlab.pretokenize import pretokenize as pretokenize

if TYPE_CHECKING:
    import tokenizers

Pair = tuple[int, int]

# --------------------------------------------------------------------------------------------
# The two small functions BPE is made of.


def pair_counts(ids: Sequence[int]) -> dict[Pair, int]:
    """How often each adjacent pair occurs: ``[1, 2, 1, 2]`` -> ``{(1, 2): 2, (2, 1): 1}``.

    Overlapping occurrences all count, so ``(7, 7)`` occurs twice in ``[7, 7, 7]``.
    """
    counts: dict[Pair, int] = {}
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    ``merge([1, 2, 3, 1, 2], (1, 2), 9)`` -> ``[9, 3, 9]``. Replaced occurrences never overlap:
    ``merge([7, 7, 7], (7, 7), 9)`` -> ``[9, 7]``.
    """
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# --------------------------------------------------------------------------------------------
# Argument checks shared by both tokenizers.


def _check_str(value: object, name: str) -> None:
    """A str that UTF-8 can encode: a lone surrogate (half of a UTF-16 pair, e.g. from a badly
    decoded file) is no character at all, so it is refused here rather than deep inside."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} holds a lone surrogate {value[error.start]!r} at index {error.start}, "
            "which is not a character (was the text decoded with errors='surrogateescape'?)"
        ) from None


def _check_special_tokens(special_tokens: Iterable[str]) -> list[str]:
    """The special tokens as a list, after checking each is a new, non-empty string."""
    if isinstance(special_tokens, str):
        raise TypeError(f"special_tokens must be a list of str, got the str {special_tokens!r}")
    tokens = list(special_tokens)
    for token in tokens:
        _check_str(token, "each special token")
        if not token:
            raise ValueError("special tokens must be non-empty strings, got ''")
        if len(token.encode("utf-8")) == 1:
            raise ValueError(
                f"special token {token!r} is a single byte, which is already an ordinary token"
            )
        if "\n" in token:  # encode_iterable cuts streams just after newlines (see _pieces)
            raise ValueError(f"special tokens may not contain a newline, got {token!r}")
    repeated = sorted({t for t in tokens if tokens.count(t) > 1})
    if repeated:
        raise ValueError(f"special_tokens lists {repeated} more than once")
    return tokens


def _check_vocab_size(vocab_size: object, special_tokens: list[str]) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
    smallest = 256 + len(special_tokens)
    if vocab_size < smallest:
        raise ValueError(
            f"vocab_size must be at least 256 (the bytes) + {len(special_tokens)} (special tokens)"
            f" = {smallest}, got {vocab_size}"
        )


def _look_up(table: Sequence[Any], ids: Iterable[int]) -> list[Any]:
    """``[table[i] for i in ids]``, with a ValueError naming the first id outside the table.

    Any integer type works (Python, NumPy, a PyTorch scalar); negative ids are refused rather
    than counted from the end of the table.
    """
    out = []
    for position, i in enumerate(ids):
        try:
            index = operator.index(i)
        except TypeError:
            index = -1
        if not 0 <= index < len(table):
            raise ValueError(
                f"ids must be integers in [0, {len(table)}), got {i!r} at position {position}"
            )
        out.append(table[index])
    return out


# --------------------------------------------------------------------------------------------
# Characters.


class CharTokenizer:
    """One id per distinct character of a text, in sorted order: the simplest tokenizer.

    >>> tok = CharTokenizer("hello world")
    >>> tok.encode("hold")
    [3, 5, 4, 1]
    >>> tok.decode([3, 5, 4, 1])
    'hold'

    A character that was not in the text has no id: :meth:`encode` raises a ``ValueError`` that
    names it (there is deliberately no silent "unknown" token). Byte-level BPE has no such gap.
    """

    def __init__(self, text: str) -> None:
        _check_str(text, "text")
        if not text:
            raise ValueError("text must contain at least one character to build a vocabulary")
        self.chars: list[str] = sorted(set(text))
        self._ids = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """The id of each character of ``text``."""
        _check_str(text, "text")
        try:
            return [self._ids[c] for c in text]
        except KeyError:
            unknown = sorted(set(text) - self._ids.keys())
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise ValueError(
                f"text contains {len(unknown)} character(s) this CharTokenizer has never seen: "
                f"{shown}{more}. It knows only the {self.vocab_size} characters of the text it "
                "was built from."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; an id outside the vocabulary is a ValueError."""
        return "".join(_look_up(self.chars, ids))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, e.g. to store inside a checkpoint's config."""
        return {"format": "llmlab.CharTokenizer", "version": 1, "chars": self.chars}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "data") -> CharTokenizer:
        """Rebuild a tokenizer from :meth:`to_dict`'s output; ``source`` names it in errors."""
        _check_format(data, "llmlab.CharTokenizer", source)
        chars = data.get("chars")
        if (
            not isinstance(chars, list)
            or not chars
            or not all(isinstance(c, str) and len(c) == 1 for c in chars)
            or chars != sorted(set(chars))
        ):
            raise ValueError(
                f"{source}: 'chars' must be a non-empty sorted list of distinct single characters"
            )
        return cls("".join(chars))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer as a small JSON file (see :meth:`to_dict`)."""
        _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharTokenizer:
        """Read a file written by :meth:`save`; a malformed file is a ValueError naming it."""
        return cls.from_dict(_read_json(path), source=str(path))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _check_format(data: object, expected: str, source: str) -> None:
    """A saved tokenizer is a JSON object that says what it is; refuse anything else early."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != expected or data.get("version") != 1:
        raise ValueError(
            f"{source}: expected format {expected!r} version 1, "
            f"got format {data.get('format')!r} version {data.get('version')!r}"
        )


def _write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write atomically (a temporary file, then a rename), so a crash never leaves half a file."""
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    files.write_atomically(path, text.encode("utf-8"))


def _read_json(path: str | os.PathLike[str]) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None


# --------------------------------------------------------------------------------------------
# Long texts and streams, cut into pieces that pre-tokenize like the whole.

# A cut just after a newline that has non-whitespace on both sides leaves pre-tokenization
# unchanged: that newline is a pre-token of its own whatever follows, and no pattern looks
# behind. (Special tokens cannot contain a newline, so no cut falls inside one either.)
_SAFE_CUT = re.compile(f"(?<=[^{_WHITESPACE}]\n)(?=[^{_WHITESPACE}])")
_SLICE = 1 << 20  # characters of a long text handled at a time, to bound memory


def _pieces(chunks: Iterable[str], name: str) -> Iterator[str]:
    """Re-cut a stream of text at safe points: the pieces pre-tokenize like their concatenation.

    Memory holds one piece: in practice a line or two of a file read line by line (a stream
    without safe points, e.g. no newlines at all, is held whole). Each chunk is searched once,
    with the two characters before it (all a cut needs to see), so the work is linear in the
    stream's length whatever its layout.
    """
    pending: list[str] = []  # the text since the last cut
    tail = ""  # its last two characters
    for chunk in chunks:
        _check_str(chunk, name)
        start = 0
        for match in _SAFE_CUT.finditer(tail + chunk):
            cut = match.start() - len(tail)  # (>= 0: a cut needs two characters before it)
            pending.append(chunk[start:cut])
            yield "".join(pending)
            pending, start = [], cut
        pending.append(chunk[start:])
        tail = (tail + chunk)[-2:]
    rest = "".join(pending)
    if rest:
        yield rest


def _special_regex(special_tokens: Iterable[str]) -> re.Pattern[str] | None:
    """Matches any special token, longest first: where two overlap, the longer one wins."""
    tokens = sorted(special_tokens, key=len, reverse=True)
    return re.compile("(" + "|".join(map(re.escape, tokens)) + ")") if tokens else None


def _plain_texts(text: str, special_tokens: list[str]) -> Iterator[str]:
    """The text between special tokens, in pieces of about a line (see :func:`_pieces`)."""
    specials = _special_regex(special_tokens)
    slices = (text[i : i + _SLICE] for i in range(0, len(text), _SLICE))
    for piece in _pieces(slices, "text"):
        yield from specials.split(piece)[::2] if specials else [piece]


# --------------------------------------------------------------------------------------------
# GPT-2's printable spelling of bytes, used by saved files and by HF tokenizers.


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character: b" " -> "Ġ", b"\\n" -> "Ċ".

    Bytes that are printable Latin-1 characters map to themselves; the others (controls, space)
    are shifted to U+0100 and up. Token b" the" is thus written "Ġthe" in vocab files.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    others = [b for b in range(256) if b not in printable]
    mapping = {b: chr(b) for b in printable}
    mapping.update({b: chr(256 + n) for n, b in enumerate(others)})
    return dict(sorted(mapping.items()))


def _spell(token: bytes) -> str:
    alphabet = bytes_to_unicode()
    return "".join(alphabet[b] for b in token)


@lru_cache(maxsize=1)
def _unspell_table() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def _unspell(text: str, where: str) -> bytes:
    table = _unspell_table()
    try:
        return bytes(table[c] for c in text)
    except KeyError as error:
        raise ValueError(
            f"{where}: token {text!r} contains {error.args[0]!r}, which is not one of GPT-2's "
            "256 byte characters"
        ) from None


# --------------------------------------------------------------------------------------------
# Training.


def train_bpe(
    text: str, vocab_size: int, special_tokens: Iterable[str] = ()
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Learn a byte-level BPE vocabulary of ``vocab_size`` tokens from ``text``.

    Returns ``vocab`` (id -> bytes: ids 0-255 are the bytes, then the special tokens, then one
    id per merge) and ``merges`` (pairs of byte strings, in the order they were learned).

    Each step merges the most frequent adjacent pair, ties going to the greatest pair of byte
    strings. Counting is incremental, as a real trainer must be: the text is reduced to its
    distinct pre-tokens ("words") with their counts, each pair remembers which words contain
    it, and a merge recounts only the words it changes. A heap finds the most frequent pair.
    Training stops early if no pair is left (a tiny text).
    """
    _check_str(text, "text")
    specials = _check_special_tokens(special_tokens)
    _check_vocab_size(vocab_size, specials)
    vocab = {i: bytes([i]) for i in range(256)}
    for token in specials:
        vocab[len(vocab)] = token.encode("utf-8")

    word_counts: Counter[str] = Counter()
    for plain in _plain_texts(text, specials):
        word_counts.update(_pretokenize(plain))
    words = [list(word.encode("utf-8")) for word in word_counts]  # as ids: byte b has id b
    counts = list(word_counts.values())

    freq: dict[Pair, int] = Counter()  # pair -> occurrences in the whole text
    where: dict[Pair, set[int]] = defaultdict(set)  # pair -> indices of the words containing it
    for i, word in enumerate(words):
        for pair, k in pair_counts(word).items():
            freq[pair] += k * counts[i]
            where[pair].add(i)
    heap = [(-n, pair) for pair, n in freq.items()]
    heapq.heapify(heap)

    merges: list[tuple[bytes, bytes]] = []
    while len(vocab) < vocab_size:
        pair = _pop_most_frequent(heap, freq, vocab)
        if pair is None:
            break
        new_id = len(vocab)
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        merges.append((vocab[pair[0]], vocab[pair[1]]))
        _merge_in_words(pair, new_id, words, counts, freq, where, heap)
    return vocab, merges


def _pop_most_frequent(
    heap: list[tuple[int, Pair]], freq: dict[Pair, int], vocab: dict[int, bytes]
) -> Pair | None:
    """Pop the pair to merge next: the most frequent; among equals, the greatest (bytes, bytes).

    The heap holds ``(-count, pair)``. Counts change all the time; instead of finding and
    fixing an entry, a change pushes a new one, and entries whose count is out of date are
    dropped here when they surface ("lazy deletion").
    """

    def current(entry: tuple[int, Pair]) -> bool:
        return freq.get(entry[1]) == -entry[0]

    while heap and not current(heap[0]):
        heapq.heappop(heap)
    if not heap:
        return None
    top = heap[0][0]
    tied = set()
    while heap and heap[0][0] == top:
        entry = heapq.heappop(heap)
        if current(entry):
            tied.add(entry[1])
    best = max(tied, key=lambda pair: (vocab[pair[0]], vocab[pair[1]]))
    for pair in tied - {best}:
        heapq.heappush(heap, (top, pair))
    return best


def _merge_in_words(
    pair: Pair,
    new_id: int,
    words: list[list[int]],
    counts: list[int],
    freq: dict[Pair, int],
    where: dict[Pair, set[int]],
    heap: list[tuple[int, Pair]],
) -> None:
    """Merge ``pair`` in the words that contain it; update the counts of the pairs it changes."""
    change: Counter[Pair] = Counter()
    for i in where.pop(pair):
        before = pair_counts(words[i])
        words[i] = merge(words[i], pair, new_id)
        after = pair_counts(words[i])
        for p, k in before.items():
            change[p] -= k * counts[i]
            if p not in after and p != pair:  # (``pair`` itself was popped above)
                where[p].discard(i)
        for p, k in after.items():
            change[p] += k * counts[i]
            if p not in before:
                where[p].add(i)
    for p, delta in change.items():
        if delta:
            freq[p] += delta
            if freq[p]:
                heapq.heappush(heap, (-freq[p], p))
            else:
                del freq[p]
                where.pop(p, None)


# --------------------------------------------------------------------------------------------
# The tokenizer.

_CACHE_SIZE = 1 << 18  # pre-tokens whose encoding is remembered (then the cache starts over)


class BPETokenizer:
    """Byte-level BPE: any text in, ids out, and back, with GPT-2's and CS336's conventions.

    Make one by training, ``BPETokenizer.train(text, vocab_size, special_tokens)``, or from an
    existing vocabulary: ``BPETokenizer(vocab, merges, special_tokens)`` with ``vocab`` mapping
    ids 0..n-1 to bytes (it must contain the 256 single bytes) and ``merges`` the learned pairs
    of byte strings in order. Special tokens whose bytes are not in ``vocab`` get the next ids;
    they must be strings of two bytes or more without a newline (streams are cut at newlines).

    Attributes (read them, do not change them): ``vocab`` (id -> bytes), ``merges`` (list of
    byte-string pairs) and ``special_tokens`` (str -> id).
    """

    def __init__(
        self,
        vocab: dict[int, bytes],
        merges: Iterable[tuple[bytes, bytes]],
        special_tokens: Iterable[str] = (),
    ) -> None:
        specials = _check_special_tokens(special_tokens)
        self.vocab = _checked_vocab(vocab)
        id_of = {token: i for i, token in self.vocab.items()}
        missing = [b for b in range(256) if bytes([b]) not in id_of]
        if missing:
            raise ValueError(f"vocab must contain all 256 single bytes; missing bytes {missing}")
        self._byte_ids = [id_of[bytes([b])] for b in range(256)]

        self.merges: list[tuple[bytes, bytes]] = []
        self._rank: dict[Pair, int] = {}  # (left id, right id) -> when it was learned
        self._merged: dict[Pair, int] = {}  # (left id, right id) -> id of the merged token
        for rank, (left, right) in enumerate(_checked_merges(merges)):
            for part in (left, right, left + right):
                if part not in id_of:
                    raise ValueError(f"merges[{rank}] = {(left, right)}: {part!r} is not in vocab")
            pair = (id_of[left], id_of[right])
            if pair in self._rank:
                raise ValueError(f"merges[{rank}] = {(left, right)} was already learned")
            self._rank[pair], self._merged[pair] = rank, id_of[left + right]
            self.merges.append((left, right))

        ordinary = {bytes([b]) for b in range(256)} | {a + b for a, b in self.merges}
        self.special_tokens: dict[str, int] = {}
        for token in specials:
            data = token.encode("utf-8")
            if data in ordinary:
                raise ValueError(f"special token {token!r} has the bytes of an ordinary token")
            if data not in id_of:
                id_of[data] = len(self.vocab)
                self.vocab[len(self.vocab)] = data
            self.special_tokens[token] = id_of[data]
        self._specials = _special_regex(specials)
        self._token_bytes = [self.vocab[i] for i in range(len(self.vocab))]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, special_tokens: Iterable[str] = ()) -> BPETokenizer:
        """Train on ``text`` (see :func:`train_bpe`) and return the tokenizer."""
        special_tokens = _check_special_tokens(special_tokens)
        vocab, merges = train_bpe(text, vocab_size, special_tokens)
        return cls(vocab, merges, special_tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def special_id(self, token: str) -> int:
        """The id of a special token, e.g. ``tok.special_id("<|endoftext|>")``."""
        _check_str(token, "token")
        if token not in self.special_tokens:
            raise ValueError(
                f"unknown special token {token!r}; this tokenizer has {list(self.special_tokens)}"
            )
        return self.special_tokens[token]

    # -- encoding and decoding ----------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``. Special tokens in the text become their single ids."""
        _check_str(text, "text")
        ids: list[int] = []
        parts = self._specials.split(text) if self._specials else [text]
        for k, part in enumerate(parts):
            if k % 2:  # split() puts the special tokens it found at the odd positions
                ids.append(self.special_tokens[part])
            elif part:
                self._encode_plain(part, ids)
        return ids

    def _encode_plain(self, text: str, ids: list[int]) -> None:
        """Append the ids of text without special tokens. Words repeat, so their ids are cached."""
        cache = self._cache
        if len(cache) > _CACHE_SIZE:
            cache.clear()
        for word in _pretokenize(text):
            word_ids = cache.get(word)
            if word_ids is None:
                word_ids = cache[word] = self._encode_word(word.encode("utf-8"))
            ids.extend(word_ids)

    def _encode_word(self, data: bytes) -> list[int]:
        """Apply the merges to one pre-token: always the earliest-learned pair present first.

        Each pass scans the whole pre-token, and a pair is merged in one pass at most: quick
        for words, slow for a pre-token of many kilobytes (e.g. a long run without spaces).
        """
        ids = [self._byte_ids[b] for b in data]
        while len(ids) > 1:
            pair = min(pairwise(ids), key=lambda p: self._rank.get(p, len(self._rank)))
            if pair not in self._rank:
                break
            ids = merge(ids, pair, self._merged[pair])
        return ids

    def encode_iterable(self, chunks: Iterable[str]) -> Iterator[int]:
        """Encode a stream of text, e.g. an open file read line by line, yielding ids lazily.

        The ids are those of ``encode("".join(chunks))``: the stream is cut only where
        pre-tokens cannot change (just after a newline between non-space characters), so
        memory holds about a line, never the whole file.
        """
        if isinstance(chunks, str):
            raise TypeError("encode_iterable expects an iterable of str chunks; use encode(text)")
        for piece in _pieces(chunks, "each chunk"):
            yield from self.encode(piece)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``. Bytes that are not valid UTF-8 (e.g. half of a character, when a
        sequence is cut between its tokens) become the replacement character U+FFFD."""
        return b"".join(_look_up(self._token_bytes, ids)).decode("utf-8", errors="replace")

    # -- saving and loading -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, human-readable description (tokens spelled as in GPT-2's files)."""
        special_ids = set(self.special_tokens.values())
        return {
            "format": "llmlab.BPETokenizer",
            "version": 1,
            "special_tokens": dict(self.special_tokens),
            "vocab": {_spell(t): i for i, t in self.vocab.items() if i not in special_ids},
            "merges": [f"{_spell(left)} {_spell(right)}" for left, right in self.merges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "data") -> BPETokenizer:
        """Rebuild a tokenizer from :meth:`to_dict`'s output; ``source`` names it in errors."""
        _check_format(data, "llmlab.BPETokenizer", source)
        fields = {"special_tokens": dict, "vocab": dict, "merges": list}
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind):
                raise ValueError(f"{source}: {name!r} must be a JSON {kind.__name__}")
        vocab: dict[int, bytes] = {}
        entries = [(_unspell(s, f"{source} vocab"), i) for s, i in data["vocab"].items()]
        entries += [(s.encode("utf-8"), i) for s, i in data["special_tokens"].items()]
        for token, i in entries:
            if not isinstance(i, int) or i in vocab:
                raise ValueError(f"{source}: id {i!r} of {token!r} is not an int or not unique")
            vocab[i] = token
        merges = []
        for k, line in enumerate(data["merges"]):
            if not isinstance(line, str) or line.count(" ") != 1:
                raise ValueError(f"{source}: merges[{k}] must be two tokens and a space: {line!r}")
            merges.append(tuple(_unspell(s, f"{source} merges[{k}]") for s in line.split(" ")))
        try:
            return cls(vocab, merges, list(data["special_tokens"]))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: {error}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer as one readable JSON file (see :meth:`to_dict`)."""
        _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Read a file written by :meth:`save`; a malformed file is a ValueError naming it."""
        return cls.from_dict(_read_json(path), source=str(path))

    @classmethod
    def from_gpt2_files(
        cls,
        vocab_path: str | os.PathLike[str],
        merges_path: str | os.PathLike[str],
        special_tokens: Iterable[str] = ("<|endoftext|>",),
    ) -> BPETokenizer:
        """Read GPT-2's published ``vocab.json`` (token -> id) and ``merges.txt``.

        With OpenAI's files this tokenizer gives GPT-2's ids (e.g. " the" -> 262).
        """
        specials = _check_special_tokens(special_tokens)
        encoder = _read_json(vocab_path)
        if not isinstance(encoder, dict):
            raise ValueError(f"{vocab_path}: expected a JSON object mapping tokens to ids")
        vocab = {}
        for s, i in encoder.items():
            if not isinstance(i, int):
                raise ValueError(f"{vocab_path}: the id of {s!r} must be an int, got {i!r}")
            vocab[i] = s.encode("utf-8") if s in specials else _unspell(s, str(vocab_path))
        lines = Path(merges_path).read_text(encoding="utf-8").split("\n")
        merges = []
        for k, line in enumerate(lines):
            if not line or line.startswith("#version"):
                continue
            if line.count(" ") != 1:
                raise ValueError(f"{merges_path}:{k + 1}: expected 'token token', got {line!r}")
            merges.append(tuple(_unspell(s, f"{merges_path}:{k + 1}") for s in line.split(" ")))
        return cls(vocab, merges, specials)

    # -- Hugging Face tokenizers ----------------------------------------------------------------

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """The tokenizer that training to ``vocab_size`` would have given, cut from this one.

        Training is greedy: each merge depends only on the merges before it. Stopping earlier
        therefore gives the first merges of a longer run, and a smaller vocabulary is the 256 bytes,
        the special tokens and the first ``vocab_size - 256 - len(specials)`` merges. One training
        run at the largest size thus gives every smaller size at no cost. The tokenizer must be laid
        out as :meth:`train` makes it (bytes, then special tokens, then merged tokens).
        """
        specials = list(self.special_tokens)
        smallest = 256 + len(specials)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if not smallest <= vocab_size <= self.vocab_size:
            raise ValueError(
                f"vocab_size must be in [{smallest}, {self.vocab_size}], got {vocab_size}"
            )
        trained_layout = [bytes([b]) for b in range(256)] + [t.encode("utf-8") for t in specials]
        trained_layout += [left + right for left, right in self.merges]
        if [self.vocab[i] for i in range(self.vocab_size)] != trained_layout:
            raise ValueError("truncated() needs the ids train() gives: bytes, specials, merges")
        vocab = {i: self.vocab[i] for i in range(vocab_size)}
        return BPETokenizer(vocab, self.merges[: vocab_size - smallest], specials)

    def to_hf(self) -> tokenizers.Tokenizer:
        """The same tokenizer as a ``tokenizers.Tokenizer``: same ids for every text.

        A BPE model with GPT-2's byte-level pre-tokenizer (no prefix space) and decoder; the
        special tokens are added tokens, matched before pre-tokenization like ours.
        """
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        saved = self.to_dict()
        vocab = saved["vocab"]
        for token, i in self.special_tokens.items():
            if token in vocab:
                raise ValueError(
                    f"special token {token!r} is spelled like ordinary token {vocab[token]}; "
                    "HF tokenizers keeps both in one table"
                )
            vocab[token] = i
        merges = [tuple(line.split(" ")) for line in saved["merges"]]
        hf = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        hf.decoder = decoders.ByteLevel()
        hf.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in self.special_tokens]
        )
        return hf

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={list(self.special_tokens)})"
        )


def _checked_vocab(vocab: object) -> dict[int, bytes]:
    """A copy of ``vocab`` after checking it maps the ids 0..n-1 to distinct byte strings."""
    if not isinstance(vocab, dict):
        raise TypeError(f"vocab must be a dict of int ids to bytes, got {type(vocab).__name__}")
    for i, token in vocab.items():
        if isinstance(i, bool) or not isinstance(i, int) or not isinstance(token, bytes):
            raise TypeError(f"vocab must map int ids to bytes, got {i!r}: {token!r}")
    if sorted(vocab) != list(range(len(vocab))):
        raise ValueError(f"vocab ids must be 0..{len(vocab) - 1} without gaps")
    seen: dict[bytes, int] = {}
    for i, token in sorted(vocab.items()):
        if token in seen:
            raise ValueError(f"vocab gives ids {seen[token]} and {i} the same bytes {token!r}")
        seen[token] = i
    return dict(sorted(vocab.items()))


def _checked_merges(merges: object) -> list[tuple[bytes, bytes]]:
    if isinstance(merges, (str, bytes)) or not isinstance(merges, Iterable):
        raise TypeError(f"merges must be a list of (bytes, bytes), got {type(merges).__name__}")
    merges = list(merges)
    for k, pair in enumerate(merges):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(f"merges[{k}] must be a pair (bytes, bytes), got {pair!r}")
        if not all(isinstance(part, bytes) for part in pair):
            raise TypeError(f"merges[{k}] must be a pair (bytes, bytes), got {pair!r}")
    return [(left, right) for left, right in merges]


# --------------------------------------------------------------------------------------------
# Training with Hugging Face tokenizers, for comparison.


def train_hf_bpe(
    text: str, vocab_size: int, special_tokens: Iterable[str] = ()
) -> tokenizers.Tokenizer:
    """Train the same kind of tokenizer with HF ``tokenizers`` (its Rust BPE trainer).

    Same setup as :func:`train_bpe`: the 256 bytes as the initial alphabet, GPT-2
    pre-tokenization without a prefix space, no normalizer, special tokens kept out of the
    training text. One difference: HF breaks ties between equally frequent pairs by its own
    token order, not by the greatest byte strings, so a few late merges may differ.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    _check_str(text, "text")
    specials = _check_special_tokens(special_tokens)
    _check_vocab_size(vocab_size, specials)
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    hf.train_from_iterator(_plain_texts(text, specials), trainer=trainer)
    return hf


# --------------------------------------------------------------------------------------------
# Either tokenizer, from what it saved.


def tokenizer_from_dict(data: dict[str, Any], source: str = "data") -> CharTokenizer | BPETokenizer:
    """Rebuild whichever tokenizer ``to_dict()`` described, e.g. from a checkpoint's config."""
    kinds = {"llmlab.CharTokenizer": CharTokenizer, "llmlab.BPETokenizer": BPETokenizer}
    kind = data.get("format") if isinstance(data, dict) else None
    if kind not in kinds:
        raise ValueError(f"{source}: expected a format among {list(kinds)}, got {kind!r}")
    return kinds[kind].from_dict(data, source)


def load_tokenizer(path: str | os.PathLike[str]) -> CharTokenizer | BPETokenizer:
    """Read a tokenizer saved by either class's ``save()``."""
    return tokenizer_from_dict(_read_json(path), source=str(path))

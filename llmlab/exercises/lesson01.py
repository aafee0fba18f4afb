"""Lesson 01's exercises: byte-pair encoding by hand (count pairs, merge, encode a word), then
a whole tokenizer class that trains, encodes and decodes."""

from __future__ import annotations

import random

from llmlab.exercises.registry import exercise, wrong_answer

# The state BPE training works on: each distinct pre-token ("word") as its current tokens,
# mapped to how often it occurs in the text.
Words = dict[tuple[bytes, ...], int]


def _random_passage(rng: random.Random, speeches: int) -> str:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - speeches)
    return "\n".join(s.render() for s in every[start : start + speeches])


def _random_words(rng: random.Random) -> Words:
    """The words of a random passage of the held-out plays, after a few merges learned on it."""
    from llmlab.tokenization import pretokenize, train_bpe

    passage = _random_passage(rng, rng.randint(1, 12))
    words: Words = {}
    for word in pretokenize(passage):
        tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
        words[tokens] = words.get(tokens, 0) + 1
    for pair in train_bpe(passage, 256 + rng.randint(0, 20))[1]:
        words = apply_merge(words, pair)
    return words


@exercise(
    "count_pairs",
    lambda rng: (_random_words(rng),),
    builds="count adjacent token pairs across the text",
    minutes=10,
    hints=(
        "A word that occurs n times contributes each of its pairs n times.",
        "zip(tokens, tokens[1:]) walks the adjacent pairs of one word.",
    ),
)
def count_pairs(words: Words) -> dict[tuple[bytes, bytes], int]:
    """How often each adjacent pair of tokens occurs in the whole text.

    A pair inside a word occurs once per occurrence of the word, so it counts the word's count.
    Pairs never span two words: that is how merges stay inside pre-tokens.
    """
    counts: dict[tuple[bytes, bytes], int] = {}
    for tokens, n in words.items():
        for i in range(len(tokens) - 1):
            pair = (tokens[i], tokens[i + 1])
            counts[pair] = counts.get(pair, 0) + n
    return counts


def _random_words_and_pair(rng: random.Random) -> tuple[Words, tuple[bytes, bytes]]:
    if rng.random() < 0.2:  # runs of one byte, where occurrences of the pair overlap
        return {(b"o",) * rng.randint(2, 7): rng.randint(1, 3), (b"n", b"o", b"o"): 1}, (b"o", b"o")
    if rng.random() < 0.2:  # two words that become one: their counts add up
        return {(b" ", b"a", b"b"): rng.randint(1, 5), (b" ", b"ab"): rng.randint(1, 5)}, (
            b"a",
            b"b",
        )
    words = _random_words(rng)
    pairs = sorted(count_pairs(words))
    return words, rng.choice(pairs) if pairs else (b"a", b"b")


@exercise(
    "apply_merge",
    _random_words_and_pair,
    builds="merge one pair into one token, in every word",
    difficulty=2,
    minutes=15,
    hints=(
        "Walk each word with an index; when the pair starts at i, emit the merged token, jump 2.",
        "Two words may become the same tuple after the merge: add their counts.",
    ),
)
def apply_merge(words: Words, pair: tuple[bytes, bytes]) -> Words:
    """Merge each occurrence of ``pair`` into one token, in every word.

    Scan left to right and skip past a merge, so occurrences never overlap: in o o o the pair
    (o, o) merges once, giving oo o. Counts are kept (and added up, should two words meet).
    """
    merged: Words = {}
    for tokens, n in words.items():
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
                out.append(pair[0] + pair[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        merged[tuple(out)] = merged.get(tuple(out), 0) + n
    return merged


def _random_word_and_merges(rng: random.Random) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A word and merges learned on a passage (the word is from it, or one it has never seen)."""
    from llmlab.tokenization import pretokenize, train_bpe

    passage = _random_passage(rng, 20)
    merges = train_bpe(passage, 256 + rng.randint(1, 80))[1]
    words = [w for w in pretokenize(passage) if len(w) > 2]
    return rng.choice([*words, " Gloucestershire", " naïveté", "!!!!"]), merges


@exercise(
    "encode_word",
    _random_word_and_merges,
    builds="encode a word with learned merges, earliest merge first",
    difficulty=2,
    minutes=20,
    hints=(
        "rank = {pair: k for k, pair in enumerate(merges)} says which merge was learned first.",
        "Loop: among the word's adjacent pairs that have a rank, merge the one with the lowest.",
    ),
)
def encode_word(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Split one pre-token into tokens with learned merges, as ``BPETokenizer.encode`` does.

    Start from its bytes. While some adjacent pair is a learned merge, apply the one learned
    earliest (everywhere in the word), because training made the later merges out of the
    tokens of the earlier ones.
    """
    rank = {pair: k for k, pair in enumerate(merges)}
    tokens = [bytes([b]) for b in word.encode("utf-8")]
    while True:
        pairs = [(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1)]
        learned = [p for p in pairs if p in rank]
        if not learned:
            return tokens
        first = min(learned, key=rank.get)
        out, i = [], 0
        while i < len(tokens):  # merge every occurrence of it, left to right
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == first:
                out.append(first[0] + first[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        tokens = out


def _random_training(rng: random.Random) -> tuple[str, int, str]:
    """A passage to train on, a vocabulary size, and a text to encode (seen, unseen or odd).

    One case in three is a single short line, where many pairs tie at the top count: only the
    stated rule (the greatest pair wins) gives the reference's merges there, not the pair seen
    first or the smallest one.
    """
    if rng.random() < 1 / 3:
        lines = [line for line in _random_passage(rng, 3).splitlines() if len(line) > 20]
        line = rng.choice(lines) if lines else "Good morrow, good my lord."
        return line, 256 + rng.randint(2, 12), line
    passage = _random_passage(rng, rng.randint(2, 15))
    probe = rng.choice([passage[: rng.randint(1, 200)], "MACBETH:\nIs this a dagger?", "naïve 😀!"])
    return passage, 256 + rng.randint(0, 40), probe


@exercise(
    "bpe_tokenizer",
    _random_training,
    builds="a whole byte-level BPE tokenizer class: train, encode, decode",
    difficulty=3,
    minutes=40,
    hints=(
        "train: pre-tokenize, count words, then repeat count_pairs -> best pair -> apply_merge.",
        "Ties between equally frequent pairs go to the greatest pair: max by (count, pair).",
        "encode: pre-tokenize, encode_word each piece, look up each token's id.",
    ),
    allowed=("pretokenize",),  # the given pre-tokenizer; the rest is yours (exercises 1-3)
)
def bpe_tokenizer(train_text: str, vocab_size: int, text: str) -> tuple[list[int], str]:
    """A whole byte-level BPE tokenizer as one class (minbpe's exercise): train, encode, decode.

    Train it on ``train_text`` up to ``vocab_size`` tokens, then return the ids of ``text`` and
    those ids decoded. Ids 0-255 are the bytes; merge k gets id 256 + k. In the notebook the
    three helpers below are your own ``count_pairs``, ``apply_merge`` and ``encode_word``.
    """
    from llmlab.tokenization import pretokenize

    def merged(tokens: tuple[bytes, ...], pair: tuple[bytes, bytes]) -> tuple[bytes, ...]:
        out, i = [], 0
        while i < len(tokens):  # left to right, no overlaps
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
                out.append(pair[0] + pair[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        return tuple(out)

    class Tokenizer:
        def train(self, text: str, vocab_size: int) -> None:
            words: Words = {}
            for word in pretokenize(text):  # merges stay inside pre-tokens
                tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
                words[tokens] = words.get(tokens, 0) + 1
            self.merges: list[tuple[bytes, bytes]] = []
            while 256 + len(self.merges) < vocab_size:
                counts: dict[tuple[bytes, bytes], int] = {}  # count_pairs
                for tokens, n in words.items():
                    for pair in zip(tokens, tokens[1:], strict=False):
                        counts[pair] = counts.get(pair, 0) + n
                if not counts:
                    break  # every word is a single token: nothing left to merge
                best = max(counts, key=lambda p: (counts[p], p))  # ties: the greatest pair
                self.merges.append(best)
                new_words: Words = {}  # apply_merge
                for tokens, n in words.items():
                    key = merged(tokens, best)
                    new_words[key] = new_words.get(key, 0) + n
                words = new_words
            self.vocab = {i: bytes([i]) for i in range(256)}
            self.vocab.update({256 + k: a + b for k, (a, b) in enumerate(self.merges)})
            self.id_of = {token: i for i, token in self.vocab.items()}

        def encode_word(self, word: str) -> list[bytes]:
            rank = {pair: k for k, pair in enumerate(self.merges)}
            tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
            while True:
                learned = [p for p in zip(tokens, tokens[1:], strict=False) if p in rank]
                if not learned:
                    return list(tokens)
                tokens = merged(tokens, min(learned, key=rank.get))  # earliest merge first

        def encode(self, text: str) -> list[int]:
            return [self.id_of[t] for word in pretokenize(text) for t in self.encode_word(word)]

        def decode(self, ids: list[int]) -> str:
            return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    tokenizer = Tokenizer()
    tokenizer.train(train_text, vocab_size)
    ids = tokenizer.encode(text)
    return ids, tokenizer.decode(ids)


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("count_pairs")
def _ignores_word_counts(words: Words) -> dict[tuple[bytes, bytes], int]:
    counts: dict[tuple[bytes, bytes], int] = {}
    for tokens in words:
        for pair in zip(tokens, tokens[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + 1
    return counts


@wrong_answer("apply_merge")
def _overwrites_counts(words: Words, pair: tuple[bytes, bytes]) -> Words:
    merged: Words = {}
    for tokens, n in words.items():
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
                out.append(pair[0] + pair[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        merged[tuple(out)] = n
    return merged


@wrong_answer("encode_word")
def _latest_merge_first(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    rank = {pair: k for k, pair in enumerate(merges)}
    tokens = [bytes([b]) for b in word.encode("utf-8")]
    while True:
        learned = [p for p in zip(tokens, tokens[1:], strict=False) if p in rank]
        if not learned:
            return tokens
        a, b = max(learned, key=rank.get)
        out, i = [], 0
        while i < len(tokens):
            if tokens[i : i + 2] == [a, b]:
                out.append(a + b)
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        tokens = out


@wrong_answer("encode_word")
def _longest_match_first(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    # greedy longest match against the vocabulary: not what BPE learned to do
    vocab = {a + b for a, b in merges}
    data, tokens, i = word.encode("utf-8"), [], 0
    while i < len(data):
        end = max((j for j in range(i + 2, len(data) + 1) if data[i:j] in vocab), default=i + 1)
        tokens.append(data[i:end])
        i = end
    return tokens


@wrong_answer("count_pairs")
def _pairs_across_words(words: Words) -> dict[tuple[bytes, bytes], int]:
    # the words glued into one sequence: pairs span two words
    sequence = [token for tokens, n in words.items() for _ in range(n) for token in tokens]
    counts: dict[tuple[bytes, bytes], int] = {}
    for pair in zip(sequence, sequence[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


@wrong_answer("apply_merge")
def _overlapping_merges(words: Words, pair: tuple[bytes, bytes]) -> Words:
    # steps one token after a merge instead of two: in o o o, (o, o) merges twice
    merged: Words = {}
    for tokens, n in words.items():
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
                out.append(pair[0] + pair[1])
            elif i == 0 or (tokens[i - 1], tokens[i]) != pair:
                out.append(tokens[i])
            i += 1
        merged[tuple(out)] = merged.get(tuple(out), 0) + n
    return merged


@wrong_answer("bpe_tokenizer")
def _ties_to_the_smallest_pair(
    train_text: str, vocab_size: int, text: str
) -> tuple[list[int], str]:
    from llmlab.tokenization import pretokenize

    words: dict[tuple[bytes, ...], int] = {}
    for word in pretokenize(train_text):
        tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
        words[tokens] = words.get(tokens, 0) + 1
    merges: list[tuple[bytes, bytes]] = []
    while 256 + len(merges) < vocab_size:
        counts: dict[tuple[bytes, bytes], int] = {}
        for tokens, n in words.items():
            for pair in zip(tokens, tokens[1:], strict=False):
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break
        top = max(counts.values())
        best = min(p for p in counts if counts[p] == top)  # ties: the smallest pair (wrong)
        merges.append(best)
        new_words: dict[tuple[bytes, ...], int] = {}
        for tokens, n in words.items():
            out, i = [], 0
            while i < len(tokens):
                if tokens[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(tokens[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    vocab = {i: bytes([i]) for i in range(256)} | {
        256 + k: a + b for k, (a, b) in enumerate(merges)
    }
    id_of = {token: i for i, token in vocab.items()}
    ids = []
    for word in pretokenize(text):
        tokens = [bytes([b]) for b in word.encode("utf-8")]
        for a, b in merges:  # applying the merges in learned order is BPE's encoding
            out, i = [], 0
            while i < len(tokens):
                if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(tokens[i])
                    i += 1
            tokens = out
        ids += [id_of[t] for t in tokens]
    return ids, b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


@wrong_answer("bpe_tokenizer")
def _ties_to_the_pair_seen_first(
    train_text: str, vocab_size: int, text: str
) -> tuple[list[int], str]:
    from llmlab.tokenization import pretokenize

    words: dict[tuple[bytes, ...], int] = {}
    for word in pretokenize(train_text):
        tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
        words[tokens] = words.get(tokens, 0) + 1
    merges: list[tuple[bytes, bytes]] = []
    while 256 + len(merges) < vocab_size:
        counts: dict[tuple[bytes, bytes], int] = {}
        for tokens, n in words.items():
            for pair in zip(tokens, tokens[1:], strict=False):
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break
        best = max(counts, key=counts.get)  # ties: whichever pair was counted first (wrong)
        merges.append(best)
        new_words: dict[tuple[bytes, ...], int] = {}
        for tokens, n in words.items():
            out, i = [], 0
            while i < len(tokens):
                if tokens[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(tokens[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    vocab = {i: bytes([i]) for i in range(256)} | {
        256 + k: a + b for k, (a, b) in enumerate(merges)
    }
    id_of = {token: i for i, token in vocab.items()}
    ids = []
    for word in pretokenize(text):
        tokens = [bytes([b]) for b in word.encode("utf-8")]
        for a, b in merges:  # applying the merges in learned order is BPE's encoding
            out, i = [], 0
            while i < len(tokens):
                if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(tokens[i])
                    i += 1
            tokens = out
        ids += [id_of[t] for t in tokens]
    return ids, b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


@wrong_answer("bpe_tokenizer")
def _merges_across_words(train_text: str, vocab_size: int, text: str) -> tuple[list[int], str]:
    # no pre-tokenization: the whole text is one sequence, so merges cross word boundaries
    tokens = [bytes([b]) for b in train_text.encode("utf-8")]
    merges: list[tuple[bytes, bytes]] = []
    while 256 + len(merges) < vocab_size and len(tokens) > 1:
        counts: dict[tuple[bytes, bytes], int] = {}
        for pair in zip(tokens, tokens[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + 1
        best = max(counts, key=lambda p: (counts[p], p))
        merges.append(best)
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == best:
                out.append(best[0] + best[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        tokens = out
    vocab = {i: bytes([i]) for i in range(256)} | {
        256 + k: a + b for k, (a, b) in enumerate(merges)
    }
    id_of = {token: i for i, token in vocab.items()}
    encoded = [bytes([b]) for b in text.encode("utf-8")]
    for a, b in merges:
        out, i = [], 0
        while i < len(encoded):
            if i + 1 < len(encoded) and (encoded[i], encoded[i + 1]) == (a, b):
                out.append(a + b)
                i += 2
            else:
                out.append(encoded[i])
                i += 1
        encoded = out
    ids = [id_of[t] for t in encoded]
    return ids, b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


@wrong_answer("encode_word")
def _leftmost_learned_pair_first(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    # merges the leftmost pair that is a learned merge, whatever its rank
    learned = set(merges)
    tokens = [bytes([b]) for b in word.encode("utf-8")]
    while True:
        at = next((i for i in range(len(tokens) - 1) if tuple(tokens[i : i + 2]) in learned), None)
        if at is None:
            return tokens
        tokens[at : at + 2] = [tokens[at] + tokens[at + 1]]

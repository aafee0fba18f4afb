# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 01 · Tokenization
#
# **What you will build:** the step that turns text into the integers a model reads. You will
# compare characters, words and bytes as units, run byte-pair encoding (BPE) by hand on a toy
# string, train a byte-level BPE tokenizer on the plays, measure how well it compresses at each
# vocabulary size (with its noise), train the same thing with Hugging Face `tokenizers` (nearly
# the same tokens, numbered its own way) and export ours to it with identical ids, meet special
# tokens and the surprises tokenizers hold, and play with tokens in a widget. In the exercises
# you write BPE yourself: counting pairs, merging, encoding a word, then a whole tokenizer.
#
# **CPU time:** about a minute on a 2-core laptop. No checkpoint needed.

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. Text must become numbers
#
# A neural network is arithmetic on arrays of numbers. Its input is a sequence of integers, the
# **token ids**: the text is cut into pieces, the **tokens**, and each distinct piece gets a
# number. Each id selects a row of a table of learned numbers (the *embedding*, lesson 02). The
# model's output is one score per possible id: its prediction of the next token. A **tokenizer**
# is the two-way map between text and ids; its **vocabulary** is the list of all the tokens it
# knows. Its choices shape the model:
#
# - the **vocabulary size** is the number of rows of the embedding table and of scores the model
#   outputs at every step;
# - the **number of tokens** a text becomes is how many steps the model takes to read it, and how
#   much text fits in its **context window** (the most tokens the model reads at once).
#
# Few, long tokens make sequences short but need a large vocabulary; many short tokens need a
# small vocabulary but make sequences long. Let's look at the options on our corpus.

# %%
from llmlab import corpus

train_text = corpus.text("train")
validation_text = corpus.text("validation")
split = corpus.split_plays()
print(f"training text:   {len(train_text):>9,} characters ({len(split['train'])} plays)")
print(f"validation text: {len(validation_text):>9,} characters ({len(split['validation'])} plays)")

# %% [markdown]
# ## 2. Characters, words or bytes?
#
# ### Characters
#
# The simplest tokenizer gives one id to each distinct character of the training text:

# %%
from llmlab.tokenization import CharTokenizer

chars = CharTokenizer(train_text)
print(f"{chars.vocab_size} characters:", repr("".join(chars.chars)))
line = "To be, or not to be"
print(line, "->", chars.encode(line))
assert chars.decode(chars.encode(line)) == line
assert chars.vocab_size == 76

# %% [markdown]
# Only 76 ids: a tiny vocabulary. But it knows *only* those 76 characters. The plays have no `é`,
# no emoji, no Greek: text a user types can contain a character it cannot encode.

# %%
modern = "Café au lait? 😀"
try:
    chars.encode(modern)
    raise AssertionError("expected a ValueError")
except ValueError as error:
    message = str(error)
print(message)
assert "'é'" in message and "'😀'" in message

# %% [markdown]
# ### Words
#
# Words go the other way: each token carries a lot of text, but the vocabulary is huge and still
# incomplete. Split the text into words and punctuation marks, give each distinct one an id, and
# count how many words of the held-out plays the vocabulary has never seen:

# %%
import re
from collections import Counter


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)  # runs of letters/digits, or one other symbol


word_vocab = set(words_of(train_text))
validation_words = words_of(validation_text)
unknown = Counter(w for w in validation_words if w not in word_vocab)
unknown_share = unknown.total() / len(validation_words)
print(f"word vocabulary: {len(word_vocab):,} words")
print(f"validation words never seen in training: {unknown.total():,} ({unknown_share:.1%})")
most_common = sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
print("most common:", most_common)
in_capitals = sum(n for word, n in unknown.items() if word.isupper())
print(f"unknown words written in capitals: {in_capitals:,} ({in_capitals / unknown.total():.0%})")
assert len(word_vocab) > 26_000 and 0.03 < unknown_share < 0.04
assert in_capitals > unknown.total() / 2
name_words = {w for speech in corpus.speeches("validation") for w in words_of(speech.speaker)}
in_names = sum(n for word, n in unknown.items() if word.isupper() and word in name_words)
assert in_names > 0.95 * in_capitals  # nearly all of them are words of speakers' names

# %% [markdown]
# Over 26,000 ids, and still 3.5% of the words of these six plays are unknown. Just over half of
# them (53%) are written in capitals, and nearly all of those are words of speakers' names, which
# the plays print in capitals, of people who appear only in those plays (a model could not even
# read `MACBETH`). The rest are rare words and forms.
#
# ### Bytes
#
# A computer stores every text as a sequence of **bytes**, numbers from 0 to 255. **UTF-8** is the
# standard way to write characters as bytes: an English letter, digit or space is one byte (its
# code in ASCII, the older 128-character table that UTF-8 extends), an accented letter two, a
# Chinese or Japanese character three, an emoji four. A byte has only 256 possible values, so 256
# ids cover **all** text, in any language: nothing is ever unknown. The price: every token carries
# little, and a character outside plain English costs two to four of them.

# %%
for character in ["a", "é", "日", "😀"]:
    print(f"{character!r}: {len(character.encode('utf-8'))} byte(s) {list(character.encode())}")
print(modern, "->", list(modern.encode("utf-8")))
assert [len(c.encode("utf-8")) for c in "aé日😀"] == [1, 2, 3, 4]

# %% [markdown]
# The three options side by side, on the held-out plays:

# %%
validation_bytes = len(validation_text.encode("utf-8"))
print("unit        vocabulary  tokens for the validation text  unknown")
print(f"characters  {chars.vocab_size:>10,}  {len(validation_text):>30,}  0 here (any é fails)")
print(f"words       {len(word_vocab):>10,}  {len(validation_words):>30,}  {unknown.total():,}")
print(f"bytes       {256:>10,}  {validation_bytes:>30,}  0, ever")
assert len(validation_words) < len(validation_text) == validation_bytes  # one byte each
assert set(validation_text) <= set(chars.chars)  # the held-out plays: no new character

# %% [markdown]
# Bytes are the only choice that can never fail, but their sequences are the longest (here exactly
# as long as the characters', since the held-out plays use only one-byte characters; longer on
# any text with accents, other scripts or emoji). **Byte-pair encoding** keeps that guarantee and
# fixes the length: start from the 256 bytes, then repeatedly take the pair of adjacent tokens
# that occurs most often in the training text and make it a new token. Frequent words end up as
# single tokens, rare ones as a few pieces, and anything else falls back to bytes. GPT-2, GPT-4
# and Llama 3 all use a variant of it.
#
# ## 3. BPE by hand
#
# A toy string, as bytes. (Printing `bytes([i])` shows which byte an id stands for.)

# %%
from itertools import pairwise

toy = "aaabdaaabac"
ids = list(toy.encode("utf-8"))
print(ids)


def count_pairs_by_hand(ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs."""
    counts: dict[tuple[int, int], int] = {}
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


counts = count_pairs_by_hand(ids)
for (a, b), n in sorted(counts.items(), key=lambda kv: -kv[1]):
    print(f"{bytes([a])!r:>5} {bytes([b])!r:<5} {n}")

# %% [markdown]
# `aa` occurs four times: occurrences overlap, and `aaa` holds two. We give the pair the first free
# id, 256, and replace it everywhere, scanning left to right. A replaced occurrence is skipped, so
# `aaa` becomes `[256, a]`, not `[256, 256]`.


# %%
def merge_by_hand(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` by ``new_id``, left to right, without overlaps."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


best = max(counts, key=counts.get)
merged = merge_by_hand(ids, best, 256)
print(best, "->", 256, ":", merged)
assert merged == [256, 97, 98, 100, 256, 97, 98, 97, 99]

# %% [markdown]
# The library has the same two steps, `llmlab.tokenization.pair_counts` and `merge`; they agree:

# %%
from llmlab.tokenization import merge, pair_counts

assert count_pairs_by_hand(ids) == pair_counts(ids)
assert merge_by_hand(ids, best, 256) == merge(ids, best, 256)

# %% [markdown]
# Training is these two steps in a loop. One more rule makes it deterministic: when pairs tie, the
# winner is the **greatest pair of byte strings** (compared part by part). Here is the merge table
# the loop learns, with the toy string after each merge (`tied`: how many other pairs were just
# as frequent):

# %%
vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
ids = list(toy.encode("utf-8"))
learned = []
print("id   merge               count  tied  the string after it")
for new_id in range(256, 260):
    counts = count_pairs_by_hand(ids)
    pair = max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))
    tied = sum(n == counts[pair] for n in counts.values()) - 1  # other pairs as frequent
    vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
    ids = merge_by_hand(ids, pair, new_id)
    learned.append((vocab[pair[0]], vocab[pair[1]]))
    shown = "|".join(vocab[i].decode() for i in ids)
    merge_text = f"{vocab[pair[0]].decode()} + {vocab[pair[1]].decode()}"
    print(f"{new_id}  {merge_text:<18}  {counts[pair]:>5}  {tied:>4}  {shown}")

# %% [markdown]
# At the second merge, `aa + a` and `a + b` both occur twice; `aa` is greater than `a`, so
# `aa + a` wins. `llmlab.tokenization.train_bpe` learns the same table:

# %%
from llmlab.tokenization import train_bpe

vocab_trained, merges_trained = train_bpe(toy, 260)
assert merges_trained == learned
assert all(vocab_trained[i] == vocab[i] for i in range(260))

# %% [markdown]
# ### Merges stay inside words
#
# Real text has spaces and punctuation. Before counting, BPE splits text into **pre-tokens**
# (pre-tokenization) with GPT-2's regular expression (a pattern that matches pieces of text): a
# word with the space before it, a number, a run of punctuation.
# Pairs are counted inside pre-tokens only, so no token ever spans two words — and, since the
# space belongs to the word after it, `" the"` can become one token.

# %%
from llmlab.tokenization import BPETokenizer, pretokenize

verse = "the thee thou the that this the thy thee"
print(pretokenize(verse))
small = BPETokenizer.train(verse, 256 + 8)
print("merges:", [(a.decode(), b.decode()) for a, b in small.merges])
print("tokens:", [small.decode([i]) for i in small.encode(verse)])
assert all(b" " not in (a + b)[1:] for a, b in small.merges)

# %% [markdown]
# Every learned token holds at most one space, at its start. The same tokenizer encodes *any* text:
# words it never saw fall back to smaller pieces, down to bytes. To **encode** a pre-token, start
# from its bytes and apply the learned merges in the order they were learned (exercise
# `encode_word` below asks you to write exactly that).
#
# ## 4. Training on the plays
#
# Now the real thing: a vocabulary of 4,096 tokens learned from the 32 training plays. We also
# reserve a **special token**, `<|endoftext|>`, which section 7 explains. llmlab's trainer is
# incremental: it counts pairs once, then after each merge updates only the words that contain
# the merged pair (read `train_bpe` in `llmlab/tokenization.py`).

# %% tags=["nbval-ignore-output"]
import time

EOT = "<|endoftext|>"
start = time.perf_counter()
bpe = BPETokenizer.train(train_text, 4096, [EOT])
llmlab_seconds = time.perf_counter() - start
print(f"{bpe} trained in {llmlab_seconds:.1f} s")

# %% [markdown]
# The first merges are the most frequent pairs of the plays (inside pre-tokens); the longest
# tokens are whole words and names:

# %%
print("first merges:", [(a.decode(), b.decode()) for a, b in bpe.merges[:10]])
longest = sorted((a + b for a, b in bpe.merges), key=lambda t: (-len(t), t))[:8]
print("longest tokens:", [t.decode() for t in longest])
assert bpe.merges[0] == (b" ", b"t") and len(bpe.encode(" the")) == 1
assert b" Gloucester" in longest

# %% [markdown]
# Encoding a held-out line, and decoding it back:

# %%
line = "MACBETH:\nIs this a dagger which I see before me,"
ids = bpe.encode(line)
print(ids)
print([bpe.decode([i]) for i in ids])
print(f"{len(line)} characters -> {len(ids)} tokens")
assert bpe.decode(ids) == line
assert bpe.decode(bpe.encode(validation_text)) == validation_text

# %% [markdown]
# A tokenizer is saved as readable JSON (a plain-text format for lists and tables): the vocabulary
# and the merges in order, written as in GPT-2's files, where `Ġ` stands for a space (GPT-2 gives
# every byte a printable character).

# %%
import json
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "bpe.json"
    bpe.save(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    reloaded = BPETokenizer.load(path)
print(list(saved), "first merges:", saved["merges"][:5])
assert reloaded.encode(validation_text) == bpe.encode(validation_text)

# %% [markdown]
# ## 5. Bytes per token against vocabulary size
#
# How much text does one token carry? We measure **bytes per token** on the held-out plays for a
# range of vocabulary sizes. No need to train five times: training is greedy, each merge depends
# only on the ones before it, so a smaller vocabulary is the *first* merges of a larger one.
# Training to 1,024 tokens gives the first 767 merges of our 4,096-token run:

# %%
bpe_1024 = BPETokenizer.train(train_text, 1024, [EOT])
assert bpe_1024.merges == bpe.merges[: 1024 - 257]

# %% [markdown]
# `bpe.truncated(size)` cuts a smaller tokenizer out of a larger one this way.
#
# Six plays are one sample of text: other plays would give slightly other numbers. To see how
# much, we measure each **scene** of the held-out plays on its own and report the mean over the
# scenes with its **standard error** (SE, `llmlab.stats`): how far the mean would typically move
# on another sample of scenes. `a ± b` below means value ± SE. Two tokenizers measured on the
# *same* scenes are compared scene by scene (a *paired* difference), which cancels how hard each
# scene is. Scenes of one play share its names, so these SEs are, if anything, a little small.

# %%
import numpy as np

from llmlab import stats, widgets

by_scene: dict[tuple[str, str, str], list[str]] = {}
for speech in corpus.speeches("validation"):
    by_scene.setdefault((speech.play, speech.act, speech.scene), []).append(speech.render())
scenes = ["\n".join(parts) for parts in by_scene.values()]
scene_bytes = np.array([len(scene.encode("utf-8")) for scene in scenes])
print(f"{len(scenes)} scenes, {scene_bytes.min():,} to {scene_bytes.max():,} bytes each")


def bytes_per_token(encode) -> np.ndarray:
    """Each scene's bytes per token under ``encode`` (text -> ids)."""
    return scene_bytes / np.array([len(encode(scene)) for scene in scenes])


# %%
sizes = [257, 512, 1024, 2048, 4096]  # 257: the bytes and the special token, no merges
llmlab_bpt, per_scene = {}, {}
for size in sizes:
    truncated = bpe.truncated(size)
    n_tokens = len(truncated.encode(validation_text))
    llmlab_bpt[size] = validation_bytes / n_tokens  # the whole held-out text
    per_scene[size] = bytes_per_token(truncated.encode)
    print(
        f"vocabulary {size:>5,}: {n_tokens:>7,} tokens, {llmlab_bpt[size]:.3f} bytes per token;"
        f" per scene {stats.mean(per_scene[size]):.3f}"
    )
assert llmlab_bpt[257] == 1.0

# %% [markdown]
# What each step up buys, scene by scene, and whether each buys less than the one before:

# %%
gains = {b: stats.difference(per_scene[b], per_scene[a]) for a, b in pairwise(sizes)}
for (a, b), gain in zip(pairwise(sizes), gains.values(), strict=True):
    print(f"{a:>5,} -> {b:>5,}: {gain:.3f} more bytes per token")
assert all(gain.value > 0 and gain.beyond_noise(3) for gain in gains.values())
shrinking = [
    stats.difference(per_scene[b] - per_scene[a], per_scene[c] - per_scene[b])
    for a, b, c in zip(sizes, sizes[1:], sizes[2:], strict=False)
]
print("how much more each step gained than the next:", ", ".join(f"{d:.3f}" for d in shrinking))
assert all(d.value > 0 and d.beyond_noise(3) for d in shrinking)

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.line_chart(
    sizes,
    {"llmlab BPE": list(llmlab_bpt.values())},
    title="Compression of the held-out plays",
    xlabel="vocabulary size",
    ylabel="bytes per token",
    log_x=True,
)

# %% [markdown]
# What to see: the curve rises at every step but flattens; each doubling of the vocabulary buys
# fewer bytes per token than the one before (every gain and every shrinking above lies more than
# three SEs from zero). A larger vocabulary also costs. The embedding table has one row per token
# and the model outputs one score per token (section 1), so every new token adds a row to learn;
# and the new tokens are rare ones, so the model sees few examples of each. How often does each of
# the 3,839 learned tokens occur in the 4.1 million training characters?

# %%
from llmlab.pretrained import RECIPES

uses = Counter(bpe.encode(train_text))
rare = sum(uses[i] < 100 for i in range(257, 4096))  # the learned tokens (not bytes, not EOT)
print(f"learned tokens used fewer than 100 times in the training text: {rare:,} of 3,839")
newest = np.median([uses[i] for i in range(3072, 4096)])
print(f"median uses of the last 1,024 tokens learned: {newest:.0f}")
width = RECIPES["bpe"]["model"]["n_embd"]  # numbers per token in the course's models
print(f"one table of 4,096 rows of {width} numbers: {4096 * width:,} numbers")
assert rare > 3839 / 2 and 50 < newest < 70
assert RECIPES["bpe"]["tokenizer"]["vocab_size"] == 1024

# %% [markdown]
# More than half of the learned tokens occur fewer than 100 times in all the training text: a
# model reading it sees each of them that seldom per pass, and the newest ones (the last 1,024
# learned) typically about 60 times (their median). With 128 numbers per token, the width of the
# course's models (lesson 00), an embedding table of 4,096 rows holds half a million numbers.
# GPT-2 has 50,257 tokens and GPT-4's tokenizer about 100,000, learned from far more text in many
# languages; the course's BPE model in `llmlab.pretrained` uses 1,024 (its recipe, checked above).
#
# ## 6. The same with Hugging Face `tokenizers`
#
# Production tokenizers are written in Rust, in libraries such as Hugging Face (HF) `tokenizers`.
# `train_hf_bpe` trains one with exactly our setup (byte alphabet, GPT-2 pre-tokenizer, the same
# special token). Time and compression side by side (HF's trainer is compiled Rust and may use
# every CPU core; llmlab's is plain Python on one):

# %% tags=["nbval-ignore-output"]
from llmlab.tokenization import train_hf_bpe

hf_tokenizers, hf_seconds = {}, {}
for size in sizes[1:]:
    start = time.perf_counter()
    hf_tokenizers[size] = train_hf_bpe(train_text, size, [EOT])
    hf_seconds[size] = time.perf_counter() - start
print(f"training to 4,096 tokens: llmlab {llmlab_seconds:.1f} s, HF {hf_seconds[4096]:.1f} s")
print("(one run each: timings vary from run to run and from machine to machine)")

# %% [markdown]
# Compression of the whole held-out text, and the paired difference per scene (llmlab − HF).
# These numbers come from HF's trainer, whose version is not pinned (`tokenizers>=0.15`): a
# version that breaks ties another way prints other digits, so the cell is not compared, and its
# asserts hold only what any version must give.

# %% tags=["nbval-ignore-output"]
print("vocabulary  bytes per token: llmlab    HF   llmlab - HF per scene")
differences = {}
for size, hf in hf_tokenizers.items():
    hf_bpt = validation_bytes / len(hf.encode(validation_text).ids)
    hf_scenes = bytes_per_token(lambda text, hf=hf: hf.encode(text).ids)
    differences[size] = stats.difference(per_scene[size], hf_scenes)
    print(f"{size:>10,}  {llmlab_bpt[size]:>22.3f}  {hf_bpt:.3f}   {differences[size]:.4f}")
    assert abs(hf_bpt - llmlab_bpt[size]) < 0.005 * llmlab_bpt[size]
    assert abs(differences[size].value) < 0.005 * llmlab_bpt[size]

# %% [markdown]
# The compression agrees within half a percent at every size, on the whole text and scene by
# scene. (With the `tokenizers` version that built this page, the two gave every scene the same
# number of tokens at 512; at 1,024 the difference was within its noise; at 2,048 and 4,096 HF's
# tokenizer compressed these scenes slightly better, by about 0.1% and 0.2%, more than three SEs
# from zero: real, and a fifth of a percent at most.) Why do they differ at all? Both trainers merge the most frequent pair, so they can only part at a step where two pairs
# are equally frequent, where each breaks the tie by its own rule. Find the first merge where they
# differ, and count the pairs at it:

# %% tags=["nbval-ignore-output"]
from llmlab.tokenization import bytes_to_unicode

byte_of = {c: b for b, c in bytes_to_unicode().items()}  # HF spells bytes as GPT-2 does


def hf_bytes(token: str) -> bytes:
    return bytes(byte_of[c] for c in token)


hf_merges = json.loads(hf_tokenizers[4096].to_str())["model"]["merges"]
hf_merges = [tuple(map(hf_bytes, m.split(" ") if isinstance(m, str) else m)) for m in hf_merges]
k = next(i for i, pair in enumerate(bpe.merges) if pair != hf_merges[i])  # (HF's version decides)
before = bpe.truncated(257 + k)  # the state after the k merges both learned
pair_totals = Counter()
for word, n in Counter(pretokenize(train_text)).items():
    for a, b in pairwise(before.encode(word)):
        pair_totals[before.vocab[a], before.vocab[b]] += n
ours, theirs = bpe.merges[k], hf_merges[k]
print(f"the first {k} merges agree; merge {k + 1}: llmlab {ours}, HF {theirs}")
print(f"occurrences: {pair_totals[ours]:,} and {pair_totals[theirs]:,};", end=" ")
print(f"the most frequent pair occurs {max(pair_totals.values()):,} times")
assert pair_totals[ours] == pair_totals[theirs] == max(pair_totals.values())

# %% [markdown]
# A tie: llmlab takes the greatest pair, HF another, and from there on the two vocabularies drift
# apart a little. They still share almost all their tokens, but HF numbers them its own way, so its
# ids are not ours:

# %% tags=["nbval-ignore-output"]
hf_tokens = {hf_bytes(t) for t in hf_tokenizers[4096].get_vocab()}
shared = len(hf_tokens & set(bpe.vocab.values()))
print(f"tokens in both vocabularies: {shared:,} of 4,096 ({shared / 4096:.0%})")
assert shared / 4096 > 0.95
assert hf_tokenizers[4096].encode("a").ids != bpe.encode("a")  # same token, another id

# %% [markdown]
# So training with HF does **not** give our ids. To run *our* tokenizer inside HF's library,
# `to_hf()` exports it: the same vocabulary and merges, in the same order, as a
# `tokenizers.Tokenizer`. That one gives the very same ids, on the held-out plays and on a string
# of accents, other scripts, an emoji, tabs, double spaces and the special token:

# %%
exported = bpe.to_hf()
assert exported.encode(validation_text).ids == bpe.encode(validation_text)
odd = "Ünïcödé, 日本語, emoji 👩‍🔬, tabs\tand  spaces" + EOT + "x"
assert exported.encode(odd).ids == bpe.encode(odd)
print("identical ids on", f"{len(validation_text):,}", "characters and on", repr(odd))

# %% [markdown]
# Encoding speed. llmlab remembers the tokens of every word it has encoded, so a word that
# recurs is split only once; HF encodes a batch of lines in compiled code, possibly on several
# cores, and also records where each token starts and ends in the text. This is one run of each,
# on this machine, so it ranks neither (the ids are the same, as checked above):

# %% tags=["nbval-ignore-output"]
lines = validation_text.splitlines(keepends=True)
fresh = BPETokenizer(bpe.vocab, bpe.merges, [EOT])  # an empty cache of words, to be fair
start = time.perf_counter()
fresh.encode(validation_text)
llmlab_rate = validation_bytes / (time.perf_counter() - start) / 1e6
start = time.perf_counter()
exported.encode_batch(lines)
hf_rate = validation_bytes / (time.perf_counter() - start) / 1e6
print(f"encoding: llmlab {llmlab_rate:.1f} MB/s, HF {hf_rate:.1f} MB/s")

# %% [markdown]
# ## 7. Special tokens
#
# Training data is many documents glued together; the model should know where one ends. A
# **special token** such as `<|endoftext|>` marks the boundary. It is cut out of the text before
# pre-tokenization, so it always becomes its single reserved id (256 here, right after the bytes)
# and never merges with its neighbours:

# %%
first, second = corpus.speeches("validation")[:2]
two_documents = first.render() + EOT + second.render()
ids = bpe.encode(two_documents)
eot_id = bpe.special_id(EOT)
print(f"{EOT} -> {eot_id}; it occurs {ids.count(eot_id)} time in {len(ids)} ids")
assert eot_id == 256 and ids.count(eot_id) == 1 and bpe.decode(ids) == two_documents
almost = bpe.encode("<|endoftext|")  # no closing '>': ordinary text
print("<|endoftext| ->", [bpe.decode([i]) for i in almost])
assert eot_id not in almost and len(almost) > 1

# %% [markdown]
# Why it must be declared: train on documents joined by the marker *without* telling the trainer,
# and it learns the marker as ordinary text, glued to the punctuation before it (here the full
# stop that ends a speech):

# %%
documents = EOT.join(s.text for s in corpus.speeches("train")[:2000])
declared = BPETokenizer.train(documents, 300, [EOT])
undeclared = BPETokenizer.train(documents, 300)
print("declared:  ", declared.encode(EOT))
print("undeclared:", [(a.decode(), b.decode()) for a, b in undeclared.merges if b"|" in a + b])
assert all(b"|" not in a + b for a, b in declared.merges)
assert (b".", b"<|") in undeclared.merges  # the end of a sentence glued to the marker

# %% [markdown]
# ## 8. Pitfalls
#
# A tokenizer is learned from its training text, and it shows. Each of these surprises has caused
# real bugs and strange model behaviour. A small helper prints the pieces and ids of a text:


# %%
def show(text: str) -> list[int]:
    ids = bpe.encode(text)
    pieces = [bpe.decode([i]) for i in ids]
    print(f"{text!r:>32} -> {len(ids):>2} tokens {pieces} {ids}")
    return ids


# %% [markdown]
# **Leading spaces and case.** The same word, spelled five ways, is five different token
# sequences, unrelated as far as the ids go; the model must learn from data that they mean the
# same thing. Capitals are common in
# the plays because speakers' names are written in them (`FIRST LORD:`), so `" LORD"` is a single
# token; `THE` is not.

# %%
spellings = ["the", " the", "The", " The", "THE", " lord", " Lord", " LORD"]
found = {text: show(text) for text in spellings}
assert len({tuple(ids) for ids in found.values()}) == len(spellings)
assert all(len(found[t]) == 1 for t in spellings if t != "THE") and len(found["THE"]) == 2
assert "\nFIRST LORD:\n" in train_text

# %% [markdown]
# **Numbers.** The plays contain hardly any digits, so no learned token holds a digit: a number
# costs one token per digit (here plus one for the space before it), while the word for it is a
# single token. (Tokenizers trained on web text differ: GPT-2's splits numbers into chunks of
# varying length, so the same digits can be cut differently in two numbers; the first Llama
# models split every number into single digits, Llama 3 into chunks of up to three.)

# %%
print("digits in the training text:", sum(c.isdigit() for c in train_text))
assert not any(digit in a + b for a, b in bpe.merges for digit in b"0123456789")
assert len(show(" 1000")) == 5 and len(show(" thousand")) == 1

# %% [markdown]
# **Rare words** become many short pieces. `honorificabilitudinitatibus` occurs once in the
# training plays, far too seldom to earn a token; words from our century, like `smartphone`, were
# never seen at all.

# %%
assert train_text.count("honorificabilitudinitatibus") == 1
assert len(show(" honorificabilitudinitatibus")) > 10
assert len(show(" smartphone")) > 2 and len(show(" lord")) == 1
assert "smartphone" not in train_text.lower()

# %% [markdown]
# **Other scripts** fall back to bytes: each Japanese character here is three tokens. A
# tokenizer trained mostly on English needs more tokens for other languages, so a model using it
# takes more steps to read them and fits less of them into its context window.

# %%
japanese = "こんにちは"
assert len(show(japanese)) == len(japanese.encode("utf-8")) == 3 * len(japanese)

# %% [markdown]
# ## 9. Token playground
#
# Type any text and see how each tokenizer splits it: every token in its own colour with its id
# under it, and the counts. `·` is a space and `↵` a new line; a token that holds only part of a
# character shows its bytes in hex, like `<c3>`. Switch between characters, llmlab's BPE and HF's
# (trained by HF, so with its own ids), and slide the vocabulary size. The tokenizers of this
# lesson are passed in, so nothing is trained again. Try a name from a held-out play, a number,
# your own name, an emoji.

# %% tags=["nbval-ignore-output"]
playground = widgets.TokenPlayground(
    sizes=sizes[1:], train_text=train_text, bpe=bpe, hf=hf_tokenizers
)
playground

# %% [markdown]
# Like every widget of the course, it can be driven from code. A larger vocabulary never needs
# more tokens (its extra merges can only join two tokens into one):

# %%
playground.text.value = "ROMEO:\nBut soft, what light through yonder window breaks?"
n_tokens = {}
for size in playground.vocab_size.options:
    playground.vocab_size.value = size
    n_tokens[size] = len(playground.view.ids)
print(n_tokens)
assert list(n_tokens.values()) == sorted(n_tokens.values(), reverse=True)
assert f"<b>{n_tokens[4096]} tokens</b>" in playground.output.value

# %% [markdown]
# The character tokenizer has one vocabulary (the slider is disabled) and fails on characters it
# never saw; HF's tokenizer splits this line into the same pieces as ours, with its own ids:

# %%
playground.kind.value = "char"
assert playground.vocab_size.disabled
assert len(playground.view.ids) == len(playground.text.value)
playground.text.value = "Café au lait? 😀"
assert "never seen" in playground.output.value and not playground.view.ids
playground.kind.value = "hf"
print(playground.view.pieces)
assert b"".join(playground.view.pieces) == playground.text.value.encode("utf-8")
assert playground.view.pieces == [bpe.vocab[i] for i in bpe.encode(playground.text.value)]

# %% [markdown]
# ## Recap
#
# - A model reads token ids; the tokenizer decides how many ids there are (vocabulary size) and
#   how many a text becomes (sequence length).
# - Characters fail on unseen characters, words on unseen words (3.5% of the held-out words);
#   bytes never fail but are long.
# - Byte-level BPE starts from the 256 bytes and merges the most frequent adjacent pair, again and
#   again, inside pre-tokens; ties go to the greatest pair. Encoding applies the merges in order.
# - A larger vocabulary compresses better, by less at each doubling (measured per scene, every
#   step beyond its noise), and its newest tokens are rare. llmlab and HF `tokenizers` train
#   nearly the same tokenizer (they part at a tied pair; over 95% shared tokens, other ids);
#   only `to_hf()`, which exports ours, gives identical ids.
# - Special tokens are cut out first: one id each, never merged.
# - Spaces, case, digits, rare words and other scripts all change how text is split.
#
# **Next:** lesson 02 turns token ids into vectors and lets them attend to each other.
#
# ## Exercises: BPE with your own hands
#
# Training does not work on one long list of ids: it reduces the text to its distinct pre-tokens
# ("words"), each with its current tokens and how often it occurs, for example
# `{(b"t", b"h", b"e"): 3, (b" ", b"t", b"h", b"e"): 5}`. The first two exercises work on that
# form; together they are a BPE trainer. Each check runs your function on 25 random cases (most
# drawn from the held-out plays) and compares it with a reference, and it fails if your function
# hands the work to llmlab's own tokenizer code.

# %% [markdown]
# ### Exercise: count the pairs
# Given the words, return how often each adjacent pair of tokens occurs in the text,
# `{(left, right): count}`. A pair inside a word counts once per occurrence of the word; no pair
# spans two words. (For the example: `(b"t", b"h")` occurs 8 times, `(b" ", b"t")` 5.) This is
# the first half of every training step.

# %%
from llmlab import exercises

print(exercises.header("count_pairs"))

# %%
Words = dict[tuple[bytes, ...], int]


def count_pairs(words: Words) -> dict[tuple[bytes, bytes], int]:
    # the result: {(left, right): occurrences of that adjacent pair in the whole text}
    raise NotImplementedError  # your code here


passed = exercises.check("count_pairs", count_pairs)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("count_pairs")` (then
# `exercises.hint("count_pairs", 2)`), and only then `exercises.solution("count_pairs")`.
#
# ### Exercise: apply one merge
# Given the words and the chosen `pair`, return the words with every occurrence of `pair` replaced
# by the merged token (`pair[0] + pair[1]`), scanning left to right without overlaps (in `o o o`,
# the pair `(o, o)` gives `oo o`). Each word keeps its count; two words that end up as the same
# tokens are one word from then on, with the sum of their counts. This is the second half of a
# training step: the section 3 `merge_by_hand`, for a whole text of counted words.

# %%
print(exercises.header("apply_merge"))


# %%
def apply_merge(words: Words, pair: tuple[bytes, bytes]) -> Words:
    # the result: a new Words dict, {merged tokens of a word: its count}
    raise NotImplementedError  # your code here


passed = exercises.check("apply_merge", apply_merge)

# %% [markdown]
# Stuck? `exercises.hint("apply_merge")` (then `exercises.hint("apply_merge", 2)`), and only then
# `exercises.solution("apply_merge")`.
#
# ### Exercise: encode a word
# Given one pre-token (a `str`) and the learned merges (a list of pairs of byte strings, in the
# order they were learned), return its tokens as a list of byte strings. Start from its bytes;
# while some adjacent pair is a learned merge, apply the one learned earliest. This is how a
# trained tokenizer reads text it has never seen.

# %%
print(exercises.header("encode_word"))


# %%
def encode_word(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    # start from the word's UTF-8 bytes, one token (a bytes of length 1) per byte;
    # until no adjacent pair of tokens is a learned merge:
    #     among the pairs that are, pick the one learned earliest
    #     merge it everywhere in the word, left to right
    raise NotImplementedError  # your code here


passed = exercises.check("encode_word", encode_word)

# %% [markdown]
# Stuck? `exercises.hint("encode_word")` (then `exercises.hint("encode_word", 2)`), and only then
# `exercises.solution("encode_word")`.
#
# ### Exercise: a whole tokenizer
# The capstone of Karpathy's minbpe: write a class `Tokenizer` with `train(text, vocab_size)`,
# `encode(text)` and `decode(ids)`. Byte-level, with GPT-2's pre-tokenization (`pretokenize`,
# given), ties going to the greatest pair, and merge `k` getting id `256 + k` (no special tokens).
# Build it from *your* `count_pairs`, `apply_merge` and `encode_word` above. The check trains it
# on a passage and compares the ids and the decoded text of a probe (the passage itself, part of
# it, or new text) with the reference's.

# %%
print(exercises.header("bpe_tokenizer"))


# %%
class Tokenizer:
    def train(self, text: str, vocab_size: int) -> None:
        # learn the merges from `text`, until the vocabulary holds `vocab_size` tokens
        raise NotImplementedError  # your code here

    def encode(self, text: str) -> list[int]:
        # text -> ids, with the learned merges
        raise NotImplementedError  # your code here

    def decode(self, ids: list[int]) -> str:
        # ids -> text
        raise NotImplementedError  # your code here


def train_and_encode(train_text: str, vocab_size: int, text: str) -> tuple[list[int], str]:
    tokenizer = Tokenizer()
    tokenizer.train(train_text, vocab_size)
    ids = tokenizer.encode(text)
    return ids, tokenizer.decode(ids)


passed = exercises.check("bpe_tokenizer", train_and_encode)

# %% [markdown]
# Stuck? `exercises.hint("bpe_tokenizer")` (then `exercises.hint("bpe_tokenizer", 2)` and `3`),
# and only then `exercises.solution("bpe_tokenizer")`.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

names_share = in_names / unknown.total()
names = "just over half are names of characters of those plays; the rest, rare words"
rare_words = "mostly rare words and word forms; names are a small part"
assert 0.5 < names_share < 0.6  # "just over half"
step_up, last_step = gains[4096], shrinking[-1]  # 2,048 -> 4,096; and its shrinking
if not last_step.beyond_noise(2):
    doubling = "about as many: within noise"
else:
    doubling = "fewer" if last_step.value > 0 else "more"
glued = (b".", b"<|") in undeclared.merges
assert glued and all(b"|" not in a + b for a, b in declared.merges)
assert rare > 3839 / 2
Quiz(
    [
        Question(
            f"A vocabulary of {len(word_vocab):,} words still misses {unknown_share:.1%} of the "
            "words in the held-out plays (counting every occurrence). What are they?",
            [names, rare_words, "mostly punctuation the splitter could not read"],
            names,
            f"{in_capitals / unknown.total():.0%} of the missed occurrences are in capitals, and "
            f"{in_names / in_capitals:.0%} of those are words of speakers' names: "
            f"{names_share:.0%} of all the missed occurrences. A new play brings new people, so a "
            "word vocabulary built from other plays cannot hold their names; bytes never miss.",
        ),
        Question(
            "Going from 2,048 to 4,096 tokens, compared with going from 1,024 to 2,048, gains "
            "... bytes per token",
            ["fewer", "more", "about as many: within noise"],
            doubling,
            f"2,048 -> 4,096 gained {step_up.value:.3f} ± {step_up.se:.3f} bytes per token, "
            f"{last_step.value:.3f} ± {last_step.se:.3f} less than the step before, paired by "
            "scene: the new tokens are rarer pieces, so each saves less text.",
        ),
        Question(
            "Why do the course's models not use a vocabulary of 100,000 tokens, as GPT-4 does?",
            [
                "most new tokens would be rare: few examples, and a row of parameters, each",
                "a table of 100,000 token rows would not fit in a laptop's memory",
                "a larger vocabulary makes the sequences longer",
            ],
            "most new tokens would be rare: few examples, and a row of parameters, each",
            f"Already at 4,096, {rare:,} of the 3,839 learned tokens occur fewer than 100 times "
            f"in all the training text, and the newest 1,024 a median of {newest:.0f} times. A "
            "larger vocabulary makes sequences shorter, not longer; and 100,000 rows of 128 "
            "numbers (the width of the course's models) take about 51 MB as float32, which fit.",
        ),
        Question(
            f"What goes wrong when BPE is trained on documents joined by {EOT} without declaring "
            "it a special token?",
            [
                "it learns merges that glue text to pieces of the marker",
                "nothing: the marker is skipped",
                "training refuses the text",
            ],
            "it learns merges that glue text to pieces of the marker"
            if glued
            else "nothing: the marker is skipped",
            "Undeclared, it learned the merge ('.', '<|'): the end of a sentence glued to a "
            "piece of the marker, so text and marker share tokens. Declared, the marker is one "
            "id of its own and no merge touches '|'.",
        ),
    ]
)

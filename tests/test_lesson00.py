"""Lesson 00's numbers that its prose relies on, pinned here rather than asserted in the lesson.

The lesson states what the shipped ``char`` model is and how it was made; these tests fail when
the recipe, the checkpoint or the corpus drift away from what the lesson says.
"""

from __future__ import annotations

import math

from llmlab import corpus, pretrained


def test_the_char_model_is_what_lesson_00_says():
    recipe = pretrained.recipe("char")
    assert recipe["model"]["n_layer"] == 4 and recipe["model"]["n_embd"] == 128
    assert recipe["model"]["block_size"] == 128 and recipe["model"]["pos_encoding"] == "rope"
    assert recipe["train"]["max_steps"] == 6000 and recipe["train"]["batch_size"] == 8
    saved = pretrained.checkpoint("char", train=False)
    assert saved.step == 6000
    assert 4 * 60 < saved.extra["seconds"] < 7 * 60  # "about five minutes"
    model = saved.build_model()
    assert sum(p.numel() for p in model.parameters()) == 797_312


def test_the_corpus_sizes_lesson_00_quotes():
    train, validation = corpus.text("train"), corpus.text("validation")
    assert round(len(train.encode("utf-8")) / 1e6, 1) == 4.1
    assert len(set(train)) == 76 and round(math.log(76), 2) == 4.33
    seen = 6000 * 8 * 128
    assert round(seen / len(train), 1) == 1.5  # "about one and a half passes"
    assert len(range(0, len(validation) - 128, 129)) == 5093  # held-out windows of 129


def test_the_speech_browsers_number_box_refuses_what_is_not_a_speech_number():
    from llmlab import widgets

    browser = widgets.SpeechBrowser()
    count = len(browser.by_genre[browser.genre.value])
    browser.number.value = 2.5  # what typing "2.5" sends: refused, not read as 25
    assert "a whole number: 2.5 is not one" in browser.note.value
    assert browser.index.value == 0 and browser.number.value == 1
    browser.number.value = count + 1
    assert f"from 1 to {count:,}" in browser.note.value and browser.index.value == 0
    browser.number.value = 4
    assert browser.note.value == "" and browser.index.value == 3
    assert "font-family:serif" not in browser.output.value

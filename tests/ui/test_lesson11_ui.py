"""Lesson 11 in real JupyterLab: ask the knowledge box a question by typing, give it the
retrieved passage with a click, and get plain messages for an empty question and a passage too
long for the model.

The box needs only the shipped reader model, so the test runs the set-up cell and the box's own
cell, not the lesson's training and measurements."""

import re

import pytest

from tests.ui.conftest import save_screenshot, text_fonts

pytestmark = pytest.mark.ui

CELLS = ["llmlab.setup(", "box = KnowledgeBox("]


def _changes(page, element, old: str, timeout: float = 30_000) -> str:
    """Wait until ``element``'s text differs from ``old`` and holds an answer; return it."""
    page.wait_for_function(
        "([el, old]) => el.innerText !== old && el.innerText.includes('Answer:')",
        arg=[element.element_handle(), old],
        timeout=timeout,
    )
    return element.inner_text()


def _confidence(text: str) -> float:
    return float(re.search(r"confidence (\d\.\d\d)", text).group(1))


def test_the_box_answers_a_typed_question_with_and_without_the_passage(run_notebook_cells):
    page = run_notebook_cells("11_what_a_model_knows.ipynb", CELLS, timeout_s=300)
    switch = page.get_by_role("checkbox", name="give it the retrieved passage")
    box = page.locator(".widget-vbox").filter(has=switch).first
    box.scroll_into_view_if_needed()
    answer = box.locator(".widget-html-content").filter(has_text="Answer:").first
    answer.wait_for(timeout=30_000)
    assert "a blind guess" in answer.inner_text() and not switch.is_checked()
    # Every control fits in the output area of a 1280-pixel window, in the notebook's font.
    area = page.locator(".jp-OutputArea-output").filter(has=switch).first.bounding_box()
    for control in box.locator("input, textarea, select").all():
        shape = control.bounding_box()
        assert area["x"] <= shape["x"] and shape["x"] + shape["width"] <= area["x"] + area["width"]
    fonts = text_fonts(box)
    assert fonts and all("sans" in font.lower() for font in fonts), fonts

    # A question typed key by key: answered once the typing pauses, its own passage retrieved.
    question = box.locator("input[type='text']").first
    passage = box.locator("textarea").first
    old_answer, old_passage = answer.inner_text(), passage.input_value()
    question.click()
    question.fill("")
    page.keyboard.type('Who speaks the line "The queen, my lord, is dead."?', delay=20)
    closed = _changes(page, answer, old_answer)
    assert "your own question" in closed and "Without the passage" not in closed
    page.wait_for_function(  # the quote of the speech that holds the line
        "([el, old]) => el.value !== old && el.value.includes('SEYTON')",
        arg=[passage.element_handle(), old_passage],
        timeout=10_000,
    )

    # The passage switched on: the model reads it, and the answer says what it was without.
    switch.check()
    opened = _changes(page, answer, closed)
    assert "Without the passage it answers" in opened
    said = re.search(r"Without the passage it answers (.+) at (\d\.\d\d)", opened)
    assert said.group(2) == f"{_confidence(closed):.2f}"  # the closed-book answer, as it was
    bars = re.compile(r"\d\.\d{3}")  # the bars' probabilities, three decimals each
    assert bars.findall(opened) != bars.findall(closed)  # the passage moved the model's bet
    save_screenshot(box, "KnowledgeBox")

    # A passage longer than the model's context: a plain message, no answer, no traceback.
    passage.click()
    passage.fill("From Macbeth:\nSEYTON:\nThe queen, my lord, is dead.\n" * 30)
    alert = box.get_by_role("alert")
    alert.wait_for(timeout=20_000)
    assert "The passage is too long for the model" in alert.inner_text()
    assert "-token context" in alert.inner_text() and not answer.is_visible()
    assert page.locator(".jp-OutputArea-output").filter(has_text="Traceback").count() == 0
    switch.uncheck()  # closed book again: answered
    answer.wait_for(timeout=20_000)
    assert "Without the passage" not in answer.inner_text()

    # An empty question: a plain message beside the box, nothing of the old answer left.
    question.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    empty = box.get_by_text("Type a question (or pick one) to see the model's answer.")
    empty.wait_for(timeout=20_000)
    assert box.get_by_role("alert").count() == 1 and not answer.is_visible()
    size = empty.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 13  # not small print

    # Picking a question from the menu answers it again, marked right or wrong.
    menu = box.locator("select").first
    menu.select_option(index=1)
    page.wait_for_function(
        "el => /· (right|wrong)/.test(el.innerText)",
        arg=box.element_handle(),
        timeout=30_000,
    )
    assert not empty.is_visible()

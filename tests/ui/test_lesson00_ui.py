"""Lesson 00 in real JupyterLab: run it up to the speech browser, then move its controls."""

import pytest

from tests.ui.conftest import save_screenshot, type_into

pytestmark = pytest.mark.ui


def test_speech_browser_responds_to_its_controls(run_notebook_through):
    page = run_notebook_through("00_start_here.ipynb", "browser = widgets.SpeechBrowser()")
    widget = page.locator(".widget-vbox").filter(has=page.locator("select")).first
    widget.scroll_into_view_if_needed()
    speech = widget.locator(".widget-html-content").last
    before = speech.inner_text()
    # Run, the browser shows its own cell's state:
    # the first genre's first speech, under its play's title, in the notebook's sans-serif font.
    assert "(comedies), act" in before and widget.locator("input").input_value() == "1"
    font = speech.locator("div").first.evaluate("el => getComputedStyle(el).fontFamily")
    assert font.strip().lower() != "serif" and "sans" in font.lower()

    # A number that is not a whole one is refused, with a message, not read as 25.
    box = widget.locator("input[type=number]")
    type_into(page, box, "2.5")
    widget.get_by_text("A speech number is a whole number: 2.5 is not one").wait_for()
    assert speech.inner_text() == before and box.input_value() == "1"

    widget.locator("select").select_option("histories")
    page.wait_for_function(
        "(el) => el.innerText.includes('histories')", arg=speech.element_handle(), timeout=10_000
    )
    first_history = speech.inner_text()
    assert first_history != before
    assert widget.get_by_text("of 7,946").is_visible()  # "speech i of N", N for the genre

    # The number box jumps straight to a speech: type its number, press Enter.
    type_into(page, box, "5000")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[speech.element_handle(), first_history],
        timeout=10_000,
    )
    jumped = speech.inner_text()
    assert "histories" in jumped and box.input_value() == "5000"
    save_screenshot(widget, "SpeechBrowser")

    # The slider steps to the neighbour, and the number box follows it.
    widget.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[speech.element_handle(), jumped],
        timeout=10_000,
    )
    assert box.input_value() == "5001"

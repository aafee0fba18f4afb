"""Lesson 00 in real JupyterLab: run it, then move the speech browser's controls."""

import pytest

pytestmark = pytest.mark.ui


def test_speech_browser_responds_to_its_controls(run_notebook):
    page = run_notebook("00_start_here.ipynb")
    widget = page.locator(".widget-vbox").filter(has=page.locator("select")).first
    widget.scroll_into_view_if_needed()
    speech = widget.locator(".widget-html-content")
    before = speech.inner_text()
    assert "tragedies" in before  # the lesson's own cell set the genre from code

    widget.locator("select").select_option("histories")
    page.wait_for_function(
        "(el) => el.innerText.includes('histories')", arg=speech.element_handle(), timeout=10_000
    )
    first_history = speech.inner_text()
    assert first_history != before

    widget.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[speech.element_handle(), first_history],
        timeout=10_000,
    )
    assert "histories" in speech.inner_text()

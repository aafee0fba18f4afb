"""Lesson 03 in real JupyterLab: run it up to the descent playground, then drive its controls."""

import re

import pytest

from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.ui


def _rate(caption) -> float:
    return float(re.search(r"learning rate ([0-9.e-]+)", caption.inner_text()).group(1))


def test_descent_playground_follows_the_learning_rate_and_the_surface(run_notebook_through):
    # Through the cells that drive a playground from code: the learner's keeps its own state.
    page = run_notebook_through("03_backpropagation.ipynb", "driven.figure", timeout_s=300)
    widget = page.locator(".widget-vbox").filter(has_text="learning rate").first
    widget.scroll_into_view_if_needed()
    caption = widget.locator(".widget-html-content").first
    picture = widget.locator("img").first
    rate, src, text = _rate(caption), picture.get_attribute("src"), caption.inner_text()
    assert rate == pytest.approx(0.05) and "after 50 steps" in text  # not the driven 0.15, 20

    slider = widget.locator(".widget-slider").filter(has_text="learning rate")
    slider.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")  # one step of the log slider: the rate x 10^0.05
    page.wait_for_function(
        "([el, img, text, src]) => el.innerText !== text && img.src !== src",
        arg=[caption.element_handle(), picture.element_handle(), text, src],
        timeout=30_000,
    )
    assert _rate(caption) == pytest.approx(rate * 10**0.05, rel=0.02)
    save_screenshot(widget, "DescentPlayground")

    # One step: "after 1 step", not "after 1 steps".
    old = caption.inner_text()
    steps = widget.locator(".widget-slider").filter(has_text="steps")
    steps.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("Home")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old", arg=[caption.element_handle(), old], timeout=30_000
    )
    assert "after 1 step (" in caption.inner_text()

    old = caption.inner_text()
    select = widget.locator("select").first
    other = [o for o in select.locator("option").all_inner_texts() if o != select.input_value()]
    select.select_option(other[0])
    page.wait_for_function(
        "([el, old]) => el.innerText !== old", arg=[caption.element_handle(), old], timeout=30_000
    )
    box = widget.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280  # the playground fits the window

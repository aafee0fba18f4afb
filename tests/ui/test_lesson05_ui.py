"""Lesson 05 in real JupyterLab: only the cells the scaling ladder needs (its runs come back from
the cache that ``scaling.cached_run`` fills, so nothing long is trained), then its controls are
driven by mouse and keyboard, and "Train it" trains one small model."""

import re

import pytest

from tests.ui.conftest import drag_slider, save_screenshot, type_into

pytestmark = pytest.mark.ui

CELLS = [
    "llmlab.setup()",
    "standard, tokenizer = pretrained.load",
    "n_params = standard.num_params()",
    "llama = scaling.training_cost(",
    "probe = GPT(",
    "LADDER = {",
    "RUNS = {}",
    "runs = {name: run(",
    "xl_rate = ",
    "compute_law = scaling.fit_power_law(",
    "ScalingLadder(",
]


def _png_size(picture) -> int:
    """The size in bytes of the PNG the picture shows (a blank one is under 2 kB)."""
    return picture.evaluate("async img => (await (await fetch(img.src)).blob()).size")


def _compute(caption) -> float:
    return float(re.search(r"compute ([0-9.e+]+) FLOPs", caption.inner_text()).group(1))


def _changed(page, caption, picture, old: str, src: str) -> None:
    """Wait until both the caption and the picture have changed (the picture comes second)."""
    page.wait_for_function(
        "([el, img, old, src]) => el.innerText !== old && img.src !== src && img.complete",
        arg=[caption.element_handle(), picture.element_handle(), old, src],
        timeout=30_000,
    )


def test_scaling_ladder_follows_the_budget_and_the_width(run_notebook_cells):
    page = run_notebook_cells("05_scaling_and_compression.ipynb", CELLS, timeout_s=300)
    widget = page.locator(".widget-vbox").filter(has_text="model width").first
    widget.scroll_into_view_if_needed()
    caption = widget.locator(".widget-html-content").filter(has_text="A model of").first
    picture = widget.locator("img").first
    assert "width 12" in caption.inner_text()  # the middle width of those offered

    # Drag the budget with the mouse to about 60 GFLOP: the caption and the star follow.
    budget = widget.locator(".widget-slider").filter(has_text="compute (GFLOP)")
    text, src = caption.inner_text(), picture.get_attribute("src")
    drag_slider(page, budget, 60, 2, 201)
    _changed(page, caption, picture, text, src)
    assert 40e9 < _compute(caption) < 80e9

    # Type an exact budget into the box beside the slider.
    text, src = caption.inner_text(), picture.get_attribute("src")
    type_into(page, widget.locator(".llmlab-typed input").first, "6")
    _changed(page, caption, picture, text, src)
    assert _compute(caption) == pytest.approx(6e9)
    # One arrow key on the width slider: the next width, the same compute.
    # (The picture stays: the law knows compute only, so the star does not move.)
    text = caption.inner_text()
    width = widget.locator(".widget-slider").filter(has_text="model width")
    width.locator(".noUi-handle, .ui-slider-handle").first.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old", arg=[caption.element_handle(), text], timeout=30_000
    )
    assert "width 8" in caption.inner_text() and _compute(caption) == pytest.approx(6e9)

    # Train it: a small budget trains in seconds and its measured loss appears beside the law's.
    src = picture.get_attribute("src")
    widget.get_by_role("button", name="Train it").click()
    status = widget.locator(".widget-html-content").filter(has_text="Trained:").first
    status.wait_for(timeout=120_000)
    page.wait_for_function(  # the picture with the measured point has arrived and loaded
        "([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
        arg=[picture.element_handle(), src],
        timeout=30_000,
    )
    assert re.search(
        r"held-out loss \d\.\d{3} ± 0\.\d{3}; the law predicted \d\.\d{3}", status.inner_text()
    )
    box = widget.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280  # the widget fits the window
    # The widget's top at the notebook's top, so its picture is inside the scrolled panel too.
    widget.evaluate("el => el.scrollIntoView({block: 'start'})")
    shown = picture.bounding_box()
    assert shown["height"] > 200 and shown["y"] + shown["height"] <= 800  # the plot is on screen
    assert _png_size(picture) > 10_000  # a drawn plot, not a blank picture
    save_screenshot(widget, "ScalingLadder")

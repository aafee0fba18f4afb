"""Lesson 04 in real JupyterLab: the live training view, without the lesson's own training.

Only the cells the view needs run (set-up, the data, the view): Start, watch the curve, the
status and the sample move, raise the learning rate by keyboard, Pause, Resume, and stop it from
JupyterLab's Kernel menu.
"""

import re

import pytest

from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.ui


def _number(pattern: str, text: str) -> float:
    return float(re.search(pattern, text).group(1).replace(",", ""))


def _changes(page, element, old: str, timeout_s: float = 30) -> None:
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[element.element_handle(), old],
        timeout=timeout_s * 1000,
    )


def _shows(page, element, text: str, timeout_s: float = 30) -> None:
    page.wait_for_function(
        "([el, text]) => el.innerText.includes(text)",
        arg=[element.element_handle(), text],
        timeout=timeout_s * 1000,
    )


def test_the_training_view_starts_steers_pauses_and_stops_on_interrupt(run_notebook_cells):
    page = run_notebook_cells(
        "04_pretraining.ipynb",
        ["llmlab.setup(", "tokenizer = CharTokenizer(train_text)", "view = TrainingView("],
        timeout_s=120,
    )
    widget = page.locator(".widget-vbox").filter(has_text="tokens seen").first
    widget.scroll_into_view_if_needed()
    status = widget.locator(".widget-html").filter(has_text="tokens seen").first
    sample = widget.locator(".widget-html").filter(has_text="Sample").first
    curve = widget.locator("img").first
    assert status.inner_text().startswith("ready · step 0 ·")  # nothing trains on display
    box = widget.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280  # fits the window

    # Start: the status counts steps, the curve is redrawn, a sample appears at step 100.
    src, placeholder = curve.get_attribute("src"), sample.inner_text()
    widget.get_by_role("button", name="Start").click()
    _shows(page, status, "training · step")
    _shows(page, sample, "Sample at step 100", timeout_s=60)
    assert curve.get_attribute("src") != src and sample.inner_text() != placeholder
    save_screenshot(widget, "TrainingView")

    # The learning rate by keyboard: ten presses of → raise it about tenfold, shown at once.
    rate = _number(r"learning rate ([0-9.e+-]+)", status.inner_text())
    handle = widget.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle")
    handle.first.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, rate]) => { const m = el.innerText.match(/learning rate ([0-9.e+-]+)/);"
        " return m && Number(m[1]) > 5 * rate; }",
        arg=[status.element_handle(), rate],
        timeout=30_000,
    )
    assert _number(r"learning rate ([0-9.e+-]+)", status.inner_text()) == pytest.approx(
        10 * rate, rel=0.15
    )

    # Pause: the status stops moving.
    widget.get_by_role("button", name="Pause").click()
    _shows(page, status, "paused ·")
    paused = status.inner_text()
    page.wait_for_timeout(2000)
    assert status.inner_text() == paused

    # Resume, then Kernel → Interrupt Kernel: the view says it stopped; the kernel is idle.
    step = _number(r"step ([0-9,]+)", paused)
    widget.get_by_role("button", name="Resume").click()
    _shows(page, status, "training · step")
    page.wait_for_function(
        "([el, step]) => Number(el.innerText.match(/step ([0-9,]+)/)[1].replace(/,/g, '')) > step",
        arg=[status.element_handle(), step],
        timeout=30_000,
    )
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_text("Interrupt Kernel", exact=True).click()
    _shows(page, status, "Stopped: the kernel was interrupted")
    assert status.inner_text().startswith("stopped · step")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30_000)
    stopped = status.inner_text()
    page.wait_for_timeout(2000)
    assert status.inner_text() == stopped  # it really stopped
    assert widget.get_by_role("button", name="Resume").is_visible()

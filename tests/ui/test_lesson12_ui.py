"""Lesson 12 in real JupyterLab: the logit-lens explorer driven by typing, the mouse and the keys.

The explorer needs only the shipped ``bpe`` model, so the test runs the set-up cell, the cell
that loads it and the explorer's cell, not the bias, probe and cost sections around them."""

import pytest

from tests.ui.conftest import drag_slider, save_screenshot, type_into

pytestmark = pytest.mark.ui


def _changed(page, element, old: str) -> None:
    page.wait_for_function(
        "([el, text]) => el.innerText !== text",
        arg=[element.element_handle(), old],
        timeout=20_000,
    )


def test_the_lens_explorer_follows_the_prompt_the_slider_and_the_keys(run_notebook_cells):
    cells = ["llmlab.setup(", 'pretrained.load("bpe")', "explorer = LensExplorer("]
    page = run_notebook_cells("12_bias_opacity_and_cost.ipynb", cells, timeout_s=300)
    every = page.get_by_role("button", name="every token")
    explorer = page.locator(".widget-vbox").filter(has=every).first
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".widget-html-content").filter(has_text="read after").first
    table = explorer.locator(".widget-html-content").filter(has_text="would predict next").first
    assert "read after the embeddings" in caption.inner_text()
    assert "good" in table.inner_text()  # layer 0: the last token guesses itself
    # Every control fits in the output area of a 1280-pixel window, the file browser open.
    area = page.locator(".jp-OutputArea-output").filter(has=every).first.bounding_box()
    for control in explorer.locator(".widget-slider, .widget-textarea, button, input").all():
        box = control.bounding_box()
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]
    assert explorer.get_by_text("press ← → for one step").is_visible()

    # The mouse drags the layer slider to the last block: the model's own guess, "lord".
    slider = explorer.locator(".widget-slider").filter(has_text="layer").first
    old = table.inner_text()
    drag_slider(page, slider, 4, 0, 4)
    page.wait_for_function(
        "(el) => el.innerText.includes('block 4 of 4')", arg=caption.element_handle()
    )
    _changed(page, table, old)
    assert "lord" in table.inner_text().split("\n")[-1]
    save_screenshot(explorer, "LensExplorer")
    # One key press steps back a block.
    old = table.inner_text()
    slider.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "(el) => el.innerText.includes('block 3 of 4')", arg=caption.element_handle()
    )
    _changed(page, table, old)

    # Typing a new prompt: the table reads its last token once the typing pauses.
    prompt = explorer.locator("textarea").first
    prompt.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("My lord, I", delay=30)
    page.wait_for_function(
        "(el) => el.innerText.includes('·I')", arg=table.element_handle(), timeout=20_000
    )
    # Every token: one row per token of the prompt, with what actually comes next.
    every.click()
    page.wait_for_function(
        "(el) => el.innerText.includes('actually next')", arg=table.element_handle()
    )
    assert table.locator("tbody tr").count() >= 4

    # A layer typed out of range is refused in words; the slider stays where it was.
    row = page.locator(".widget-slider").filter(has_text="layer")  # `has` wants a page locator
    number = explorer.locator(".widget-hbox").filter(has=row).locator("input").first
    type_into(page, number, "9")
    explorer.get_by_text("layer goes from 0 to 4: 9 is outside").wait_for(timeout=10_000)
    assert number.input_value() == "3" and "block 3 of 4" in caption.inner_text()

    # An empty box: a plain message, and nothing of the old prompt left on screen.
    prompt.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    explorer.get_by_text("Type a prompt to see what each layer would predict next").wait_for(
        timeout=10_000
    )
    assert explorer.locator("table").count() == 0 and "read after" not in explorer.inner_text()
    assert "non-empty" not in explorer.inner_text()
    assert number.is_disabled()

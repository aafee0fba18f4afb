"""Lesson 02 in real JupyterLab: run it, then move the attention explorer's layer and head."""

import re

import pytest

pytestmark = pytest.mark.ui


def _shown(caption) -> tuple[int, int]:
    """The (layer, head) the explorer's caption says it shows."""
    layer, head = re.search(r"layer (\d+), head (\d+)", caption.inner_text()).groups()
    return int(layer), int(head)


def _step_slider(page, explorer, name: str, key: str, caption, picture) -> None:
    """Move slider ``name`` one step with the keyboard; wait until caption and picture change."""
    old_caption, old_src = caption.inner_text(), picture.get_attribute("src")
    slider = explorer.locator(".widget-slider").filter(has_text=name)
    slider.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press(key)
    page.wait_for_function(
        "([el, img, text, src]) => el.innerText !== text && img.src !== src",
        arg=[caption.element_handle(), picture.element_handle(), old_caption, old_src],
        timeout=60_000,
    )


def test_attention_explorer_follows_layer_and_head(run_notebook):
    page = run_notebook("02_attention.ipynb")
    explorer = page.locator(".widget-vbox").filter(has=page.locator("textarea")).first
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".widget-html-content").first
    picture = explorer.locator("img").first
    assert "HAMLET" in explorer.locator("textarea").input_value()  # the lesson set it from code
    layer, head = _shown(caption)

    # One step up, or down from index 3 (the lesson's model has 4 layers of 4 heads).
    key = "ArrowRight" if layer < 3 else "ArrowLeft"
    _step_slider(page, explorer, "layer", key, caption, picture)
    layer, head = layer + (1 if key == "ArrowRight" else -1), head
    assert _shown(caption) == (layer, head)

    key = "ArrowRight" if head < 3 else "ArrowLeft"
    _step_slider(page, explorer, "head", key, caption, picture)
    assert _shown(caption) == (layer, head + (1 if key == "ArrowRight" else -1))


def test_typing_updates_the_explorer_without_leaving_the_box(run_notebook):
    page = run_notebook("02_attention.ipynb")
    explorer = page.locator(".widget-vbox").filter(has=page.locator("textarea")).first
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".widget-html-content").first
    picture = explorer.locator("img").first
    box = explorer.locator("textarea")
    assert box.get_attribute("rows") == "4"

    # At 1280x800 the control row wraps: every slider's readout is on screen, none clipped.
    for readout in explorer.locator(".widget-readout").all():
        readout.scroll_into_view_if_needed()
        box_ = readout.bounding_box()
        assert box_ and box_["x"] >= 0 and box_["x"] + box_["width"] <= 1280

    old_src = picture.get_attribute("src")
    box.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("Ay me")  # no Tab, no click elsewhere: the pause applies it
    page.wait_for_function(
        "([img, src]) => img.src !== src", arg=[picture.element_handle(), old_src], timeout=60_000
    )
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    token_max = explorer.locator(".widget-slider").filter(has_text="token")
    text = box.input_value()
    assert text.endswith("Ay me") and "looks most at" in caption.inner_text()
    assert token_max.locator(".widget-readout").inner_text() == str(len(text) - 1)

    # A character the model never saw: the message, and no stale picture under it.
    page.keyboard.type("Æ")
    page.wait_for_function(
        "(el) => el.innerText.includes('never seen')", arg=caption.element_handle(), timeout=60_000
    )
    page.wait_for_function(
        "(img) => !img.getAttribute('src') || img.naturalHeight === 0",
        arg=picture.element_handle(),
        timeout=60_000,
    )

"""Lesson 02 in real JupyterLab: run it, then move the attention explorer's layer and head.

Both tests drive the one explorer of one Run All (``run_notebook_once``): the first moves only
layer and head, the second only the token and the text, so neither depends on the other's order."""

import re

import pytest

from tests.ui.conftest import drag_slider, save_screenshot, slider_track, type_into

pytestmark = pytest.mark.ui


SHOWN = re.compile(r"layer \d+, head \d+:")


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


def test_attention_explorer_follows_layer_and_head(run_notebook_once):
    page = run_notebook_once("02_attention.ipynb")
    explorer = page.locator(".widget-vbox").filter(has=page.locator("textarea")).first
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".widget-html-content").filter(has_text=SHOWN).first
    picture = explorer.locator("img").first
    # After Run All the explorer shows its own cell's state: later cells drive a second one.
    assert "ROMEO" in explorer.locator("textarea").input_value()
    layer, head = _shown(caption)
    assert (layer, head) == (0, 0)

    # One step up, or down from index 3 (the lesson's model has 4 layers of 4 heads).
    key = "ArrowRight" if layer < 3 else "ArrowLeft"
    _step_slider(page, explorer, "layer", key, caption, picture)
    layer, head = layer + (1 if key == "ArrowRight" else -1), head
    assert _shown(caption) == (layer, head)

    key = "ArrowRight" if head < 3 else "ArrowLeft"
    _step_slider(page, explorer, "head", key, caption, picture)
    assert _shown(caption) == (layer, head + (1 if key == "ArrowRight" else -1))
    save_screenshot(explorer, "AttentionExplorer")


def test_typing_updates_the_explorer_without_leaving_the_box(run_notebook_once):
    page = run_notebook_once("02_attention.ipynb")
    explorer = page.locator(".widget-vbox").filter(has=page.locator("textarea")).first
    explorer.scroll_into_view_if_needed()
    caption = explorer.locator(".widget-html-content").filter(has_text=SHOWN).first
    picture = explorer.locator("img").first
    box = explorer.locator("textarea")
    assert box.get_attribute("rows") == "4"

    # At 1280x800 every slider's number box is on screen, none clipped.
    for readout in explorer.locator("input").all():
        readout.scroll_into_view_if_needed()
        box_ = readout.bounding_box()
        assert box_ and box_["x"] >= 0 and box_["x"] + box_["width"] <= 1280
    assert explorer.get_by_text("press ← → for one step").is_visible()

    # The token slider: a track a mouse can aim along, a number box beside it.
    token = explorer.locator(".widget-slider").filter(has_text="token").first
    row = page.locator(".widget-slider").filter(has_text="token")
    token_box = explorer.locator(".widget-hbox").filter(has=row).locator("input").first
    n = int(token_box.input_value()) + 1  # the last token is selected
    assert slider_track(token)["width"] >= 300
    old_caption, old_src = caption.inner_text(), picture.get_attribute("src")
    drag_slider(page, token, 10, 0, n - 1)
    page.wait_for_function(
        "([el, img, text, src]) => el.innerText !== text && img.src !== src",
        arg=[caption.element_handle(), picture.element_handle(), old_caption, old_src],
        timeout=60_000,
    )
    assert token_box.input_value() == "10" and "token 10 " in caption.inner_text()
    type_into(page, token_box, str(n + 50))  # past the end: refused with a message
    explorer.get_by_text(f"token goes from 0 to {n - 1}: {n + 50} is outside").wait_for()
    assert token_box.input_value() == "10"

    old_src = picture.get_attribute("src")
    box.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("Ay me")  # no Tab, no click elsewhere: the pause applies it
    page.wait_for_function(
        "([img, src]) => img.src !== src", arg=[picture.element_handle(), old_src], timeout=60_000
    )
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    text = box.input_value()
    assert text.endswith("Ay me") and "looks most at" in caption.inner_text()
    page.wait_for_function(  # the last token of the new text is selected
        "([el, v]) => el.value === v", arg=[token_box.element_handle(), str(len(text) - 1)]
    )

    # A character the model never saw: a message under the box, and no picture (broken or stale).
    page.keyboard.type("Æ")
    explorer.get_by_text("the model has never seen").wait_for(timeout=60_000)
    for img in explorer.locator("img").all():
        page.wait_for_function("(img) => img.offsetParent === null", arg=img.element_handle())
    assert "looks most at" not in explorer.inner_text()
    page.keyboard.press("Backspace")  # fixed: the pictures are back
    page.wait_for_function(
        "(img) => img.offsetParent !== null && img.naturalHeight > 0",
        arg=picture.element_handle(),
        timeout=60_000,
    )

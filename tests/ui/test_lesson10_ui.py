"""Lesson 10 in real JupyterLab: run it, move the playground's temperature, press "sample", type;
set the values the lesson suggests with the mouse; empty, over-long and out-of-range input."""

import re

import pytest

from tests.ui.conftest import drag_slider, save_screenshot, slider_track, type_into

pytestmark = pytest.mark.ui


def _temperature(caption) -> float:
    """The temperature the playground's caption says the bars are drawn at."""
    return float(re.search(r"after temperature (\d+\.\d+)", caption.inner_text()).group(1))


def _changes(page, caption, picture, old_caption, old_src) -> None:
    page.wait_for_function(
        "([el, img, text, src]) => el.innerText !== text && img.src !== src",
        arg=[caption.element_handle(), picture.element_handle(), old_caption, old_src],
        timeout=20_000,
    )


def test_playground_follows_temperature_and_streams_a_sample(run_notebook_through):
    # Only the cells up to the playground: the rest of the lesson (beam search, the KV cache) is
    # not needed to drive it.
    page = run_notebook_through("10_sampling.ipynb", "playground = SamplingPlayground(")
    sample = page.get_by_role("button", name="sample")
    playground = page.locator(".widget-vbox").filter(has=sample).first
    playground.scroll_into_view_if_needed()
    caption = playground.locator(".widget-html-content").filter(has_text="kept").first
    picture = playground.locator("img").first
    assert "kept" in caption.inner_text() and _temperature(caption) == 0.8  # set by the lesson
    # Every control fits in the output area, the file browser open, in a 1280-pixel window.
    area = page.locator(".jp-OutputArea-output").filter(has=sample).first.bounding_box()
    for control in playground.locator(".widget-slider, .widget-textarea, button, input").all():
        box = control.bounding_box()
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]
    # How to set an exact value is written under the sliders.
    assert playground.get_by_text("press ← → for one step").is_visible()

    # Two key presses on the temperature slider: 0.80 -> 0.90; the bars and caption follow.
    old_caption, old_src = caption.inner_text(), picture.get_attribute("src")
    slider = {
        name: playground.locator(".widget-slider").filter(has_text=name).first
        for name in ("temperature", "top-k", "top-p", "min-p")
    }
    slider["temperature"].locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    _changes(page, caption, picture, old_caption, old_src)
    assert _temperature(caption) > 0.8
    # A hotter distribution: the likeliest token's share shrinks.
    share = re.compile(r"at (\d+\.\d)%")
    assert float(share.search(caption.inner_text()).group(1)) < float(
        share.search(old_caption).group(1)
    )

    # The values the lesson suggests, aimed at with the mouse on tracks wide enough to hit them.
    def box_of(name):
        row = page.locator(".widget-slider").filter(has_text=name)
        return playground.locator(".widget-hbox").filter(has=row).locator("input").first

    for name, value, low, high in (
        ("temperature", 0.3, 0.0, 2.0),
        ("top-k", 10, 0, 100),
        ("min-p", 0.2, 0.0, 0.5),
    ):
        assert slider_track(slider[name])["width"] >= 300
        drag_slider(page, slider[name], value, low, high)
        page.wait_for_function(
            "([el, v]) => Number(el.value) === v", arg=[box_of(name).element_handle(), value]
        )
    page.wait_for_function(
        "(el) => el.innerText.includes('temperature 0.30')", arg=caption.element_handle()
    )
    # A value typed out of range: a message, and the slider stays where it was.
    type_into(page, box_of("temperature"), "5")
    message = playground.get_by_text("temperature goes from 0 to 2: 5 is outside")
    message.wait_for(timeout=10_000)
    assert box_of("temperature").input_value() == "0.3"
    type_into(page, box_of("min-p"), "0")  # back to the lesson's settings for what follows
    type_into(page, box_of("top-k"), "0")
    type_into(page, box_of("temperature"), "0.9")
    page.wait_for_function(
        "(el) => el.innerText.includes('temperature 0.90')", arg=caption.element_handle()
    )
    assert not message.is_visible()

    # "sample" streams a continuation under the prompt, in the notebook's sans-serif font.
    text = playground.locator(".widget-html-content").last
    assert "MACBETH" not in text.inner_text()
    sample.click()
    page.wait_for_function(
        "(el) => el.innerText.startsWith('MACBETH') && el.innerText.length > 80",
        arg=text.element_handle(),
        timeout=30_000,
    )
    assert "Is this a dagger which I see before" in text.inner_text()
    save_screenshot(playground, "SamplingPlayground")
    # The sample in the notebook's sans-serif font (read in one go: the stream replaces the div).
    page.wait_for_function(
        "(el) => { const d = el.querySelector('div');"
        " return d && /sans/i.test(getComputedStyle(d).fontFamily); }",
        arg=text.element_handle(),
        timeout=30_000,
    )

    # Typing in the prompt: the old sample goes at once, the bars follow once the typing pauses.
    old_src = picture.get_attribute("src")
    prompt = playground.locator("textarea").first
    prompt.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" thee", delay=30)
    page.wait_for_function(
        "([img, src]) => img.src !== src",
        arg=[picture.element_handle(), old_src],
        timeout=20_000,
    )
    assert text.inner_text() == ""

    # An empty box: a plain message beside it, and nothing of the old prompt left to act on.
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    note = playground.get_by_text("Type a prompt to see the next-token distribution")
    note.wait_for(timeout=10_000)
    assert "non-empty" not in playground.inner_text()
    page.wait_for_function("(img) => img.offsetParent === null", arg=picture.element_handle())
    assert sample.is_disabled() and box_of("temperature").is_disabled()
    assert "kept" not in playground.inner_text()

    # A pasted prompt longer than the model's window: where it is cut, and what it reads.
    page.keyboard.insert_text("KING LEAR:\nHow now, my lords? " * 30)
    cut = playground.get_by_text(re.compile(r"model reads only the last \d+"))
    cut.wait_for(timeout=20_000)
    assert not note.is_visible() and sample.is_enabled()
    page.wait_for_function("(img) => img.offsetParent !== null", arg=picture.element_handle())
    sample.click()
    page.wait_for_function(
        "(el) => el.innerText.startsWith('…') && el.innerText.length > 300",
        arg=text.element_handle(),
        timeout=30_000,
    )

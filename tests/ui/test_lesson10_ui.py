"""Lesson 08 in real JupyterLab: run it, move the playground's temperature, press "sample", type."""

import re

import pytest

pytestmark = pytest.mark.ui


def _temperature(caption) -> float:
    """The temperature the playground's caption says the bars are drawn at."""
    return float(re.search(r"after temperature (\d+\.\d+)", caption.inner_text()).group(1))


def test_playground_follows_temperature_and_streams_a_sample(run_notebook):
    page = run_notebook("10_sampling.ipynb")
    sample = page.get_by_role("button", name="sample")
    playground = page.locator(".widget-vbox").filter(has=sample).first
    playground.scroll_into_view_if_needed()
    caption = playground.locator(".widget-html-content").first
    picture = playground.locator("img").first
    assert "kept" in caption.inner_text() and _temperature(caption) == 0.8  # set by the lesson
    # Every control fits in the output area, the file browser open, in a 1280-pixel window.
    area = page.locator(".jp-OutputArea-output").filter(has=sample).first.bounding_box()
    for control in playground.locator(".widget-slider, .widget-textarea, button").all():
        box = control.bounding_box()
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]

    # Two key presses on the temperature slider: 0.80 -> 0.90; the bars and caption follow.
    old_caption, old_src = caption.inner_text(), picture.get_attribute("src")
    slider = playground.locator(".widget-slider").filter(has_text="temperature")
    slider.locator(".ui-slider-handle, .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, img, text, src]) => el.innerText !== text && img.src !== src",
        arg=[caption.element_handle(), picture.element_handle(), old_caption, old_src],
        timeout=20_000,
    )
    assert _temperature(caption) > 0.8
    # A hotter distribution: the likeliest token's share shrinks.
    share = re.compile(r"at (\d+\.\d)%")
    assert float(share.search(caption.inner_text()).group(1)) < float(
        share.search(old_caption).group(1)
    )

    # "sample" streams a continuation under the prompt.
    text = playground.locator(".widget-html-content").last
    assert "MACBETH" not in text.inner_text()
    sample.click()
    page.wait_for_function(
        "(el) => el.innerText.startsWith('MACBETH') && el.innerText.length > 80",
        arg=text.element_handle(),
        timeout=30_000,
    )
    assert "Is this a dagger which I see before" in text.inner_text()

    # Typing in the prompt: the bars follow once the typing pauses.
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

"""Lesson 01 in real JupyterLab: type into the token playground, read its tokens and ids."""

import re

import pytest

from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.ui


def test_token_playground_shows_bytes_in_brackets_and_ids_under_tokens(run_notebook_through):
    page = run_notebook_through("01_tokenization.ipynb", "playground = widgets.TokenPlayground(")
    playground = page.locator(".widget-vbox").filter(has=page.locator(".widget-toggle-buttons"))
    playground = playground.first
    playground.scroll_into_view_if_needed()
    output = playground.locator(".widget-html-content").first
    playground.get_by_role("button", name="BPE (llmlab)").click()

    box = playground.locator("textarea")
    box.fill("")
    box.type("Zoë 😀")
    page.wait_for_function(
        "(el) => el.innerText.includes('for 5 characters')",
        arg=output.element_handle(),
        timeout=10_000,
    )
    tokens = output.locator(".llmlab-token")
    shown = [tokens.nth(k).inner_text() for k in range(tokens.count())]
    assert any(re.fullmatch(r"(<[0-9a-f]{2}>)+", t.split("\n")[0]) for t in shown)  # <f0>...
    for token in shown:  # each token: its text, and under it its id
        text, token_id = token.rsplit("\n", 1)
        assert text and token_id.isdigit()
    assert "a new line" in output.inner_text()  # the legend of · ↵ <c3>
    save_screenshot(playground, "TokenPlayground")

    playground.get_by_role("button", name="characters").click()
    box.fill("KING:\nGood morrow!")
    page.wait_for_function(
        "(el) => el.innerText.includes('characters (vocabulary 76)')",
        arg=output.element_handle(),
        timeout=10_000,
    )
    assert playground.get_by_text("76 tokens", exact=True).is_visible()  # not the slider's 4,096

    # An empty box: a message, not "0.00 bytes per token".
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    playground.get_by_text("type or paste some text to see its tokens").wait_for(timeout=10_000)
    assert "bytes per token" not in output.inner_text()

    # A pasted page: the counts cover it all, the chips stop at a bounded number, and say so.
    page.keyboard.insert_text("KING:\nGood morrow, cousin! How fares the day?\n" * 130)
    shown = playground.get_by_text(re.compile(r"showing the first 400 of [\d,]+ tokens"))
    shown.wait_for(timeout=10_000)
    assert output.locator(".llmlab-token").count() == 400

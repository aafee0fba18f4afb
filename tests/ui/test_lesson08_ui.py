"""Lesson 08 in real JupyterLab: run it up to the ranking box, then rank replies by clicking."""

import pytest

from tests.ui.conftest import save_screenshot, text_fonts

pytestmark = pytest.mark.ui


def test_the_ranking_box_ranks_by_clicks_and_saves(run_notebook_through):
    page = run_notebook_through("08_rewards_and_dpo.ipynb", "box = RankingBox(", timeout_s=300)
    box = page.locator(".widget-vbox").filter(has=page.get_by_role("button", name="start over"))
    box = box.first
    box.scroll_into_view_if_needed()
    status = box.locator(".widget-html-content").last
    assert "prompt 1 of 3" in box.inner_text() and "0 of 3 prompts ranked" in status.inner_text()
    fonts = text_fonts(box)  # every text in the notebook's sans-serif, the replies' included
    assert fonts and all("sans" in font.lower() for font in fonts), fonts

    picks = box.get_by_role("button", name="pick reply")
    n = picks.count()
    assert n >= 2
    for i in range(n - 1, 0, -1):  # the last reply best, and so on; reply 1 places itself
        picks.nth(i).click()
    page.wait_for_function(
        "el => el.innerText.includes('1 of 3 prompts ranked')",
        arg=status.element_handle(),
        timeout=20_000,
    )
    shown = box.inner_text()
    assert all(f"#{place}" in shown for place in range(1, n + 1))  # every reply has its place
    assert "my_rankings.json" in status.inner_text()
    save_screenshot(box, "RankingBox")
    for i in range(n):
        assert picks.nth(i).is_disabled()

    box.get_by_role("button", name="next prompt").click()
    page.wait_for_function(
        "el => el.innerText.includes('prompt 2 of 3')", arg=box.element_handle(), timeout=20_000
    )
    page.wait_for_function(  # a fresh prompt to rank (the buttons follow the header)
        "el => !el.disabled", arg=picks.first.element_handle(), timeout=20_000
    )
    box.get_by_role("button", name="previous prompt").click()
    box.get_by_role("button", name="start over").click()
    page.wait_for_function(
        "el => el.innerText.includes('0 of 3 prompts ranked')",
        arg=status.element_handle(),
        timeout=20_000,
    )

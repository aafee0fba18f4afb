"""The static site in real Chromium at 1280x800: a lesson page shows its widget's picture, and
the reader gets to the next lesson by clicking (the site is built once, from file:// URLs)."""

import importlib.util
from pathlib import Path

import pytest

from llmlab.course import LESSONS
from tests.ui.conftest import ROOT

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "notebooks/site/build.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    out = tmp_path_factory.mktemp("site")
    builder.build(out)
    return out


def test_a_lesson_page_shows_its_widget_and_leads_to_the_next_lesson(page, site_dir):
    page.goto((site_dir / "02_attention.html").as_uri())
    assert "Attention" in page.locator(".body h1").first.inner_text()
    # The sidebar lists every lesson, and stays in view as the page scrolls.
    sidebar = page.locator(".sphinxsidebar .toctree-l1 a")
    assert sidebar.count() == len(LESSONS)

    picture = page.locator("img.llmlab-widget").first
    picture.scroll_into_view_if_needed()
    assert picture.is_visible() and "AttentionExplorer" in picture.get_attribute("alt")
    width = picture.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 100  # the picture loaded, not a broken-image icon
    note = page.get_by_text("A live widget: run this lesson in JupyterLab to use it").first
    assert note.is_visible()
    assert sidebar.first.is_visible() and sidebar.first.bounding_box()["y"] >= 0

    page.locator("a[title='Next document']").first.click()
    page.wait_for_url("**/03_backpropagation.html")
    assert "Backpropagation" in page.locator(".body h1").first.inner_text()
    page.locator("a[title='Previous document']").first.click()
    page.wait_for_url("**/02_attention.html")

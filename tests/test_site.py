"""The static site (`make site`, notebooks/site/build.py) and the pictures of the widgets.

Unit tests of the notebook rewriting that makes widgets static; one build of the whole site into
a temporary folder (marked ``once``: it depends on no torch or CPU) whose pages, links and
pictures are checked; and the README's gallery against the files it shows."""

from __future__ import annotations

import base64
import importlib.util
import io
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from llmlab.course import LESSONS

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _load_builder():
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "notebooks/site/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site = _load_builder()


# --- the rewriting of widget outputs -------------------------------------------------------


def _widget_output(plain: str, html: str | None = None) -> nbformat.NotebookNode:
    data = {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}}
    data["text/plain"] = plain
    if html is not None:
        data["text/html"] = html
    return nbformat.v4.new_output("display_data", data)


def _notebook(source: str, *outputs) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), cell])
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


def _png(path: Path, size=(40, 20), noise: bool = False) -> bytes:
    from PIL import Image

    if noise:
        import numpy as np

        pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", size, (200, 30, 30))
    image.save(path)
    return path.read_bytes()


def test_a_widget_with_a_picture_becomes_the_picture_and_the_note(tmp_path):
    picture = _png(tmp_path / "ChatBox.png")
    before = nbformat.v4.new_output("stream", name="stdout", text="loaded\n")
    notebook = _notebook("box = ChatBox(model)\nbox", before, _widget_output("ChatBox: run ..."))
    assert site.static_widgets(notebook, tmp_path) == ["ChatBox"]
    cell = notebook.cells[1]
    assert [o.output_type for o in cell.outputs] == ["stream", "display_data", "display_data"]
    assert cell.outputs[0] == before  # other outputs stay, in their place
    assert base64.b64decode(cell.outputs[1].data["image/png"]) == picture
    assert cell.outputs[2].data == {"text/markdown": f"*{site.LIVE_NOTE}.*"}
    assert cell.metadata["mystnb"]["image"]["classes"] == "llmlab-widget"
    assert "ChatBox" in cell.metadata["mystnb"]["image"]["alt"]
    assert "widgets" not in notebook.metadata  # no widget JavaScript on the page
    nbformat.validate(notebook)


def test_without_a_picture_the_widget_keeps_its_static_html_or_only_the_note(tmp_path):
    quiz = _widget_output("Quiz: run the notebook to use this widget", "<ol><li>Q1</li></ol>")
    bare = _widget_output("Bare: run the notebook to use this widget")
    notebook = _notebook("show(Quiz(questions), Bare())", quiz, bare)
    assert site.static_widgets(notebook, tmp_path) == ["Quiz", "Bare"]
    datas = [o.data for o in notebook.cells[1].outputs]
    note = {"text/markdown": f"*{site.LIVE_NOTE}.*"}
    assert datas == [{"text/html": "<ol><li>Q1</li></ol>"}, note, note]
    assert "mystnb" not in notebook.cells[1].metadata
    nbformat.validate(notebook)


def test_a_notebook_without_widgets_is_left_as_it_was(tmp_path):
    out = nbformat.v4.new_output("execute_result", {"text/plain": "3"}, execution_count=1)
    notebook = _notebook("1 + 2", out)
    notebook.metadata.pop("widgets")
    copy = nbformat.from_dict(notebook)
    assert site.static_widgets(notebook, tmp_path) == []
    assert notebook == copy


def test_widget_class_prefers_a_picture_then_the_widget_own_name(tmp_path):
    bundle = {"text/plain": "RankingBox: run the notebook to use this widget"}
    source = "gen = Generator(policy)\nbox = RankingBox(gen)"
    assert site.widget_class(source, bundle, tmp_path) == "RankingBox"  # not Generator
    assert site.widget_class("driven", {"text/plain": "VBox(...)"}, tmp_path) is None
    assert site.widget_class("x = Foo(1)\nx", {}, tmp_path) == "Foo"
    _png(tmp_path / "Bar.png")
    assert site.widget_class("Foo(Bar())", bundle, tmp_path) == "Bar"


def test_the_course_map_links_every_lesson_with_its_budget():
    rows = site.course_map().splitlines()[2:]
    assert len(rows) == len(LESSONS)
    for row, lesson in zip(rows, LESSONS, strict=True):
        assert row.startswith(f"| {lesson.number:02d} | [{lesson.title}]({lesson.slug}.ipynb) |")
        assert row.endswith(f"| {lesson.cpu_minutes:g} |") and row.count(" | ") == 3


def test_shrink_picture_gets_a_large_png_under_the_limit_and_leaves_a_small_one(tmp_path):
    from PIL import Image

    big, small = tmp_path / "big.png", tmp_path / "small.png"
    _png(big, size=(300, 200), noise=True)  # noise: about 180 kB as a PNG
    data = _png(small)
    assert big.stat().st_size > 150_000
    assert site.shrink_picture(big, 50_000) == big.stat().st_size <= 50_000
    assert Image.open(io.BytesIO(big.read_bytes())).format == "PNG"
    assert site.shrink_picture(small, 50_000) == len(data) and small.read_bytes() == data
    with pytest.raises(ValueError, match="max_bytes"):
        site.shrink_picture(small, 10)


# --- the whole site, built once --------------------------------------------------------------


class _Links(HTMLParser):
    """Every href and src of a page, and each <img>'s attributes."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.targets += [attrs[key] for key in ("href", "src") if attrs.get(key)]
        if tag == "img":
            self.images.append(attrs)


def _parse(page: Path) -> _Links:
    links = _Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    widgets = site.build(out)
    seconds = time.perf_counter() - start
    print(f"site built in {seconds:.1f} s")
    return out, widgets, seconds


@pytest.mark.once
def test_the_site_builds_quickly_with_a_page_per_lesson(built):
    out, widgets, seconds = built
    assert seconds < 90, f"the site took {seconds:.0f} s: CI has about 5 minutes of headroom"
    assert sorted(widgets) == sorted(lesson.slug for lesson in LESSONS)
    for lesson in LESSONS:
        page = (out / f"{lesson.slug}.html").read_text(encoding="utf-8")
        assert f"<h1>{lesson.number:02d} · " in page  # the lesson's own title heads its page
    index = _parse(out / "index.html")
    for lesson in LESSONS:  # the landing page links every lesson, and shows its budget
        assert f"{lesson.slug}.html" in index.targets
    assert "CPU minutes" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.once
def test_every_internal_link_and_image_of_the_site_resolves(built):
    out, _, _ = built
    broken = []
    for page in sorted(out.rglob("*.html")):
        for target in _parse(page).targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith("#"):
                continue  # http(s) links, data: pictures, anchors in the page
            if not (page.parent / unquote(parts.path)).resolve().is_file():
                broken.append(f"{page.relative_to(out)} -> {target}")
    assert broken == []


@pytest.mark.once
def test_every_widget_became_a_picture_or_static_html_with_the_note(built):
    out, widgets, _ = built
    assert sum(map(len, widgets.values())) >= 10  # lessons 00-03, 07, 08, 10-12 have widgets
    for slug, classes in widgets.items():
        html = (out / f"{slug}.html").read_text(encoding="utf-8")
        assert "widget-view+json" not in html and "jupyter-widgets" not in html
        assert html.count(site.LIVE_NOTE) == len(classes), slug
        pictures = [
            i for i in _parse(out / f"{slug}.html").images if "llmlab-widget" in i.get("class", "")
        ]
        with_picture = [name for name in classes if (site.SCREENSHOTS / f"{name}.png").is_file()]
        assert len(pictures) == len(with_picture), slug
        for image, name in zip(pictures, with_picture, strict=True):
            assert name in image["alt"] and (out / image["src"]).is_file()


# --- the pictures: README gallery, one per widget class ----------------------------------------


def test_every_image_the_readme_shows_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme) + re.findall(
        r'<img [^>]*src="([^"]+)"', readme
    )
    local = [path for path in shown if not urlsplit(path).scheme]
    assert any("assets/screenshots/" in path for path in local), "the README shows no widget"
    assert [path for path in local if not (ROOT / unquote(path)).is_file()] == []


def test_every_widget_class_a_lesson_displays_has_a_picture():
    found: dict[str, str] = {}
    for lesson in LESSONS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{lesson.slug}.ipynb", as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                if WIDGET_VIEW in output.get("data", {}):
                    name = site.widget_class(cell.source, output["data"]) or "?"
                    found.setdefault(name, lesson.slug)
    missing = {
        name: slug
        for name, slug in found.items()
        if not (site.SCREENSHOTS / f"{name}.png").is_file()
    }
    assert not missing, f"widget classes found: {sorted(found)}; without a picture: {missing}"

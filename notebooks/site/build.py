"""Build the static site of the executed course: ``make site`` (or ``python notebooks/site/build.py``).

A reader without a kernel gets every lesson with the outputs and figures it printed when it was
last built: the committed ``.ipynb`` files are rendered by Sphinx and MyST-NB with execution off,
so the site needs no network and never re-runs a lesson. A live widget cannot work on a static
page, so copies of the notebooks are first rewritten (:func:`static_widgets`): each widget output
becomes the picture of that widget in use from ``assets/screenshots/`` (``make screenshots``)
with a note to run the lesson, or the widget's own static HTML where no picture exists.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

SITE = Path(__file__).resolve().parent
ROOT = SITE.parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a fresh clone: the checkout's llmlab

from llmlab.course import LESSONS, Lesson  # noqa: E402

SCREENSHOTS = ROOT / "assets" / "screenshots"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MAX_PICTURE_BYTES = 150_000  # a committed screenshot (the README shows them all)
LIVE_NOTE = "A live widget: run this lesson in JupyterLab to use it"
# The class a LessonWidget names in its text/plain ("RankingBox: run the notebook to use ...").
PLAIN_CLASS = re.compile(r"^([A-Z]\w*): run the notebook")
CALLED_CLASS = re.compile(r"\b([A-Z][A-Za-z0-9]*)\(")


def widget_class(source: str, bundle: dict, pictures: Path = SCREENSHOTS) -> str | None:
    """The llmlab widget class a widget output shows, or None if neither source nor output names one.

    A class with a picture in ``pictures`` wins; among the candidates, the one the widget's own
    ``text/plain`` names comes first (a cell may call other classes too, e.g. ``Generator``), then
    the classes called in the cell's source, in order (a cell that only shows ``driven`` names none).
    """
    named = PLAIN_CLASS.match(str(bundle.get("text/plain", "")))
    candidates = ([named.group(1)] if named else []) + CALLED_CLASS.findall(source)
    with_picture = [name for name in candidates if (pictures / f"{name}.png").is_file()]
    return (with_picture or candidates or [None])[0]


def static_widgets(notebook: nbformat.NotebookNode, pictures: Path = SCREENSHOTS) -> list[str]:
    """Replace, in place, every widget output of ``notebook`` by what a static page can show.

    Each becomes the picture ``pictures/<Class>.png`` of that widget in use, else the output's own
    ``text/html`` (a widget's static rendering of its state), else nothing; a one-line note to run
    the lesson follows in every case. The saved widget state goes too, so no page loads the
    widget JavaScript. Returns the class of each widget replaced, in order ("?" when unnamed).
    """
    notebook.metadata.pop("widgets", None)
    replaced = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            bundle = output.get("data", {})
            if WIDGET_VIEW not in bundle:
                outputs.append(output)
                continue
            name = widget_class(cell.source, bundle, pictures)
            replaced.append(name or "?")
            picture = pictures / f"{name}.png" if name else None
            if picture is not None and picture.is_file():
                png = base64.b64encode(picture.read_bytes()).decode("ascii")
                outputs.append(nbformat.v4.new_output("display_data", {"image/png": png}))
                cell.metadata.setdefault("mystnb", {})["image"] = {
                    "alt": f"{name}, a widget of this lesson, in use",
                    "classes": "llmlab-widget",
                }
            elif "text/html" in bundle:
                outputs.append(
                    nbformat.v4.new_output("display_data", {"text/html": bundle["text/html"]})
                )
            outputs.append(
                nbformat.v4.new_output("display_data", {"text/markdown": f"*{LIVE_NOTE}.*"})
            )
        cell.outputs = outputs
    return replaced


def course_map(lessons: tuple[Lesson, ...] = LESSONS) -> str:
    """The landing page's table of lessons (MyST Markdown), each title a link to its page."""
    rows = ["| # | Lesson | What you build | CPU minutes |", "|---|---|---|---|"]
    for lesson in lessons:
        builds = lesson.builds.replace("|", "\\|")
        link = f"[{lesson.title}]({lesson.slug}.ipynb)"
        rows.append(f"| {lesson.number:02d} | {link} | {builds} | {lesson.cpu_minutes:g} |")
    return "\n".join(rows)


def write_sources(source_dir: Path, pictures: Path = SCREENSHOTS) -> dict[str, list[str]]:
    """Write the landing page and a widget-free copy of every lesson into ``source_dir``.

    Returns each lesson's replaced widget classes (see :func:`static_widgets`)."""
    source_dir.mkdir(parents=True, exist_ok=True)
    toctree = "\n".join(lesson.slug for lesson in LESSONS)
    index = (SITE / "index.md").read_text(encoding="utf-8")
    index = index.replace("{{course_map}}", course_map()).replace("{{toctree}}", toctree)
    (source_dir / "index.md").write_text(index, encoding="utf-8")
    widgets = {}
    for lesson in LESSONS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{lesson.slug}.ipynb", as_version=4)
        widgets[lesson.slug] = static_widgets(notebook, pictures)
        nbformat.write(notebook, source_dir / f"{lesson.slug}.ipynb")
    return widgets


def build(out: Path, pictures: Path = SCREENSHOTS, quiet: bool = True) -> dict[str, list[str]]:
    """Build the site into ``out`` (HTML only: the sources and doctrees stay in a temporary folder).

    Returns each lesson's replaced widget classes. Raises RuntimeError if Sphinx fails."""
    from sphinx.cmd.build import build_main

    with tempfile.TemporaryDirectory(prefix="llmlab-site-") as tmp:
        widgets = write_sources(Path(tmp) / "src", pictures)
        args = ["-b", "html", "-E", "-c", str(SITE), "-d", str(Path(tmp) / "doctrees")]
        args += ["-q"] if quiet else []
        status = build_main([*args, str(Path(tmp) / "src"), str(out)])
    if status != 0:
        raise RuntimeError(f"Sphinx failed with status {status}")
    return widgets


def shrink_picture(path: Path, max_bytes: int = MAX_PICTURE_BYTES) -> int:
    """Rewrite the PNG ``path`` under ``max_bytes`` if it is larger; return its size in bytes.

    First 256 colours (a widget's flat colours and text survive it), then, while still too large,
    nine-tenths of the width and height: the README and the site show thumbnails anyway."""
    from PIL import Image

    if max_bytes < 1_000:
        raise ValueError(f"max_bytes must be at least 1000, got {max_bytes}")
    size = path.stat().st_size
    if size <= max_bytes:
        return size
    image = Image.open(path).convert("RGB")
    picture = image.quantize(colors=256)
    while True:
        picture.save(path, optimize=True)
        size = path.stat().st_size
        if size <= max_bytes:
            return size
        width, height = image.size
        image = image.resize((int(width * 0.9), int(height * 0.9)), Image.Resampling.LANCZOS)
        picture = image.quantize(colors=256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="output folder")
    parser.add_argument(
        "--shrink", type=Path, metavar="FOLDER", help="only shrink the PNGs in FOLDER (and stop)"
    )
    args = parser.parse_args(argv)
    if args.shrink:
        for path in sorted(args.shrink.glob("*.png")):
            print(f"{path}: {shrink_picture(path) / 1000:.0f} kB")
        return 0
    start = time.perf_counter()
    widgets = build(args.out)
    shown = sum(len(names) for names in widgets.values())
    print(
        f"site: {len(widgets)} lessons, {shown} widgets made static, "
        f"{time.perf_counter() - start:.1f} s -> {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

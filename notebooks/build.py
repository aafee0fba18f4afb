"""Build the lessons: each ``NN_name.py`` (jupytext percent format) becomes an executed ``.ipynb``.

The ``.py`` file is the source a person edits and reviews; the ``.ipynb`` beside it is written by
this script, never by hand, with the outputs of a fresh top-to-bottom run. nbval later re-runs
the notebook and compares against those outputs, and ``tests/test_project.py`` fails when a
committed notebook no longer matches its source.

    python notebooks/build.py                 # every lesson
    python notebooks/build.py 01 04           # lessons whose names start with 01 or 04
    python notebooks/build.py --check         # only verify sources and notebooks agree
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources(prefixes: list[str] | None = None) -> list[Path]:
    """The lesson sources, ``NN_*.py``, optionally only those starting with one of ``prefixes``."""
    found = sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(x) for x in prefixes)]
    return found


def from_source(path: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook for one source file, with stable metadata."""
    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{path.stem[:2]}-{index:03d}"  # stable ids keep diffs small
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    return notebook


def cell_signature(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    """What must agree between a source and its built notebook: type, text and tags per cell."""
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells
    ]


def as_jupyterlab_writes(value: object) -> object:
    """``value`` with every whole float made an int, as JupyterLab's JSON writer saves it.

    JavaScript has one number type, so a saved ``1.0`` comes back as ``1``; without this, opening a
    lesson in JupyterLab rewrites the committed notebook on autosave and a learner's ``git status``
    is dirty before they have typed anything.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return type(value)((k, as_jupyterlab_writes(v)) for k, v in value.items())
    if isinstance(value, list):
        return [as_jupyterlab_writes(v) for v in value]
    return value


def build(path: Path, timeout: int = 1800) -> float:
    """Execute one lesson top to bottom in ``notebooks/`` and write its ``.ipynb``; returns seconds."""
    notebook = from_source(path)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
    ).execute()
    seconds = time.perf_counter() - start
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps would change on every build
    nbformat.write(as_jupyterlab_writes(notebook), path.with_suffix(".ipynb"))
    return seconds


def out_of_sync(path: Path) -> str | None:
    """Why the committed notebook of ``path`` does not match its source, or None if it does."""
    built = path.with_suffix(".ipynb")
    if not built.exists():
        return f"{built.name} is missing"
    notebook = nbformat.read(built, as_version=4)
    if cell_signature(notebook) != cell_signature(from_source(path)):
        return f"{built.name} differs from {path.name}"
    if any(
        c.cell_type == "code" and c.source.strip() and c.execution_count is None
        for c in notebook.cells
    ):
        return f"{built.name} has cells that were never executed"
    if built.read_text() != nbformat.writes(as_jupyterlab_writes(notebook)) + "\n":
        return f"{built.name} would be rewritten by JupyterLab's autosave"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson prefixes, e.g. 00 01 (default: all)")
    parser.add_argument("--check", action="store_true", help="only check notebooks are in sync")
    args = parser.parse_args(argv)
    paths = sources(args.lessons)
    if not paths:
        parser.error(f"no lesson matches {args.lessons}")
    if args.check:
        problems = [p for p in map(out_of_sync, paths) if p]
        print("\n".join(problems) or f"{len(paths)} notebooks in sync")
        return 1 if problems else 0
    for path in paths:
        print(f"building {path.stem} ...", flush=True)
        print(f"  {build(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

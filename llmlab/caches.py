"""What ``llmlab prepare`` warms: every cache the lessons fill, so a class never waits.

The standard models of :mod:`llmlab.pretrained` (shipped in ``assets/checkpoints/`` or trained
into ``$LLMLAB_HOME``), lesson 11's small canary models (:func:`llmlab.memorization.small_model`),
the training runs lesson 05 keeps (:func:`llmlab.scaling.cached_run`) and matplotlib's font
cache. ``tests/test_prepare.py`` checks this list against what the lessons load, so a new cache
cannot be forgotten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmlab import pretrained

#: Lesson 11's small canary models (:func:`llmlab.memorization.small_model`): each call exactly as
#: the lesson writes it, with the loop variable it binds. Their training texts are built by the
#: lesson's own statements (:func:`_lesson_texts`), so the lesson stays the one place they are
#: written; ``tests/test_prepare.py`` checks this list against every such call in the lessons.
SMALL_MODEL_CALLS: tuple[tuple[str, dict[str, int]], ...] = (
    ("memorization.small_model(planted_text)", {}),
    ("memorization.small_model(deduplicated)", {}),
    ("memorization.small_model(planted_text, seed=seed)", {"seed": 1}),
    ("memorization.small_model(planted_text, seed=seed)", {"seed": 2}),
    ("memorization.small_model(memorization.plant(clean, canaries, copies, seed=0))", {}),
)
#: The lesson whose statements build the small models' texts.
SMALL_MODEL_LESSON = "11_what_a_model_knows"
#: The lessons of a clone (``llmlab prepare`` runs their statements to warm what they cache).
NOTEBOOKS = pretrained.SHIPPED.parent.parent / "notebooks"
#: Lessons that keep their own training runs in the cache (:func:`llmlab.scaling.cached_run`):
#: ``llmlab prepare`` runs each once, headless, so the lesson itself stays the one place its runs
#: are written.
LESSON_RUNS = ("05_scaling_and_compression",)
#: What ``llmlab prepare`` warms besides the standard models (:func:`names`).
EXTRA_CACHES = ("small_models", "lesson_runs", "matplotlib")


def cache_names() -> list[str]:
    """Everything ``llmlab prepare`` can warm: the standard models, then :data:`EXTRA_CACHES`."""
    return pretrained.names() + list(EXTRA_CACHES)


def prepare(name: str, *, progress: bool = True) -> str:
    """Warm the cache ``name`` (one of :func:`cache_names`) and say in one line what it did.

    A class should never wait for training or a font scan: a standard model is reported as
    already in the cache, served from the shipped ``assets/checkpoints/``, or trained now; each
    line gives the seconds it took.
    """
    import time

    if name not in cache_names():
        raise ValueError(f"names must be among {cache_names()}, got {name!r}")
    start = time.perf_counter()
    if name == "small_models":
        made, total = _prepare_small_models(progress)
        what = f"{total - made} of {total} already in the cache, {made} trained"
    elif name == "lesson_runs":
        made, total = _prepare_lesson_runs()
        what = (
            f"ran lessons {', '.join(LESSON_RUNS)}: {total - made} runs already cached, {made} new"
        )
    elif name == "matplotlib":
        import matplotlib.font_manager

        what = f"font cache ready ({len(matplotlib.font_manager.fontManager.ttflist)} fonts)"
    else:
        what = _prepare_model(name, progress)
    return f"{name}: {what} ({time.perf_counter() - start:.1f} s)"


def _prepare_model(name: str, progress: bool) -> str:
    """Serve or train the standard model ``name``; where it came from and its held-out score."""
    from llmlab import cache_dir

    filename = f"{name}-{pretrained.fingerprint(name)}.safetensors"
    if (Path(cache_dir(create=False)) / filename).is_file():
        source = "already in the cache"
    elif (pretrained.SHIPPED / filename).is_file():
        source = "shipped in assets/checkpoints"
    else:
        source = "trained into the cache"
    saved = pretrained.checkpoint(name, progress=progress)
    score = saved.extra.get("val_loss")  # None for a run without a held-out score (cda)
    scored = "no held-out score" if score is None else f"validation loss {score:.4f}"
    return f"{source}, {saved.path} ({scored})"


def _prepare_small_models(progress: bool) -> tuple[int, int]:
    """Make lesson 11's small models: ``(how many were trained now, how many there are)``."""
    from llmlab import cache_dir, memorization

    folder = Path(cache_dir())
    before = set(folder.glob("small-*.safetensors"))
    namespace = _lesson_texts()
    for number, (call, bound) in enumerate(SMALL_MODEL_CALLS, 1):
        if progress:
            print(f"  small model {number} of {len(SMALL_MODEL_CALLS)}: {call} {bound or ''}")
        eval(call, {**namespace, "memorization": memorization, **bound})  # noqa: S307
    made = set(folder.glob("small-*.safetensors")) - before
    return len(made), len(SMALL_MODEL_CALLS)


def _prepare_lesson_runs() -> tuple[int, int]:
    """Run each lesson of :data:`LESSON_RUNS` once (nbclient, in a scratch folder, its notebook not
    written): ``(how many cached runs it added, how many there are now)``."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from llmlab import cache_dir

    folder = Path(cache_dir())
    before = set(folder.glob("*.json"))
    for lesson in LESSON_RUNS:
        source = NOTEBOOKS / f"{lesson}.ipynb"
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: prepare the lessons' runs from a clone")
        with tempfile.TemporaryDirectory() as scratch:
            notebook = nbformat.read(source, as_version=4)
            NotebookClient(
                notebook, timeout=1800, resources={"metadata": {"path": scratch}}
            ).execute()
    after = set(folder.glob("*.json"))
    return len(after - before), len(after)


def _lesson_texts() -> dict[str, Any]:
    """The names lesson 11 defines before its first small model: run its own statements.

    The lesson's cell that builds the canaries' training text is executed up to (not including)
    the first statement that trains a model, in a namespace holding the modules it uses.
    """
    import ast
    import random

    import numpy as np

    from llmlab import corpus, instructions, memorization

    source = NOTEBOOKS / f"{SMALL_MODEL_LESSON}.py"
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: prepare the small models from a clone")
    cells = source.read_text(encoding="utf-8").split("\n# %%")
    cell = next(c for c in cells if "memorization.small_model(" in c and "planted_text =" in c)
    statements = []
    for statement in ast.parse(cell.split("\n", 1)[1]).body:
        if "small_model" in ast.unparse(statement):
            break
        statements.append(statement)
    namespace: dict[str, Any] = {
        "random": random,
        "np": np,
        "corpus": corpus,
        "instructions": instructions,
        "memorization": memorization,
    }
    exec(compile(ast.Module(statements, []), str(source), "exec"), namespace)  # noqa: S102
    return namespace

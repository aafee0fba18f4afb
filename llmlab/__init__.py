"""llmlab: the library behind the course. Each module holds one idea of a language model.

``import llmlab`` is instant on purpose: submodules (and torch, matplotlib, tokenizers, ipywidgets)
load the first time you touch them, e.g. ``llmlab.corpus`` or ``from llmlab import corpus``.
"""

from __future__ import annotations

import importlib
import os
import random
from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def _submodules() -> set[str]:
    """The names of this package's modules (``*.py``) and subpackages (folders with an
    ``__init__.py``), read from the folder, so that none has to be listed by hand."""
    here = Path(__file__).parent
    return {
        path.stem
        for path in here.iterdir()
        if not path.name.startswith("_")
        and (path.suffix == ".py" or (path / "__init__.py").is_file())
    }


_SUBMODULES = _submodules()

__all__ = ["__version__", "cache_dir", "setup", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    """Import submodules lazily so ``import llmlab`` stays fast (see the module docstring)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'llmlab' has no attribute {name!r}")


def cache_dir(create: bool = True) -> str:
    """Where checkpoints and trained tokenizers are cached: ``$LLMLAB_HOME`` or ~/.cache/llmlab.

    ``create=False`` only says where: reading needs no folder (a shipped model is served from
    the repository even where the cache cannot be made).
    """
    default = os.path.join(os.path.expanduser("~"), ".cache", "llmlab")
    path = os.environ.get("LLMLAB_HOME") or default
    if create:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as error:
            raise OSError(
                f"the llmlab cache folder {path} cannot be created ({error.strerror}); "
                "point $LLMLAB_HOME at a writable folder"
            ) from None
    return path


def setup(
    seed: int = 1337,
    threads: int | None = None,
    precision: int = 4,
    figsize: tuple[float, float] = (7.0, 3.5),
) -> None:
    """The first cell of every lesson: same seed, same threads, same printing, same figures.

    Seeding Python, NumPy and torch makes every number a lesson prints reproducible on the same
    machine, which is what lets nbval compare a fresh run against the committed outputs.
    ``threads`` defaults to ``$LLMLAB_THREADS`` if set, else the CPU count (capped at 8: small
    models gain nothing from more). The variable lets the test suite run every lesson on another
    thread count than the one it was built with: a printed number must not depend on it.
    It returns nothing, so the cell shows nothing: what it could show (the torch version, the
    thread count) differs between machines, and a lesson's outputs must not.
    """
    import numpy as np
    import torch

    from llmlab import checks

    if threads is None:
        threads = _threads_from_environment() or min(os.cpu_count() or 1, 8)
    threads = checks.integer(threads, "threads", 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    np.set_printoptions(precision=precision, suppress=True, linewidth=100)
    torch.set_printoptions(precision=precision, sci_mode=False, linewidth=100)
    import matplotlib

    matplotlib.rcParams.update(
        {"figure.figsize": figsize, "figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3}
    )
    _inline_figures()


def _threads_from_environment() -> int | None:
    """``$LLMLAB_THREADS`` as a thread count, or None where it is not set."""
    value = os.environ.get("LLMLAB_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"$LLMLAB_THREADS must be an int >= 1, got {value!r}")
    return int(value)


def _inline_figures() -> None:
    """In a notebook, show the ``Figure`` a cell returns as a picture (the inline backend)."""
    import sys

    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")

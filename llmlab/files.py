"""Writing a file so that a reader never sees half of it: checkpoints, tokenizers, exports.

A crash or a Ctrl-C in the middle of a plain write leaves a truncated file that a later run
would try to load; writing a temporary file beside it and renaming it over the old one is atomic
on every operating system the course runs on, so readers see the old file or the new one.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a temporary file in the same folder, then rename: readers see old or new, not half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

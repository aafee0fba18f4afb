"""Training mode and evaluation mode, switched for a block and always switched back.

Dropout is on in training mode and off in evaluation mode, so scoring, generating or probing a
model must run in evaluation mode, and must leave the model as it found it: a training loop that
calls an evaluation in the middle goes on training. :func:`evaluating` is that save, switch and
restore, written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


@contextmanager
def evaluating(module: M) -> Iterator[M]:
    """Run the block with ``module`` in eval mode; restore its mode after, even on an error.

    ``with evaluating(model): logits, _ = model(ids)``. The mode is a property of every
    submodule; like ``module.train(mode)``, the restore sets the one mode ``module`` had on all
    of them.
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)

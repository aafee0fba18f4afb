"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, above all on cores other processes are using."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    """Longest files first: the lessons by their CPU budget (``llmlab.course``), then the rest.

    ``make test`` hands whole files to two workers in this order (``--dist loadfile
    --no-loadscope-reorder``); started last, a four-minute lesson would keep one worker busy
    while the other sits idle, and CI waits for it.
    """
    from llmlab.course import LESSONS

    minutes = {f"{lesson.slug}.ipynb": lesson.cpu_minutes for lesson in LESSONS}
    items.sort(key=lambda item: -minutes.get(item.path.name, 0.0))  # stable: ties keep order


@pytest.fixture(scope="session")
def tok():
    """The shipped sft model's chat tokenizer (the preference tests render replies with it)."""
    from llmlab import pretrained

    return pretrained.load("sft", train=False, progress=False)[1]

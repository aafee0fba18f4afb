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


@pytest.fixture(scope="session")
def chat_tokenizer():
    """Bytes only (no merges), plus the chat tokens (ids 256, 257, 258): lessons 06 and 07."""
    from llmlab.chat import chat_tokenizer
    from llmlab.tokenization import BPETokenizer

    return chat_tokenizer(BPETokenizer({i: bytes([i]) for i in range(256)}, []))


@pytest.fixture
def tiny_chat_model(chat_tokenizer):
    """``make(seed=0, block_size=96)``: a fresh one-block GPT over ``chat_tokenizer``'s ids, in eval
    mode; the same arguments give the same weights."""
    from llmlab.model import GPT, GPTConfig

    def make(seed: int = 0, block_size: int = 96) -> GPT:
        torch.manual_seed(seed)
        config = GPTConfig(
            vocab_size=chat_tokenizer.vocab_size,
            block_size=block_size,
            n_layer=1,
            n_head=2,
            n_embd=16,
        )
        return GPT(config).eval()

    return make

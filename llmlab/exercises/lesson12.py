"""Lesson 12's exercises: a minimal-pair preference score, a logit-lens readout, and a probe's
selectivity against its control task."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_model(rng: random.Random, vocab_size: int) -> Any:
    import torch

    from llmlab.model import GPT, GPTConfig

    torch.manual_seed(rng.randrange(2**31))
    config = GPTConfig(
        vocab_size=vocab_size,
        block_size=12,
        n_layer=rng.randint(1, 3),
        n_head=2,
        n_embd=8,
        bias=rng.random() < 0.5,
    )
    model = GPT(config).eval()
    with torch.no_grad():  # larger weights than GPT-2's start: clear, different preferences
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.7)
    return model


# ----------------------------------------------------------------------------- minimal pairs


def _random_pairs(rng: random.Random) -> tuple[Any, list[tuple[list[int], list[int], list[int]]]]:
    vocab = rng.randint(3, 9)
    model = _random_model(rng, vocab)
    pairs = []
    for _ in range(rng.randint(2, 6)):
        word = lambda: [rng.randrange(vocab) for _ in range(rng.randint(1, 3))]  # noqa: E731
        first, second = word(), word()
        pairs.append(([rng.randrange(vocab) for _ in range(rng.randint(1, 4))], first, second))
    if rng.random() < 0.3:  # a tie: the same continuation twice
        prefix, first, _ = pairs[0]
        pairs[0] = (prefix, first, list(first))
    return model, pairs


@exercise(
    "minimal_pair_preference",
    _random_pairs,
    lambda a, b: abs(a - b) < 1e-9,
    builds="the CrowS-Pairs score: the share of pairs whose first continuation is likelier",
    difficulty=2,
    minutes=15,
    hints=(
        "For one continuation: run the model on prefix + continuation; the logits at position "
        "t predict token t + 1, so the continuation's tokens are predicted from position "
        "len(prefix) - 1 up to the one before the last.",
        "Sum the log-probabilities (log_softmax, then pick each continuation token's entry): a "
        "two-token continuation's probability is the product of its tokens'. Compare the two "
        "sums; a tie counts 0.5.",
    ),
    allowed=("GPT.forward",),  # the model's scores; turning them into a preference is yours
)
def minimal_pair_preference(
    model: Any, pairs: list[tuple[list[int], list[int], list[int]]]
) -> float:
    """For each ``(prefix, first, second)`` of token ids: 1 if log p(first | prefix) is greater
    than log p(second | prefix), 0.5 if equal, else 0; returns the mean over the pairs."""
    import torch

    def logprob(prefix: list[int], continuation: list[int]) -> float:
        with torch.no_grad():
            logits = model(torch.tensor([prefix + continuation]))[0][0]
        logps = logits[len(prefix) - 1 : -1].log_softmax(-1)
        return float(logps[torch.arange(len(continuation)), torch.tensor(continuation)].sum())

    scores = []
    for prefix, first, second in pairs:
        a, b = logprob(prefix, first), logprob(prefix, second)
        scores.append(1.0 if a > b else 0.5 if a == b else 0.0)
    return sum(scores) / len(scores)


@wrong_answer("minimal_pair_preference")
def mean_not_sum(model: Any, pairs: list[tuple[list[int], list[int], list[int]]]) -> float:
    import torch

    scores = []
    for prefix, first, second in pairs:
        values = []
        for continuation in (first, second):
            with torch.no_grad():
                logits = model(torch.tensor([prefix + continuation]))[0][0]
            logps = logits[len(prefix) - 1 : -1].log_softmax(-1)
            picked = logps[torch.arange(len(continuation)), torch.tensor(continuation)]
            values.append(float(picked.mean()))  # per token: a longer reply is not penalised
        scores.append(1.0 if values[0] > values[1] else 0.5 if values[0] == values[1] else 0.0)
    return sum(scores) / len(scores)


@wrong_answer("minimal_pair_preference")
def off_by_one(model: Any, pairs: list[tuple[list[int], list[int], list[int]]]) -> float:
    import torch

    scores = []
    for prefix, first, second in pairs:
        values = []
        for continuation in (first, second):
            with torch.no_grad():
                logits = model(torch.tensor([prefix + continuation]))[0][0]
            logps = logits[len(prefix) :].log_softmax(-1)  # the positions *of* the tokens
            picked = logps[torch.arange(len(continuation)), torch.tensor(continuation)]
            values.append(float(picked.sum()))
        scores.append(1.0 if values[0] > values[1] else 0.5 if values[0] == values[1] else 0.0)
    return sum(scores) / len(scores)


# ----------------------------------------------------------------------------- the logit lens


def _random_lens_case(rng: random.Random) -> tuple[Any, Any]:
    import torch

    model = _random_model(rng, rng.randint(5, 12))
    return model, torch.randint(model.config.vocab_size, (rng.randint(1, 12),))


@exercise(
    "logit_lens_readout",
    _random_lens_case,
    builds="the logit lens: each depth's next-token guess at each position",
    difficulty=2,
    minutes=20,
    hints=(
        "The stream starts as model.wte(ids) + model.wpe.embedding.weight[:T] (token plus "
        "position; this model's positions are learned). Each block returns (stream, weights): "
        "x = block(x[None])[0][0].",
        "Read every depth the way the model reads its last one: model.lm_head(model.ln_f(x)), "
        "then argmax over the vocabulary. Stack the n_layer + 1 rows.",
    ),
    allowed=("Block.forward",),  # each block's arithmetic is given; the reading is yours
)
def logit_lens_readout(model: Any, ids: Any) -> Any:
    """``[n_layer + 1, T]``: the most likely next token at each position, read from the stream
    after the embeddings and after each block through the final layer norm and output layer."""
    import torch

    with torch.no_grad():
        x = model.wte(ids) + model.wpe.embedding.weight[: len(ids)]
        rows = [model.lm_head(model.ln_f(x)).argmax(-1)]
        for block in model.blocks:
            x = block(x[None])[0][0]
            rows.append(model.lm_head(model.ln_f(x)).argmax(-1))
    return torch.stack(rows)


@wrong_answer("logit_lens_readout")
def without_final_norm(model: Any, ids: Any) -> Any:
    import torch

    with torch.no_grad():
        x = model.wte(ids) + model.wpe.embedding.weight[: len(ids)]
        rows = [model.lm_head(x).argmax(-1)]  # the raw stream: not what the output layer reads
        for block in model.blocks:
            x = block(x[None])[0][0]
            rows.append(model.lm_head(x).argmax(-1))
    return torch.stack(rows)


@wrong_answer("logit_lens_readout")
def without_positions(model: Any, ids: Any) -> Any:
    import torch

    with torch.no_grad():
        x = model.wte(ids)  # the position table left out
        rows = [model.lm_head(model.ln_f(x)).argmax(-1)]
        for block in model.blocks:
            x = block(x[None])[0][0]
            rows.append(model.lm_head(model.ln_f(x)).argmax(-1))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- selectivity


def _random_probe_data(rng: random.Random) -> tuple[Any, ...]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n, dim = rng.randint(20, 60), rng.randint(2, 6)
    x = torch.randn(n, dim, generator=generator)
    task = (x[:, 0] + 0.5 * torch.randn(n, generator=generator) > 0).long()
    control = torch.randint(2, (n,), generator=generator)
    cut = n // 2
    return x[:cut], task[:cut], control[:cut], x[cut:], task[cut:], control[cut:]


@exercise(
    "probe_selectivity",
    _random_probe_data,
    lambda a, b: abs(a - b) < 1e-6,
    builds="a probe's selectivity: held-out task accuracy minus held-out control accuracy",
    difficulty=2,
    minutes=15,
    hints=(
        "The probe: one mean vector per class from the training rows (labels 0 and 1); a row "
        "belongs to the class whose mean gives the larger x·m - |m|²/2 (the nearer mean).",
        "Fit it twice, on the task labels and on the control labels; score each on the test "
        "rows against its own labels; return task accuracy minus control accuracy.",
    ),
)
def probe_selectivity(
    train_x: Any,
    train_task: Any,
    train_control: Any,
    test_x: Any,
    test_task: Any,
    test_control: Any,
) -> float:
    """Task accuracy minus control accuracy of a nearest-class-mean probe (a linear probe with
    two classes, 0 and 1), each fitted on the training rows and scored on the test rows. A class
    absent from the training labels gets a mean that wins nothing (score -inf)."""
    import torch

    def accuracy(labels: Any, truth: Any) -> float:
        scores = []
        for c in (0, 1):
            rows = train_x[labels == c]
            if len(rows) == 0:
                scores.append(torch.full((len(test_x),), -torch.inf))
                continue
            m = rows.mean(0)
            scores.append(test_x @ m - m @ m / 2)
        guess = torch.stack(scores, 1).argmax(1)
        return float((guess == truth).float().mean())

    return accuracy(train_task, test_task) - accuracy(train_control, test_control)


@wrong_answer("probe_selectivity")
def scored_on_training_rows(
    train_x: Any,
    train_task: Any,
    train_control: Any,
    test_x: Any,
    test_task: Any,
    test_control: Any,
) -> float:
    import torch

    def accuracy(labels: Any) -> float:
        means = [train_x[labels == c].mean(0) for c in (0, 1)]
        scores = torch.stack([train_x @ m - m @ m / 2 for m in means], 1).nan_to_num(-torch.inf)
        return float((scores.argmax(1) == labels).float().mean())  # the rows it was fitted on

    return accuracy(train_task) - accuracy(train_control)


@wrong_answer("probe_selectivity")
def control_scored_against_task(
    train_x: Any,
    train_task: Any,
    train_control: Any,
    test_x: Any,
    test_task: Any,
    test_control: Any,
) -> float:
    import torch

    def accuracy(labels: Any) -> float:
        means = [train_x[labels == c].mean(0) for c in (0, 1)]
        scores = torch.stack([test_x @ m - m @ m / 2 for m in means], 1).nan_to_num(-torch.inf)
        return float((scores.argmax(1) == test_task).float().mean())  # both against the task

    return accuracy(train_task) - accuracy(train_control)

"""The map of the course: every lesson, what it builds, and its CPU budget.

Lesson 00 prints this map, the README shows it, and a test checks that every lesson listed here
exists as a notebook (and the other way round), so the three never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str  # notebook file name without extension
    title: str
    builds: str
    modules: tuple[str, ...]  # the llmlab modules that back it
    cpu_minutes: float  # budget on a 2-core laptop CPU with a warm checkpoint cache


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        0,
        "00_start_here",
        "Start here",
        "what an LLM is; environment check; the corpus; how widgets and exercises work",
        ("doctor", "course", "corpus"),
        1.0,
    ),
    Lesson(
        1,
        "01_tokenization",
        "Tokenization",
        "characters, words, bytes; byte-level BPE from scratch; HF tokenizers; token playground",
        ("corpus", "tokenization"),
        1.0,
    ),
    Lesson(
        2,
        "02_attention",
        "Attention",
        "embeddings, positions, attention by hand, heads, masks; attention explorer",
        ("attention", "widgets"),
        0.5,
    ),
    Lesson(
        3,
        "03_backpropagation",
        "Backpropagation",
        "a scalar autograd engine; gradient checks; learning rates; a bigram model; an MLP",
        ("autograd", "viz"),
        1.0,
    ),
    Lesson(
        4,
        "04_pretraining",
        "Pretraining",
        "a context MLP; the GPT block; training step; sampling loop; checkpoints; perplexity",
        ("model", "train", "widgets"),
        3.5,
    ),
    Lesson(
        5,
        "05_scaling_and_compression",
        "Scaling and compression",
        "compute and its cost; a scaling law predicted and checked; iso-FLOP at two budgets; "
        "model vs gzip",
        ("train", "scaling", "stats", "viz", "widgets"),
        2.5,
    ),
    Lesson(
        6,
        "06_finetuning",
        "Fine-tuning",
        "chat template, loss mask and SFT loss built; does it stop, know (vs baselines), forget",
        ("chat", "finetune", "instructions", "stats"),
        1.0,
    ),
    Lesson(
        7,
        "07_lora_and_classifiers",
        "LoRA and classifiers",
        "a classifier's pooling and a LoRA layer built; heads and LoRA vs full SFT, with SEs; chat",
        ("finetune", "lora", "stats", "widgets"),
        2.5,
    ),
    Lesson(
        8,
        "08_rewards_and_dpo",
        "Rewards and DPO",
        "rankings (yours and a labeler's), a reward model, best-of-n, DPO with held-out checks",
        ("rankings", "reward_model", "labeler", "policy", "widgets"),
        2.0,
    ),
    Lesson(
        9,
        "09_reinforcement_learning",
        "Reinforcement learning",
        "policy, reward, KL; RLOO and clipped PPO by hand; GRPO with a verifiable reward; pass@k",
        ("policy", "grpo"),
        3.0,
    ),
    Lesson(
        10,
        "10_sampling",
        "Sampling",
        "decoding strategies, beam search, KV cache, a NumPy-only runner, hallucination measured",
        ("sampling", "numpy_gpt", "widgets"),
        2.0,
    ),
    Lesson(
        11,
        "11_what_a_model_knows",
        "What a model knows",
        "calibration, answers with a retrieved passage, canaries and membership, evaluation",
        (
            "answers",
            "calibration",
            "retrieval",
            "memorization",
            "contamination",
            "stats",
            "widgets",
        ),
        2.0,
    ),
    Lesson(
        12,
        "12_bias_opacity_and_cost",
        "Bias, opacity and cost",
        "minimal-pair bias probes against the corpus, a word-swap fix; logit lens (explorer), "
        "head ablation, probes with controls; FLOPs and energy",
        ("bias", "lens", "probe", "cost", "report", "stats", "widgets"),
        2.0,
    ),
)


def lesson(number: int) -> Lesson:
    """The lesson with this number (0-based, as in the notebook names)."""
    for item in LESSONS:
        if item.number == number:
            return item
    raise ValueError(f"lesson number must be one of 0..{len(LESSONS) - 1}, got {number!r}")


def course_map(available: set[str] | None = None) -> str:
    """The course as a text table; lessons not in ``available`` (slugs) are marked 'coming'."""
    rows = ["#   lesson                      CPU    builds"]
    for item in LESSONS:
        status = "" if available is None or item.slug in available else "  (coming)"
        rows.append(
            f"{item.number:02d}  {item.title:<26}  {item.cpu_minutes:>3.1f}m  {item.builds}{status}"
        )
    return "\n".join(rows)

"""What the rankings, reward-model and policy tests share: a prompt, small models with the sft
tokenizer's vocabulary (the `sft_tokenizer` fixture is in conftest.py), and pairs whose chosen
reply is plainly better than the rejected one."""

from __future__ import annotations

from tiny_gpt import tiny

from llmlab.model import GPT
from llmlab.rankings import Pair

PROMPT = (("user", "To HAMLET: My lord, how fares your grace this morning?"),)
VOCAB = 1027  # the sft tokenizer's


def small(seed: int = 0) -> GPT:
    return tiny(seed, vocab_size=VOCAB, block_size=64)


def pairs_for(n: int = 6) -> list[Pair]:
    """Pairs where the chosen reply is courteous verse and the rejected one an insult."""
    prompts = [(("user", f"To HAMLET: Speak of the {w}."),) for w in ("sea", "king", "ghost")]
    good = [f"The {w} is fair and gentle as the morning sun." for w in ("sea", "king", "ghost")]
    bad = ["Thou knave!", "Villain, rogue!", "Out, slave!"]
    return [Pair(prompts[i % 3], good[i % 3], bad[i % 3]) for i in range(n)]

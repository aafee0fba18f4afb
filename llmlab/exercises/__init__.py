"""Auto-checked exercises: ``check("name", your_function)`` tells you whether your answer is right.

Each exercise is a reference function registered with :func:`exercise` and a generator of random
test cases. ``check`` runs your function and the reference on the same cases and explains the
first mismatch (inputs, expected, got) instead of a bare "wrong". ``solution("name")`` reveals
the worked solution: the reference's own source, so the solution shown is the one that is tested.

The registry is :mod:`llmlab.exercises.registry`; the exercises live one module per lesson
(``lesson00`` ... ``lesson11``), each holding that lesson's references and case generators and
importing the registry, never this package, so the imports below hold in any order. Imports of
heavier modules stay inside their functions, so that importing this package stays cheap.
"""

from __future__ import annotations

# Importing a lesson registers its exercises; their references stay reachable as attributes,
# e.g. ``exercises.count_pairs``.
from llmlab.exercises.lesson00 import greedy_generate, next_char_table, top_speakers
from llmlab.exercises.lesson01 import (
    apply_merge,
    bpe_tokenizer,
    count_pairs,
    encode_word,
)
from llmlab.exercises.lesson02 import (
    attention_head,
    causal_average,
    multi_head_attention,
    rope_rotation,
)
from llmlab.exercises.lesson03 import backward, sigmoid_op, topological_order
from llmlab.exercises.lesson04 import (
    adamw_step,
    block_forward,
    greedy_until,
    sample_with_temperature,
)
from llmlab.exercises.lesson05 import (
    bracketed_minimum,
    narrow_interval,
    power_law_exponent,
)
from llmlab.exercises.lesson06 import loss_mask, sft_loss
from llmlab.exercises.lesson07 import last_token_pool, lora_forward
from llmlab.exercises.lesson08 import dpo_step, reward_model_step
from llmlab.exercises.lesson09 import clipped_ppo_loss, group_advantages
from llmlab.exercises.lesson10 import beam_step, cached_attention_step, top_p_sample
from llmlab.exercises.lesson11 import canary_exposure, expected_calibration_error, tfidf_scores
from llmlab.exercises.lesson12 import (
    logit_lens_readout,
    minimal_pair_preference,
    probe_selectivity,
)
from llmlab.exercises.registry import (
    EXERCISES,
    Exercise,
    check,
    exercise,
    header,
    hint,
    solution,
    solution_source,
    wrong_answer,
)

__all__ = [
    "EXERCISES",
    "Exercise",
    "adamw_step",
    "apply_merge",
    "attention_head",
    "backward",
    "block_forward",
    "bpe_tokenizer",
    "beam_step",
    "bracketed_minimum",
    "canary_exposure",
    "cached_attention_step",
    "causal_average",
    "check",
    "clipped_ppo_loss",
    "count_pairs",
    "dpo_step",
    "encode_word",
    "expected_calibration_error",
    "exercise",
    "greedy_generate",
    "greedy_until",
    "logit_lens_readout",
    "minimal_pair_preference",
    "probe_selectivity",
    "group_advantages",
    "header",
    "hint",
    "last_token_pool",
    "lora_forward",
    "loss_mask",
    "multi_head_attention",
    "narrow_interval",
    "next_char_table",
    "power_law_exponent",
    "reward_model_step",
    "rope_rotation",
    "sample_with_temperature",
    "sft_loss",
    "sigmoid_op",
    "solution",
    "solution_source",
    "tfidf_scores",
    "top_p_sample",
    "top_speakers",
    "topological_order",
    "wrong_answer",
]

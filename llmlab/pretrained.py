"""The course's standard models: fixed, versioned recipes, trained once and then served from disk.

A lesson that needs a trained model writes ``model, tokenizer = pretrained.load("char")``. A
recipe (:data:`RECIPES`) is plain data: tokenizer, model shape, training settings, seed. Its
*fingerprint* hashes the recipe, :data:`CODE_VERSION` and the training text, and names the
checkpoint file, so a file is only ever served to the recipe that made it: change a learning
rate, the code's behaviour or the corpus, and the old file simply no longer matches.

``load`` looks in ``$LLMLAB_HOME`` (see :func:`llmlab.cache_dir`), then in the repository's
``assets/checkpoints/`` (checkpoints shipped so a class starts at once), and otherwise trains
the recipe with a progress bar and caches the result. Training is deterministic on a given
machine and resumable: interrupt it and the next ``load`` continues where it stopped.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmlab.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from llmlab.checkpoint import Checkpoint
    from llmlab.model import GPT
    from llmlab.tokenization import BPETokenizer, CharTokenizer
    from llmlab.train import TrainResult

    Tokenizer = CharTokenizer | BPETokenizer

#: Bump when a change to the engine (model, train, tokenization, pretokenize) changes what a
#: recipe produces.
CODE_VERSION = 1

#: Checkpoints shipped with the repository (absent from an installed wheel: then we train).
SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"

#: Found by the search described in benchmarks/pretrain.py: rotary positions (learned ones start
#: slowly at long contexts), small batches (the loss falls per *step* early on), bf16 matmuls.
#: Both standard models share this shape and schedule; they differ in tokens and length of run.
_SHAPE: dict[str, Any] = {
    "n_layer": 4,
    "n_head": 4,
    "n_embd": 128,
    "block_size": 128,
    "bias": False,
    "pos_encoding": "rope",
}
_SCHEDULE: dict[str, Any] = {
    "batch_size": 8,
    "learning_rate": 3e-3,
    "min_lr": 1e-4,
    "warmup_steps": 100,
    "weight_decay": 0.1,
    "beta2": 0.99,
    "grad_clip": 1.0,
    "dtype": "bfloat16",
    "eval_interval": 250,
    "eval_windows": 256,
}

#: The fine-tuning mixture (llmlab.finetune.sft_mixture): how many times each kind of example is
#: listed. The questions about the plays are repeated so they weigh about as much as the dialogue.
_SFT_DATA: dict[str, int] = {
    "dialogue": 1,
    "conversation": 2,
    "character_play": 8,
    "play_genre": 8,
    "line_speaker": 4,
    "character_act": 4,
    "name_character": 8,
    "main_character": 8,
}

RECIPES: dict[str, dict[str, Any]] = {
    "char": {
        "version": 1,
        "description": "character-level GPT of the plays, about 5 minutes on 2 cores",
        "tokenizer": {"kind": "char"},
        "model": _SHAPE,
        "train": {**_SCHEDULE, "max_steps": 6000},
        "seed": 1337,
    },
    "bpe": {
        "version": 1,
        "description": "GPT of the plays over a 1024-token byte-level BPE vocabulary",
        "tokenizer": {"kind": "bpe", "vocab_size": 1024},
        "model": _SHAPE,
        "train": {**_SCHEDULE, "max_steps": 3000},
        "seed": 1337,
    },
    # Supervised fine-tuning of "bpe" in the chat template of llmlab.chat (lesson 06): the
    # questions about the plays are repeated so they weigh about as much as the dialogue.
    "sft": {
        "version": 1,
        "description": "the bpe model fine-tuned to answer in a chat template",
        "base": "bpe",
        "data": _SFT_DATA,
        "eval_examples": 256,
        "train": {**_SCHEDULE, "batch_size": 16, "max_steps": 1500, "learning_rate": 1e-3},
        "seed": 1337,
    },
    # Lesson 11's "reader": sft taught to answer "Who speaks the line ...?" from a passage quoted
    # in its prompt (llmlab.finetune.reader_examples); 70% of the passages credit the line to
    # someone else, so only reading the passage gets those right. About a minute on one core.
    "reader": {
        "version": 1,
        "description": "sft taught to answer from a passage quoted in its prompt",
        "base": "sft",
        "reader": {"relabelled_share": 0.7, "seed": 1},
        "eval_examples": 64,
        "train": {
            "batch_size": 16,
            "max_steps": 300,
            "learning_rate": 1e-3,
            "min_lr": 1e-4,
            "warmup_steps": 20,
            "eval_interval": 0,
            "dtype": "bfloat16",
        },
        "seed": 1337,
    },
    # Lesson 06's own SFT run, a few seconds long, which lesson 07 compares with LoRA: one
    # recipe, so 07 is served the run 06 trained (or trains it, on a fresh machine).
    "sft_short": {
        "version": 1,
        "description": "lesson 06's SFT run: 120 steps of 8 conversations from bpe",
        "base": "bpe",
        "data": _SFT_DATA,
        "eval_examples": 64,
        "train": {
            "batch_size": 8,
            "max_steps": 120,
            "learning_rate": 1e-3,
            "min_lr": 1e-4,
            "warmup_steps": 10,
            "eval_interval": 0,
            "log_interval": 5,
            "dtype": "bfloat16",
        },
        "seed": 1337,
    },
}

#: Lesson 12's counterfactual data augmentation: the group words swapped in the fine-tuning text.
_CDA_SWAPS: list[list[str]] = [
    ["lord", "lady"],
    ["king", "queen"],
    ["man", "woman"],
    ["sir", "madam"],
    ["son", "daughter"],
    ["brother", "sister"],
    ["husband", "wife"],
    ["father", "mother"],
    ["boy", "girl"],
    ["he", "she"],
    ["himself", "herself"],
]
_CDA_TRAIN: dict[str, Any] = {
    "batch_size": 8,
    "max_steps": 300,
    "learning_rate": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 10,
    "eval_interval": 0,
    "log_interval": 50,
    "dtype": "bfloat16",
}
# Lesson 12's two fine-tunes of "bpe" on plain text: the plays plus their copy with the group
# words swapped ("cda"), and the control, the plays twice ("cda_control"), so the fix is compared
# with fine-tuning alone. Shipped, so the lesson need not spend half a minute training them.
RECIPES["cda"] = {
    "version": 1,
    "description": "bpe fine-tuned on the plays plus their copy with gendered words swapped",
    "base": "bpe",
    "text": {"swaps": _CDA_SWAPS},
    "train": _CDA_TRAIN,
    "seed": 1337,
}
RECIPES["cda_control"] = {
    "version": 1,
    "description": "bpe fine-tuned on the plays twice: the control for 'cda'",
    "base": "bpe",
    "text": {"swaps": None},
    "train": _CDA_TRAIN,
    "seed": 1337,
}

# Lesson 08's DPO run, cached so a report card can load it: the labeler's pairs from four `sft`
# replies to each of 400 training-play prompts (pairs it separates by at least half a point),
# then 100 steps of 16 pairs at beta 0.5 against the frozen `sft`. The same calls the lesson makes.
RECIPES["dpo"] = {
    "version": 1,
    "description": "sft tuned by DPO on the scripted labeler's pairs (lesson 08)",
    "base": "sft",
    "dpo": {"prompts": 400, "samples": 4, "sample_seed": 0, "min_margin": 0.5, "beta": 0.5},
    "train": {
        "batch_size": 16,
        "max_steps": 100,
        "learning_rate": 3e-4,
        "min_lr": 3e-5,
        "warmup_steps": 5,
        "eval_interval": 0,
        "log_interval": 20,
        "dtype": "bfloat16",
    },
    "seed": 1337,
}


def names() -> list[str]:
    """The names of the standard models."""
    return sorted(RECIPES)


def recipe(name: str) -> dict[str, Any]:
    """A copy of the recipe called ``name``."""
    if name not in RECIPES:
        raise ValueError(f"unknown standard model {name!r}; the names are {names()}")
    return copy.deepcopy(RECIPES[name])


def fingerprint(name: str) -> str:
    """16 hex digits identifying what recipe ``name`` makes: recipe, code version, training text."""
    payload = {"recipe": recipe(name), "code_version": CODE_VERSION, "text": _train_text_sha256()}
    if "base" in payload["recipe"]:  # a fine-tuned model is only as fixed as the one it starts from
        payload["base"] = fingerprint(payload["recipe"]["base"])
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def load(name: str, *, train: bool = True, progress: bool = True) -> tuple[GPT, Tokenizer]:
    """``(model, tokenizer)`` of the standard model ``name``, in eval mode.

    Served from the cache or the shipped checkpoints when one was made by this very recipe;
    otherwise trained now (``train=False`` raises ``FileNotFoundError`` instead).
    """
    from llmlab.tokenization import tokenizer_from_dict

    saved = checkpoint(name, train=train, progress=progress)
    return saved.build_model().eval(), tokenizer_from_dict(saved.tokenizer, source=str(saved.path))


def checkpoint(name: str, *, train: bool = True, progress: bool = True) -> Checkpoint:
    """The verified :class:`~llmlab.checkpoint.Checkpoint` of ``name`` (with its history).

    Two processes asking for a model that is not there yet (two notebooks, ``llmlab prepare`` in
    a terminal) do not both train it: the first takes a lock in the cache and trains, the second
    waits for the lock and is then served the finished file.
    """
    from llmlab import cache_dir

    expected = fingerprint(name)
    filename = f"{name}-{expected}.safetensors"
    found = _find(name, expected, filename)
    if found is not None:
        return found
    if not train:
        raise FileNotFoundError(
            f"no checkpoint for {name!r} (fingerprint {expected}) in {cache_dir(create=False)} "
            f"or {SHIPPED}; run `llmlab prepare` to train it"
        )
    cache = _writable_cache()
    with _lock(cache / f"{filename}.lock"):
        found = _find(name, expected, filename)  # another process may have trained it meanwhile
        return found or load_checkpoint(_train(name, expected, cache / filename, progress))


def _find(name: str, expected: str, filename: str) -> Checkpoint | None:
    """The checkpoint ``filename`` from the cache or the shipped folder, checked, or None."""
    from llmlab import cache_dir

    for folder in (Path(cache_dir(create=False)), SHIPPED):
        if (folder / filename).is_file():
            saved = load_checkpoint(folder / filename)
            if saved.extra.get("fingerprint") != expected:
                raise ValueError(
                    f"{folder / filename} holds a model of fingerprint "
                    f"{saved.extra.get('fingerprint')!r}, not {expected!r}: delete it"
                )
            return saved
    return None


def _writable_cache() -> Path:
    """The cache folder, made and checked writable before any training time is spent."""
    import os
    import tempfile

    from llmlab import cache_dir

    folder = Path(cache_dir())
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(
            f"the llmlab cache folder {folder} is not writable ({error.strerror}), so a model "
            f"cannot be trained into it; point $LLMLAB_HOME at a writable folder "
            f"(now {os.environ.get('LLMLAB_HOME', 'unset')})"
        ) from None
    return folder


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` held by this process (waits while another one holds it).

    ``fcntl`` locks are released by the system when a process dies, so a killed training never
    leaves a stale lock. (Where ``fcntl`` is missing, Windows, nothing is locked.)
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_recipe(
    r: dict[str, Any],
    checkpoint: Path,
    *,
    resume: bool = True,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[GPT, Tokenizer, TrainResult]:
    """Train the recipe ``r`` on the training plays: ``(model, tokenizer, TrainResult)``.

    ``checkpoint`` receives the full training state (and with ``resume``, an existing one is
    continued). Also used by ``llmlab pretrain`` with a recipe changed by command-line flags.
    """
    import torch

    from llmlab import corpus
    from llmlab.model import GPT, GPTConfig
    from llmlab.tokenization import BPETokenizer, CharTokenizer
    from llmlab.train import train
    from llmlab.train_config import TrainConfig

    train_text, val_text = corpus.text("train"), corpus.text("validation")
    if r["tokenizer"]["kind"] == "char":
        tokenizer = CharTokenizer(train_text)
    else:
        tokenizer = BPETokenizer.train(train_text, r["tokenizer"]["vocab_size"])
    train_ids = torch.tensor(tokenizer.encode(train_text))
    val_ids = torch.tensor(tokenizer.encode(val_text))
    torch.manual_seed(r["seed"])
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **r["model"]))
    result = train(
        model,
        train_ids,
        val_ids,
        TrainConfig(**r["train"]),
        checkpoint=checkpoint,
        resume=resume,
        tokenizer=tokenizer.to_dict(),
        extra=extra,
        progress=progress,
    )
    return model, tokenizer, result


def finetune_recipe(
    r: dict[str, Any],
    checkpoint: Path,
    *,
    resume: bool = True,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[GPT, Tokenizer, TrainResult]:
    """Fine-tune recipe ``r``'s base model on the chat data of the training plays (or, for a
    recipe with a ``reader`` entry, on questions with a passage quoted in the prompt).

    The base's tokenizer gains the chat tokens (:mod:`llmlab.chat`) and its token table grows to
    match (:mod:`llmlab.finetune`); the loss covers the assistant's replies only. Held-out score:
    the loss per reply token on ``eval_examples`` conversations spread over the validation plays.
    """
    import torch

    from llmlab import finetune
    from llmlab.chat import chat_tokenizer
    from llmlab.train import fit
    from llmlab.train_config import TrainConfig

    base, base_tokenizer = load(r["base"], progress=progress)
    tokenizer = chat_tokenizer(base_tokenizer)
    torch.manual_seed(r["seed"])
    model = finetune.grow_vocabulary(base, tokenizer.vocab_size)
    block = model.config.block_size
    examples: list[Any]
    if "reader" in r:  # questions with a passage quoted in the prompt; held out: true passages
        examples = finetune.reader_examples("train", tokenizer, block, **r["reader"])
        found = finetune.reader_examples("validation", tokenizer, block, relabelled_share=0.0)
        held_out: list[Any] = found[:: max(1, len(found) // r["eval_examples"])]
        held_out = held_out[: r["eval_examples"]]
    else:
        examples = finetune.sft_mixture("train", tokenizer, block, r["data"])
        held_out = finetune.held_out_conversations(
            tokenizer, block, r["eval_examples"], tuple(r["data"])
        )
    result = fit(
        model,
        finetune.sft_batches(examples, tokenizer, block),
        finetune.sft_loss,
        TrainConfig(**r["train"]),
        evaluate=lambda m: finetune.sft_eval(m, held_out, tokenizer),
        checkpoint=checkpoint,
        resume=resume,
        tokenizer=tokenizer.to_dict(),
        extra=extra,
        progress=progress,
    )
    return model, tokenizer, result


def text_finetune_recipe(
    r: dict[str, Any],
    checkpoint: Path,
    *,
    resume: bool = True,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[GPT, Tokenizer, TrainResult]:
    """Continue training recipe ``r``'s base model on plain text: the training plays, then
    either the plays again (``swaps`` None, the control) or their copy with each pair of words
    in ``swaps`` exchanged (:func:`llmlab.bias.swap_words`, counterfactual data augmentation).

    Same tokenizer and loss as pretraining, so the two runs differ only in the second half of
    their text. No held-out evaluation here: the lesson measures the models itself.
    """
    import torch

    from llmlab import bias, corpus
    from llmlab.train import fit, lm_batches, lm_loss
    from llmlab.train_config import TrainConfig

    model, tokenizer = load(r["base"], progress=progress)
    model.train()
    train_text, swaps = corpus.text("train"), r["text"]["swaps"]
    second = train_text if swaps is None else bias.swap_words(train_text, [tuple(s) for s in swaps])
    ids = torch.tensor(tokenizer.encode(train_text + second))
    torch.manual_seed(r["seed"])
    result = fit(
        model,
        lm_batches(ids, model.config.block_size),
        lm_loss,
        TrainConfig(**r["train"]),
        checkpoint=checkpoint,
        resume=resume,
        tokenizer=tokenizer.to_dict(),
        extra=extra,
        progress=progress,
    )
    return model, tokenizer, result


def dpo_recipe(
    r: dict[str, Any],
    checkpoint: Path,
    *,
    resume: bool = True,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[GPT, Tokenizer, TrainResult]:
    """Tune recipe ``r``'s base chat model by DPO on the scripted labeler's pairs (lesson 08).

    The pairs: ``samples`` replies of the base to each of ``prompts`` training-play prompts
    (:func:`llmlab.rankings.sample_responses`, seeded by ``sample_seed``), kept where the labeler
    separates them by ``min_margin`` (:func:`llmlab.rankings.label_pairs`). The loss:
    :func:`llmlab.policy.dpo_loss_fn` against a frozen copy of the base, at ``beta``. No held-out
    score here: lesson 08 and :mod:`llmlab.report` measure the model by its replies.
    """
    import torch

    from llmlab import policy, rankings
    from llmlab.train import fit
    from llmlab.train_config import TrainConfig

    base, tokenizer = load(r["base"], progress=progress)
    d = r["dpo"]
    prompts = rankings.dialogue_prompts("train", d["prompts"])
    draws = torch.Generator().manual_seed(d["sample_seed"])
    samples = rankings.sample_responses(base, tokenizer, prompts, d["samples"], generator=draws)
    pairs = rankings.label_pairs(prompts, samples, min_margin=d["min_margin"])
    reference = policy.frozen(base)
    model = policy.frozen(base).requires_grad_(True).train()
    torch.manual_seed(r["seed"])
    result = fit(
        model,
        rankings.dpo_batches(pairs, tokenizer, base.config.block_size),
        policy.dpo_loss_fn(reference, d["beta"]),
        TrainConfig(**r["train"]),
        checkpoint=checkpoint,
        resume=resume,
        tokenizer=tokenizer.to_dict(),
        extra=extra,
        progress=progress,
    )
    return model.eval().requires_grad_(False), tokenizer, result


def _train(name: str, expected: str, path: Path, progress: bool) -> Path:
    """Train recipe ``name`` into ``path``, resuming a partial run left by an interruption."""
    from llmlab.checkpoint import save_checkpoint
    from llmlab.train_config import TrainConfig

    r = recipe(name)
    partial = path.with_name(path.name.replace(".safetensors", ".partial.safetensors"))
    if progress:
        print(f"training the standard model {name!r} ({r['description']}) into {path}")
    extra = {"recipe": name, "fingerprint": expected}
    if "dpo" in r:
        trainer = dpo_recipe
    elif "text" in r:
        trainer = text_finetune_recipe
    else:
        trainer = finetune_recipe if "base" in r else train_recipe
    model, tokenizer, result = trainer(r, partial, extra=extra, progress=progress)
    if result.stop_reason != "max_steps":
        raise KeyboardInterrupt(
            f"training {name!r} stopped at step {result.step}; run it again to resume from there"
        )
    save_checkpoint(
        path,
        model,
        step=result.step,
        train_config=TrainConfig(**r["train"]),
        tokenizer=tokenizer.to_dict(),
        extra={
            **extra,
            "seconds": result.seconds,
            "val_loss": result.val_loss,
            "history": result.history,
        },
    )
    partial.unlink(missing_ok=True)
    return path


@cache
def _train_text_sha256() -> str:
    from llmlab import corpus

    return hashlib.sha256(corpus.text("train").encode()).hexdigest()

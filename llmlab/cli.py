"""The ``llmlab`` command: ``llmlab doctor`` and the other course chores.

Each subcommand is one small function registered in :data:`COMMANDS`; modules stay importable
without the CLI, and the CLI imports a module only when its subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

#: name -> (help line, function adding its arguments, function running it)
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None
):
    """Register ``run(args) -> exit code`` as the subcommand ``name``."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help, arguments or (lambda parser: None), run)
        return run

    return register


@command("doctor", "check the environment: versions, threads, cache, corpus")
def _doctor(args: argparse.Namespace) -> int:
    from llmlab.doctor import doctor

    return 0 if doctor() else 1


#: ``llmlab pretrain`` flags that override a recipe: flag -> (recipe section, key, type).
_PRETRAIN_FLAGS = {
    "n-layer": ("model", "n_layer", int),
    "n-head": ("model", "n_head", int),
    "n-embd": ("model", "n_embd", int),
    "block-size": ("model", "block_size", int),
    "dropout": ("model", "dropout", float),
    "pos-encoding": ("model", "pos_encoding", str),
    "batch-size": ("train", "batch_size", int),
    "max-steps": ("train", "max_steps", int),
    "max-seconds": ("train", "max_seconds", float),
    "lr": ("train", "learning_rate", float),
    "min-lr": ("train", "min_lr", float),
    "warmup-steps": ("train", "warmup_steps", int),
    "dtype": ("train", "dtype", str),
    "eval-interval": ("train", "eval_interval", int),
    "seed": ("train", "seed", int),
}


def _pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default="char", help="start from this standard recipe")
    parser.add_argument(
        "--out", default=None, help="checkpoint (default llmlab-RECIPE.safetensors)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    for flag, (section, key, kind) in _PRETRAIN_FLAGS.items():
        parser.add_argument(f"--{flag}", type=kind, default=None, help=f"recipe {section}.{key}")


@command("pretrain", "train a GPT on the plays (also under torchrun)", _pretrain_arguments)
def _pretrain(args: argparse.Namespace) -> int:
    from llmlab import pretrained
    from llmlab.train import distributed

    recipe = pretrained.recipe(args.recipe)
    if "base" in recipe:
        raise ValueError(
            f"--recipe {args.recipe} fine-tunes another model: `llmlab prepare {args.recipe}` "
            "makes it; pretrain takes one of "
            f"{[n for n in pretrained.names() if 'base' not in pretrained.recipe(n)]}"
        )
    for flag, (section, key, _) in _PRETRAIN_FLAGS.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            recipe[section][key] = value
    out = args.out or f"llmlab-{args.recipe}.safetensors"
    _check_before_training(recipe, out)
    _, _, result = pretrained.train_recipe(recipe, out, resume=args.resume, progress=not args.quiet)
    rank, world = distributed()
    if world > 1:
        import torch.distributed

        torch.distributed.destroy_process_group()
    if rank == 0:
        print(
            f"{result.stop_reason} after {result.step} steps, {result.seconds:.1f} s, "
            f"validation loss {result.val_loss:.4f}; saved {out}"
        )
    return 0


def _check_before_training(recipe: dict, out: str) -> None:
    """Refuse bad flags and an unwritable ``--out`` now, not after the training time is spent."""
    import os
    from pathlib import Path

    from llmlab.model import GPTConfig
    from llmlab.train_config import TrainConfig

    GPTConfig(vocab_size=256, **recipe["model"])  # (the tokenizer sets the real vocabulary)
    TrainConfig(**recipe["train"])
    folder = Path(out).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ValueError(f"--out {out}: the folder {folder} does not exist or is not writable")


def _prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        help="caches to warm (default all): a standard model, small_models (lesson 11), matplotlib",
    )


@command(
    "prepare",
    "warm every cache the lessons use (models, lesson 11's small models, fonts), before a class",
    _prepare_arguments,
)
def _prepare(args: argparse.Namespace) -> int:
    from llmlab import cache_dir, caches

    names = args.names or caches.cache_names()
    for name in names:  # refuse a bad name before any training time is spent
        if name not in caches.cache_names():
            raise ValueError(f"names must be among {caches.cache_names()}, got {name!r}")
    print(f"cache: {cache_dir()}", flush=True)
    for name in names:
        print(caches.prepare(name), flush=True)
    return 0


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="char", help="a standard model name")
    parser.add_argument("--checkpoint", default=None, help="or a checkpoint file to sample from")
    parser.add_argument("--prompt", default="ROMEO:\n", help="text to continue")
    parser.add_argument("--tokens", type=int, default=300, help="how many tokens to add")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


@command("sample", "continue a prompt with a trained model", _sample_arguments)
def _sample(args: argparse.Namespace) -> int:
    import torch

    from llmlab import pretrained, tokenization
    from llmlab.checkpoint import load_checkpoint

    if args.checkpoint:
        saved = load_checkpoint(args.checkpoint)
        model = saved.build_model()
        tokenizer = tokenization.tokenizer_from_dict(saved.tokenizer, source=str(saved.path))
    else:
        model, tokenizer = pretrained.load(args.model)
    try:
        prompt = torch.tensor(tokenizer.encode(args.prompt))
    except ValueError as error:  # e.g. a character the char model never saw
        print(f"llmlab sample: {error}", file=sys.stderr)
        return 2
    out = model.generate(
        prompt,
        args.tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        generator=torch.Generator().manual_seed(args.seed),
    )
    print(tokenizer.decode(out.tolist()))
    return 0


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", help="standard models, one row each (default: the course's card)"
    )


@command("report", "print the report card: the course's models side by side", _report_arguments)
def _report(args: argparse.Namespace) -> int:
    from llmlab import report

    print(report.format_card(report.card(args.names or report.MODELS)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmlab", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, arguments, _) in COMMANDS.items():
        arguments(sub.add_parser(name, help=help_line))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. A bad value or file is one line, ``llmlab: error: ...``, and exit
    status 2 (as argparse reports bad flags); ``--debug`` shows the traceback instead."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except (ValueError, TypeError, OSError) as error:
        if args.debug:
            raise
        parser.exit(2, f"llmlab: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, arguments, _) in COMMANDS.items():
        arguments(sub.add_parser(name, help=help_line))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())

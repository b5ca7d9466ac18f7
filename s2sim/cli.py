"""The `s2sim` command: one sub-command per module, registered here.

Each sub-command lives in its own module (``s2sim/commands/<name>.py``) exposing
``add_parser(subparsers)``; the parser it adds sets ``func`` to a callable taking the parsed
namespace and returning an exit code. Errors meant for users are raised as ``S2SimError`` and
printed as one line (``s2sim: error: ...``), never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from s2sim.errors import S2SimError

# Module names under s2sim.commands, in the order `s2sim --help` lists them.
COMMANDS = ["chip", "compile", "run", "bench", "report", "diff", "validate", "sweep"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``s2sim run: error: ...``), like every other
    error of s2sim; ``--help`` still shows the usage. Sub-command parsers inherit the class."""

    def error(self, message: str):
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="s2sim", description="Cycle-approximate simulator of the SpiNNaker2 chip."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"s2sim.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad argument (2, already said in one line)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except S2SimError as exc:
        print(f"s2sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2sim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())

"""The `zoo` command line: one sub-command module per area, each with `register(subparsers)`.

A command module adds its sub-parsers and sets `func` on each; `func(args) -> int` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

# Modules that contribute sub-commands; each defines `register(subparsers) -> None`.
COMMAND_MODULES: list[str] = [
    "zoo.quickstart",
    "zoo.commands.serving",
    "zoo.commands.models",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description="integral-zoo: pretrained calculus-layer models for Keras."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from zoo import __version__

        print(__version__)
        return 0
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():  # restores the default display after the command
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except BrokenPipeError:  # the reader of stdout left (`zoo evaluate NAME | head`)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
            return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, "warning: <message>", without the code line that
    Python's default display quotes."""
    print(f"warning: {message}", file=sys.stderr if file is None else file)


if __name__ == "__main__":
    sys.exit(main())

"""`zoo quickstart`: the README's main job (grows with the zoo)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("quickstart", help="run the README quick start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("integral-zoo quick start: nothing to show yet.")
    return 0

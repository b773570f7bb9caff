"""A progress bar for long loops (rich, which Keras already depends on), on stderr.

Shown only when stderr is a terminal or `ZOO_PROGRESS=1`; `ZOO_PROGRESS=0` hides it everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _wanted() -> bool:
    setting = os.environ.get("ZOO_PROGRESS")
    if setting is not None:
        return setting not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield `items`, drawing a bar labelled `description` while they are consumed."""
    if not _wanted():
        yield from items
        return
    from rich.console import Console
    from rich.progress import track

    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    yield from track(
        items, description=description, total=total, console=Console(stderr=True), transient=True
    )

"""A progress bar that appears only when a job runs longer than a few seconds.

``with DelayedProgress(total, "evaluating", show=None) as bar: bar.advance()`` draws a rich
progress bar on stderr once `delay` seconds have passed without the job finishing; ``show=False``
never draws, ``show=True`` draws from the start, ``show=None`` (default) draws after the delay
when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time

__all__ = ["DelayedProgress", "progress"]


class DelayedProgress:
    """Count steps of a job and draw a bar for it if it takes longer than `delay` seconds."""

    def __init__(
        self, total: int, description: str, *, show: bool | None = None, delay: float = 3.0
    ):
        self.total = int(total)
        self.description = description
        self.done = 0
        self._show = sys.stderr.isatty() if show is None else bool(show)
        self._delay = 0.0 if show is True else float(delay)
        self._start = time.monotonic()
        self._bar = None
        self._task = None

    def __enter__(self) -> DelayedProgress:
        self._start = time.monotonic()
        self._maybe_start()
        return self

    def _maybe_start(self) -> None:
        if self._bar is not None or not self._show:
            return
        if time.monotonic() - self._start < self._delay:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.done)

    def advance(self, steps: int = 1) -> None:
        """Count `steps` more finished steps (and start drawing once the delay has passed)."""
        self.done += steps
        self._maybe_start()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def _shown_by_environment() -> bool | None:
    """`ZOO_PROGRESS=1` draws, `ZOO_PROGRESS=0` never does, unset leaves it to the terminal."""
    import os

    setting = os.environ.get("ZOO_PROGRESS")
    if setting is None:
        return None
    return setting not in ("0", "", "false", "no")


def progress(items, description: str, total: int | None = None):
    """Yield `items`, with a `DelayedProgress` bar labelled `description` while they are used."""
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else 0)
    with DelayedProgress(total, description, show=_shown_by_environment()) as bar:
        for item in items:
            yield item
            bar.advance()

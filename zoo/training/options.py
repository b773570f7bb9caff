"""Option groups of the Trainer, as frozen dataclasses (one place to read every knob)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckpointOptions:
    """How often and how many checkpoints the Trainer keeps.

    Args:
        every_n_steps: also save every this many training steps, mid-epoch, so a crash loses at
            most this many steps. `None` saves only at the end of each epoch.
        max_to_keep: how many checkpoints stay on disk (older ones are deleted by
            `tf.train.CheckpointManager`); at least 2, so that a corrupt latest checkpoint always
            has a previous one to fall back to.
    """

    every_n_steps: int | None = None
    max_to_keep: int = 3

    def __post_init__(self) -> None:
        if self.every_n_steps is not None and (
            not isinstance(self.every_n_steps, int) or self.every_n_steps < 1
        ):
            raise ValueError(
                "`every_n_steps` must be a positive integer or None. "
                f"Received: every_n_steps={self.every_n_steps!r}"
            )
        if not isinstance(self.max_to_keep, int) or self.max_to_keep < 2:
            raise ValueError(
                f"`max_to_keep` must be an integer >= 2. Received: max_to_keep={self.max_to_keep!r}"
            )


@dataclass(frozen=True)
class SummaryOptions:
    """What the Trainer writes to TensorBoard.

    Args:
        histograms: also write a histogram of every trainable weight at the end of each epoch.
    """

    histograms: bool = False

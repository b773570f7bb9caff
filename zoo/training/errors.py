"""Errors the Trainer raises: a non-finite loss, and a checkpoint it cannot trust."""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step."""


class CheckpointError(RuntimeError):
    """A checkpoint folder cannot be resumed from as it stands.

    The message names the damaged file, says what is wrong with it and what to do; nothing in the
    folder has been changed or deleted.
    """

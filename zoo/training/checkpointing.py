"""Checkpoints of a training run: weights, optimizer slots and the loop's position.

A `tf.train.CheckpointManager` writes numbered checkpoints; `TrainingState` (a `PythonState`) rides
inside each one with the epoch/step counters, the shuffle seed, the history so far and the
callbacks' state, so a resumed run continues exactly where the saved one stood.

Restoring walks back from the newest checkpoint: one that cannot be read (truncated, half written,
missing files) is skipped with a warning in favour of the one before it, and no file is deleted.
When none can be read, restoring raises rather than start afresh (which would let the manager
delete the old files).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import tensorflow as tf


def worker_role(strategy: Any) -> tuple[bool, str]:
    """(is_chief, worker tag) under MultiWorkerMirroredStrategy; (True, "") otherwise.

    Every worker must take part in saving (the save is a collective op), but only the chief's
    files are kept: the others write to a scratch folder of their own (TensorFlow's documented
    pattern for multi-worker checkpoints), so workers never overwrite each other's files.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    extended = getattr(strategy, "extended", None)
    in_multi_worker = getattr(extended, "_in_multi_worker_mode", lambda: False)()
    if resolver is None or not in_multi_worker:
        return True, ""
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return is_chief, f"{task_type}_{task_id}"


class TrainingState(tf.train.experimental.PythonState):
    """The loop's position and bookkeeping, serialised as JSON inside each checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}

    def serialize(self) -> str:
        return json.dumps(self.values)

    def deserialize(self, string_value: Any) -> None:
        if isinstance(string_value, bytes):
            string_value = string_value.decode("utf-8")
        self.values = json.loads(string_value)


class CheckpointKeeper:
    """Save and restore `model`, `optimizer`, metric variables and a `TrainingState`.

    Args:
        directory: where the checkpoints live.
        max_to_keep: how many recent checkpoints stay on disk.
        **trackables: objects to checkpoint (passed to `tf.train.Checkpoint`).
    """

    def __init__(
        self,
        directory: str,
        *,
        max_to_keep: int = 3,
        write_directory: str | None = None,
        **trackables: Any,
    ) -> None:
        self.directory = os.fspath(directory)
        self.state = TrainingState()
        self.checkpoint = tf.train.Checkpoint(state=self.state, **trackables)
        # Reads come from `directory`; writes go to `write_directory` when given (a
        # non-chief worker's scratch folder), so every worker resumes from the chief's files.
        self.read_manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=max_to_keep
        )
        self.manager = self.read_manager
        if write_directory is not None:
            self.manager = tf.train.CheckpointManager(
                self.checkpoint, os.fspath(write_directory), max_to_keep=max_to_keep
            )

    @property
    def latest(self) -> str | None:
        return self.read_manager.latest_checkpoint

    def save(self, values: dict[str, Any], checkpoint_number: int) -> str:
        """Write a checkpoint numbered `checkpoint_number` (the global step) holding `values`."""
        self.state.values = dict(values)
        return self.manager.save(checkpoint_number=checkpoint_number)

    def restore_latest(self) -> tuple[str, dict[str, Any]] | None:
        """Restore the newest readable checkpoint; None when there is none.

        A checkpoint that fails to restore is skipped with a warning and the previous one is
        tried; a later successful restore overwrites every variable the failed one touched.
        """
        candidates = list(reversed(self.read_manager.checkpoints))
        failures = []
        for path in candidates:
            try:
                status = self.checkpoint.restore(path)
                status.assert_existing_objects_matched()
            except Exception as err:  # any unreadable file: fall back to the previous one
                failures.append(f"{path} ({type(err).__name__})")
                warnings.warn(
                    f"Checkpoint {path} could not be restored and is skipped "
                    f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                    "trying the previous one.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            return path, dict(self.state.values)
        if failures:
            # Starting afresh would let the manager delete these files: stop instead.
            raise RuntimeError(
                f"No checkpoint in {self.directory} could be restored: {'; '.join(failures)}. "
                "They are left untouched; move them away to start from scratch."
            )
        return None

"""Checkpoints of a training run: weights, optimizer slots and the loop's position.

A `tf.train.CheckpointManager` writes numbered checkpoints; `TrainingState` (a `PythonState`) rides
inside each one with the epoch/step counters, the shuffle seed, the history so far and the
callbacks' state, so a resumed run continues exactly where the saved one stood.

A folder the Trainer cannot trust stops it with a `CheckpointError` that names the file and says
what is wrong, before anything is written: a damaged state file (`checkpoint`), checkpoint files
that no state file lists, a missing, truncated or corrupt index or data file of the checkpoint to
resume from, or a checkpoint written by another model. Starting afresh instead would let the
manager overwrite and delete the old files. The message names the newest intact earlier checkpoint,
which `fit(..., resume=PATH)` resumes from.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import tensorflow as tf

from zoo.training.checkpoint_files import STATE_FILE, checkpoints_on_disk, damage, read_state
from zoo.training.errors import CheckpointError

_UNTOUCHED = "Nothing in the folder was changed."


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
        _, problem = read_state(self.directory)
        if problem is not None:
            raise CheckpointError(
                f"{problem} {_UNTOUCHED} Repair it, or move it away and resume from a "
                f"checkpoint by its path, fit(..., resume=PATH){self._listing()}."
            )
        self.state = TrainingState()
        self.checkpoint = tf.train.Checkpoint(state=self.state, **trackables)
        # Checkpoints written before the random state was saved have no `seeds` entry: they are
        # restored without it (with a warning) rather than refused.
        self._has_seeds = "seeds" in trackables
        self._without_seeds = tf.train.Checkpoint(
            state=self.state, **{k: v for k, v in trackables.items() if k != "seeds"}
        )
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

    def _listing(self, exclude: str | None = None) -> str:
        """' (checkpoints here: a, b)' for error messages, newest first."""
        names = [p for p in reversed(checkpoints_on_disk(self.directory)) if p != exclude]
        return f" (checkpoints here: {', '.join(names)})" if names else ""

    def restore(self, path: str | None = None) -> tuple[str, dict[str, Any]] | None:
        """Restore checkpoint `path` (default: the newest the state file lists).

        Returns `(path, loop state)`, or None when the folder holds no checkpoint at all.
        Raises `CheckpointError` (naming the file, changing nothing) when the checkpoint is
        damaged or does not fit the objects being restored, or when checkpoint files lie in the
        folder without a state file listing them.
        """
        if path is None:
            path = self.latest
            if path is None:
                if checkpoints_on_disk(self.directory):
                    state_file = os.path.join(self.directory, STATE_FILE)
                    raise CheckpointError(
                        f"The checkpoint state file {state_file} is missing, but the folder "
                        f"holds checkpoints{self._listing()}. {_UNTOUCHED} Resume from one by its "
                        "path, fit(..., resume=PATH), or move them away to start from scratch."
                    )
                return None
        path = os.fspath(path)
        problem = damage(path)
        if problem is not None:
            earlier = [
                p
                for p in reversed(checkpoints_on_disk(self.directory))
                if p != path and damage(p) is None
            ]
            hint = (
                f" The newest intact other checkpoint is {earlier[0]}: resume from it with "
                f"fit(..., resume={earlier[0]!r})."
                if earlier
                else " No other intact checkpoint is in the folder."
            )
            raise CheckpointError(f"Cannot resume from {path}: {problem} {_UNTOUCHED}{hint}")
        checkpoint = self.checkpoint
        names = {name for name, _ in tf.train.list_variables(path)}
        if self._has_seeds and not any(name.startswith("seeds/") for name in names):
            warnings.warn(
                f"Checkpoint {path} holds no random-number state (it predates it): the Dropout "
                "masks and other random draws after this resume differ from an uninterrupted run.",
                RuntimeWarning,
                stacklevel=3,
            )
            checkpoint = self._without_seeds
        try:
            status = checkpoint.restore(path)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
            raise CheckpointError(
                f"Checkpoint {path} does not fit this Trainer: the model, optimizer, metrics and "
                f"random-state layers must be those that wrote it. {_UNTOUCHED} "
                f"({type(err).__name__}: {first})"
            ) from err
        return path, dict(self.state.values)

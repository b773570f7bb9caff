"""Turn the user's data into one `tf.data.Dataset` per epoch, with a resumable position.

Numpy input is shuffled with an order that is a pure function of `(seed, epoch)`, so a run that
resumes at `(epoch, step)` sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf


def unpack_batch(batch: Any) -> tuple[Any, Any, Any]:
    """Split a batch into `(x, y, sample_weight)`; `y` and `sample_weight` may be None."""
    if isinstance(batch, tuple | list):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        raise ValueError(
            "A batch must be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`. "
            f"Received: a tuple of {len(batch)} elements"
        )
    return batch, None, None


def _num_samples(array: Any, name: str) -> int:
    lengths = {int(np.shape(a)[0]) if np.ndim(a) else -1 for a in tf.nest.flatten(array)}
    if -1 in lengths:
        raise ValueError(f"`{name}` must be an array with a batch axis. Received: a scalar")
    if len(lengths) != 1:
        raise ValueError(
            f"Every array in `{name}` must have the same number of samples. "
            f"Received lengths: {sorted(lengths)}"
        )
    return lengths.pop()


class EpochData:
    """One dataset per epoch from numpy `(x, y[, sample_weight])` or a `tf.data.Dataset`.

    Args:
        data: a `tf.data.Dataset` of batches, or a tuple of numpy arrays (or dicts/lists of
            arrays) `(x,)`, `(x, y)` or `(x, y, sample_weight)`.
        batch_size: batch size for numpy input (ignored for a Dataset, which is already batched).
        shuffle: shuffle numpy input each epoch.
        seed: the shuffle seed; epoch k's order is `default_rng([seed, k]).permutation(n)`.
        steps_per_epoch: cap on the batches per epoch.
        name: the argument name used in error messages (`train`, `validation`, `data`).
    """

    def __init__(
        self,
        data: Any,
        *,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        steps_per_epoch: int | None = None,
        name: str = "data",
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        if steps_per_epoch is not None and (
            not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
        ):
            raise ValueError(
                "`steps_per_epoch` must be a positive integer or None. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        self.name = name
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self._steps_cap = steps_per_epoch
        if isinstance(data, tf.data.Dataset):
            self._dataset = data
            self._tensors = None
            cardinality = int(data.cardinality())
            if cardinality == 0:
                raise ValueError(f"`{name}` is empty: the dataset yields no batch.")
            self._known_steps = cardinality if cardinality > 0 else None
            self.num_samples = None
        else:
            self._dataset = None
            self._tensors, self.num_samples = self._from_arrays(data)
            self._known_steps = math.ceil(self.num_samples / batch_size)

    def _from_arrays(self, data: Any) -> tuple[Any, int]:
        if not isinstance(data, tuple | list) or not 1 <= len(data) <= 3:
            raise TypeError(
                f"`{self.name}` must be a tf.data.Dataset or a tuple (x, y) or "
                f"(x, y, sample_weight) of arrays. Received: {type(data).__name__}"
            )
        parts = tuple(data)
        labels = ("x", "y", "sample_weight")[: len(parts)]
        counts = {
            label: _num_samples(part, label) for label, part in zip(labels, parts, strict=True)
        }
        if len(set(counts.values())) != 1:
            received = ", ".join(f"{k} has {v}" for k, v in counts.items())
            raise ValueError(
                f"`x`, `y` (and `sample_weight`) of `{self.name}` must have the same number of "
                f"samples. Received: {received}"
            )
        n = counts["x"]
        if n == 0:
            raise ValueError(f"`{self.name}` is empty: `x` has 0 samples.")
        tensors = tf.nest.map_structure(tf.convert_to_tensor, parts)
        return tensors, n

    @property
    def steps_per_epoch(self) -> int | None:
        """Batches per epoch, or None when the dataset's length is unknown."""
        if self._known_steps is None:
            return self._steps_cap
        if self._steps_cap is None:
            return self._known_steps
        return min(self._known_steps, self._steps_cap)

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of `epoch` for numpy input: a pure function of (seed, epoch)."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)

    def epoch_dataset(self, epoch: int = 0, skip_steps: int = 0) -> tf.data.Dataset:
        """The batches of `epoch`, starting after the first `skip_steps` of them."""
        if self._dataset is not None:
            dataset = self._dataset
            if self._steps_cap is not None:
                dataset = dataset.take(self._steps_cap)
            return dataset.skip(skip_steps) if skip_steps else dataset
        steps = self.steps_per_epoch
        indices = self.order(epoch)[: steps * self.batch_size][skip_steps * self.batch_size :]
        # One eager gather per epoch, then plain slicing: no map function to trace each epoch.
        ordered = tf.nest.map_structure(lambda t: tf.gather(t, indices), self._tensors)
        # When the batches come out even, say so: a static batch axis lets TensorFlow drop
        # the dynamic-shape bookkeeping from the step's graph (fewer ops per RNN time step).
        even = len(indices) % self.batch_size == 0
        dataset = tf.data.Dataset.from_tensor_slices(ordered)
        return dataset.batch(self.batch_size, drop_remainder=even).prefetch(tf.data.AUTOTUNE)

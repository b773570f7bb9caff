"""`predictor(model)`: call a Keras model at the speed of a compiled `tf.function`.

`model.predict` builds a data pipeline and a progress callback on every call: ~100 ms of overhead
for a single request. `predictor(model)` traces the model once per input structure into a
`tf.function` whose batch axis is free (`(None, ...)` input signature), so each later call costs
the graph's run time. Inputs are cut into chunks of `batch_size` rows, so memory stays bounded for
long inputs; outputs come back as numpy arrays (a dict for dict-output models).

    fast = zoo.predictor(zoo.load("cnn_digits"))
    fast(images)["class_id"]
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Predictor:
    """A compiled inference function of `model` (see the module docstring).

    Args:
        model: a built Keras model with one input.
        batch_size: rows per call of the compiled function.
        jit_compile: compile with XLA as well.
    """

    def __init__(self, model: keras.Model, *, batch_size: int = 1024, jit_compile: bool = False):
        if len(model.inputs) != 1:
            raise ValueError(
                f"`model` must have one input for `predictor`. Received {len(model.inputs)}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an int >= 1. Received: {batch_size!r}")
        (tensor,) = model.inputs
        self.model = model
        self.batch_size = batch_size
        self.dtype = tensor.dtype
        self.shape = tuple(tensor.shape[1:])
        spec = tf.TensorSpec((None, *self.shape), tensor.dtype)
        self._function = tf.function(
            lambda x: model(x, training=False), input_signature=[spec], jit_compile=jit_compile
        )

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x, dtype=self.dtype)
        fits = len(x.shape) == len(self.shape) + 1 and all(
            want is None or want == got for want, got in zip(self.shape, x.shape[1:], strict=True)
        )
        if not fits:
            raise ValueError(
                f"`x` must have shape (batch, {', '.join(map(str, self.shape))}) (None: any "
                "size). "
                f"Received shape {x.shape}"
            )
        chunks = [
            self._function(tf.constant(x[start : start + self.batch_size]))
            for start in range(0, max(len(x), 1), self.batch_size)
        ]
        return tf.nest.map_structure(
            lambda *parts: np.concatenate([np.asarray(p) for p in parts]), *chunks
        )


def predictor(model: keras.Model, *, batch_size: int = 1024) -> Predictor:
    """The compiled `Predictor` of `model` (one per model, kept while the model lives)."""
    found = _CACHE.get(model)
    if found is None or found.batch_size != batch_size:
        found = _CACHE[model] = Predictor(model, batch_size=batch_size)
    return found

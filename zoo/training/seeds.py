"""The random-number state a training run must checkpoint to resume bit for bit.

Keras layers that draw random numbers (Dropout, GaussianNoise, RandomFlip, ...) own a
`keras.random.SeedGenerator` whose state, a 2-vector `[seed, counter]`, advances on every call;
`keras.random.*` calls without a seed use one global generator. `tf.train.Checkpoint(model=...)`
saves only a model's weights, not these states: without them a resumed run would replay the
masks of the run's first steps instead of drawing the next ones.
"""

from __future__ import annotations

import random
from typing import Any


def layer_seed_states(model: Any) -> list[Any]:
    """The state variable of every SeedGenerator in `model`, in the model's variable order.

    `model.variables` is `model.weights` plus the seed generators' states (Keras' definition), so
    the states are the variables that are not weights.
    """
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def global_seed_state() -> Any | None:
    """The state of Keras' global SeedGenerator, created now if it does not exist yet.

    It is created here, before any step is traced, so that the variable a checkpoint holds is the
    one unseeded `keras.random` calls advance. Creating it draws a seed from Python's `random`;
    that module's state is put back, so nothing else sees the draw. None when this Keras does not
    have the (private) accessor.
    """
    try:
        from keras.src.random.seed_generator import global_seed_generator
    except ImportError:  # pragma: no cover - a Keras without the global generator
        return None
    python_state = random.getstate()
    try:
        return global_seed_generator().state
    finally:
        random.setstate(python_state)

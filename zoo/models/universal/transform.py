"""The variance-stabilising transform a fine-tuned universal forecaster may work in.

Box-Cox with λ = 0, the log, for a series whose spread grows with its level:

    z = log y   (every y > 0),            y = exp z

With "log", everything the model does happens on z: the seasonal adjustment (additive there,
which is a multiplicative season of y), the network, and the band's split-conformal scales. Only
the quantiles it returns are mapped back, q_y = exp(q_z). exp is increasing, so the quantiles keep
their order and levels (the 0.5 quantile of z maps to the median of y), and a band that covers
log y covers y: the calibrated band, a constant width on z, widens in proportion to the level
on y. "none" is the identity.

`forward`/`inverse` are the numpy side (`tuned.py`); `graph_forward`/`graph_inverse` the same
in TensorFlow ops for the served model (`served.py`), where a value ≤ 0 has no logarithm and is
read as missing (NaN), as the network reads a gap.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = [
    "TRANSFORMS",
    "applicable",
    "check_transform",
    "forward",
    "graph_forward",
    "graph_inverse",
    "inverse",
]

TRANSFORMS = ("none", "log")


def check_transform(name) -> str:
    """`name` if it is one of `TRANSFORMS`, else a ValueError listing them."""
    if name not in TRANSFORMS:
        raise ValueError(
            f"Unknown transform {name!r}. Choose one of: {', '.join(TRANSFORMS)} "
            f"(argument `transform`)"
        )
    return name


def applicable(series, name: str) -> bool:
    """Whether every value of every 1-D series in `series` is in the transform's domain."""
    return check_transform(name) == "none" or all(np.min(s) > 0 for s in series)


def forward(values, name: str) -> np.ndarray:
    """z of `values` (float64); "log" needs every value > 0."""
    values = np.asarray(values, "float64")
    if check_transform(name) == "none":
        return values
    if not np.all(values > 0):
        raise ValueError(
            "`data` must be > 0 everywhere for a model that forecasts in the log scale "
            f"(transform='log'). Received a least value of {np.min(values)!r}"
        )
    return np.log(values)


def inverse(values, name: str) -> np.ndarray:
    """y of the transformed `values` (float64)."""
    values = np.asarray(values, "float64")
    return np.exp(values) if check_transform(name) == "log" else values


def graph_forward(x, name: str):
    """z of a float64 tensor; "log" maps values ≤ 0 (and NaN) to NaN."""
    if check_transform(name) == "none":
        return x
    positive = x > 0
    safe = tf.where(positive, x, tf.ones_like(x))
    return tf.where(positive, tf.math.log(safe), tf.constant(np.nan, x.dtype))


def graph_inverse(z, name: str):
    """y of a transformed float64 tensor."""
    return tf.exp(z) if check_transform(name) == "log" else z

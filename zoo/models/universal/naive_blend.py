"""The seasonal-naive guard of a fine-tuned universal forecaster: its quantiles moved toward the
seasonal naive forecast by a weight w ∈ [0, 1] chosen on the inner holdout.

In the model's transformed scale (`transform.py`), with season m = the user's `period` and z the
history, the seasonal naive forecast of step k ≥ 1 is the value one season earlier,

    ẑ_k = z[n − m + ((k − 1) mod m)]        (m = 1: the last value),

and every quantile is shifted by w times the median's distance to it,

    q'_ℓ,k = q_ℓ,k + w·(ẑ_k − q_0.5,k),

so the median becomes (1 − w)·q_0.5 + w·ẑ and the band keeps its width (the band scales,
calibrated afterwards on the shifted quantiles, set that). w = 0 is the network alone, w = 1
the seasonal naive forecast with the network's band around it. A history shorter than m has no
ẑ: its quantiles are left as they are (served: also a row with NaN among its last m values).

`shift_toward_naive` is the numpy side (`tuned.py`), `graph_shift_toward_naive` the same on a
right-aligned, NaN-left-padded batch (`served.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["graph_shift_toward_naive", "seasonal_naive", "shift_toward_naive"]


def seasonal_naive(histories: Sequence[np.ndarray], period: int, horizon: int) -> np.ndarray:
    """ẑ (n, horizon) of each history (NaN rows for histories shorter than `period`)."""
    out = np.full((len(histories), horizon), np.nan)
    steps = np.arange(horizon) % period
    for i, z in enumerate(histories):
        if len(z) >= period:
            out[i] = np.asarray(z, "float64")[len(z) - period + steps]
    return out


def shift_toward_naive(q: np.ndarray, naive: np.ndarray, weight: float) -> np.ndarray:
    """q (n, H, 3) shifted by weight·(ẑ − q_0.5) where ẑ (n, H) is finite."""
    shift = weight * (naive - q[..., 1])
    return q + np.where(np.isfinite(shift), shift, 0.0)[..., None]


def graph_shift_toward_naive(q, z, period: int, weight: float):
    """The same for float64 tensors q (batch, H, 3) and the transformed context z (batch, W)."""
    horizon = tf.shape(q)[1]
    # NaN columns in front, so that a context of fewer than `period` columns has a last season
    # too; NaN (padding, a gap) among its values means no naive forecast for that row.
    last = tf.pad(z, [[0, 0], [period, 0]], constant_values=np.nan)[:, -period:]
    naive = tf.gather(last, tf.math.floormod(tf.range(horizon), period), axis=1)
    whole = tf.reduce_all(tf.math.is_finite(last), axis=1, keepdims=True)
    shift = weight * (naive - q[..., 1])
    keep = whole & tf.math.is_finite(shift)
    return q + tf.where(keep, shift, tf.zeros_like(shift))[..., None]

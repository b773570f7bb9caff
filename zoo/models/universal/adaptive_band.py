"""The adaptive band: the calibrated band widened at forecast time by the model's recent misses.

The band scales λ_lo, λ_hi (`calibration.py`) are fitted once, on the inner holdout just before
the fine-tune's end; a later, wilder stretch outgrows them. With `band_adapt` = r > 0, a forecast
from a history z of n values (in the model's transformed scale) also forecasts from the r
earlier origins o_j = n − H − j, j = 0 … r − 1, whose H actuals z[o_j : o_j + H] lie inside the
history, and scores them with the calibration's nonconformity score on the calibrated band
(q' = `apply_band_scales`(q, λ_lo, λ_hi)),

    s[j, h] = max( (q'_med − y) / (q'_med − q'_lo),  (y − q'_med) / (q'_hi − q'_med) )

(half-widths floored as in `calibration.py`); s ≤ 1 exactly when y lies in the calibrated band.
On the calibration windows the finite-sample quantile of s at the band's level
c = α_hi − α_lo (0.8) is about 1, so the recent one measured against it is the widening:

    f = clip( s₍ₖ₎ , 1, `MAX_WIDENING` ),   k = ⌈(N + 1)·c⌉ (the largest when k > N)

over the N valid scores (a window is valid when its origin holds at least one value and its
actuals and score are finite; no valid window: f = 1). The forecast's band is then λ·f on both
sides: never narrower than calibrated, at most `MAX_WIDENING` times wider. Every score uses only
values before the forecast's origin, so it is as legitimate at a rolling origin as the forecast.

`recent_origins` / `widening` are the numpy side (`tuned.py`), `graph_recent_contexts` /
`graph_widening` the same on a right-aligned, NaN-left-padded batch (`served.py`; a client
must send at least the model's history + H + r − 1 values for the two to agree).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from zoo.models.universal.calibration import apply_band_scales, side_scores

__all__ = [
    "BAND_LEVEL",
    "MAX_WIDENING",
    "RECENT_ORIGINS",
    "graph_recent_contexts",
    "graph_widening",
    "recent_origins",
    "widening",
]

# Earlier origins scored at forecast time by an adaptive model (its `band_adapt`).
RECENT_ORIGINS = 8
# The widest the adaptive band may grow, in units of the calibrated band.
MAX_WIDENING = 3.0
# The band's nominal coverage (the 0.1 and 0.9 quantiles).
BAND_LEVEL = 0.8


def recent_origins(histories, horizon: int, recent: int):
    """(sub-histories, actuals (n, r, H), valid (n, r)) of the r earlier origins of each
    history (module docstring); an invalid window's sub-history is the first value and its
    actuals NaN, so every entry can be forecast."""
    subs, actual = [], np.full((len(histories), recent, horizon), np.nan)
    valid = np.zeros((len(histories), recent), bool)
    for i, z in enumerate(histories):
        z = np.asarray(z, "float64")
        for j in range(recent):
            origin = len(z) - horizon - j
            valid[i, j] = origin >= 1
            subs.append(z[:origin] if valid[i, j] else z[:1])
            if valid[i, j]:
                actual[i, j] = z[origin : origin + horizon]
    return subs, actual, valid


def widening(actual, quantiles, lower, upper, valid=None, level: float = BAND_LEVEL):
    """f (n,) of the recent windows: actual (n, r, H), quantiles (n, r, H, 3) (transformed
    scale, band not scaled), λ_lo / λ_hi (H,), valid (n, r) (default: all)."""
    q = apply_band_scales(quantiles, lower, upper)
    r_lo, r_hi = side_scores(np.asarray(actual, "float64"), q)
    scores = np.maximum(r_lo, r_hi)
    valid = np.ones(scores.shape[:2], bool) if valid is None else np.asarray(valid)
    out = np.ones(len(scores))
    for i, (row, keep) in enumerate(zip(scores, valid, strict=True)):
        values = np.sort(row[keep][np.all(np.isfinite(row[keep]), axis=-1)].ravel())
        if len(values):
            k = min(math.ceil((len(values) + 1) * level - 1e-9), len(values))
            out[i] = np.clip(values[k - 1], 1.0, MAX_WIDENING)
    return out


def graph_recent_contexts(z, horizon: int, recent: int):
    """(contexts (r·batch, W), actuals (r, batch, H), has_values (r, batch)) of the r earlier
    origins of each row of the float64 batch z (batch, W): origin j's context is the row
    without its last H + j columns, NaN-padded on the left back to W."""
    width = tf.shape(z)[1]
    padded = tf.pad(z, [[0, 0], [horizon + recent, 0]], constant_values=np.nan)
    contexts, actuals = [], []
    for j in range(recent):
        contexts.append(padded[:, recent - j : recent - j + width])
        actuals.append(padded[:, width + recent - j : width + recent - j + horizon])
    contexts = tf.stack(contexts)
    has_values = tf.reduce_any(tf.math.is_finite(contexts), axis=-1)
    return tf.reshape(contexts, [-1, width]), tf.stack(actuals), has_values


def graph_widening(actual, q, lower, upper, has_values, level: float = BAND_LEVEL):
    """f (batch,) from actuals (r, batch, H), quantiles (r, batch, H, 3) (float64, band not
    scaled), λ_lo / λ_hi (H,) constants and has_values (r, batch)."""
    mid = q[..., 1]
    floor = 1e-6 * (tf.abs(mid) + 1.0)
    low = (mid - actual) / tf.maximum(lower * (mid - q[..., 0]), floor)
    high = (actual - mid) / tf.maximum(upper * (q[..., 2] - mid), floor)
    scores = tf.maximum(low, high)  # (r, batch, H)
    finite = tf.reduce_all(tf.math.is_finite(scores), axis=-1) & has_values  # (r, batch)
    keep = tf.broadcast_to(finite[..., None], tf.shape(scores))
    # (batch, r·H), invalid scores last after sorting
    scores = tf.where(keep, scores, tf.constant(np.inf, scores.dtype))
    scores = tf.reshape(tf.transpose(scores, [1, 0, 2]), [tf.shape(scores)[1], -1])
    count = tf.reduce_sum(tf.cast(tf.reshape(tf.transpose(keep, [1, 0, 2]), tf.shape(scores)),
                                  tf.float64), axis=1)  # fmt: skip
    k = tf.minimum(tf.math.ceil((count + 1.0) * level - 1e-9), count)
    chosen = tf.gather(tf.sort(scores, axis=1), tf.cast(tf.maximum(k, 1.0) - 1.0, tf.int32),
                       batch_dims=1)  # fmt: skip
    factor = tf.clip_by_value(chosen, 1.0, MAX_WIDENING)
    return tf.where(count > 0, factor, tf.ones_like(factor))

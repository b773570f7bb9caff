"""The scale-free front end of the universal detector: robust per-window scaling with NaN masks.

`RobustScaling` maps raw windows (batch, window) — NaN for a missing or padding point — to
(batch, window, 3) features:

    z_t  = clip((x_t - med) / s, ±CLIP)            (0 where x_t is missing)
    dz_t = clip(z_t - z_{t-1}, ±CLIP)              (0 at the first point and next to a gap)
    m_t  = 1 if x_t is observed else 0

with med the median of the window's observed points and s = 1.4826·MAD (the median absolute
deviation, a standard deviation for Gaussian data that a few outliers cannot inflate), or the
standard deviation when the MAD is 0 (intermittent or stuck series), floored at
1e-6·(1 + |med|). So the detector sees the same numbers for a series and for a·series + b (a > 0):
it works on any scale and level without training on it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

CLIP = 20.0
MAD_TO_STD = 1.4826


def masked_median(values: tf.Tensor, observed: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """Median over axis 1 of `values` (batch, n) at the `observed` positions: (batch, 1).

    Missing entries sort last (+inf); the median is the mean of the entries at ranks
    ⌊(k-1)/2⌋ and ⌊k/2⌋ of the k observed ones (k >= 1; a row with none gives 0)."""
    ordered = tf.sort(tf.where(observed, values, tf.constant(float("inf"), values.dtype)), axis=1)
    k = tf.maximum(count, 1)
    low = tf.gather(ordered, (k - 1) // 2, axis=1, batch_dims=1)
    high = tf.gather(ordered, k // 2, axis=1, batch_dims=1)
    median = 0.5 * (low + high)
    return tf.where(count > 0, median, tf.zeros_like(median))[:, None]


def robust_centre_and_scale(values: tf.Tensor, observed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(median, s), each (batch, 1), of `values` (batch, n) at the `observed` positions: s =
    1.4826·MAD, or the standard deviation when the MAD is 0 (not floored)."""
    weight = tf.cast(observed, values.dtype)
    count = tf.reduce_sum(tf.cast(observed, "int32"), axis=1)
    filled = tf.where(observed, values, tf.zeros_like(values))
    median = masked_median(filled, observed, count)
    mad = masked_median(tf.abs(filled - median), observed, count)
    n = tf.maximum(tf.reduce_sum(weight, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(filled, axis=1, keepdims=True) / n
    std = tf.sqrt(tf.reduce_sum(weight * tf.square(filled - mean), axis=1, keepdims=True) / n)
    return median, tf.where(mad > 0, MAD_TO_STD * mad, std)


@keras.saving.register_keras_serializable(package="zoo")
class RobustScaling(keras.layers.Layer):
    """(batch, window) raw values, NaN = missing -> (batch, window, 3): z, dz and the mask
    (see the module docstring)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        observed = tf.math.is_finite(x)
        weight = tf.cast(observed, x.dtype)
        filled = tf.where(observed, x, tf.zeros_like(x))
        median, scale = robust_centre_and_scale(filled, observed)
        scale = tf.maximum(scale, 1e-6 * (1.0 + tf.abs(median)))
        z = tf.clip_by_value((filled - median) / scale, -CLIP, CLIP) * weight
        both = weight[:, 1:] * weight[:, :-1]
        dz = tf.clip_by_value(z[:, 1:] - z[:, :-1], -CLIP, CLIP) * both
        dz = tf.pad(dz, [[0, 0], [1, 0]])
        return tf.stack([z, dz, weight], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], 3)


@keras.saving.register_keras_serializable(package="zoo")
class BroadcastTime(keras.layers.Layer):
    """A per-window vector (batch, c) repeated along the time axis of `like` (batch, t, ·):
    (batch, t, c). Lets every point compare itself with a summary of its whole window."""

    def call(self, inputs):
        vector, like = inputs
        steps = tf.shape(like)[1]
        return tf.tile(vector[:, None, :], tf.stack([1, steps, 1]))

    def compute_output_shape(self, input_shapes):
        vector, like = input_shapes
        return (vector[0], like[1], vector[-1])


@keras.saving.register_keras_serializable(package="zoo")
class SquashTime(keras.layers.Layer):
    """(batch, t, 1) -> (batch, t): the per-point logits as one row per window."""

    def call(self, inputs):
        return inputs[..., 0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

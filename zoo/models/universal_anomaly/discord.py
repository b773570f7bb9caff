"""`DiscordProfile`: how unlike every other part of its window each point's neighbourhood is.

For a window x of W points (NaN = missing) and a subsequence length m, the subsequences
s_i = x[i·r : i·r + m] (r = max(1, m // `STRIDE_DIVISOR`) apart; those holding a missing point
left out) are z-normalised, ẑ_i = (s_i − mean s_i) / std s_i, and each gets the distance to its
nearest non-overlapping neighbour (|i − j|·r >= m), the matrix-profile row of the classic discord
detector, computed for all pairs at once by one matmul of the normalised subsequences:

    ρ_ij = ẑ_i · ẑ_j / m,        d_i = min_{j: |i−j|·r >= m} sqrt(max(1 − ρ_ij, 0))

(d_i = ‖ẑ_i − ẑ_j‖ / sqrt(2m), in [0, sqrt 2]: 0 for a repeat, 1 for an unrelated shape). A point
takes the largest d_i of the subsequences that cover it (to within the stride r); 0 where no
subsequence or neighbour exists. For each m the layer returns two channels: d and d minus its
median over the window's valid subsequences, so a point reads both "unlike anything here" and
"more unlike than the rest". A subsequence whose standard deviation is below 1e-3 of the
window's is treated as flat (ẑ = 0).

Shapes: (batch, W) raw values -> (batch, W, 2·len(lengths)). No weights: the channel is a fixed,
scale-free function of the window (a·x + b gives the same), fused by the network after it.

Reference: Yeh et al., "Matrix Profile I", ICDM 2016 (the profile); Keogh et al. 2005 (discords).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.models.universal_anomaly.layers import masked_median

STRIDE_DIVISOR = 8


def subsequence_stride(m: int) -> int:
    return max(1, int(m) // STRIDE_DIVISOR)


def _profile(x: tf.Tensor, observed: tf.Tensor, m: int, stride: int):
    """(batch, S) nearest-neighbour distances of the S subsequences (0 where undefined), and
    (batch, S) bool: which subsequences hold no missing point."""
    frames = tf.signal.frame(x, m, stride, axis=1)  # (batch, S, m)
    valid = tf.reduce_all(tf.signal.frame(observed, m, stride, axis=1), axis=-1)
    centred = frames - tf.reduce_mean(frames, axis=-1, keepdims=True)
    std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True))
    weight = tf.cast(observed, x.dtype)
    count = tf.maximum(tf.reduce_sum(weight, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(x * weight, axis=1, keepdims=True) / count
    spread = tf.sqrt(tf.reduce_sum(weight * tf.square(x - mean), axis=1, keepdims=True) / count)
    flat = std < 1e-3 * spread[:, :, None] + 1e-30
    z = tf.where(flat, tf.zeros_like(centred), centred / tf.maximum(std, 1e-30))
    rho = tf.matmul(z, z, transpose_b=True) / float(m)
    distance = tf.sqrt(tf.maximum(1.0 - rho, 0.0))
    starts = tf.range(tf.shape(frames)[1]) * stride
    apart = tf.abs(starts[:, None] - starts[None, :]) >= m
    allowed = apart[None] & valid[:, None, :] & valid[:, :, None]
    nearest = tf.reduce_min(tf.where(allowed, distance, np.inf), axis=-1)
    return tf.where(tf.math.is_finite(nearest), nearest, tf.zeros_like(nearest)), valid


def _to_points(profile: tf.Tensor, m: int, stride: int, width: int) -> tf.Tensor:
    """(batch, S) subsequence values -> (batch, width): a point takes the max over the
    subsequences covering it (each subsequence's value spread over its `stride` starts)."""
    spread = tf.repeat(profile, stride, axis=1)[:, : width - m + 1]
    # Every point is covered by at least one start, so the padding never wins the max.
    padded = tf.pad(spread, [[0, 0], [m - 1, m - 1]], constant_values=-1e9)
    return tf.nn.max_pool1d(padded[:, :, None], m, 1, "VALID")[:, :, 0]


@keras.saving.register_keras_serializable(package="zoo")
class DiscordProfile(keras.layers.Layer):
    """Discord channels of a raw window (see the module docstring).

    Args:
        lengths: subsequence lengths m (ints >= 4), one pair of channels each.

    Input shape: (batch, W) float32, NaN = missing. Output shape: (batch, W, 2·len(lengths)).
    """

    def __init__(self, lengths=(16, 48, 128), **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        lengths = [int(m) for m in lengths]
        if not lengths or min(lengths) < 4:
            raise ValueError(f"`lengths` must be ints >= 4. Received: lengths={lengths!r}")
        self.lengths = lengths

    def call(self, inputs):
        x = tf.stop_gradient(tf.cast(inputs, "float32"))
        observed = tf.math.is_finite(x)
        filled = tf.where(observed, x, tf.zeros_like(x))
        width = x.shape[1]
        channels = []
        for m in self.lengths:
            if m * 2 > width:
                raise ValueError(
                    f"`lengths` must be at most half the window ({width}). Received: m={m}"
                )
            stride = subsequence_stride(m)
            profile, valid = _profile(filled, observed, m, stride)
            count = tf.reduce_sum(tf.cast(valid, "int32"), axis=1)
            centred = profile - masked_median(profile, valid, count)
            channels.append(_to_points(profile, m, stride, width))
            centred = tf.where(valid, centred, tf.zeros_like(centred))
            channels.append(_to_points(centred, m, stride, width))
        return tf.stack(channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], 2 * len(self.lengths))

    def get_config(self):
        return {**super().get_config(), "lengths": list(self.lengths)}

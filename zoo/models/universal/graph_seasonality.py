"""The classical seasonal adjustment of `seasonality.py` in TensorFlow ops, for a padded batch.

`seasonality.py` (numpy, one series at a time) stays the reference; this is the same test and
the same index formulas on a batch x (batch, W) float64 whose rows are right-aligned with NaN
left padding, so that a SavedModel signature can adjust what a client sends. For each row:

- the tail is the last min(`window`, n) values, n counted from the row's first finite value
  (tail positions p = 0 … n_tail − 1, so a forecast step k ≥ 1 sits at position n_tail + k − 1);
- the row is seasonal when `period` ≥ 2, n_tail ≥ 3·period, every tail value is finite and
  |r_m| > 1.645·√((1 + 2Σ_{k<m} r_k²)/n_tail) (r_k the tail's sample autocorrelation);
- trend: the centred moving average of order m (2×m for even m), from cumulative sums;
- index_j = mean over p ≡ j (mod m) of y/trend (multiplicative: every tail value > 0) or
  y − trend, normalised to mean 1 (or 0); a non-finite or non-positive (multiplicative) index
  leaves the row unadjusted, as `fit_seasonal_index` returns None.

Rows that are not adjusted get the neutral index (1 multiplicative, 0 additive).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["GraphSeason", "graph_seasonal_index"]

# The one-sided 90 % normal quantile of the autocorrelation test.
_Z90 = 1.645


class GraphSeason:
    """Per-row seasonal indices (batch, m), their kind and each row's tail (see module doc)."""

    def __init__(self, index, multiplicative, tail_begin, width, period: int):
        self.index = index
        self.multiplicative = multiplicative
        self.tail_begin = tail_begin
        self.width = width
        self.period = period

    def _apply(self, values, season, inverse: bool):
        mult = tf.reshape(self.multiplicative, [-1] + [1] * (values.shape.rank - 1))
        if inverse:
            return tf.where(mult, values / season, values - season)
        return tf.where(mult, values * season, values + season)

    def adjust(self, window):
        """y/s or y − s on the tail of `window` (batch, W) (the rest is left as it is)."""
        cols = tf.range(self.width)[None, :]
        phase = tf.math.floormod(cols - self.tail_begin[:, None], self.period)
        season = tf.gather(self.index, phase, batch_dims=1)
        return self._apply(window, season, inverse=True)

    def restore(self, values):
        """q·s or q + s on (batch, K, ...) values at the K positions following each tail."""
        steps = tf.range(tf.shape(values)[1])[None, :]
        phase = tf.math.floormod(self.width - self.tail_begin[:, None] + steps, self.period)
        season = tf.gather(self.index, phase, batch_dims=1)
        season = tf.reshape(season, tf.concat([tf.shape(season), [1] * (values.shape.rank - 2)], 0))
        return self._apply(values, season, inverse=False)


def _tail(x, window: int):
    """(the last `window` columns, the column each row's tail begins at, the tail mask)."""
    full_width = tf.shape(x)[1]
    finite = tf.math.is_finite(x)
    first = tf.where(
        tf.reduce_any(finite, axis=1),
        tf.argmax(tf.cast(finite, tf.int32), axis=1, output_type=tf.int32),
        full_width,
    )
    x = x[:, -window:]
    width = tf.shape(x)[1]
    tail_begin = tf.maximum(first - (full_width - width), 0)
    mask = tf.range(width)[None, :] >= tail_begin[:, None]
    return x, tail_begin, mask


def _autocorrelation(d, denom, period: int):
    """r_0 … r_m (batch, m + 1) of the zero-filled deviations d (zero when denom is 0)."""
    width = tf.shape(d)[1]
    padded = tf.pad(d, [[0, 0], [0, period]])
    sums = tf.stack(
        [tf.reduce_sum(d * padded[:, k : k + width], axis=1) for k in range(period + 1)], axis=1
    )
    safe = tf.where(denom > 0, denom, tf.ones_like(denom))
    return tf.where(denom[:, None] > 0, sums / safe[:, None], tf.zeros_like(sums))


def _centred_moving_average(y, period: int):
    """The centred moving average at every column of zero-filled y (valid where it fits)."""
    width = tf.shape(y)[1]
    pad = period + 1
    cums = tf.pad(tf.cumsum(y, axis=1), [[0, 0], [1 + pad, pad]])

    def window_sum(a: int, b: int):  # Σ y[t + a … t + b − 1] for every column t
        return cums[:, b + pad : b + pad + width] - cums[:, a + pad : a + pad + width]

    half = period // 2
    if period % 2:
        return window_sum(-half, half + 1) / period
    return 0.5 * (window_sum(-half, half) + window_sum(-half + 1, half + 1)) / period


def graph_seasonal_index(
    x, period: int, window: int, allow_multiplicative: bool = True
) -> GraphSeason:
    """The seasonal index of each row's tail of x (batch, W) float64 (module docstring);
    additive on every row when `allow_multiplicative` is False (as `fit_seasonal_index`)."""
    x = tf.convert_to_tensor(x, tf.float64)
    x, tail_begin, mask = _tail(x, window)
    width = tf.shape(x)[1]
    count = tf.cast(width - tail_begin, tf.float64)
    tail_finite = tf.reduce_all(tf.math.is_finite(x) | ~mask, axis=1)
    y = tf.where(mask & tf.math.is_finite(x), x, tf.zeros_like(x))
    multiplicative = tf.reduce_all((x > 0) | ~mask, axis=1) & allow_multiplicative
    neutral = tf.cast(multiplicative, tf.float64)[:, None] * tf.ones([1, period], tf.float64)
    if period < 2:
        return GraphSeason(neutral, multiplicative, tail_begin, width, period)
    mean = tf.reduce_sum(y, axis=1) / tf.maximum(count, 1.0)
    d = tf.where(mask, y - mean[:, None], tf.zeros_like(y))
    r = _autocorrelation(d, tf.reduce_sum(d * d, axis=1), period)
    limit = _Z90 * tf.sqrt(
        (1.0 + 2.0 * tf.reduce_sum(r[:, 1:period] ** 2, axis=1)) / tf.maximum(count, 1.0)
    )
    seasonal = (tf.abs(r[:, period]) > limit) & (count >= 3 * period) & tail_finite

    half = period // 2
    cols = tf.range(width)[None, :]
    has_trend = (cols - tail_begin[:, None] >= half) & (cols <= width - 1 - half)
    trend = _centred_moving_average(y, period)
    safe_trend = tf.where(has_trend, trend, tf.ones_like(trend))
    detrended = tf.where(multiplicative[:, None], y / safe_trend, y - safe_trend)
    phase = tf.math.floormod(cols - tail_begin[:, None], period)
    weights = (
        tf.one_hot(phase, period, dtype=tf.float64) * tf.cast(has_trend, tf.float64)[..., None]
    )
    sums = tf.einsum("bw,bwj->bj", tf.where(has_trend, detrended, tf.zeros_like(y)), weights)
    counts = tf.reduce_sum(weights, axis=1)
    index = sums / tf.where(counts > 0, counts, tf.ones_like(counts))
    centre = tf.reduce_mean(index, axis=1, keepdims=True)
    index = tf.where(multiplicative[:, None], index / centre, index - centre)
    valid = (
        tf.reduce_all(counts > 0, axis=1)
        & tf.reduce_all(tf.math.is_finite(index), axis=1)
        & (tf.reduce_all(index > 0, axis=1) | ~multiplicative)
    )
    active = seasonal & valid
    index = tf.where(
        active[:, None], tf.where(tf.math.is_finite(index), index, tf.zeros_like(index)), neutral
    )
    return GraphSeason(index, multiplicative, tail_begin, width, period)

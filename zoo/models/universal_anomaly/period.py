"""The period of a series, estimated inside the graph from its autocorrelation.

For a series x (batch, n) with NaN for missing or left-padding points, y = x − mean(x) on the
observed points (0 elsewhere) and the mask w (1 observed, 0 not), the autocorrelation at lag k is

    acf_k = (Σ_t y_t y_{t+k} / Σ_t w_t w_{t+k}) / (Σ_t y_t² / Σ_t w_t),

both sums computed for all lags at once by `tf.signal.rfft` (|FFT|² of the zero-padded series).
The period is the lag of the highest local maximum of acf_k (acf_k > acf_{k−1}, acf_k >= acf_{k+1})
with k in [`MIN_PERIOD`, min(`MAX_PERIOD`, n_obs / 3)]; of the local maxima within
`SHORTEST_SHARE` of the highest, the shortest lag wins (so a multiple of the period does not).
Its strength is that acf value; with no local maximum above `MIN_STRENGTH`, the series has no
period: `DEFAULT_PERIOD` is returned with strength 0.

Shapes: (batch, n) → period (batch,) int32 and strength (batch,) float32.
"""

from __future__ import annotations

import tensorflow as tf

MIN_PERIOD = 8
MAX_PERIOD = 512
DEFAULT_PERIOD = 32
MIN_STRENGTH = 0.1
SHORTEST_SHARE = 0.9


def _lagged_products(values: tf.Tensor, size: int) -> tf.Tensor:
    """Σ_t v_t v_{t+k} for k = 0 .. n−1 of each row of `values` (batch, n), by FFT."""
    spectrum = tf.signal.rfft(values, fft_length=[size])
    power = tf.cast(tf.math.real(spectrum * tf.math.conj(spectrum)), tf.complex64)
    return tf.signal.irfft(power, fft_length=[size])[:, : tf.shape(values)[1]]


def autocorrelation(x: tf.Tensor) -> tf.Tensor:
    """(batch, n) raw values (NaN = missing) → (batch, n) acf_k, k = 0 .. n−1 (see module)."""
    x = tf.cast(x, "float32")
    observed = tf.math.is_finite(x)
    weight = tf.cast(observed, x.dtype)
    count = tf.maximum(tf.reduce_sum(weight, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(tf.where(observed, x, 0.0), axis=1, keepdims=True) / count
    y = tf.where(observed, x - mean, 0.0)
    n = tf.shape(x)[1]
    doubled = tf.cast(2 * n, "float32")
    size = 2 ** tf.cast(tf.math.ceil(tf.math.log(doubled) / tf.math.log(2.0)), "int32")
    products = _lagged_products(y, size)
    pairs = tf.round(_lagged_products(weight, size))
    covariance = products / tf.maximum(pairs, 1.0)
    variance = tf.maximum(covariance[:, :1], 1e-30)
    return tf.where(pairs > 0.5, covariance / variance, 0.0)


def estimate_period(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(batch, n) raw values → period (batch,) int32, strength (batch,) float32 (see module)."""
    acf = autocorrelation(x)
    n = tf.shape(acf)[1]
    observed = tf.reduce_sum(tf.cast(tf.math.is_finite(tf.cast(x, "float32")), "int32"), axis=1)
    lags = tf.range(n)
    previous = tf.pad(acf[:, :-1], [[0, 0], [1, 0]], constant_values=float("inf"))
    following = tf.pad(acf[:, 1:], [[0, 0], [0, 1]], constant_values=float("inf"))
    high = tf.minimum(MAX_PERIOD, observed // 3)[:, None]
    peak = (acf > previous) & (acf >= following) & (lags[None] >= MIN_PERIOD) & (lags[None] <= high)
    peak &= acf > MIN_STRENGTH
    peaks = tf.where(peak, acf, -1.0)
    best = tf.reduce_max(peaks, axis=1, keepdims=True)
    near = peak & (acf >= SHORTEST_SHARE * best)
    first = tf.argmax(tf.cast(near, "int32"), axis=1, output_type="int32")
    found = tf.reduce_any(peak, axis=1)
    period = tf.where(found, first, DEFAULT_PERIOD)
    strength = tf.where(found, best[:, 0], 0.0)
    return period, strength

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

A train of sharp pulses whose spacing varies (a heartbeat) has a weak, ragged autocorrelation:
its pulses overlap at a lag only when they happen to be equally spaced. `estimate_period`
therefore reads several views of the series: the raw values, the values smoothed by a Gaussian
of σ in `SMOOTHING` points, and the absolute first differences |x_t − x_{t−1}| (the series'
activity, whose peaks mark the pulses) smoothed the same way, the smoothing width covering the
jitter; each view gets its own period and strength as above, and the view with the highest
strength gives both. A smoothed view's autocorrelation is noisier (white noise smoothed by a
Gaussian of σ points has acf estimates of standard deviation about sqrt(σ·sqrt(2π) / n) instead
of 1 / sqrt(n)), so its peak counts only above MIN_STRENGTH + `SIGNIFICANCE` times that: noise
does not acquire a period by being smoothed. Smoothing is normalised over the observed points (a
missing point gets none of the weight), and a point stays missing in every view.

Shapes: (batch, n) → period (batch,) int32 and strength (batch,) float32.
"""

from __future__ import annotations

import math

import tensorflow as tf

MIN_PERIOD = 8
MAX_PERIOD = 512
DEFAULT_PERIOD = 32
MIN_STRENGTH = 0.1
SHORTEST_SHARE = 0.9
SMOOTHING = (1.0, 3.0, 9.0)  # σ of the smoothed views, in points
SIGNIFICANCE = 3.0  # a smoothed view's peak must pass its noise level this many times


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


def _smoothed(values: tf.Tensor, sigma: float) -> tf.Tensor:
    """(batch, n) values (NaN = missing) → the Gaussian-smoothed values over the observed points
    (Σ_j g_j w_{t-j} x_{t-j} / Σ_j g_j w_{t-j}), NaN where x_t is missing."""
    half = math.ceil(3 * sigma)
    offsets = tf.range(-half, half + 1, dtype="float32")
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))[:, None, None]
    observed = tf.math.is_finite(values)
    weight = tf.cast(observed, "float32")
    filled = tf.where(observed, values, 0.0)
    total = tf.nn.conv1d((filled * weight)[..., None], kernel, 1, "SAME")[..., 0]
    mass = tf.nn.conv1d(weight[..., None], kernel, 1, "SAME")[..., 0]
    return tf.where(observed, total / tf.maximum(mass, 1e-12), float("nan"))


def views(x: tf.Tensor) -> tf.Tensor:
    """(batch, n) raw values → (V, batch, n): the raw values, their smoothings and the smoothed
    absolute first differences (see module; V = 1 + 2·len(SMOOTHING))."""
    x = tf.cast(x, "float32")
    observed = tf.math.is_finite(x)
    centred = x - tf.reduce_sum(tf.where(observed, x, 0.0), axis=1, keepdims=True) / tf.maximum(
        tf.reduce_sum(tf.cast(observed, "float32"), axis=1, keepdims=True), 1.0
    )
    step = tf.abs(centred[:, 1:] - centred[:, :-1])  # NaN where either point is missing
    activity = tf.concat([tf.fill([tf.shape(x)[0], 1], float("nan")), step], axis=1)
    out = [centred]
    out += [_smoothed(centred, sigma) for sigma in SMOOTHING]
    out += [_smoothed(activity, sigma) for sigma in SMOOTHING]
    return tf.stack(out)


def estimate_period(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(batch, n) raw values → period (batch,) int32, strength (batch,) float32: the strongest of
    the views' periods (see module)."""
    stacked = views(x)
    count, batch, n = tf.unstack(tf.shape(stacked))
    period, strength = period_of_view(tf.reshape(stacked, [count * batch, n]))
    period, strength = tf.reshape(period, [count, batch]), tf.reshape(strength, [count, batch])
    observed = tf.reduce_sum(tf.cast(tf.math.is_finite(tf.cast(x, "float32")), "float32"), axis=1)
    sigma = tf.constant([0.0, *SMOOTHING, *SMOOTHING], "float32")[:, None]
    noise = tf.sqrt(sigma * math.sqrt(2 * math.pi) / tf.maximum(observed, 1.0)[None])
    strength = tf.where(strength > MIN_STRENGTH + SIGNIFICANCE * noise, strength, 0.0)
    best = tf.argmax(strength, axis=0, output_type="int32")
    pick = tf.stack([best, tf.range(batch)], axis=1)
    strength = tf.gather_nd(strength, pick)
    return tf.where(strength > 0, tf.gather_nd(period, pick), DEFAULT_PERIOD), strength


def period_of_view(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(batch, n) values of one view → period (batch,) int32, strength (batch,) float32 from
    its autocorrelation's peaks (see module)."""
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

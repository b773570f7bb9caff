"""Tensor-level quadrature for `IntegralLayer`: per-interval rules, kernels, masking by compaction.

Everything here works on `x` of shape (batch, time, channels) and step widths `h` that are either a
scalar tensor (uniform spacing) or of shape (1 or batch, time - 1, 1). A *rule* turns samples into
the integral over each interval [t_k, t_{k+1}]; a *kernel* turns those interval integrals into the
running output. Nothing here creates weights: the layer passes them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from zoo.layers.prefix_sum import prefix_sum


def _interval_index(x: tf.Tensor) -> tf.Tensor:
    """k = 0 .. time-2 shaped (1, time - 1, 1), for rules that depend on the interval's position."""
    return tf.range(tf.shape(x)[1] - 1)[tf.newaxis, :, tf.newaxis]


def _shift(v: tf.Tensor, offset: int, fill: float) -> tf.Tensor:
    """v[:, k + offset] for k in 0 .. n-1 (n = v's own length), `fill` where that falls outside."""
    n = tf.shape(v)[1]
    if offset > 0:
        shifted = tf.pad(v[:, offset:], [[0, 0], [0, offset], [0, 0]], constant_values=fill)
    else:
        shifted = tf.pad(v[:, :offset], [[0, 0], [-offset, 0], [0, 0]], constant_values=fill)
    return shifted[:, :n]


def trapezoid_increments(x, h, count=None):
    """∫ over [t_k, t_{k+1}] of the straight line through (t_k, x_k), (t_{k+1}, x_{k+1})."""
    del count
    return h * (x[:, :-1] + x[:, 1:]) * 0.5


def rectangle_increments(x, h, count=None):
    """Left Riemann sum: x held at its left value x_k over [t_k, t_{k+1}]."""
    del count
    return h * x[:, :-1]


def _quadratic_first_interval(ha, hb, fa, fb, fc):
    """∫ over the first interval (width ha) of the parabola through three points.

    The points are (0, fa), (ha, fb), (ha + hb, fc): formula (8) of Cartwright (2017),
    "Simpson's rule cumulative integration with MS Excel and irregularly-spaced data", the one that
    scipy.integrate.cumulative_simpson uses.
    """
    r = ha / (ha + hb)
    q = r * ha / hb
    return ha / 6.0 * ((3.0 - r) * fa + (3.0 + q + r) * fb - q * fc)


def simpson_increments(x, h, count=None):
    """Per-interval integrals of scipy's cumulative Simpson rule (quadratic fits on 3 samples).

    Interval k uses the parabola through samples (k, k+1, k+2) when k is even and k+2 exists,
    and the parabola through (k-1, k, k+1) otherwise (so the last interval of an even-length series
    is fitted backwards); with only two samples it is the trapezoid. `count` (batch, 1, 1) is the
    number of valid samples per row when rows are compacted from a mask; by default, all of them.
    """
    n_intervals = tf.shape(x)[1] - 1
    count = n_intervals + 1 if count is None else count
    x0, x1 = x[:, :-1], x[:, 1:]
    x_next, x_prev = _shift(x1, 1, 0.0), _shift(x0, -1, 0.0)
    if h.shape.rank == 0:
        h_next = h_prev = h
    else:
        # Padding with 1 (not 0) keeps the unused branches of tf.where finite, so their zero
        # gradients stay zero instead of 0 * inf = NaN.
        h_next, h_prev = _shift(h, 1, 1.0), _shift(h, -1, 1.0)
    forward = _quadratic_first_interval(h, h_next, x0, x1, x_next)
    backward = _quadratic_first_interval(h, h_prev, x1, x0, x_prev)
    trapezoid = h * (x0 + x1) * 0.5
    k = _interval_index(x)
    use_forward = tf.logical_and(tf.equal(k % 2, 0), k <= count - 3)
    return tf.where(use_forward, forward, tf.where(k >= 1, backward, trapezoid))


RULES = {
    "trapezoid": trapezoid_increments,
    "rectangle": rectangle_increments,
    "simpson": simpson_increments,
}


_BLOCK = 8


def running_sum(v: tf.Tensor) -> tf.Tensor:
    """Inclusive cumulative sum along axis 1 of (batch, n, channels), summed in blocks of 8.

    With a static n, the samples are grouped into blocks of 8: a cumsum inside each block, the same
    function (recursively) on the block totals, and the totals of all earlier blocks added to each
    block. Under XLA this is several times faster on CPU than one long cumsum (XLA lowers a cumsum
    to a reduce_window whose cost grows with its length), and its rounding error grows with the
    depth of the recursion (log₈ n) rather than with n. Without a static n: one tf.cumsum.
    """
    n = v.shape[1]
    if n is None or n <= _BLOCK:
        return tf.cumsum(v, axis=1)
    blocks = -(-n // _BLOCK)
    pad = blocks * _BLOCK - n
    channels = tf.shape(v)[2]
    w = tf.pad(v, [[0, 0], [0, pad], [0, 0]]) if pad else v
    inner = tf.cumsum(tf.reshape(w, [-1, blocks, _BLOCK, channels]), axis=2)
    totals = running_sum(inner[:, :, -1, :])
    before = tf.pad(totals[:, :-1], [[0, 0], [1, 0], [0, 0]])  # sum of all earlier blocks
    y = tf.reshape(inner + before[:, :, tf.newaxis, :], [-1, blocks * _BLOCK, channels])
    return y[:, :n] if pad else y


def _uniform_trapezoid(running):
    def rule(x: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
        # y_i = dx · (x_0 + ... + x_i − (x_0 + x_i) / 2)
        return dx * (running(x) - 0.5 * (x[:, :1] + x))

    return rule


def _uniform_rectangle(running):
    def rule(x: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
        # y_i = dx · (x_0 + ... + x_{i−1}), y_0 = 0
        return dx * tf.pad(running(x[:, :-1]), [[0, 0], [1, 0], [0, 0]])

    return rule


def _plain_trapezoid(x: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
    # y_i = dx · (x_0 + ... + x_{i−1} + x_i / 2) − dx · x_0 / 2
    return prefix_sum(x, 0.5, scale=dx, start=-0.5 * dx * x[:, :1])


def _plain_rectangle(x: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
    # y_i = dx · (x_0 + ... + x_{i−1}), y_0 = 0
    return prefix_sum(x, 0.0, scale=dx)


@dataclass(frozen=True)
class UniformRule:
    """A rule on a uniform grid in closed form: `plain` (blocked triangular products, portable)
    and `compiled` (one XLA computation over `running_sum`); both are `rule(x, dx) -> y`."""

    plain: Callable
    compiled: Callable


UNIFORM_RULES = {
    "trapezoid": UniformRule(
        _plain_trapezoid, tf.function(_uniform_trapezoid(running_sum), jit_compile=True)
    ),
    "rectangle": UniformRule(
        _plain_rectangle, tf.function(_uniform_rectangle(running_sum), jit_compile=True)
    ),
}


def cumulative(increments: tf.Tensor) -> tf.Tensor:
    """y_0 = 0, y_i = sum of the first i interval integrals; (b, time - 1, c) -> (b, time, c)."""
    return prefix_sum(tf.pad(increments, [[0, 0], [0, 1], [0, 0]]), 0.0)


def causal_kernel(increments: tf.Tensor, taps: tf.Tensor) -> tf.Tensor:
    """y_i = Σ_j taps[j] · increments[i - 1 - j]: each interval weighted by its lag in steps.

    `taps` is (kernel_size, channels), taps[0] weighting the newest interval. A depthwise causal
    convolution, one kernel per channel.
    """
    kernel_size = taps.shape[0]
    padded = tf.pad(increments, [[0, 0], [kernel_size, 0], [0, 0]])
    # Convolution correlates, so the filter runs oldest-first: reverse the lag order.
    filters = tf.reverse(taps, axis=[0])[tf.newaxis, :, :, tf.newaxis]
    out = tf.nn.depthwise_conv2d(
        padded[:, tf.newaxis], filters, strides=[1, 1, 1, 1], padding="VALID"
    )
    return out[:, 0]


_SERIES_TERMS = 12  # |z| < 1: the 12th term is below 2e-9, far under float32 resolution.


def _phi(z):
    """φ1(z) = (1 - e^{-z}) / z and φ2(z) = (1 - (1 + z) e^{-z}) / z², stable at z -> 0.

    For z < 1 both use their Taylor series (the closed forms cancel catastrophically there):
    φ1 = Σ (-z)^m / (m+1)!, φ2 = Σ (-z)^m (m+1) / (m+2)!. The closed form is evaluated on a safe
    z only, so the branch tf.where discards never produces inf/NaN gradients.
    """
    small = z < 1.0
    z_big = tf.where(small, tf.ones_like(z), z)
    e = tf.exp(-z_big)
    phi1_big = -tf.math.expm1(-z_big) / z_big
    phi2_big = (1.0 - (1.0 + z_big) * e) / (z_big * z_big)
    z_small = tf.where(small, z, tf.zeros_like(z))
    phi1_small = tf.zeros_like(z)
    phi2_small = tf.zeros_like(z)
    factorial = [1.0]
    for m in range(1, _SERIES_TERMS + 3):
        factorial.append(factorial[-1] * m)
    for m in reversed(range(_SERIES_TERMS)):  # Horner
        phi1_small = phi1_small * (-z_small) + 1.0 / factorial[m + 1]
        phi2_small = phi2_small * (-z_small) + (m + 1) / factorial[m + 2]
    return tf.where(small, phi1_small, phi1_big), tf.where(small, phi2_small, phi2_big)


def exponential_weights(rate, h, rule: str):
    """Exact one-step update of h(t) = ∫ e^{-λ(t-τ)} x(τ) dτ over an interval of width h.

    h_{k+1} = e^{-λh} h_k + a·x_k + b·x_{k+1}, exact when x is linear on the interval
    (rule "trapezoid": a = h φ2(λh), b = h (φ1 - φ2)) or held at x_k (rule "rectangle": a = h φ1,
    b = 0). Returns (decay, a, b), each broadcastable to (batch, time - 1, channels).
    """
    z = rate * h
    phi1, phi2 = _phi(z)
    decay = tf.exp(-z)
    if rule == "trapezoid":
        return decay, h * phi2, h * (phi1 - phi2)
    if rule == "rectangle":
        return decay, h * phi1, tf.zeros_like(phi1)
    raise ValueError(f"The exponential kernel has no exact update for method={rule!r}.")


def linear_recurrence(decay: tf.Tensor, drive: tf.Tensor) -> tf.Tensor:
    """s_{k+1} = decay_k · s_k + drive_k from s_0 = 0; returns (s_0, ..., s_n) along axis 1.

    A Hillis-Steele parallel scan: ⌈log2 n⌉ rounds of elementwise work on the whole sequence instead
    of n sequential steps. Every multiplier is a decay in [0, 1], so nothing can overflow. With a
    static length the rounds are unrolled with static shifts; otherwise a while loop shifts by
    gathering (XLA needs compile-time pad sizes, and a loop's stride is not one).
    """
    decay = tf.broadcast_to(decay, tf.shape(drive))
    n_static = drive.shape[1]
    if n_static is not None:
        stride = 1
        while stride < n_static:
            pad = [[0, 0], [stride, 0], [0, 0]]
            s_before = tf.pad(drive[:, : n_static - stride], pad)
            a_before = tf.pad(decay[:, : n_static - stride], pad, constant_values=1.0)
            drive, decay = drive + decay * s_before, decay * a_before
            stride *= 2
        return tf.pad(drive, [[0, 0], [1, 0], [0, 0]])

    n = tf.shape(drive)[1]
    steps = tf.range(n)

    def body(stride, a, s):
        source = steps - stride
        inside = (source >= 0)[tf.newaxis, :, tf.newaxis]
        source = tf.maximum(source, 0)
        s_before = tf.where(inside, tf.gather(s, source, axis=1), tf.zeros_like(s))
        a_before = tf.where(inside, tf.gather(a, source, axis=1), tf.ones_like(a))
        return stride * 2, a * a_before, s + a * s_before

    _, _, states = tf.while_loop(
        lambda stride, a, s: stride < n, body, (tf.constant(1), decay, drive)
    )
    return tf.pad(states, [[0, 0], [1, 0], [0, 0]])


def compaction(mask: tf.Tensor):
    """Index maps that move the unmasked samples of each row to its front, keeping their order.

    Returns (source, count, back): gathering `source` (batch, time) compacts a row; `count`
    (batch,) is its number of unmasked samples; gathering `back` from a compacted result gives each
    original step the value at its latest unmasked sample (held across masked steps; step 0 of the
    compacted row where no sample is unmasked yet).
    """
    seen = tf.cumsum(tf.cast(mask, tf.int32), axis=1)
    length = tf.shape(seen)[1]
    rank_wanted = tf.broadcast_to(tf.range(1, length + 1), tf.shape(seen))
    source = tf.minimum(tf.searchsorted(seen, rank_wanted, side="left"), length - 1)
    back = tf.maximum(seen - 1, 0)
    return source, seen[:, -1], back

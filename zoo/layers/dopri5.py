"""Adaptive Dormand-Prince 5(4) in one `tf.while_loop`: the forward pass of the "dopri5" solver.

One step of size dt from (t, y) with k1 = f(t, y) (first-same-as-last: k1 is the previous step's
k7, so an accepted step costs 6 evaluations):

    k_i  = f(t + c_i dt, y + dt Σ_{j<i} a_ij k_j),            i = 2 .. 7
    y5   = y + dt Σ b_i k_i                                    (5th order, the new state)
    err  = dt Σ (b_i − b*_i) k_i                               (y5 minus the embedded 4th order)
    r    = RMS(err / (atol + rtol · max(|y|, |y5|)))           (over every element of the state)

The step is accepted when r ≤ 1. The next trial step is dt · min(10, max(0.9 · r^(−1/5), 0.2)), the
lower bound raised to 1 after an accepted step (the controller of Hairer, Nørsett & Wanner and of
torchdiffeq). Steps are shortened to land exactly on each requested output time (no
interpolation).

The first trial step follows Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I",
2nd ed., Sec. II.4 (their routine HINIT), with sc = atol + rtol·|y0|:

    d0 = RMS(y0 / sc),  d1 = RMS(f0 / sc)
    h0 = 0.01 · d0 / d1            (1e-6 when d0 < 1e-5 or d1 < 1e-5)
    d2 = RMS((f(t0 + h0, y0 + h0 f0) − f0) / sc) / h0
    h1 = (0.01 / max(d1, d2))^(1/5)  (max(1e-6, 1e-3·h0) when d1, d2 ≤ 1e-15)
    dt = min(100 · h0, h1)

That costs one evaluation besides f0, and puts the first step near the scale the field allows
instead of a fixed fraction of the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import tensorflow as tf

C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
# 5th-order weights (= the last row of A, so k7 is evaluated at the new state) and the error
# weights b − b*, b* the embedded 4th-order solution.
B = A[6]
E = (
    71 / 57600,
    0.0,
    -71 / 16695,
    71 / 1920,
    -17253 / 339200,
    22 / 525,
    -1 / 40,
)
ORDER = 5
SAFETY, GROW, SHRINK = 0.9, 10.0, 0.2
# Evaluations: f(t0, y0) and one more for the first step, then 6 per step tried (FSAL).
EVALS_PER_STEP = 6

Field = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def rms(x: tf.Tensor) -> tf.Tensor:
    """Root mean square over every element of `x` (a scalar)."""
    return tf.sqrt(tf.reduce_mean(tf.square(x)))


def initial_step_size(f: Field, t0, y0, f0, rtol: float, atol: float) -> tf.Tensor:
    """Hairer's first trial step (see the module docstring); evaluates f once, at t0 + h0."""
    dtype = y0.dtype
    scale = atol + rtol * tf.abs(y0)
    d0 = rms(y0 / scale)
    d1 = rms(f0 / scale)
    one = tf.constant(1.0, dtype)
    small = tf.logical_or(d0 < 1e-5, d1 < 1e-5)
    h0 = tf.where(small, tf.constant(1e-6, dtype), 0.01 * d0 / tf.where(small, one, d1))
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = rms((f1 - f0) / scale) / h0
    d12 = tf.maximum(d1, d2)
    flat = d12 <= 1e-15
    h1 = tf.where(
        flat,
        tf.maximum(tf.constant(1e-6, dtype), 1e-3 * h0),
        tf.pow(0.01 / tf.where(flat, one, d12), 1.0 / ORDER),
    )
    return tf.minimum(100.0 * h0, h1)


def _combine(y, dt, weights, ks):
    """y + dt · Σ w_j k_j over the non-zero weights."""
    total = None
    for w, k in zip(weights, ks, strict=False):
        if w == 0.0:
            continue
        term = w * k
        total = term if total is None else total + term
    return y + dt * total


def _error(dt, ks):
    total = None
    for w, k in zip(E, ks, strict=True):
        if w == 0.0:
            continue
        term = w * k
        total = term if total is None else total + term
    return dt * total


def solve(
    f: Field,
    y0: tf.Tensor,
    t0: float,
    times: Sequence[float],
    *,
    rtol: float,
    atol: float,
    first_step: float | None,
    max_num_steps: int,
):
    """States at each of `times` (increasing, all > t0) from y(t0) = y0.

    Returns (states, evaluations, ok): states stacked on a new axis 0; the number of evaluations of
    f (an int32 scalar); ok, False when `max_num_steps` steps (rejected ones included) did not reach
    the last time or the state stopped being finite, and the states are then NaN.
    """
    dtype = y0.dtype
    targets = tf.constant(list(times), dtype)
    n_out = len(times)
    t_start = tf.constant(t0, dtype)
    f0 = f(t_start, y0)
    if first_step is None:
        dt0 = initial_step_size(f, t_start, y0, f0, rtol, atol)
        evaluations = tf.constant(2)
    else:
        dt0 = tf.constant(first_step, dtype)
        evaluations = tf.constant(1)
    outputs = tf.zeros([n_out, *y0.shape], dtype) if y0.shape.is_fully_defined() else None
    if outputs is None:
        outputs = tf.zeros(tf.concat([[n_out], tf.shape(y0)], 0), dtype)

    def cond(t, y, k1, dt, index, steps, evaluations, outputs):
        return tf.logical_and(index < n_out, steps < max_num_steps)

    def body(t, y, k1, dt, index, steps, evaluations, outputs):
        target = targets[tf.minimum(index, n_out - 1)]
        remaining = target - t
        lands = dt >= remaining
        step = tf.minimum(dt, remaining)
        ks = [k1]
        for i in range(1, 7):
            y_i = _combine(y, step, A[i], ks)
            if i == 6:
                y5 = y_i
            ks.append(f(t + C[i] * step, y_i))
        err = _error(step, ks)
        ratio = rms(err / (atol + rtol * tf.maximum(tf.abs(y), tf.abs(y5))))
        # NaN ratio (a state that blew up) is a rejection, and shrinks dt until the step limit.
        accept = ratio <= 1.0
        t_new = tf.where(accept, tf.where(lands, target, t + step), t)
        y_new = tf.where(accept, y5, y)
        k_new = tf.where(accept, ks[6], k1)
        hit = tf.logical_and(accept, lands)
        outputs = tf.cond(
            hit,
            lambda: tf.tensor_scatter_nd_update(outputs, [[index]], y_new[tf.newaxis]),
            lambda: outputs,
        )
        safe_ratio = tf.where(ratio > 0.0, ratio, tf.ones_like(ratio))
        factor = tf.clip_by_value(
            SAFETY * tf.pow(safe_ratio, -1.0 / ORDER),
            tf.where(accept, tf.constant(1.0, dtype), tf.constant(SHRINK, dtype)),
            tf.constant(GROW, dtype),
        )
        factor = tf.where(ratio > 0.0, factor, tf.constant(GROW, dtype))
        factor = tf.where(tf.math.is_finite(ratio), factor, tf.constant(SHRINK, dtype))
        dt_new = step * factor
        return (
            t_new,
            y_new,
            k_new,
            dt_new,
            index + tf.cast(hit, tf.int32),
            steps + 1,
            evaluations + EVALS_PER_STEP,
            outputs,
        )

    state = (t_start, y0, f0, dt0, tf.constant(0), tf.constant(0), evaluations, outputs)
    _, _, _, _, index, _, evaluations, outputs = tf.while_loop(cond, body, state)
    ok = tf.logical_and(tf.equal(index, n_out), tf.reduce_all(tf.math.is_finite(outputs)))
    outputs = tf.where(ok, outputs, tf.constant(math.nan, dtype))
    return outputs, evaluations, ok

"""Adaptive Dormand-Prince 5(4) in one `tf.while_loop`: the forward pass of the "dopri5" solver.

One step of size dt from (t, y) with k1 = f(t, y) (first-same-as-last: k1 is the previous step's
k7, so an accepted step costs 6 evaluations):

    k_i  = f(t + c_i dt, y + dt Σ_{j<i} a_ij k_j),            i = 2 .. 7
    y5   = y + dt Σ b_i k_i                                    (5th order, the new state)
    err  = dt Σ (b_i − b̂_i) k_i                               (y5 minus the embedded 4th order)
    r    = RMS(err / (atol + rtol · max(|y|, |y5|)))           (over every element of the state)

The step is accepted when r ≤ 1. The next trial step is dt · min(10, max(0.9 · r^(−1/5), 0.2)), the
lower bound raised to 1 after an accepted step (the controller of Hairer, Nørsett & Wanner and of
torchdiffeq). Steps are not shortened for the requested output times: the state at a time that a
step passes is read off the step's 4th-order dense output (`interpolate`), as in torchdiffeq, so
output times cost no extra evaluations.

The first trial step follows Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I",
2nd ed., Sec. II.4 (their routine HINIT), with sc = atol + rtol·|y0|:

    d0 = RMS(y0 / sc),  d1 = RMS(f0 / sc)
    h0 = 0.01 · d0 / d1            (1e-6 when d0 < 1e-5 or d1 < 1e-5)
    d2 = RMS((f(t0 + h0, y0 + h0 f0) − f0) / sc) / h0
    h1 = (0.01 / max(d1, d2))^(1/5)  (max(1e-6, 1e-3·h0) when d1, d2 ≤ 1e-15)
    dt = min(100 · h0, h1)

That costs one evaluation besides f0, and puts the first step near the scale the field allows
instead of a fixed fraction of the interval.

The step sizes and the accept decisions carry no gradient (`tf.stop_gradient` on the first step
and on the error ratio): a tape that differentiates through the loop (`odeint(...,
gradient="backprop")`) gets the exact derivative of the Runge-Kutta map on the mesh the solve
chose, as discretise-then-optimise defines it, with no terms from the step-size controller.
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
# weights b − b̂, b̂ the embedded 4th-order solution of Shampine, "Some practical Runge-Kutta
# formulas", Math. Comp. 46 (1986): (1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300,
# 1/60) (torchdiffeq's too; Dormand & Prince's own b̂ gives a ~1.5x larger estimate, so shorter
# steps for the same tolerance).
B = A[6]
E = (
    35 / 384 - 1951 / 21600,
    0.0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 + 12231 / 42400,
    11 / 84 - 649 / 6300,
    -1 / 60,
)
ORDER = 5
SAFETY, GROW, SHRINK = 0.9, 10.0, 0.2
# Evaluations: f(t0, y0) and one more for the first step, then 6 per step tried (FSAL).
EVALS_PER_STEP = 6

Field = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


# y(t + dt/2) of the 4th-order dense output, as weights of k1 .. k7 (Shampine 1986; the values
# torchdiffeq uses).
C_MID = (
    6025192743 / 30085553152 / 2,
    0.0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
)


def interpolate(y0, y1, y_mid, f0, f1, dt, x):
    """The quartic through y0, y_mid, y1 with slopes f0, f1 at the ends, at x ∈ [0, 1] of the step.

    p(x) = e + d x + c x² + b x³ + a x⁴ with e = y0, d = dt f0,
    c = dt (f1 − 4 f0) − 11 y0 − 5 y1 + 16 y_mid, b = dt (5 f0 − 3 f1) + 18 y0 + 14 y1 − 32 y_mid,
    a = 2 dt (f1 − f0) − 8 (y0 + y1) + 16 y_mid; p(0) = y0 and p(1) = y1 exactly.
    """
    a = 2.0 * dt * (f1 - f0) - 8.0 * (y1 + y0) + 16.0 * y_mid
    b = dt * (5.0 * f0 - 3.0 * f1) + 18.0 * y0 + 14.0 * y1 - 32.0 * y_mid
    c = dt * (f1 - 4.0 * f0) - 11.0 * y0 - 5.0 * y1 + 16.0 * y_mid
    d = dt * f0
    return y0 + x * (d + x * (c + x * (b + x * a)))


def rms(x: tf.Tensor) -> tf.Tensor:
    """Root mean square over every element of `x` (a scalar)."""
    return tf.sqrt(tf.reduce_mean(tf.square(x)))


def _head(x, controlled):
    return x if controlled is None else x[:controlled]


def initial_step_size(
    f: Field, t0, y0, f0, rtol: float, atol: float, controlled: int | None = None
) -> tf.Tensor:
    """Hairer's first trial step (see the module docstring); evaluates f once, at t0 + h0.

    With `controlled`, the norms look at the leading `controlled` elements of the 1-D state only.
    """
    dtype = y0.dtype
    y0_c, f0_c = _head(y0, controlled), _head(f0, controlled)
    scale = atol + rtol * tf.abs(y0_c)
    d0 = rms(y0_c / scale)
    d1 = rms(f0_c / scale)
    one = tf.constant(1.0, dtype)
    small = tf.logical_or(d0 < 1e-5, d1 < 1e-5)
    h0 = tf.where(small, tf.constant(1e-6, dtype), 0.01 * d0 / tf.where(small, one, d1))
    f1 = _head(f(t0 + h0, y0 + h0 * f0), controlled)
    d2 = rms((f1 - f0_c) / scale) / h0
    d12 = tf.maximum(d1, d2)
    flat = d12 <= 1e-15
    h1 = tf.where(
        flat,
        tf.maximum(tf.constant(1e-6, dtype), 1e-3 * h0),
        tf.pow(0.01 / tf.where(flat, one, d12), 1.0 / ORDER),
    )
    return tf.minimum(100.0 * h0, h1)


def _weighted_sum(weights, ks):
    """Σ w_j k_j over the non-zero weights."""
    total = None
    for w, k in zip(weights, ks, strict=False):
        if w == 0.0:
            continue
        term = w * k
        total = term if total is None else total + term
    return total


def _combine(y, dt, weights, ks):
    """y + dt · Σ w_j k_j."""
    return y + dt * _weighted_sum(weights, ks)


def _error(dt, ks):
    """dt · Σ (b_j − b̂_j) k_j: the 5th-order state minus the embedded 4th-order one."""
    return dt * _weighted_sum(E, ks)


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
    controlled: int | None = None,
):
    """States at each of `times` (increasing, all > t0) from y(t0) = y0.

    `controlled`: for a 1-D state, the number of leading elements the error control looks at (all
    when None); the rest is integrated along without steering the step size.

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
        dt0 = tf.stop_gradient(initial_step_size(f, t_start, y0, f0, rtol, atol, controlled))
        evaluations = tf.constant(2)
    else:
        dt0 = tf.constant(first_step, dtype)
        evaluations = tf.constant(1)
    outputs = tf.zeros([n_out, *y0.shape], dtype) if y0.shape.is_fully_defined() else None
    if outputs is None:
        outputs = tf.zeros(tf.concat([[n_out], tf.shape(y0)], 0), dtype)

    t_last = targets[-1]
    # (n_out, 1, ..., 1): broadcasts against the state.
    target_column = tf.reshape(targets, [n_out] + [1] * len(y0.shape))

    def cond(t, y, k1, dt, steps, evaluations, outputs):
        return tf.logical_and(t < t_last, steps < max_num_steps)

    def body(t, y, k1, dt, steps, evaluations, outputs):
        ks = [k1]
        for i in range(1, 7):
            y_i = _combine(y, dt, A[i], ks)
            if i == 6:
                y5 = y_i
            ks.append(f(t + C[i] * dt, y_i))
        err = _error(dt, ks)
        ratio = tf.stop_gradient(
            rms(
                _head(err, controlled)
                / (
                    atol
                    + rtol * tf.maximum(tf.abs(_head(y, controlled)), tf.abs(_head(y5, controlled)))
                )
            )
        )
        # NaN ratio (a state that blew up) is a rejection, and shrinks dt until the step limit.
        accept = ratio <= 1.0
        t_new = tf.where(accept, t + dt, t)
        # Every requested time passed by this step is read off the interpolant of the step.
        passed = tf.logical_and(accept, tf.logical_and(target_column > t, target_column <= t + dt))
        outputs = tf.cond(
            tf.reduce_any(passed),
            lambda: tf.where(
                passed,
                interpolate(
                    y, y5, _combine(y, dt, C_MID, ks), k1, ks[6], dt, (target_column - t) / dt
                ),
                outputs,
            ),
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
        return (
            t_new,
            tf.where(accept, y5, y),
            tf.where(accept, ks[6], k1),
            dt * factor,
            steps + 1,
            evaluations + EVALS_PER_STEP,
            outputs,
        )

    state = (t_start, y0, f0, dt0, tf.constant(0), evaluations, outputs)
    t, _, _, _, _, evaluations, outputs = tf.while_loop(cond, body, state)
    ok = tf.logical_and(t >= t_last, tf.reduce_all(tf.math.is_finite(outputs)))
    outputs = tf.where(ok, outputs, tf.constant(math.nan, dtype))
    return outputs, evaluations, ok

"""Fixed-step explicit Runge-Kutta solvers (euler, midpoint, rk4) for `odeint` and `ODEBlock`.

One step of size dt from (t, h) of dh/dt = f(t, h):

* euler:    h + dt·f(t, h)                                        (order 1, 1 evaluation)
* midpoint: h + dt·f(t + dt/2, h + dt/2·f(t, h))                   (order 2, 2 evaluations)
* rk4:      h + dt/6·(k1 + 2k2 + 2k3 + k4), the classical scheme    (order 4, 4 evaluations)

`integrate` strings steps together with `tf.while_loop` (static trip counts, so it compiles under
XLA and backpropagates through the steps: memory grows with the number of steps, unlike the
adjoint used for the adaptive TFP solvers).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import tensorflow as tf

VectorField = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def euler_step(f: VectorField, t: tf.Tensor, h: tf.Tensor, dt: tf.Tensor) -> tf.Tensor:
    """One forward-Euler step."""
    return h + dt * f(t, h)


def midpoint_step(f: VectorField, t: tf.Tensor, h: tf.Tensor, dt: tf.Tensor) -> tf.Tensor:
    """One explicit midpoint step."""
    half = 0.5 * dt
    return h + dt * f(t + half, h + half * f(t, h))


def rk4_step(f: VectorField, t: tf.Tensor, h: tf.Tensor, dt: tf.Tensor) -> tf.Tensor:
    """One step of the classical fourth-order Runge-Kutta scheme."""
    half = 0.5 * dt
    k1 = f(t, h)
    k2 = f(t + half, h + half * k1)
    k3 = f(t + half, h + half * k2)
    k4 = f(t + dt, h + dt * k3)
    return h + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


EVALUATIONS_PER_STEP = {euler_step: 1, midpoint_step: 2, rk4_step: 4}


def evaluations(step: Callable[..., tf.Tensor], times: Sequence[float], num_steps: int) -> int:
    """Evaluations of f by `integrate(step, f, h0, times, num_steps)`: steps × stages."""
    return EVALUATIONS_PER_STEP[step] * sum(steps_per_segment(times, num_steps))


def steps_per_segment(times: Sequence[float], num_steps: int) -> list[int]:
    """Split `num_steps` over the segments between consecutive `times`, in proportion to length.

    Every segment gets at least one step, so no step is longer than (t_last - t_first) / num_steps.
    """
    total = times[-1] - times[0]
    return [
        max(1, math.ceil(num_steps * (b - a) / total - 1e-9)) for a, b in itertools.pairwise(times)
    ]


def integrate(
    step: Callable[..., tf.Tensor],
    f: VectorField,
    h0: tf.Tensor,
    times: Sequence[float],
    num_steps: int,
) -> list[tf.Tensor]:
    """States at `times[1:]`, starting from h0 at `times[0]`, with about `num_steps` steps in all.

    `times` are Python floats, strictly increasing. Each segment [times[i], times[i+1]] is covered
    by equal steps, so the outputs land exactly on the requested times (no interpolation).
    """
    dtype = h0.dtype
    outputs = []
    h = h0
    for (a, b), n in zip(
        itertools.pairwise(times), steps_per_segment(times, num_steps), strict=True
    ):
        dt = tf.constant((b - a) / n, dtype=dtype)
        start = tf.constant(a, dtype=dtype)

        def body(i, state, dt=dt, start=start):
            t = start + tf.cast(i, dtype) * dt
            return i + 1, step(f, t, state, dt)

        # maximum_iterations makes the loop differentiable under XLA (fixed-size stacks).
        _, h = tf.while_loop(
            lambda i, _state, n=n: i < n,
            body,
            (tf.constant(0), h),
            maximum_iterations=n,
        )
        outputs.append(h)
    return outputs

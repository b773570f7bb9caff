"""Gradients of an adaptive dopri5 solve by the adjoint method (Chen et al. 2018, Sec. 2).

For h' = f(t, h, θ) solved from h(t0) to the outputs h(T_1), …, h(T_m) and a loss with upstream
gradients g_j = ∂L/∂h(T_j), the adjoint a(t) = ∂L/∂h(t) and the parameter gradient g_θ(t) solve,
backwards in time from T_m,

    a' = −aᵀ ∂f/∂h,        g_θ' = −aᵀ ∂f/∂θ,        h' = f(t, h, θ)

with a(T_m) = g_m, g_θ(T_m) = 0, a jumping by g_j at each T_j and h restarted at the stored forward
state there; then ∂L/∂h0 = a(t0) and ∂L/∂θ = g_θ(t0). The three parts travel as one flat vector
through the same dopri5 loop (in reversed time s = −t); its step control looks at h and a (a
seminorm: g_θ feeds nothing back). Memory
does not grow with the number of steps. Each backward evaluation is one f and one vector-Jacobian
product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from zoo.layers import dopri5


def _flat(tensors):
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


def _unflat(flat, like):
    sizes = tf.stack([tf.size(t) for t in like])
    parts = tf.split(flat, sizes, num=len(like))
    return [tf.reshape(p, tf.shape(t)) for p, t in zip(parts, like, strict=True)]


def backward(
    f: Callable,
    params: Sequence[tf.Tensor],
    t0: float,
    times: Sequence[float],
    states: tf.Tensor,
    upstream: tf.Tensor,
    options: dict,
):
    """(∂L/∂h0, [∂L/∂θ_i], evaluations) from the forward `states` at `times` and their `upstream`.

    `f(t, h, params)`; `options` are dopri5.solve's keywords (rtol, atol, first_step, …).
    """
    params = list(params)
    h_like = states[0]

    def augmented(s, z):
        h, a, *_ = _unflat(z, [h_like, h_like, *params])
        with tf.GradientTape() as tape:
            tape.watch(h)
            tape.watch(params)
            dh = f(-s, h, params)
        vjps = tape.gradient(dh, [h, *params], output_gradients=a)
        vjps = [
            tf.zeros_like(v) if g is None else g for g, v in zip(vjps, [h, *params], strict=True)
        ]
        # Reversed time: d/ds = −d/dt, so h moves by −f and the adjoints by +aᵀ∂f.
        return _flat([-dh, *vjps])

    a = tf.zeros_like(h_like)
    grads = [tf.zeros_like(p) for p in params]
    # The error control sees h and a only: g_θ is a plain integral that feeds nothing back, so its
    # error follows theirs (the "seminorm" of Kidger, Chen & Lyons, "'Hey, that's not an ODE':
    # faster ODE adjoints via seminorms", ICML 2021): fewer backward steps, same gradients to
    # within the tolerance.
    controlled = 2 * tf.size(h_like)
    evaluations = tf.constant(0)
    ends = [t0, *times]
    for j in range(len(times), 0, -1):
        a = a + upstream[j - 1]
        z = _flat([states[j - 1], a, *grads])
        z_end, count, _ = dopri5.solve(
            augmented, z, -ends[j], [-ends[j - 1]], controlled=controlled, **options
        )
        _, a, *grads = _unflat(z_end[0], [h_like, h_like, *params])
        evaluations += count
    return a, grads, evaluations

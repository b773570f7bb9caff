"""`odeint`: solve h' = f(t, h, params) with a solver chosen by name; the one solver registry.

    states = odeint(f, h0, [t0, t1, ...], method="dopri5", rtol=1e-6, atol=1e-6, params=weights)

returns h at every requested time, stacked on a new axis 0 (states[0] is h0), as
torchdiffeq's `odeint` does. `ODEBlock` is this function wrapped as a Keras layer.

Solvers (`SOLVERS`, name -> implementation):

* "dopri5": adaptive Dormand-Prince 5(4) (`zoo.layers.dopri5`), Hairer's first step, gradients by
  the adjoint method (`zoo.layers.adjoint`); both loops compiled with XLA when
  `jit_compile=True` (fast, but not servable by the stock TensorFlow Serving binary). With
  `gradient="backprop"` the gradient is instead TensorFlow's own through the solver's loop (as
  torchdiffeq's `odeint` does by default): the exact derivative of the steps taken, on their
  mesh, with one vector-Jacobian product per evaluation and no backward solve, so a faster
  backward (fwd+bwd 0.77x the adjoint's in `bench/ode.py`'s case), but memory that grows with the
  number of steps, and not under XLA (whose loops need a fixed length to keep what the gradient
  reads).
* "bdf": TensorFlow Probability's implicit BDF (for stiff fields), TFP's own adjoint.
* "euler", "midpoint", "rk4": fixed steps (`zoo.layers.fixed_step`), `num_steps` over [t0, t_last],
  gradients by backpropagation through the steps.

Evaluation counts: pass an `EvaluationCounter`; each solve stores the number of evaluations of f in
its `forward` variable and, when gradients are taken, the number of backward evaluations in
`backward` (for an adjoint, one f and one vector-Jacobian product each; when backpropagating
through the steps, one vector-Jacobian product each).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from zoo.layers import adjoint, dopri5, fixed_step
from zoo.layers.xla_context import in_xla_context


class EvaluationCounter(tf.Module):
    """Evaluations of the vector field in the latest solve: `forward` and `backward` (int64 vars).

    A value of -1 means "not counted": `backward` until the gradient of the latest solve is taken
    (each solve resets it), and for "bdf" (TFP's adjoint does not report its evaluations). A
    `tf.Module`; the variables are no Keras weights (saved files do not change).
    """

    def __init__(self, name: str = "evaluation_counter"):
        super().__init__(name=name)
        with tf.init_scope():
            self.forward = self._variable("forward")
            self.backward = self._variable("backward")

    @staticmethod
    def _variable(name):
        # ONLY_FIRST_REPLICA: under a distribution strategy every replica solves its own batch and
        # the first one's count is kept (a replica-context assign needs an aggregation).
        return tf.Variable(
            -1,
            dtype=tf.int64,
            trainable=False,
            name=name,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )


def _record(variable, count):
    """Assign `count` to `variable` and return an op to depend on (None when not counting)."""
    if variable is None:
        return None
    return variable.assign(tf.cast(count, tf.int64))


def _record_forward(counter, count):
    """Ops that store a solve's forward count and reset its backward count (none without counter).

    The reset also makes every function that solves read both variables, so an exporter that
    tracks the variables a function captures keeps the one the gradient writes to.
    """
    if counter is None:
        return []
    return [_record(counter.forward, count), _record(counter.backward, -1)]


def _solve_dopri5(f, h0, params, t0, times, options, jit_compile, counter, failure):
    fw_options = dict(
        rtol=options["rtol"],
        atol=options["atol"],
        first_step=options["first_step_size"],
        max_num_steps=options["max_num_steps"],
    )
    if options["gradient"] == "backprop":
        return _backprop_dopri5(f, h0, params, t0, times, fw_options, counter, failure)
    bw_options = dict(fw_options, first_step=None)

    def forward(h0, *params):
        return dopri5.solve(lambda t, h: f(t, h, list(params)), h0, t0, times, **fw_options)

    def backward(states, upstream, *params):
        return adjoint.backward(f, params, t0, times, states, upstream, bw_options)

    if jit_compile:
        forward = tf.function(forward, jit_compile=True)
        backward = tf.function(backward, jit_compile=True)

    @tf.custom_gradient
    def run(h0, *params):
        # stop_gradient: a recording tape must not try to differentiate the loops themselves (its
        # gradient is `grad` below); XLA could not compile the accumulators that would need.
        cut = [tf.stop_gradient(p) for p in params]
        states, evaluations, ok = forward(tf.stop_gradient(h0), *cut)
        with tf.control_dependencies([*_record_forward(counter, evaluations), failure(ok)]):
            states = tf.identity(states)

        def grad(upstream):
            d_h0, d_params, evaluations = backward(states, tf.stop_gradient(upstream), *cut)
            recorded = _record(counter and counter.backward, evaluations)
            if recorded is None:
                return [d_h0, *d_params]
            with tf.control_dependencies([recorded]):
                return [tf.identity(d_h0), *[tf.identity(g) for g in d_params]]

        return states, grad

    return run(h0, *params)


def _backprop_dopri5(f, h0, params, t0, times, fw_options, counter, failure):
    """The dopri5 solve with TensorFlow's own gradient through its loop (`gradient="backprop"`).

    Backward evaluations: one vector-Jacobian product per forward evaluation but Hairer's probe
    (its result sets only the first step, which carries no gradient)."""
    if in_xla_context():
        raise ValueError(
            "gradient='backprop' cannot run under XLA: its loop has no fixed length, so XLA "
            "cannot keep the intermediate values its gradient reads. Use gradient='adjoint' "
            "(the default) under `jit_compile=True`, or call the model without XLA."
        )
    states, evaluations, ok = dopri5.solve(
        lambda t, h: f(t, h, params), h0, t0, times, **fw_options
    )
    with tf.control_dependencies([*_record_forward(counter, evaluations), failure(ok)]):
        states = tf.identity(states)
    if counter is None:
        return states
    probe = 1 if fw_options["first_step"] is None else 0
    return _count_backward(states, counter.backward, evaluations - probe)


def _solve_fixed(step):
    def solve(f, h0, params, t0, times, options, jit_compile, counter, failure):
        del jit_compile, failure
        states = fixed_step.integrate(
            step, lambda t, h: f(t, h, params), h0, [t0, *times], options["num_steps"]
        )
        states = tf.stack(states, axis=0)
        if counter is None:
            return states
        evaluations = fixed_step.evaluations(step, [t0, *times], options["num_steps"])
        with tf.control_dependencies(_record_forward(counter, evaluations)):
            states = tf.identity(states)
        return _count_backward(states, counter.backward, evaluations)

    return solve


def _count_backward(states, variable, evaluations):
    """Identity on `states` whose gradient records `evaluations` backward evaluations."""

    @tf.custom_gradient
    def identity(x):
        def grad(upstream):
            with tf.control_dependencies([_record(variable, evaluations)]):
                return tf.identity(upstream)

        return tf.identity(x), grad

    return identity(states)


def _solve_bdf(f, h0, params, t0, times, options, jit_compile, counter, failure):
    del jit_compile
    kwargs = dict(rtol=options["rtol"], atol=options["atol"])
    kwargs["max_num_steps"] = options["max_num_steps"]
    if options["first_step_size"] is not None:
        kwargs["first_step_size"] = options["first_step_size"]
    dtype = h0.dtype
    results = tfp.math.ode.BDF(**kwargs).solve(
        lambda t, h, params: f(t, h, list(params)),
        initial_time=tf.constant(t0, dtype),
        initial_state=h0,
        solution_times=tf.constant(list(times), dtype),
        constants={"params": tuple(params)},
    )
    ok = tf.equal(results.diagnostics.status, 0)
    counts = _record_forward(counter, results.diagnostics.num_ode_fn_evaluations)
    with tf.control_dependencies([failure(ok), *counts]):
        # Under XLA the assertion is dropped: a failed solve then gives NaN, never a number.
        return tf.where(ok, results.states, tf.constant(math.nan, dtype))


SOLVERS: dict[str, Callable] = {
    "bdf": _solve_bdf,
    "dopri5": _solve_dopri5,
    "euler": _solve_fixed(fixed_step.euler_step),
    "midpoint": _solve_fixed(fixed_step.midpoint_step),
    "rk4": _solve_fixed(fixed_step.rk4_step),
}
ADAPTIVE = ("bdf", "dopri5")
# The gradients each solver offers; the first is its default.
GRADIENTS = {
    "bdf": ("adjoint",),
    "dopri5": ("adjoint", "backprop"),
    "euler": ("backprop",),
    "midpoint": ("backprop",),
    "rk4": ("backprop",),
}


def check_method(method) -> str:
    """The one validation gate for solver names."""
    if method not in SOLVERS:
        raise ValueError(f"Unknown solver {method!r}. Choose one of: {', '.join(sorted(SOLVERS))}")
    return method


def check_gradient(method: str, gradient, jit_compile: bool = False) -> str:
    """`gradient` for solver `method`: its own default when None, else one it offers."""
    offered = GRADIENTS[method]
    if gradient is None:
        return offered[0]
    if gradient not in offered:
        raise ValueError(
            f"`gradient` must be one of {', '.join(map(repr, offered))} for solver {method!r} "
            f"(or None for its default, {offered[0]!r}). Received: gradient={gradient!r}"
        )
    if gradient == "backprop" and method in ADAPTIVE and jit_compile:
        raise ValueError(
            "gradient='backprop' cannot be combined with jit_compile=True: XLA needs loops of a "
            "fixed length to keep what the gradient reads. Use gradient='adjoint' with XLA."
        )
    return gradient


def check_times(t) -> list[float]:
    """`t` as Python floats: at least two, finite, strictly increasing."""
    try:
        times = [float(v) for v in t]
    except (TypeError, ValueError):
        raise ValueError(f"`t` must be a 1-D sequence of numbers. Received: t={t!r}") from None
    if len(times) < 2 or not all(map(math.isfinite, times)):
        raise ValueError(f"`t` must hold at least two finite times. Received: t={times}")
    if any(not b > a for a, b in itertools.pairwise(times)):
        raise ValueError(f"`t` must be strictly increasing. Received: t={times}")
    return times


def odeint(
    f: Callable,
    h0,
    t: Sequence[float],
    *,
    method: str = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-6,
    params: Sequence = (),
    num_steps: int = 10,
    first_step_size: float | None = None,
    max_num_steps: int = 1000,
    jit_compile: bool = False,
    gradient: str | None = None,
    counter: EvaluationCounter | None = None,
    name: str = "odeint",
) -> tf.Tensor:
    """Solve dh/dt = f(t, h, params) from h(t[0]) = h0; return h at every t, stacked on axis 0.

    Args:
        f: `f(t, h, params)` -> dh/dt with h's shape; `t` a scalar tensor, `params` the list given.
        h0: initial state, any float tensor shape.
        t: increasing Python numbers, t[0] the start.
        method: a name in `SOLVERS`.
        rtol, atol: tolerances of the adaptive solvers.
        params: tensors f depends on; gradients flow to them and to h0 (pass trainable weights
            here: the adjoint of "dopri5" differentiates f with respect to `params` only).
        num_steps: steps of a fixed-step solver over [t[0], t[-1]].
        first_step_size: first trial step of an adaptive solver (default: Hairer's rule for
            "dopri5", TFP's estimate for "bdf").
        max_num_steps: most steps an adaptive solve may take; past it the solve fails (an
            InvalidArgumentError naming `max_num_steps`; NaN under XLA).
        jit_compile: compile the dopri5 loops with XLA (nested `tf.function(jit_compile=True)`).
        gradient: how gradients are taken (`GRADIENTS`): None for the solver's own ("adjoint"
            for the adaptive ones, "backprop" for the fixed-step ones); "backprop" for "dopri5"
            differentiates through its steps (module docstring; not under XLA).
        counter: an `EvaluationCounter` to store the evaluation counts in.
        name: used in error messages.

    Returns:
        Tensor (len(t), *h0.shape).
    """
    method = check_method(method)
    gradient = check_gradient(method, gradient, jit_compile)
    times = check_times(t)
    h0 = tf.convert_to_tensor(h0)
    params = [tf.convert_to_tensor(p) for p in params]
    options = dict(
        rtol=rtol,
        atol=atol,
        num_steps=num_steps,
        first_step_size=first_step_size,
        max_num_steps=max_num_steps,
        gradient=gradient,
    )

    def failure(ok):
        return tf.debugging.Assert(
            ok,
            [
                f"{name}: the {method!r} solver used up `max_num_steps`={max_num_steps} steps "
                f"before reaching t={times[-1]}. Raise `max_num_steps`, loosen `rtol`/`atol`, "
                "shorten [t0, t1], or use solver='bdf' if the vector field is stiff. (A solution "
                "that blows up to Inf/NaN also ends this way.)"
            ],
        )

    if method in ADAPTIVE:
        # A NaN/Inf start makes every step fail its error test: say so, rather than let it run
        # into the step limit and blame `max_num_steps`.
        h0 = tf.debugging.assert_all_finite(
            h0, f"`inputs` of {name} must be finite: the initial state has NaN or Inf"
        )
    states = SOLVERS[method](
        f, h0, params, times[0], times[1:], options, jit_compile, counter, failure
    )
    return tf.concat([h0[tf.newaxis], states], axis=0)

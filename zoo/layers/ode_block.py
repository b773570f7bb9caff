"""ODEBlock: a layer whose output is the solution of an ODE driven by a Keras vector field."""

from __future__ import annotations

import inspect
import itertools
import math
import weakref
from collections.abc import Sequence

import keras
import tensorflow as tf

from zoo.layers.ode_solvers import ADAPTIVE, EvaluationCounter, check_gradient, check_method, odeint

# Per-layer compiled solve for eager calls (kept out of the layer's attributes so that Keras and
# SavedModel tracking never see it). TFP's solvers are ~40x slower op by op than as one graph.
_EAGER_SOLVES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _positive_number(name: str, value, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")
    return float(value)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="zoo")
class ODEBlock(keras.layers.Layer):
    """Solve dh/dt = f(t, h) from the input h(t0) and return h(t1) (or the trajectory).

    h(t₁) = h(t₀) + ∫_{t₀}^{t₁} f_θ(t, h(t)) dt, where f_θ is `vector_field`, any Keras layer or
    model whose weights θ train with the rest of the network (a neural ODE). The layer is
    `zoo.layers.odeint` with the field's weights as its `params`.

    Solvers, by name (`zoo.layers.SOLVERS`):

    * ``"dopri5"`` — adaptive Dormand-Prince 5(4) (`zoo.layers.dopri5`), first step by Hairer's
      rule; for smooth, non-stiff fields.
    * ``"bdf"`` — adaptive implicit BDF (`tfp.math.ode.BDF`); for stiff fields.
    * ``"euler"``, ``"midpoint"``, ``"rk4"`` — fixed-step, `num_steps` steps over [t0, t1].

    Gradients: the adaptive solvers use the adjoint method by default (memory independent of the
    number of steps; the field's trainable weights are handed to the solver explicitly, so fields
    with non-float state such as Dropout's seed keep working); the fixed-step solvers
    backpropagate through their steps. ``gradient="backprop"`` makes dopri5 backpropagate through
    its steps too, as torchdiffeq's `odeint` does by default: the exact gradient of the steps
    taken, with no backward solve (a faster training step, see the README's benchmarks), memory
    that grows with the number of steps, and no XLA (Keras then trains the model without it).
    All solvers run inside `tf.function`, and with `jit_compile=True` (but dopri5 with
    ``gradient="backprop"``). Eager calls run the solve as one `tf.function` graph.

    Cost of a solve: `nfe_forward` and `nfe_backward` give the number of evaluations of the field
    by the latest call and by the latest gradient.

    Calling convention of the field: with ``time_dependent=False`` (default) the field is called as
    ``vector_field(h)``; with ``time_dependent=True`` as ``vector_field([t, h])`` where ``t`` has
    shape (batch, 1) and h's dtype. Either way it must return a tensor of h's shape. The field is
    evaluated as a pure function of its weights: state updates made inside it (BatchNorm moving
    statistics, a Dropout seed) are applied once per call of the block, from h(t0), not per step.

    Args:
        vector_field: a `keras.layers.Layer` (or model) computing f.
        t0: start time (float).
        t1: end time (float), > t0.
        solver: one of "bdf", "dopri5", "euler", "midpoint", "rk4".
        rtol: relative tolerance of the adaptive solvers, > 0.
        atol: absolute tolerance of the adaptive solvers, > 0.
        solution_times: optional increasing times in [t0, t1]; the layer then returns the states at
            these times, stacked on axis 1.
        num_steps: number of steps of a fixed-step solver over [t0, t1] (with `solution_times`, the
            steps are shared out over the segments between them, each landing on its time).
        first_step_size: first trial step of an adaptive solver. Default: Hairer's rule from the
            field's size at t0 for dopri5 (see `zoo.layers.dopri5`), TFP's own estimate for bdf.
        max_num_steps: most steps an adaptive solver may take (rejected ones count); beyond it the
            call fails with an error naming `max_num_steps` (NaN output under XLA, which drops
            assertions). The adjoint's backward solve has the same limit and gives NaN gradients
            when it runs out.
        time_dependent: call the field with ``[t, h]`` instead of ``h``.
        jit_compile: compile the dopri5 solver's forward and adjoint loops with XLA, also inside
            a `tf.function` without XLA (the fast choice for training: see the README's
            benchmarks). Off by default because a SavedModel then holds XLA-compiled functions,
            which the stock TensorFlow Serving binary cannot run (`zoo export` refuses them); a
            model under an outer `jit_compile=True` is compiled whole either way. Dropout masks
            inside the field then come from XLA's random generator.
        gradient: None (the solver's own: "adjoint" for dopri5 and bdf, "backprop" for the
            fixed-step solvers), or "backprop" for dopri5 (see Gradients above; not with
            `jit_compile=True`, and the layer tells Keras it does not support XLA).

    Input shape:
        (batch, *state_shape), float; most often (batch, dim).

    Output shape:
        (batch, *state_shape), or (batch, len(solution_times), *state_shape) with `solution_times`.

    Example:
        >>> field = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="tanh")])
        >>> block = ODEBlock(field, solver="dopri5", rtol=1e-5, atol=1e-5)
        >>> block(np.zeros((4, 8), "float32")).shape
        TensorShape([4, 8])

    Reference:
        Chen, Rubanova, Bettencourt, Duvenaud, "Neural Ordinary Differential Equations",
        NeurIPS 2018.
    """

    def __init__(
        self,
        vector_field,
        t0: float = 0.0,
        t1: float = 1.0,
        solver: str = "dopri5",
        rtol: float = 1e-6,
        atol: float = 1e-6,
        solution_times: Sequence[float] | None = None,
        num_steps: int = 10,
        first_step_size: float | None = None,
        max_num_steps: int = 1000,
        time_dependent: bool = False,
        jit_compile: bool = False,
        gradient: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(vector_field, keras.layers.Layer):
            raise TypeError(
                "`vector_field` must be a Keras layer or model (an instance of keras.layers.Layer) "
                f"computing dh/dt. Received: vector_field={vector_field!r} "
                f"of type {type(vector_field).__name__}"
            )
        check_method(solver)
        for name, value in (("t0", t0), ("t1", t1)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
            if not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
        if not t1 > t0:
            raise ValueError(
                f"`t1` must be greater than `t0` (integration runs forward in time). "
                f"Received: t0={t0!r}, t1={t1!r}"
            )
        self.vector_field = vector_field
        self.t0 = float(t0)
        self.t1 = float(t1)
        self.solver = solver
        self.rtol = _positive_number("rtol", rtol)
        self.atol = _positive_number("atol", atol)
        self.solution_times = self._check_solution_times(solution_times)
        self.num_steps = _positive_int("num_steps", num_steps)
        self.first_step_size = _positive_number("first_step_size", first_step_size, allow_none=True)
        self.max_num_steps = _positive_int("max_num_steps", max_num_steps)
        self.time_dependent = bool(time_dependent)
        if not isinstance(jit_compile, bool):
            raise ValueError(
                f"`jit_compile` must be True or False. Received: jit_compile={jit_compile!r}"
            )
        self.jit_compile = jit_compile
        self.gradient = gradient
        if check_gradient(solver, gradient, jit_compile) == "backprop" and solver in ADAPTIVE:
            # Keras' jit_compile="auto" (and an explicit True in compile) then trains without XLA.
            self.supports_jit = False
        self._counter = EvaluationCounter(name="nfe")

    def _check_solution_times(self, solution_times):
        if solution_times is None:
            return None
        try:
            times = [float(t) for t in solution_times]
        except (TypeError, ValueError):
            raise ValueError(
                "`solution_times` must be a 1-D sequence of numbers. "
                f"Received: solution_times={solution_times!r}"
            ) from None
        if not times:
            raise ValueError("`solution_times` must not be empty. Received: solution_times=[]")
        if any(not b > a for a, b in itertools.pairwise(times)):
            raise ValueError(
                f"`solution_times` must be strictly increasing. Received: solution_times={times}"
            )
        if times[0] < self.t0 or times[-1] > self.t1 or not all(map(math.isfinite, times)):
            raise ValueError(
                f"`solution_times` must lie in [t0, t1] = [{self.t0}, {self.t1}]. "
                f"Received: solution_times={times}"
            )
        return times

    # -- shapes --------------------------------------------------------------------------------

    def _field_inputs(self, state):
        if not self.time_dependent:
            return state
        return [keras.KerasTensor((state.shape[0], 1), dtype=state.dtype), state]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(
                "`inputs` of ODEBlock must have shape (batch, *state_shape), rank >= 2. "
                f"Received: input_shape={input_shape}"
            )
        state = keras.KerasTensor(input_shape, dtype=self.compute_dtype)
        # A symbolic call builds the field and tells us the shape it returns.
        out = self.vector_field(self._field_inputs(state))
        self._check_field_output(out.shape, input_shape)

    def _check_field_output(self, out_shape, state_shape):
        out_shape, state_shape = tuple(out_shape), tuple(state_shape)
        same = len(out_shape) == len(state_shape) and all(
            a is None or b is None or a == b
            for a, b in zip(out_shape[1:], state_shape[1:], strict=True)
        )
        if not same:
            raise ValueError(
                "`vector_field` must return dh/dt with the same shape as the state h. "
                f"Expected: {state_shape}. Received: {out_shape} from "
                f"{self.vector_field.__class__.__name__} {self.vector_field.name!r}"
            )

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.solution_times is None:
            return input_shape
        return (input_shape[0], len(self.solution_times), *input_shape[1:])

    # -- the solve -----------------------------------------------------------------------------

    def call(self, inputs, training=None):
        field = self.vector_field
        h0 = tf.cast(inputs, self.compute_dtype)
        trainable = [tf.cast(v.value, h0.dtype) for v in field.trainable_variables]
        non_trainable = [tf.convert_to_tensor(v.value) for v in field.non_trainable_variables]
        if training and field.non_trainable_variables:
            # Advance the field's own state (Dropout seed, BatchNorm statistics) once per call;
            # inside the solve it is held fixed so that f is one smooth function of (t, h).
            _, updated = field.stateless_call(
                [tf.convert_to_tensor(v.value) for v in field.trainable_variables],
                non_trainable,
                self._field_args(self.t0, h0),
                **self._training_kw(True),
            )
            for variable, value in zip(field.non_trainable_variables, updated, strict=True):
                variable.assign(value)
        if tf.executing_eagerly():
            solve = _EAGER_SOLVES.get(self)
            if solve is None:
                # Through a weak reference: the cache must not keep the layer alive.
                ref = weakref.ref(self)
                solve = tf.function(
                    lambda *args, **kwargs: ref()._solve(*args, **kwargs), reduce_retracing=True
                )
                _EAGER_SOLVES[self] = solve
        else:
            solve = self._solve
        return solve(h0, trainable, non_trainable, training=bool(training))

    def _field_args(self, t, h):
        if not self.time_dependent:
            return h
        t = tf.cast(t, h.dtype)
        return [tf.broadcast_to(tf.reshape(t, (1, 1)), tf.stack([tf.shape(h)[0], 1])), h]

    def _training_kw(self, training):
        # stateless_call forwards keywords to call() as they are (Layer.__call__ would drop
        # `training` for a call() that does not take it).
        parameters = inspect.signature(self.vector_field.call).parameters
        accepts = "training" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )
        return {"training": training} if accepts else {}

    def _make_f(self, non_trainable, training):
        field = self.vector_field

        dtypes = [v.dtype for v in field.trainable_variables]

        def f(t, h, weights):
            # TFP wants one float dtype across state and constants: weights travel in h's dtype.
            weights = [tf.cast(w, dtype) for w, dtype in zip(weights, dtypes, strict=True)]
            dh, _ = field.stateless_call(
                weights, non_trainable, self._field_args(t, h), **self._training_kw(training)
            )
            self._check_field_output(dh.shape, h.shape)
            return tf.cast(dh, h.dtype)

        return f

    def _solve(self, h0, trainable, non_trainable, training=False):
        f = self._make_f(non_trainable, training)
        times = self.solution_times if self.solution_times is not None else [self.t1]
        # odeint wants strictly increasing times from t0; a solution time at t0 is h0 itself.
        starts_at_t0 = times[0] == self.t0
        later = times[1:] if starts_at_t0 else times
        if later:
            states = odeint(
                f,
                h0,
                [self.t0, *later],
                method=self.solver,
                rtol=self.rtol,
                atol=self.atol,
                params=trainable,
                num_steps=self.num_steps,
                first_step_size=self.first_step_size,
                max_num_steps=self.max_num_steps,
                jit_compile=self.jit_compile,
                gradient=self.gradient,
                counter=self._counter,
                name=f"ODEBlock {self.name!r}",
            )
            if not starts_at_t0:
                states = states[1:]
        else:
            states = h0[tf.newaxis]
        if self.solution_times is None:
            return states[0]
        perm = [1, 0, *range(2, len(states.shape))]
        return tf.transpose(states, perm)

    @property
    def nfe_forward(self) -> int:
        """Evaluations of the vector field by the latest forward solve (-1: none yet)."""
        return int(self._counter.forward.numpy())

    @property
    def nfe_backward(self) -> int:
        """Evaluations (each one f and one vector-Jacobian product) by the latest gradient (-1: none
        yet, or "bdf", whose TFP adjoint does not report them). Fixed-step solvers, and dopri5
        with ``gradient="backprop"``, backpropagate through their steps: one vector-Jacobian
        product per forward evaluation (for dopri5, but the one that only sets its first step)."""
        return int(self._counter.backward.numpy())

    # -- config --------------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vector_field": keras.saving.serialize_keras_object(self.vector_field),
                "t0": self.t0,
                "t1": self.t1,
                "solver": self.solver,
                "rtol": self.rtol,
                "atol": self.atol,
                "solution_times": self.solution_times,
                "num_steps": self.num_steps,
                "first_step_size": self.first_step_size,
                "max_num_steps": self.max_num_steps,
                "time_dependent": self.time_dependent,
                "jit_compile": self.jit_compile,
                "gradient": self.gradient,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["vector_field"] = keras.saving.deserialize_keras_object(config["vector_field"])
        return cls(**config)

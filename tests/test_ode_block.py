"""ODEBlock against independent references: scipy's expm / expm_frechet, solve_ivp, Radau, closed
forms and central finite differences; plus the layer contract and every bad-argument error."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.integrate import solve_ivp
from scipy.linalg import expm, expm_frechet
from zoo_layer_contract import check_layer_contract

from zoo.layers import ODEBlock, dopri5, fixed_step, odeint

SEED = 20261122


def _fixed_problem():
    """The field matrix W and start states H0 shared by the linear tests (drawn once, seeded)."""
    draw = np.random.default_rng(SEED)
    return draw.normal(scale=0.6, size=(3, 3)), draw.normal(size=(4, 3))


W, H0 = _fixed_problem()


@pytest.fixture
def rng():
    """A generator seeded per test: inputs never depend on which tests ran before."""
    return np.random.default_rng(SEED + 1)


T0, T1 = 0.25, 1.25


@keras.saving.register_keras_serializable(package="zoo_tests")
class VanDerPol(keras.layers.Layer):
    """x' = y, y' = mu (1 - x²) y - x on states (batch, 2)."""

    def __init__(self, mu=1.0, **kwargs):
        super().__init__(**kwargs)
        self.mu = mu

    def call(self, h):
        x, y = h[:, :1], h[:, 1:]
        return keras.ops.concatenate([y, self.mu * (1.0 - x * x) * y - x], axis=1)

    def get_config(self):
        return {**super().get_config(), "mu": self.mu}


@keras.saving.register_keras_serializable(package="zoo_tests")
class TimeScaled(keras.layers.Layer):
    """dh/dt = a · t · h with a trainable scalar a; called with [t, h]."""

    def build(self, input_shape):
        self.a = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.7), name="a")

    def call(self, inputs):
        t, h = inputs
        return self.a * t * h


def _vdp_rhs(mu):
    return lambda t, z: [z[1], mu * (1 - z[0] ** 2) * z[1] - z[0]]


def _linear_block(dtype="float64", **kwargs):
    field = keras.layers.Dense(3, use_bias=False, dtype=dtype)
    block = ODEBlock(field, t0=T0, t1=T1, dtype=dtype, **kwargs)
    block.build((None, 3))
    field.kernel.assign(W)
    return block


def _expm_reference(upstream):
    """h(t1) = h0·expm(W T) and the gradients of sum(upstream ⊙ h(t1)) w.r.t. W and h0."""
    span = T1 - T0
    out = H0 @ expm(W * span)
    grad_h0 = upstream @ expm(W * span).T
    grad_w = np.zeros_like(W)
    for i in range(3):
        for j in range(3):
            direction = np.zeros_like(W)
            direction[i, j] = span
            grad_w[i, j] = np.sum(upstream * (H0 @ expm_frechet(W * span, direction)[1]))
    return out, grad_w, grad_h0


def _run(block, mode, rng):
    """Output and gradients of sum(upstream ⊙ output) w.r.t. (kernel, h0), in the given mode."""
    upstream = tf.constant(rng.normal(size=(4, 3)))
    h0 = tf.constant(H0)

    def step(h0):
        with tf.GradientTape() as tape:
            tape.watch(h0)
            out = block(h0)
            loss = tf.reduce_sum(upstream * out)
        grad_w, grad_h0 = tape.gradient(loss, [block.vector_field.kernel, h0])
        return out, grad_w, grad_h0

    if mode != "eager":
        step = tf.function(step, jit_compile=(mode == "xla"))
    out, grad_w, grad_h0 = step(h0)
    return upstream.numpy(), out.numpy(), grad_w.numpy(), grad_h0.numpy()


@pytest.mark.parametrize(
    ("solver", "mode"),
    [
        ("dopri5", "eager"),
        ("dopri5", "function"),
        ("dopri5", "xla"),
        ("dopri5", "eager-inner-xla"),
        ("dopri5", "function-inner-xla"),
        ("rk4", "eager"),
        ("rk4", "xla"),
        ("bdf", "function"),
    ],
)
def test_linear_field_and_gradients_match_expm(solver, mode, rng):
    # "-inner-xla": the layer's own jit_compile=True (XLA-compiled solver loops).
    jit = mode.endswith("-inner-xla")
    block = _linear_block(solver=solver, rtol=1e-9, atol=1e-9, num_steps=200, jit_compile=jit)
    upstream, out, grad_w, grad_h0 = _run(block, mode.removesuffix("-inner-xla"), rng)
    ref_out, ref_w, ref_h0 = _expm_reference(upstream)
    np.testing.assert_allclose(out, ref_out, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(grad_w, ref_w, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(grad_h0, ref_h0, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("first_step_size", [None, 0.01])
def test_backprop_through_dopri5_steps_matches_expm(mode, first_step_size, rng):
    # gradient="backprop": TensorFlow's own gradient through the solver's loop, the exact
    # derivative of the Runge-Kutta map on the mesh taken; at rtol 1e-9 it must match the closed
    # form (expm and its Fréchet derivative) as closely as the adjoint does.
    block = _linear_block(
        solver="dopri5",
        rtol=1e-9,
        atol=1e-9,
        gradient="backprop",
        first_step_size=first_step_size,
    )
    upstream, out, grad_w, grad_h0 = _run(block, mode, rng)
    ref_out, ref_w, ref_h0 = _expm_reference(upstream)
    np.testing.assert_allclose(out, ref_out, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(grad_w, ref_w, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(grad_h0, ref_h0, atol=1e-5, rtol=1e-5)
    # One vector-Jacobian product per evaluation but Hairer's probe, which sets only the first
    # step (no gradient flows through the step sizes).
    probe = 1 if first_step_size is None else 0
    assert block.nfe_backward == block.nfe_forward - probe


@pytest.mark.parametrize("gradient", [None, "backprop"])
def test_trajectory_gradients_match_expm_at_every_solution_time(gradient, rng):
    # Outputs read off the steps' dense output at solution times inside steps: the gradient of
    # sum_k upstream_k ⊙ h(t_k), h(t_k) = h0·expm(W (t_k - t0)), term by term with expm_frechet.
    times = [0.5, 0.9, T1]
    block = _linear_block(
        solver="dopri5", rtol=1e-9, atol=1e-9, solution_times=times, gradient=gradient
    )
    upstream = rng.normal(size=(4, len(times), 3))
    h0 = tf.constant(H0)
    with tf.GradientTape() as tape:
        tape.watch(h0)
        out = block(h0)
        loss = tf.reduce_sum(upstream * out)
    grad_w, grad_h0 = tape.gradient(loss, [block.vector_field.kernel, h0])
    ref_w, ref_h0 = np.zeros_like(W), np.zeros_like(H0)
    for k, t in enumerate(times):
        span = t - T0
        np.testing.assert_allclose(out[:, k].numpy(), H0 @ expm(W * span), atol=1e-6)
        ref_h0 += upstream[:, k] @ expm(W * span).T
        for i in range(3):
            for j in range(3):
                direction = np.zeros_like(W)
                direction[i, j] = span
                frechet = expm_frechet(W * span, direction)[1]
                ref_w[i, j] += np.sum(upstream[:, k] * (H0 @ frechet))
    np.testing.assert_allclose(grad_w.numpy(), ref_w, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(grad_h0.numpy(), ref_h0, atol=1e-5, rtol=1e-5)


def test_backprop_gradient_is_refused_where_it_cannot_run():
    dense = keras.layers.Dense(3)
    with pytest.raises(ValueError, match="gradient='backprop' cannot be combined with jit_compile"):
        ODEBlock(dense, gradient="backprop", jit_compile=True)
    with pytest.raises(ValueError, match="`gradient` must be one of 'adjoint' for solver 'bdf'"):
        ODEBlock(dense, solver="bdf", gradient="backprop")
    with pytest.raises(ValueError, match="`gradient` must be one of 'backprop' for solver 'rk4'"):
        ODEBlock(dense, solver="rk4", gradient="adjoint")
    with pytest.raises(ValueError, match="Received: gradient='exact'"):
        ODEBlock(dense, gradient="exact")
    with pytest.raises(ValueError, match="`gradient` must be one of 'adjoint', 'backprop'"):
        odeint(lambda t, h, p: -h, np.zeros((1, 2)), [0.0, 1.0], gradient="autodiff")
    # Under an outer XLA compile the trace stops with the same kind of message.
    block = _linear_block(solver="dopri5", gradient="backprop")
    with pytest.raises(ValueError, match="gradient='backprop' cannot run under XLA"):
        tf.function(block, jit_compile=True)(tf.constant(H0))


def test_backprop_gradient_trains_in_fit_without_xla(rng):
    # The layer tells Keras it does not support XLA: fit's jit_compile="auto" (and an explicit
    # True, with Keras' warning) trains without it, and the loss falls.
    keras.utils.set_random_seed(3)
    field = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    block = ODEBlock(field, rtol=1e-5, atol=1e-5, gradient="backprop")
    assert block.supports_jit is False
    assert ODEBlock(field).supports_jit is True
    model = keras.Sequential([keras.Input((3,)), block])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ expm(W).astype("float32")
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.jit_compile is False
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_linear_field_float32_default_tolerances():
    field = keras.layers.Dense(3, use_bias=False)
    block = ODEBlock(field, t0=T0, t1=T1)
    block.build((None, 3))
    field.kernel.assign(W.astype("float32"))
    out = keras.ops.convert_to_numpy(block(H0.astype("float32")))
    np.testing.assert_allclose(out, H0 @ expm(W * (T1 - T0)), atol=1e-5, rtol=1e-5)
    assert [v.name for v in block.trainable_weights] == ["kernel"]


def test_trailing_state_shape(rng):
    field = keras.layers.Dense(3, use_bias=False, dtype="float64")
    block = ODEBlock(field, t0=T0, t1=T1, rtol=1e-9, atol=1e-9, dtype="float64")
    x = rng.normal(size=(2, 5, 3))
    block.build(x.shape)
    field.kernel.assign(W)
    np.testing.assert_allclose(block(x).numpy(), x @ expm(W * (T1 - T0)), atol=1e-6)


def test_adjoint_gradients_match_finite_differences_on_mlp_field(rng):
    keras.utils.set_random_seed(3)
    field = keras.Sequential(
        [
            keras.Input((3,), dtype="float64"),
            keras.layers.Dense(8, activation="tanh", dtype="float64"),
            keras.layers.Dense(3, dtype="float64"),
        ]
    )
    h0 = tf.constant(H0)
    upstream = tf.constant(rng.normal(size=(4, 3)))
    adaptive = ODEBlock(field, rtol=1e-10, atol=1e-10, dtype="float64")
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(upstream * adaptive(h0))
    grads = tape.gradient(value, field.trainable_variables)
    # Differences of a fine fixed-step forward solve: a smooth function of the weights (an
    # adaptive forward re-chooses its steps as the weights move, which makes difference
    # quotients noisy at the 1e-5 level).
    fine = ODEBlock(field, solver="rk4", num_steps=400, dtype="float64")
    loss = tf.function(lambda: tf.reduce_sum(upstream * fine(h0)))
    # TFP's DormandPrince casts its Butcher coefficients through float32 (tf.cast of Python
    # floats), so even in float64 it is good to ~1e-7 relative, not to its tolerance.
    np.testing.assert_allclose(float(loss()), float(value), rtol=1e-7)
    eps = 1e-5
    for variable, grad in zip(field.trainable_variables, grads, strict=True):
        flat = variable.numpy().ravel()
        for k in rng.choice(flat.size, size=3, replace=False):
            plus, minus = flat.copy(), flat.copy()
            plus[k] += eps
            minus[k] -= eps
            variable.assign(plus.reshape(variable.shape))
            f_plus = float(loss())
            variable.assign(minus.reshape(variable.shape))
            f_minus = float(loss())
            variable.assign(flat.reshape(variable.shape))
            fd = (f_plus - f_minus) / (2 * eps)
            np.testing.assert_allclose(grad.numpy().ravel()[k], fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("solver", ["dopri5", "rk4"])
def test_van_der_pol_trajectory_matches_solve_ivp(solver):
    times = [0.5, 1.0, 2.0, 3.0]
    z0 = np.array([[2.0, 0.0], [0.5, -1.0]])
    block = ODEBlock(
        VanDerPol(1.0),
        t0=0.0,
        t1=3.0,
        solver=solver,
        rtol=1e-9,
        atol=1e-9,
        num_steps=600,
        solution_times=times,
        dtype="float64",
    )
    out = block(z0).numpy()
    assert out.shape == (2, len(times), 2)
    for b in range(2):
        ref = solve_ivp(_vdp_rhs(1.0), (0.0, 3.0), z0[b], t_eval=times, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out[b], ref.y.T, atol=1e-6)


def test_stiff_van_der_pol_bdf_matches_radau():
    mu, t1 = 1000.0, 0.5
    z0 = np.array([[2.0, 0.0]])
    block = ODEBlock(
        VanDerPol(mu), t0=0.0, t1=t1, solver="bdf", rtol=1e-7, atol=1e-9, dtype="float64"
    )
    out = tf.function(block)(z0).numpy()
    ref = solve_ivp(_vdp_rhs(mu), (0.0, t1), z0[0], method="Radau", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[0], ref.y[:, -1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("gradient", [None, "backprop"])
@pytest.mark.parametrize("mode", ["eager", "function"])
def test_step_limit_fails_with_clear_error(mode, gradient):
    block = ODEBlock(
        VanDerPol(1000.0), t0=0.0, t1=0.5, solver="dopri5", max_num_steps=20, gradient=gradient
    )
    call = block if mode == "eager" else tf.function(block)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_num_steps`=20"):
        call(np.array([[2.0, 0.0]], "float32"))


def test_step_limit_under_xla_gives_nan_not_a_hang():
    block = ODEBlock(VanDerPol(1000.0), t0=0.0, t1=0.5, solver="dopri5", max_num_steps=20)
    out = tf.function(block, jit_compile=True)(np.array([[2.0, 0.0]], "float32"))
    assert np.all(np.isnan(out.numpy()))


@pytest.mark.parametrize(
    ("solver", "gradient"), [("dopri5", None), ("dopri5", "backprop"), ("rk4", None)]
)
def test_time_dependent_field_and_its_gradient(solver, gradient):
    # dh/dt = a t h  =>  h(t1) = h0 exp(a (t1² - t0²) / 2), d/da = h(t1) (t1² - t0²) / 2.
    block = ODEBlock(
        TimeScaled(),
        t0=T0,
        t1=T1,
        solver=solver,
        rtol=1e-9,
        atol=1e-9,
        num_steps=100,
        time_dependent=True,
        gradient=gradient,
        dtype="float64",
    )
    with tf.GradientTape() as tape:
        out = block(H0)
        loss = tf.reduce_sum(out)
    (grad,) = tape.gradient(loss, block.trainable_variables)
    half = (T1**2 - T0**2) / 2
    expected = H0 * np.exp(0.7 * half)
    # A dopri5 solve at rtol = atol = 1e-9 ends a small multiple of its tolerance away (observed
    # 1.3e-8 relative on the state, 10x less on the adjoint's gradient): 2e-7 and 2e-6.
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-7)
    np.testing.assert_allclose(grad.numpy(), np.sum(expected) * half, rtol=2e-6)


@pytest.mark.parametrize(("solver", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_convergence_order(solver, order):
    errors = []
    for n in (8, 16):
        out = _linear_block(solver=solver, num_steps=n)(H0).numpy()
        errors.append(np.abs(out - H0 @ expm(W * (T1 - T0))).max())
    assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.2)


def test_fixed_step_segments_land_on_solution_times():
    assert fixed_step.steps_per_segment([0.0, 0.1, 1.0], 10) == [1, 9]
    assert fixed_step.steps_per_segment([0.0, 0.01, 1.0], 10) == [1, 10]
    block = _linear_block(solver="rk4", num_steps=100, solution_times=[T0, 0.3, T1])
    out = block(H0).numpy()
    for k, t in enumerate([T0, 0.3, T1]):
        np.testing.assert_allclose(out[:, k], H0 @ expm(W * (t - T0)), atol=1e-8)


def test_field_with_dropout_gradients_match_finite_differences():
    keras.utils.set_random_seed(0)
    field = keras.Sequential(
        [
            keras.Input((3,), dtype="float64"),
            keras.layers.Dense(8, activation="tanh", dtype="float64"),
            keras.layers.Dropout(0.5, dtype="float64"),
            keras.layers.Dense(3, dtype="float64"),
        ]
    )
    block = ODEBlock(field, rtol=1e-10, atol=1e-10, dtype="float64", jit_compile=True)
    x = tf.constant(H0)
    block.build(x.shape)
    # The solve uses the Dropout seed as it is when the block is called (then advances it once).
    seed_state = [v.numpy() for v in field.non_trainable_variables]

    @tf.function
    def grads(training):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(block(x, training=training) ** 2)
        return loss, tape.gradient(loss, block.trainable_variables)

    # Training mode is the risky one: Dropout then reads its int seed variable inside the solve.
    value, result = grads(True)
    assert len(result) == 4 and all(g is not None for g in result)

    # Central differences of a fine fixed-step forward solve with the same dropout mask (the seed
    # reset before each call): a smooth function of the weights, good to ~1e-11 (rk4, h = 1/400).
    # Compiled with XLA like the dopri5 loop, so the stateless RNG draws the same mask.
    fine = ODEBlock(field, solver="rk4", num_steps=400, dtype="float64")
    fine_loss = tf.function(lambda: tf.reduce_sum(fine(x, training=True) ** 2), jit_compile=True)

    def loss():
        for variable, state in zip(field.non_trainable_variables, seed_state, strict=True):
            variable.assign(state)
        return float(fine_loss())

    # dopri5 at 1e-10 against rk4 at h^4 ~ 4e-11: both far below the 1e-8 allowed here.
    np.testing.assert_allclose(loss(), float(value), rtol=1e-8)
    eps = 1e-5
    for variable, grad in zip(field.trainable_variables, result, strict=True):
        flat = variable.numpy().ravel()
        for k in range(min(3, flat.size)):
            plus, minus = flat.copy(), flat.copy()
            plus[k] += eps
            minus[k] -= eps
            variable.assign(plus.reshape(variable.shape))
            f_plus = loss()
            variable.assign(minus.reshape(variable.shape))
            f_minus = loss()
            variable.assign(flat.reshape(variable.shape))
            # Difference quotient: O(eps²) ~ 1e-10 truncation, 1e-16/eps ~ 1e-11 rounding; the
            # adjoint at 1e-10 tolerances: ~1e-9. 1e-6 relative, 1e-7 absolute leaves 10x or more.
            fd = (f_plus - f_minus) / (2 * eps)
            np.testing.assert_allclose(grad.numpy().ravel()[k], fd, rtol=1e-6, atol=1e-7)


def test_field_with_dropout_in_inference_and_training():
    keras.utils.set_random_seed(0)
    field = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3),
        ]
    )
    block = ODEBlock(field, rtol=1e-5, atol=1e-5)
    x = tf.constant(H0, tf.float32)
    # Inference ignores dropout: the same as the field without it (the same solve, so the same
    # steps: float32 rounding only).
    plain = keras.Sequential([field.layers[0], field.layers[2]])
    expected = ODEBlock(plain, rtol=1e-5, atol=1e-5)(x)
    np.testing.assert_allclose(block(x).numpy(), expected.numpy(), atol=1e-6)
    # Training: the seed advances between calls, so the masks differ.
    assert not np.allclose(block(x, training=True).numpy(), block(x, training=True).numpy())


def test_fit_trains_the_field(rng):
    keras.utils.set_random_seed(1)
    field = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, use_bias=False)])
    model = keras.Sequential([keras.Input((3,)), ODEBlock(field, rtol=1e-4, atol=1e-4)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ expm(W).astype("float32")
    history = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"solver": "dopri5"},
        {"solver": "rk4", "num_steps": 5},
        {"solver": "dopri5", "solution_times": [0.5, 1.0]},
        {"solver": "dopri5", "gradient": "backprop"},
    ],
)
def test_layer_contract(kwargs, tmp_path):
    def make():
        keras.utils.set_random_seed(7)
        field = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)]
        )
        return ODEBlock(field, rtol=1e-5, atol=1e-5, **kwargs)

    check_layer_contract(make, H0.astype("float32"), tmp_path, atol=1e-5, rtol=1e-5)


def test_layer_contract_time_dependent(tmp_path):
    check_layer_contract(
        lambda: ODEBlock(TimeScaled(), solver="rk4", time_dependent=True),
        H0.astype("float32"),
        tmp_path,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"solver": "rk5"}, ValueError, "Unknown solver 'rk5'. Choose one of: bdf, dopri5"),
        ({"t0": 1.0, "t1": 1.0}, ValueError, "`t1` must be greater than `t0`"),
        ({"t0": 2.0, "t1": 1.0}, ValueError, "`t1` must be greater than `t0`"),
        ({"t1": float("nan")}, ValueError, "`t1` must be a finite number"),
        (
            {"solution_times": [0.5, 0.5]},
            ValueError,
            "`solution_times` must be strictly increasing",
        ),
        (
            {"solution_times": [0.7, 0.2]},
            ValueError,
            "`solution_times` must be strictly increasing",
        ),
        ({"solution_times": [0.5, 1.5]}, ValueError, r"`solution_times` must lie in \[t0, t1\]"),
        ({"solution_times": [-0.1]}, ValueError, r"`solution_times` must lie in \[t0, t1\]"),
        ({"solution_times": []}, ValueError, "`solution_times` must not be empty"),
        ({"solution_times": "abc"}, ValueError, "`solution_times` must be a 1-D sequence"),
        (
            {"num_steps": 0},
            ValueError,
            "`num_steps` must be an integer >= 1. Received: num_steps=0",
        ),
        ({"num_steps": 2.5}, ValueError, "`num_steps` must be an integer >= 1"),
        ({"rtol": 0.0}, ValueError, "`rtol` must be a finite number > 0. Received: rtol=0.0"),
        ({"atol": -1e-6}, ValueError, "`atol` must be a finite number > 0"),
        ({"first_step_size": 0}, ValueError, "`first_step_size` must be a finite number > 0"),
        ({"max_num_steps": 0}, ValueError, "`max_num_steps` must be an integer >= 1"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ODEBlock(keras.layers.Dense(3), **kwargs)


@pytest.mark.parametrize("field", [lambda h: -h, "dense", None])
def test_vector_field_must_be_a_layer(field):
    with pytest.raises(TypeError, match="`vector_field` must be a Keras layer or model"):
        ODEBlock(field)


def test_field_output_shape_must_match_state():
    block = ODEBlock(keras.layers.Dense(4))
    with pytest.raises(ValueError, match=r"`vector_field` must return dh/dt with the same shape"):
        block(np.zeros((2, 3), "float32"))


@pytest.mark.parametrize("mode", ["eager", "function"])
def test_non_finite_initial_state_is_named(mode):
    block = ODEBlock(keras.layers.Dense(3))
    call = block if mode == "eager" else tf.function(block)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"`inputs` of ODEBlock .* must be finite"
    ):
        call(np.array([[0.0, np.nan, 1.0]], "float32"))


def test_functional_time_dependent_field():
    # dh/dt = t·h  =>  h(t1) = h0·exp((t1² − t0²)/2); the field is a two-input functional model.
    t_in = keras.Input((1,), dtype="float64")
    h_in = keras.Input((3,), dtype="float64")
    field = keras.Model([t_in, h_in], keras.layers.Multiply()([t_in, h_in]))
    block = ODEBlock(
        field, t0=T0, t1=T1, rtol=1e-9, atol=1e-9, time_dependent=True, dtype="float64"
    )
    expected = H0 * np.exp((T1**2 - T0**2) / 2)
    np.testing.assert_allclose(block(H0).numpy(), expected, rtol=1e-6)


def test_input_rank_must_be_at_least_two():
    block = ODEBlock(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="`inputs` of ODEBlock must have shape"):
        block.build((3,))


# -- odeint, the first step, evaluation counts -------------------------------------------------


def test_odeint_returns_every_time_and_differentiates_params():
    times = [T0, 0.75, T1]
    w = tf.constant(W)
    h0 = tf.constant(H0)
    with tf.GradientTape() as tape:
        tape.watch([w, h0])
        states = odeint(lambda t, h, p: h @ p[0], h0, times, rtol=1e-10, atol=1e-10, params=[w])
        loss = tf.reduce_sum(states[-1])
    grad_w, grad_h0 = tape.gradient(loss, [w, h0])
    assert states.shape == (3, 4, 3)
    for k, t in enumerate(times):
        np.testing.assert_allclose(states[k].numpy(), H0 @ expm(W * (t - T0)), atol=1e-8)
    _, ref_w, ref_h0 = _expm_reference(np.ones((4, 3)))
    np.testing.assert_allclose(grad_w.numpy(), ref_w, atol=1e-7, rtol=1e-7)
    np.testing.assert_allclose(grad_h0.numpy(), ref_h0, atol=1e-7, rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"method": "rk5"},
            "Unknown solver 'rk5'. Choose one of: bdf, dopri5, euler, midpoint, rk4",
        ),
        ({"t": [0.0]}, "`t` must hold at least two finite times"),
        ({"t": [0.0, 1.0, 1.0]}, "`t` must be strictly increasing"),
    ],
)
def test_odeint_bad_arguments(kwargs, match):
    args = {"t": [0.0, 1.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        odeint(lambda t, h, p: -h, np.zeros((1, 2)), args.pop("t"), **args)


def test_first_step_is_hairers_rule_by_hand():
    # f(h) = -2h, h0 = 1, rtol = atol = 1e-3, worked by hand:
    #   sc = 1e-3 + 1e-3·1 = 2e-3;  d0 = 1/2e-3 = 500;  d1 = 2/2e-3 = 1000
    #   h0 = 0.01 · 500/1000 = 0.005;  y1 = 1 - 0.005·2 = 0.99;  f1 = -1.98
    #   d2 = |-1.98 + 2| / 2e-3 / 0.005 = 2000
    #   h1 = (0.01 / max(1000, 2000))^(1/5) = (5e-6)^(1/5) = 0.087055...
    #   first step = min(100 · 0.005, h1) = h1
    y0 = tf.constant([[1.0]], tf.float64)
    step = dopri5.initial_step_size(
        lambda t, h: -2.0 * h, tf.constant(0.0, tf.float64), y0, -2.0 * y0, 1e-3, 1e-3
    )
    np.testing.assert_allclose(float(step), 5e-6**0.2, rtol=1e-12)
    assert abs(float(step) - 0.087055) < 1e-6
    # A field that is zero everywhere: d0, d1 < 1e-5 give h0 = 1e-6, d1 = d2 = 0 give
    # h1 = max(1e-6, 1e-3·h0) = 1e-6, so the first step is min(100·1e-6, 1e-6) = 1e-6.
    zero = dopri5.initial_step_size(
        lambda t, h: 0.0 * h, tf.constant(0.0, tf.float64), y0, 0.0 * y0, 1e-3, 1e-3
    )
    assert float(zero) == 1e-6


def _counting_block(solver, **kwargs):
    field = keras.layers.Dense(3, use_bias=False, dtype="float64")
    block = ODEBlock(field, t0=0.0, t1=1.0, solver=solver, dtype="float64", **kwargs)
    block.build((None, 3))
    return block, field


@pytest.mark.parametrize(
    ("solver", "per_step", "kwargs", "steps"),
    [
        ("rk4", 4, {"num_steps": 10}, 10),
        ("midpoint", 2, {"num_steps": 7}, 7),
        # solution_times split the 10 steps 5 + 5 (steps_per_segment)
        ("euler", 1, {"num_steps": 10, "solution_times": [0.5, 1.0]}, 10),
    ],
)
def test_fixed_step_evaluation_counts_are_steps_times_stages(solver, per_step, kwargs, steps):
    block, field = _counting_block(solver, **kwargs)
    assert (block.nfe_forward, block.nfe_backward) == (-1, -1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block(H0))
    assert (block.nfe_forward, block.nfe_backward) == (per_step * steps, -1)
    tape.gradient(loss, field.kernel)
    assert (block.nfe_forward, block.nfe_backward) == (per_step * steps, per_step * steps)


def test_dopri5_evaluation_count_on_a_zero_field():
    # f = 0: every error estimate is 0, so every step is accepted and the next one is 10x longer.
    # The first step is 1e-6 (Hairer's rule, see above); steps 1e-6 · 10^k cover [0, 1] after 7
    # (their sum 1.111111 > 1; the last is cut to land on t1). Evaluations: f0, one for the first
    # step, 6 per step: 2 + 6·7 = 44. (The adjoint's field is not zero: dg_W/ds = hᵀa.)
    block, field = _counting_block("dopri5", rtol=1e-3, atol=1e-3)
    field.kernel.assign(np.zeros((3, 3)))
    for call in (block, tf.function(block)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(call(H0))
        assert (block.nfe_forward, block.nfe_backward) == (44, -1)
        tape.gradient(loss, field.kernel)
        assert block.nfe_backward >= 8 and (block.nfe_backward - 2) % 6 == 0


def test_dopri5_evaluation_counts_in_a_compiled_training_step():
    block, field = _counting_block("dopri5", rtol=1e-6, atol=1e-6)
    field.kernel.assign(W)

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(block(H0))
        return tape.gradient(loss, field.kernel)

    step()
    # 2 evaluations before the first step, then 6 per step tried; a few steps for this smooth field.
    assert block.nfe_forward >= 8 and (block.nfe_forward - 2) % 6 == 0
    assert block.nfe_backward >= 8 and (block.nfe_backward - 2) % 6 == 0


def test_config_saved_before_jit_compile_existed_still_loads():
    block = ODEBlock(keras.layers.Dense(3), solver="rk4")
    config = block.get_config()
    assert config["jit_compile"] is False
    del config["jit_compile"]
    assert ODEBlock.from_config(config).get_config()["jit_compile"] is False


def test_config_saved_before_gradient_existed_loads_with_the_solvers_own():
    config = ODEBlock(keras.layers.Dense(3), gradient="backprop").get_config()
    assert config["gradient"] == "backprop"
    assert ODEBlock.from_config(config).supports_jit is False
    del config["gradient"]
    rebuilt = ODEBlock.from_config(config)
    assert rebuilt.gradient is None and rebuilt.supports_jit is True

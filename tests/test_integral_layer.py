"""IntegralLayer against independent references: scipy's cumulative rules, closed forms, quad."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.integrate import cumulative_simpson, cumulative_trapezoid, quad
from zoo_layer_contract import check_layer_contract

from zoo.layers import IntegralLayer
from zoo.serving.session_runner import SessionSignatureRunner

SEED = 20261122


@pytest.fixture
def rng():
    """A generator seeded per test: inputs never depend on which tests ran before."""
    return np.random.default_rng(SEED)


BAD_INPUT = (ValueError, tf.errors.InvalidArgumentError)


def _f32(a):
    return np.asarray(a, dtype="float32")


def _stamps(rng, n, batch=None, low=0.05, high=1.5):
    """Strictly increasing irregular stamps, shape (n,) or (batch, n).

    float64 values that float32 represents exactly: the references then see the very stamps the
    layer sees (rounding stamps to float32 changes a short step by up to ~1e-5 relative).
    """
    shape = (n,) if batch is None else (batch, n)
    return _f32(np.cumsum(rng.uniform(low, high, size=shape), axis=-1) - 3.0).astype("float64")


def _left_riemann(x, t):
    """y_i = Σ_{k<i} (t_{k+1} - t_k) x_k along axis 1; t of shape (time,) or (batch, time)."""
    h = np.diff(t, axis=-1)
    h = h[None, :, None] if h.ndim == 1 else h[:, :, None]
    return np.concatenate([np.zeros_like(x[:, :1]), np.cumsum(h * x[:, :-1], axis=1)], axis=1)


def _scipy(method, x, t=None, dx=1.0):
    """The reference for each rule, in float64; per-sample t broadcast to x's shape for scipy."""
    if t is not None and t.ndim == 2:
        t = np.broadcast_to(t[:, :, None], x.shape)
    if method == "trapezoid":
        if t is None:
            return cumulative_trapezoid(x, dx=dx, axis=1, initial=0)
        return cumulative_trapezoid(x, t, axis=1, initial=0)
    if method == "simpson":
        if t is None:
            return cumulative_simpson(x, dx=dx, axis=1, initial=0)
        return cumulative_simpson(x, x=t, axis=1, initial=0)
    if t is None:
        t = dx * np.arange(x.shape[1], dtype="float64")
    elif t.ndim == 3:
        t = t[:, :, 0]
    return _left_riemann(x, t)


EPS32 = float(np.finfo("float32").eps)  # 1.19e-7


def _close(y, ref, scale=None):
    """float32 agreement, errors relative to the size of the running integral (atol for zeros).

    A float32 running sum of n float32 terms, summed in blocks (depth log₈ n ≤ 3 here), misses the
    float64 sum by a few eps32 times the partial sums' size; inputs rounded to float32 add eps32/2
    per term, a random walk of ~sqrt(n) eps32 · |x|. Observed over this file: at most 2.6e-7 · scale
    (n = 100 irregular stamps). 25 eps32 · scale = 3e-6 · scale leaves a factor 10 over it.
    """
    y = keras.ops.convert_to_numpy(y)
    scale = np.max(np.abs(ref)) + 1.0 if scale is None else scale
    np.testing.assert_allclose(y, ref, rtol=0, atol=25 * EPS32 * scale)


# ---------------------------------------------------------------- plain rules vs scipy


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 9, 64, 257, 1030])
def test_trapezoid_unit_spacing_is_scipy_cumulative_trapezoid(n, jit_compile, rng):
    # jit_compile: the blocked running sum (blocks of 8, nested for n > 64) under XLA.
    x = rng.normal(size=(3, n, 4))
    y = IntegralLayer(jit_compile=jit_compile)(_f32(x))
    _close(y, cumulative_trapezoid(x, dx=1, axis=1, initial=0))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("method", ["trapezoid", "rectangle", "simpson"])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 6, 11, 64, 65])
def test_uniform_spacing_dx(method, n, jit_compile, rng):
    x = rng.normal(size=(2, n, 3))
    layer = IntegralLayer(method=method, dx=0.37, jit_compile=jit_compile)
    _close(layer(_f32(x)), _scipy(method, x, dx=0.37))


@pytest.mark.parametrize("method", ["trapezoid", "rectangle", "simpson"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 33, 100])
def test_irregular_shared_stamps(method, n, rng):
    x = rng.normal(size=(3, n, 2))
    t = _stamps(rng, n)
    _close(IntegralLayer(method=method)(_f32(x), t=_f32(t)), _scipy(method, x, t))


@pytest.mark.parametrize("method", ["trapezoid", "rectangle", "simpson"])
@pytest.mark.parametrize("n", [3, 8, 9])
def test_irregular_per_sample_stamps(method, n, rng):
    x = rng.normal(size=(4, n, 2))
    t = _stamps(rng, n, batch=4)
    _close(IntegralLayer(method=method)(_f32(x), t=_f32(t)), _scipy(method, x, t))


def test_integral_of_sin_is_one_minus_cos():
    n = 201
    grid = np.linspace(0.0, np.pi, n)
    x = np.sin(grid)[None, :, None]
    exact = 1.0 - np.cos(grid)
    h = np.pi / (n - 1)
    trap = keras.ops.convert_to_numpy(IntegralLayer(dx=h)(_f32(x)))[0, :, 0]
    simp = keras.ops.convert_to_numpy(IntegralLayer(method="simpson", dx=h)(_f32(x)))[0, :, 0]
    # Against the continuous integral: the trapezoid's own error bound h²/12 · max|f''| · t (1 %
    # slack for float32 rounding, ~1e-7 next to a bound of 6.5e-5); Simpson's O(h⁴) error is
    # ~1e-9, so only float32 rounding is left: 10 eps32 · max|y| = 2.4e-6.
    assert np.max(np.abs(trap - exact)) <= h**2 / 12 * np.pi * 1.01
    assert np.max(np.abs(simp - exact)) < 10 * EPS32 * 2.0
    # Against the exact discrete sums of the very float32 samples and step the layer sees.
    samples, step = _f32(x).astype("float64"), float(np.float32(h))
    _close(trap, cumulative_trapezoid(samples, dx=step, axis=1, initial=0)[0, :, 0])
    _close(simp, cumulative_simpson(samples, dx=step, axis=1, initial=0)[0, :, 0])


def test_float64_stamps_keep_their_resolution(rng):
    # Unix-time-like stamps: float32 cannot resolve 0.1 s steps at 1.7e9, float64 can.
    n = 50
    t = 1.7e9 + np.cumsum(rng.uniform(0.1, 0.3, size=n))
    x = rng.normal(size=(2, n, 1))
    ref = cumulative_trapezoid(x, t - t[0], axis=1, initial=0)
    _close(IntegralLayer()(_f32(x), t=t), ref)
    _close(IntegralLayer(method="simpson")(_f32(x), t=t), _scipy("simpson", x, t - t[0]))


def test_mixed_precision_accumulates_in_float32(rng):
    x = rng.normal(size=(2, 500, 2))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = IntegralLayer(method="simpson")
        y = layer(_f32(x))
    finally:
        keras.config.set_dtype_policy(previous)
    assert y.dtype == tf.float16
    # The layer takes the float32 samples as they are (no autocast): the reference does too.
    ref = cumulative_simpson(_f32(x).astype("float64"), dx=1.0, axis=1, initial=0)
    # float16 resolution of each result (rounding once: 2^-11 relative; 10x that), not the drift of
    # a float16 running sum (~1e-1 here, absolute); atol covers the float32 sums near y = 0.
    y = keras.ops.convert_to_numpy(y).astype("float64")
    np.testing.assert_allclose(y, ref, rtol=10 * 2.0**-11, atol=1e-4 * (np.abs(ref).max() + 1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "simpson"},
        {"kernel": "learned", "kernel_size": 3},
        {"kernel": "exponential", "initial_rate": 0.5},
    ],
)
def test_unknown_length_and_xla(kwargs, rng):
    # Shapes unknown at trace time take the dynamic code paths; XLA needs static pad sizes.
    n = 13
    x = rng.normal(size=(2, n, 2))
    t = _stamps(rng, n)
    mask = np.ones((2, n), dtype=bool)
    mask[1, 4:6] = False
    layer = IntegralLayer(**kwargs)
    eager = keras.ops.convert_to_numpy(layer(_f32(x), t=_f32(t), mask=tf.constant(mask)))
    if kwargs.get("kernel") == "exponential":
        ref = _masked_reference("trapezoid", x, mask, t=t, rates=[0.5, 0.5])
        dense = _leaky_reference(x, np.arange(n, dtype="float64"), [0.5, 0.5])
    elif kwargs.get("kernel") is None:
        ref = _masked_reference("simpson", x, mask, t=t)
        dense = _scipy("simpson", x)
    else:  # the learned kernel at initialisation: the integral over the last 3 intervals
        ref = _masked_reference("trapezoid", x, mask, t=t, window=3)
        dense = _windowed(_scipy("trapezoid", x), 3)
    _close(eager, ref)
    signature = [
        tf.TensorSpec([None, None, 2], tf.float32),
        tf.TensorSpec([None], tf.float32),
        tf.TensorSpec([None, None], tf.bool),
    ]
    for jit in (False, True):
        traced = tf.function(
            lambda a, b, m: layer(a, t=b, mask=m), input_signature=signature, jit_compile=jit
        )
        _close(traced(_f32(x), _f32(t), tf.constant(mask)), ref)
        plain = tf.function(lambda a: layer(a), jit_compile=jit)
        _close(plain(_f32(x)), dense)


def test_time_stamps_in_tf_function_and_functional_model(rng):
    n = 12
    x = rng.normal(size=(3, n, 2))
    t = _stamps(rng, n, batch=3)
    ref = _scipy("simpson", x, t)
    layer = IntegralLayer(method="simpson")
    traced = tf.function(lambda a, b: layer(a, t=b))
    _close(traced(_f32(x), _f32(t)), ref)

    x_in = keras.Input(shape=(None, 2), name="x")
    t_in = keras.Input(shape=(None,), name="t")
    model = keras.Model([x_in, t_in], IntegralLayer(method="simpson")(x_in, t=t_in))
    _close(model([_f32(x), _f32(t)]), ref)
    _close(model.predict([_f32(x), _f32(t)], verbose=0), ref)


# ---------------------------------------------------------------- learned kernel


def test_learned_kernel_starts_as_the_plain_integral_within_its_support(rng):
    n, k = 20, 6
    x = rng.normal(size=(2, n, 3))
    t = _stamps(rng, n)
    for method in ("trapezoid", "simpson"):
        plain = _scipy(method, x, t)
        y = keras.ops.convert_to_numpy(
            IntegralLayer(method=method, kernel="learned", kernel_size=k)(_f32(x), t=_f32(t))
        )
        # Within the support (i ≤ k) the plain integral from t_0 ...
        _close(y[:, : k + 1], plain[:, : k + 1], scale=np.abs(plain).max() + 1)
        # ... beyond it, the integral over the last k intervals: Y(t_i) - Y(t_{i-k}).
        _close(
            y[:, k + 1 :], plain[:, k + 1 :] - plain[:, 1 : n - k], scale=np.abs(plain).max() + 1
        )


def test_learned_kernel_weights_each_interval_by_its_lag(rng):
    n, k = 15, 4
    x = rng.normal(size=(2, n, 2))
    layer = IntegralLayer(kernel="learned", kernel_size=k, dx=0.5)
    layer.build(x.shape)
    taps = rng.normal(size=(k, 2))
    layer.set_weights([taps])
    areas = np.diff(cumulative_trapezoid(x, dx=0.5, axis=1, initial=0), axis=1)  # (2, n-1, 2)
    ref = np.zeros_like(x)
    for i in range(1, n):
        for j in range(min(k, i)):
            ref[:, i] += taps[j] * areas[:, i - 1 - j]
    _close(layer(_f32(x)), ref)


def _mse(model, x, target):
    return float(np.mean((keras.ops.convert_to_numpy(model(_f32(x))) - target) ** 2))


def _fit(model, x, target, steps):
    """`steps` optimizer steps of batch 32 in one epoch (per-epoch overhead dominates otherwise)."""
    data = tf.data.Dataset.from_tensor_slices((_f32(x), _f32(target))).repeat().batch(32)
    model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)


def test_learned_kernel_trains_in_fit(rng):
    n, k = 24, 4
    x = rng.normal(size=(64, n, 1))
    true_taps = np.array([1.0, 0.6, 0.3, 0.1])
    areas = np.diff(cumulative_trapezoid(x, dx=1, axis=1, initial=0), axis=1)
    target = np.zeros_like(x)
    for i in range(1, n):
        for j in range(min(k, i)):
            target[:, i] += true_taps[j] * areas[:, i - 1 - j]
    keras.utils.set_random_seed(0)
    layer = IntegralLayer(kernel="learned", kernel_size=k)
    model = keras.Sequential([keras.Input(shape=(n, 1)), layer])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    before = _mse(model, x, target)
    _fit(model, x, target, steps=120)
    assert _mse(model, x, target) < before / 100
    np.testing.assert_allclose(layer.get_weights()[0][:, 0], true_taps, atol=0.03)


# ---------------------------------------------------------------- exponential kernel


def _leaky_reference(x, t, rates, hold=False, power=0):
    """∫_{t_0}^{t_i} (t_i - τ)^power e^{-λ(t_i - τ)} x̃(τ) dτ by quad, interval by interval.

    x̃ interpolates the samples linearly (hold=False) or holds each at its left value (hold=True).
    """
    out = np.zeros_like(x)
    for b in range(x.shape[0]):
        tb = t if t.ndim == 1 else t[b]
        for c in range(x.shape[2]):
            xs, lam = x[b, :, c], rates[c]

            def interp(tau, k, xs=xs, tb=tb):
                if hold:
                    return xs[k]
                w = (tau - tb[k]) / (tb[k + 1] - tb[k])
                return (1 - w) * xs[k] + w * xs[k + 1]

            for i in range(1, len(tb)):
                total = 0.0
                for k in range(i):
                    total += quad(
                        lambda tau, k=k, ti=tb[i], lam=lam: (
                            (ti - tau) ** power * np.exp(-lam * (ti - tau)) * interp(tau, k)
                        ),
                        tb[k],
                        tb[k + 1],
                        epsabs=1e-13,
                        epsrel=1e-12,
                    )[0]
                out[b, i, c] = total
    return out


def _exponential(rates, method="trapezoid", n=None):
    layer = IntegralLayer(method=method, kernel="exponential")
    layer.build((None, n, len(rates)))
    layer.set_weights([np.asarray(rates, dtype="float32")])
    return layer


@pytest.mark.parametrize("method", ["trapezoid", "rectangle"])
def test_exponential_kernel_is_exact_on_irregular_steps(method, rng):
    n = 14
    x = rng.normal(size=(2, n, 3))
    t = _stamps(
        rng, n, batch=2, low=0.05, high=2.5
    )  # λΔ spans both sides of the series switch at 1
    rates = [0.0, 0.4, 3.0]
    ref = _leaky_reference(x, t, rates, hold=method == "rectangle")
    _close(_exponential(rates, method)(_f32(x), t=_f32(t)), ref)


def test_exponential_kernel_with_zero_rate_is_the_trapezoid(rng):
    x = rng.normal(size=(2, 30, 2))
    t = _stamps(rng, 30)
    _close(
        _exponential([0.0, 0.0])(_f32(x), t=_f32(t)), cumulative_trapezoid(x, t, axis=1, initial=0)
    )
    _close(_exponential([1e-9, 1e-8])(_f32(x)), cumulative_trapezoid(x, dx=1, axis=1, initial=0))


def test_exponential_kernel_large_rates_and_long_horizons_stay_finite(rng):
    n = 400
    x = rng.normal(size=(1, n, 2)) + 1.0
    rates = [50.0, 2.0]
    y = keras.ops.convert_to_numpy(_exponential(rates)(_f32(x)))
    assert np.all(np.isfinite(y))
    # Far from the start, a constant input c settles at c/λ; here the input is not constant, so
    # compare the last steps with quad over the last few intervals (older ones have decayed away).
    tail = 8
    ref = _leaky_reference(x[:, -tail:], np.arange(tail, dtype="float64"), rates)
    np.testing.assert_allclose(y[0, -1, 0], ref[0, -1, 0], atol=1e-5)


def test_exponential_rate_gradient_matches_quad(rng):
    n = 10
    x = rng.normal(size=(1, n, 2))
    t = _stamps(rng, n)
    rates = [0.3, 1.7]
    layer = _exponential(rates)
    with tf.GradientTape() as tape:
        y = layer(_f32(x), t=_f32(t))
        total = tf.reduce_sum(y)
    grad = keras.ops.convert_to_numpy(tape.gradient(total, layer.rate))
    # d/dλ ∫ e^{-λ(t-τ)} x dτ = -∫ (t-τ) e^{-λ(t-τ)} x dτ
    ref = -_leaky_reference(x, t, rates, power=1).sum(axis=(0, 1))
    np.testing.assert_allclose(grad, ref, rtol=1e-4, atol=1e-5)


def test_exponential_rate_trains_in_fit_and_stays_non_negative(rng):
    n = 16
    x = rng.normal(size=(64, n, 2))
    true_rates = np.array([0.8, 0.0])
    target = keras.ops.convert_to_numpy(_exponential(true_rates)(_f32(x)))
    layer = IntegralLayer(kernel="exponential", initial_rate=0.3)
    model = keras.Sequential([keras.Input(shape=(n, 2)), layer])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    before = _mse(model, x, target)
    _fit(model, x, target, steps=80)
    learned = layer.get_weights()[0]
    assert _mse(model, x, target) < before / 20
    assert np.all(learned >= 0)
    # An optimisation result, not a float bound: observed within 0.012 of the truth; 10x that.
    np.testing.assert_allclose(learned, true_rates, atol=0.12)


# ---------------------------------------------------------------- masking


def _windowed(y, k):
    """The learned kernel at initialisation from the plain integral Y along axis -2: Y(t_i) up to
    i = k, then Y(t_i) − Y(t_{i−k}), the integral over the last k intervals."""
    out = np.array(y, dtype="float64")
    out[..., k + 1 :, :] -= y[..., 1 : y.shape[-2] - k, :]
    return out


def _masked_reference(method, x, mask, t=None, dx=1.0, rates=None, window=None):
    """scipy (or quad) on each row's unmasked samples at their stamps, held across masked steps;
    `window`: the learned kernel at initialisation on those samples."""
    out = np.zeros_like(x)
    for b in range(x.shape[0]):
        stamps = dx * np.arange(x.shape[1]) if t is None else (t if t.ndim == 1 else t[b])
        keep = np.flatnonzero(mask[b])
        if keep.size == 0:
            continue
        xs, ts = x[b : b + 1, keep], stamps[keep]
        if rates is not None:
            compact = _leaky_reference(xs, ts, rates)[0]
        elif keep.size == 1:
            compact = np.zeros_like(xs[0])
        else:
            compact = _scipy(method, xs, ts)[0]
        if window is not None:
            compact = _windowed(compact, window)
        seen = np.cumsum(mask[b])
        out[b] = compact[np.maximum(seen - 1, 0)]
    return out


MASK = np.array(
    [
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],  # post-padding
        [0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1],  # leading and inner holes
        [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],  # every other step
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],  # a single sample
        [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0],  # two samples (simpson falls back to trapezoid)
    ],
    dtype=bool,
)


@pytest.mark.parametrize("method", ["trapezoid", "rectangle", "simpson"])
def test_masked_steps_contribute_nothing(method, rng):
    x = rng.normal(size=(*MASK.shape, 2))
    x[~MASK] = 1e3  # whatever sits under the mask must not leak into the result
    model = keras.Sequential(
        [
            keras.Input(shape=(*MASK.shape[1:], 2)),
            keras.layers.Masking(mask_value=1e3),
            IntegralLayer(method=method, dx=0.5),
        ]
    )
    _close(model(_f32(x)), _masked_reference(method, x, MASK, dx=0.5))


@pytest.mark.parametrize("method", ["trapezoid", "simpson"])
def test_masked_steps_with_time_stamps(method, rng):
    x = rng.normal(size=(*MASK.shape, 2))
    t = _stamps(rng, MASK.shape[1], batch=MASK.shape[0])
    t[~MASK] = 0.0  # stamps under the mask are ignored, even when they would break the order
    layer = IntegralLayer(method=method)
    y = layer(_f32(x), t=_f32(t), mask=tf.constant(MASK))
    _close(y, _masked_reference(method, x, MASK, t=t))


def test_masked_exponential_kernel(rng):
    x = rng.normal(size=(*MASK.shape, 2))
    t = _stamps(rng, MASK.shape[1])
    rates = [0.5, 2.0]
    y = _exponential(rates)(_f32(x), t=_f32(t), mask=tf.constant(MASK))
    _close(y, _masked_reference("trapezoid", x, MASK, t=t, rates=rates))


def test_masked_learned_kernel_at_init_is_the_compacted_integral(rng):
    x = rng.normal(size=(*MASK.shape, 1))
    layer = IntegralLayer(kernel="learned", kernel_size=MASK.shape[1])
    y = layer(_f32(x), mask=tf.constant(MASK))
    _close(y, _masked_reference("trapezoid", x, MASK))


def test_mask_is_propagated(rng):
    x = rng.normal(size=(*MASK.shape, 3))
    x[~MASK] = 0.0
    x_in = keras.Input(shape=(*MASK.shape[1:], 3))
    masked = keras.layers.Masking(mask_value=0.0)(x_in)
    # GlobalAveragePooling1D averages over unmasked steps only when it receives the mask.
    pooled = keras.layers.GlobalAveragePooling1D()(IntegralLayer()(masked))
    y = keras.ops.convert_to_numpy(keras.Model(x_in, pooled)(_f32(x)))
    integral = _masked_reference("trapezoid", x, MASK)
    ref = np.stack([integral[b, MASK[b]].mean(axis=0) for b in range(MASK.shape[0])])
    _close(y, ref)
    layer = IntegralLayer()
    mask = tf.constant(MASK)
    assert layer.compute_mask(_f32(x), mask) is mask


# ---------------------------------------------------------------- gradients


def test_gradient_with_respect_to_inputs_is_the_quadrature_weights(rng):
    # d(Σ_i y_i)/dx_j for the trapezoid: each x_j has weight h/2 in every interval it touches.
    n = 9
    t = _stamps(rng, n)
    x = tf.constant(_f32(rng.normal(size=(1, n, 1))))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(IntegralLayer()(x, t=_f32(t)))
    grad = keras.ops.convert_to_numpy(tape.gradient(total, x))[0, :, 0]
    eye = np.eye(n)[:, :, None]  # basis inputs e_j: Σ_i y_i(e_j) is the weight of x_j
    ref = cumulative_trapezoid(eye, t, axis=1, initial=0).sum(axis=1)[:, 0]
    np.testing.assert_allclose(grad, ref, rtol=1e-5)


# ---------------------------------------------------------------- the layer contract

VARIANTS = {
    "trapezoid": {},
    "rectangle": {"method": "rectangle", "dx": 0.5},
    "simpson": {"method": "simpson", "dx": 0.25},
    "learned": {"kernel": "learned", "kernel_size": 5},
    "learned-simpson": {"method": "simpson", "kernel": "learned", "kernel_size": 3},
    "exponential": {"kernel": "exponential", "initial_rate": 0.7},
    "exponential-rectangle": {"method": "rectangle", "kernel": "exponential", "dx": 2.0},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_contract(variant, tmp_path, rng):
    x = rng.normal(size=(4, 11, 3))
    y = check_layer_contract(lambda: IntegralLayer(**VARIANTS[variant]), x, tmp_path, atol=1e-5)
    assert y.shape == x.shape


def test_saved_model_with_time_stamps_checks_them_when_served(tmp_path, rng):
    n = 9
    x = rng.normal(size=(2, n, 2))
    t = _stamps(rng, n, batch=2)
    x_in = keras.Input(shape=(n, 2), name="x")
    t_in = keras.Input(shape=(n,), name="t")
    model = keras.Model([x_in, t_in], IntegralLayer(method="simpson")(x_in, t=t_in))
    model.export(str(tmp_path / "export"), verbose=False)
    with SessionSignatureRunner(tmp_path / "export") as runner:
        names = sorted(runner.input_names("serving_default"))
        feed = dict(zip(names, [_f32(t), _f32(x)], strict=True))  # sorted: "t" < "x"
        (served,) = runner.run(feed).values()
        _close(served, _scipy("simpson", x, t))
        t_bad = t.copy()
        t_bad[1, 4] = t_bad[1, 2]
        feed[names[0]] = _f32(t_bad)
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"`t` must be strictly increasing"
        ):
            runner.run(feed)


def test_config_has_one_key_per_argument_and_round_trips():
    layer = IntegralLayer(method="simpson", dx=0.5, kernel="learned", kernel_size=3, name="i")
    config = layer.get_config()
    for key, value in {
        "method": "simpson",
        "dx": 0.5,
        "kernel": "learned",
        "kernel_size": 3,
        "initial_rate": 0.1,
    }.items():
        assert config[key] == value
    assert keras.saving.get_registered_name(IntegralLayer) == "zoo>IntegralLayer"
    assert IntegralLayer.from_config(config).get_config() == config


# ---------------------------------------------------------------- bad arguments and inputs


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"method": "midpoint"}, r"Unknown method 'midpoint'\. Choose one of: 'trapezoid', "),
        ({"kernel": "gauss"}, r"Unknown kernel 'gauss'\. Choose one of: None, 'learned', "),
        ({"kernel": "learned"}, r"`kernel_size` is required"),
        ({"kernel": "learned", "kernel_size": 0}, r"`kernel_size` must be an int >= 1\. "),
        ({"kernel": "learned", "kernel_size": 2.5}, r"Received: kernel_size=2\.5"),
        ({"kernel_size": 3}, r"`kernel_size` is only used with kernel='learned'"),
        ({"dx": 0.0}, r"`dx` must be a finite number > 0\. Received: dx=0\.0"),
        ({"dx": float("nan")}, r"`dx`"),
        ({"kernel": "exponential", "initial_rate": -1.0}, r"`initial_rate` must be .* >= 0"),
        ({"kernel": "exponential", "method": "simpson"}, r"`method` 'simpson'.*'trapezoid'"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        IntegralLayer(**kwargs)


@pytest.mark.parametrize("shape", [(4, 10), (2, 4, 10, 1), (10,)])
def test_wrong_rank_names_inputs(shape):
    with pytest.raises(ValueError, match=r"`inputs` must be a 3D tensor .*Received: inputs.shape"):
        IntegralLayer()(np.zeros(shape, dtype="float32"))
    with pytest.raises(ValueError, match=r"`inputs`"):
        keras.Sequential([keras.Input(shape=shape[1:]), IntegralLayer()])


@pytest.mark.parametrize(
    ("t", "pattern"),
    [
        (np.zeros((2, 6, 1)), r"`t` must have shape \(time,\) or \(batch, time\)"),
        (np.arange(5.0), r"`t` must have one stamp per time step \(6\)"),
        (np.arange(12.0).reshape(3, 4), r"`t` must have one stamp per time step"),
        (np.arange(18.0).reshape(3, 6), r"`t` of shape \(batch, time\) must have the batch size"),
    ],
)
def test_wrongly_shaped_stamps_name_t(t, pattern):
    x = np.zeros((2, 6, 1), dtype="float32")
    with pytest.raises(ValueError, match=pattern):
        IntegralLayer()(x, t=_f32(t))


STAMP_ORDER = r"`t` must be strictly increasing"
BAD_STAMPS = {
    "decreasing": [0.0, 1.0, 2.0, 1.5, 3.0, 4.0],
    "repeated": [0.0, 1.0, 1.0, 2.0, 3.0, 4.0],
    "nan": [0.0, 1.0, np.nan, 2.0, 3.0, 4.0],
}


@pytest.mark.parametrize("case", list(BAD_STAMPS))
def test_non_increasing_stamps_raise_everywhere(case, rng):
    x = _f32(rng.normal(size=(2, 6, 1)))
    t = _f32(BAD_STAMPS[case])
    layer = IntegralLayer()
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):  # eager
        layer(x, t=t)
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):  # tf.function
        tf.function(lambda a, b: layer(a, t=b))(x, t)


def test_non_increasing_stamps_raise_in_models_and_under_masks(rng):
    x = _f32(rng.normal(size=(2, 6, 1)))
    t = _f32(BAD_STAMPS["decreasing"])  # t[3] < t[2]
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):
        IntegralLayer(method="simpson")(x, t=t)
    x_in = keras.Input(shape=(6, 1))
    t_in = keras.Input(shape=(6,))
    model = keras.Model([x_in, t_in], IntegralLayer(kernel="exponential")(x_in, t=t_in))
    batch_t = np.stack([np.arange(6.0), t]).astype("float32")
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):  # functional model, eager call
        model([x, batch_t])
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):  # functional model, compiled predict
        model.predict([x, batch_t], verbose=0)
    # Under a mask only the unmasked stamps must increase.
    mask = np.ones((2, 6), dtype=bool)
    with pytest.raises(BAD_INPUT, match=STAMP_ORDER):
        IntegralLayer()(x, t=t, mask=tf.constant(mask))
    mask[:, 2] = False
    y = IntegralLayer()(x, t=t, mask=tf.constant(mask))
    _close(y, _masked_reference("trapezoid", x.astype("float64"), mask, t=t.astype("float64")))


def test_stamp_length_checked_when_only_known_at_run_time():
    layer = IntegralLayer()
    traced = tf.function(
        lambda a, b: layer(a, t=b),
        input_signature=[
            tf.TensorSpec([None, None, 1], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ],
    )
    with pytest.raises(BAD_INPUT, match=r"`t` must have one stamp per time step"):
        traced(np.zeros((2, 6, 1), dtype="float32"), np.arange(5, dtype="float32"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "rectangle"},
        {"method": "trapezoid"},
        {"method": "trapezoid", "jit_compile": True},
        {"method": "simpson"},
        {"kernel": "exponential"},
        {"kernel": "learned", "kernel_size": 3},
    ],
)
def test_a_series_without_steps_is_refused_by_every_method(kwargs):
    # scipy's cumulative_trapezoid refuses it too; before, the methods failed in their own ways,
    # and rectangle and the exponential kernel returned a wrong shape when the length was traced.
    empty = np.zeros((3, 0, 2), "float32")
    with pytest.raises(ValueError, match="At least one point"):
        cumulative_trapezoid(empty, axis=1, initial=0)
    with pytest.raises(ValueError, match="`inputs` must hold at least one time step"):
        IntegralLayer(**kwargs)(empty)
    layer = IntegralLayer(**kwargs)
    layer.build((None, None, 2))
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, None, 2], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one time step"):
        traced(empty)
    one = np.arange(6, dtype="float32").reshape(3, 1, 2)  # one sample: the integral is 0
    np.testing.assert_array_equal(traced(one).numpy(), np.zeros_like(one))

"""LpPooling's closed-form gradients against TensorFlow's autodiff of the plain formula (float64).

The reference is the definition written with tf.pow on a (batch, rows/2, 2, cols/2, 2, channels)
view of the input (disjoint 2×2 windows) or over all positions (global layer): no max scaling, no
pooling kernels, no custom gradient. Both the fast path and the scaled fallback (values whose
power means leave 2^±100) are exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import GlobalLpPooling2D, LpPooling2D


def _formula(x, p, normalize, kind):
    """((1/|R|)) Σ_R |x|^p)^{1/p} with tf.pow, R a disjoint 2×2 window or the whole image."""
    if kind == "windows":
        b, h, w, c = x.shape
        x = tf.reshape(x, [b, h // 2, 2, w // 2, 2, c])
        axes = [2, 4]
    else:
        axes = [1, 2]
    reduce = tf.reduce_mean if normalize else tf.reduce_sum
    return tf.pow(reduce(tf.pow(tf.abs(x), p), axis=axes), 1.0 / p)


def _input(seed, scale=1.0, zero_window=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 2.0, size=(2, 4, 6, 3)) * rng.choice([-1.0, 1.0], size=(2, 4, 6, 3))
    if zero_window:
        x[0, :2, :2, :] = 0.0
    return x * scale


def _layer(kind, p, normalize, learned):
    make = LpPooling2D if kind == "windows" else GlobalLpPooling2D
    kwargs = {"pool_size": 2} if kind == "windows" else {}
    return make(p=p, normalize=normalize, trainable_p=learned, dtype="float64", **kwargs)


def _gradients(fn, x, p, weights):
    """Value, d(Σ w·y)/dx and d(Σ w·y)/dp of fn(x, p)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        if isinstance(p, tf.Tensor):
            tape.watch(p)  # a layer's p weight is a variable: watched already
        y = fn(x, p)
        loss = tf.reduce_sum(y * weights)
    grad_x, grad_p = tape.gradient(loss, [x, p])
    return y, grad_x, grad_p


def _compare(kind, p0, normalize, learned, x):
    layer = _layer(kind, p0, normalize, learned)
    xt = tf.constant(x)
    out_shape = layer.compute_output_shape(x.shape)
    weights = tf.constant(np.random.default_rng(5).normal(size=out_shape))
    p_ref = tf.constant(p0, tf.float64)
    ref = _gradients(lambda v, p: _formula(v, p, normalize, kind), xt, p_ref, weights)
    layer(xt)
    p_var = layer.p_weight if learned else tf.constant(p0, tf.float64)
    got = _gradients(lambda v, p: layer(v), xt, p_var, weights)
    scale = np.abs(ref[0].numpy()).max()
    # float64 through exp/log and pooling kernels: relative errors ~1e-15 observed.
    np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), rtol=1e-11, atol=1e-12 * scale)
    # tf.pow's gradient is NaN inside an all-zero window; the layer's is 0 there (its documented
    # choice: the zero subgradient).
    want = np.nan_to_num(ref[1].numpy(), nan=0.0)
    grad_scale = np.abs(want).max()
    np.testing.assert_allclose(got[1].numpy(), want, rtol=1e-10, atol=1e-12 * grad_scale)
    if learned:
        np.testing.assert_allclose(float(got[2]), float(ref[2]), rtol=1e-9)


@pytest.mark.parametrize("kind", ["windows", "global"])
@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 4.2])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("learned", [False, True])
def test_fast_path_gradients_match_autodiff_of_formula(kind, p, normalize, learned):
    _compare(kind, p, normalize, learned, _input(seed=int(p * 10)))


@pytest.mark.parametrize("kind", ["windows", "global"])
@pytest.mark.parametrize("scale", [1e40, 1e-40])
@pytest.mark.parametrize("learned", [False, True])
def test_scaled_fallback_gradients_match_autodiff_of_formula(kind, scale, learned):
    """|x| ~ 1e±40 at p = 3: power means ~1e±120, beyond 2^±100, so the call takes the fallback."""
    _compare(kind, 3.0, True, learned, _input(seed=1, scale=scale))


@pytest.mark.parametrize("p", [2.5, 3.0])
def test_all_zero_window_beside_normal_ones(p):
    """An exact-zero window (ReLU-like) keeps the fast path: y = 0 there, gradients match."""
    x = _input(seed=2, zero_window=True)
    _compare("windows", p, True, False, x)
    layer = _layer("windows", p, True, False)
    assert np.all(layer(tf.constant(x)).numpy()[0, 0, 0] == 0.0)


@pytest.mark.parametrize("p", [1.0, 2.0, 2.5])
@pytest.mark.parametrize("learned", [False, True])
@pytest.mark.parametrize("jit_compile", [None, False, True])
def test_disjoint_windows_on_a_ragged_input_give_the_cropped_edge_no_gradient(
    p, learned, jit_compile
):
    # 5×7 rows and columns with 2×2 windows, padding "valid": the last row and column are in no
    # window. The gradient's broadcast product (`lp_blocks.spread_times`) crops them and pads
    # them back with zeros; the reference is the formula on the cropped 4×6 part.
    rng = np.random.default_rng(11)
    x = rng.uniform(0.3, 2.0, size=(2, 5, 7, 3)) * rng.choice([-1.0, 1.0], size=(2, 5, 7, 3))
    xt = tf.constant(x)
    layer = _layer("windows", p, True, learned)
    layer(xt)
    weights = tf.constant(rng.normal(size=(2, 2, 3, 3)))
    p_ref = tf.constant(p, tf.float64)
    ref = _gradients(lambda v, q: _formula(v[:, :4, :6, :], q, True, "windows"), xt, p_ref, weights)
    p_var = layer.p_weight if learned else tf.constant(p, tf.float64)
    call = layer if jit_compile is None else tf.function(layer, jit_compile=jit_compile)
    got = _gradients(lambda v, q: call(v), xt, p_var, weights)
    np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), rtol=1e-11)
    want = ref[1].numpy()
    assert np.all(want[:, 4, :, :] == 0) and np.all(want[:, :, 6, :] == 0)
    np.testing.assert_allclose(got[1].numpy(), want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    if learned:
        np.testing.assert_allclose(float(got[2]), float(ref[2]), rtol=1e-9)

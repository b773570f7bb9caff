"""The blocked running sum behind IntegralLayer's portable path, against numpy's cumsum (float64).

Lengths cover one short block (n ≤ 64), whole blocks, a ragged last block, and lengths unknown
when the function is traced (padded at run time).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy.integrate import cumulative_trapezoid

from zoo.layers import IntegralLayer
from zoo.layers.prefix_sum import prefix_sum

LENGTHS = [1, 2, 63, 64, 65, 128, 200]
EPS32 = float(np.finfo("float32").eps)


def _float32_atol(v, scale=1.0):
    """Each output sums at most 64 terms in its block plus n/64 block totals, each term at most
    max|v|: 2x that worst-case count of float32 roundings (observed errors are 10x smaller)."""
    n = v.shape[1]
    return 2 * EPS32 * (64 + n / 64) * np.abs(v).max() * scale


def _unknown_length(fn, channels):
    return tf.function(fn, input_signature=[tf.TensorSpec([None, None, channels], tf.float32)])


def _reference(v, diagonal, scale, start):
    """start + scale · (Σ_{k<i} v_k + diagonal · v_i), directly from numpy's inclusive cumsum."""
    return start + scale * (np.cumsum(v, axis=1) - (1.0 - diagonal) * v)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("diagonal", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("channels", [3, 8, 40])
def test_prefix_sum_matches_cumsum_static_length(n, diagonal, channels):
    """3 and 40 channels: blocks of 64 as batched products; 8: blocks of 8 as one product."""
    rng = np.random.default_rng(n)
    v = rng.normal(size=(3, n, channels))
    start = rng.normal(size=(3, 1, channels))
    fn = tf.function(lambda v: prefix_sum(v, diagonal, tf.constant(0.3, tf.float64), start))
    got = fn(tf.constant(v))
    want = _reference(v, diagonal, 0.3, start)
    # float64, at most 64 + n/64 terms of size ~1 per output: rounding far below 1e-12.
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("channels", [3, 8])
def test_prefix_sum_with_length_unknown_when_traced(n, channels):
    rng = np.random.default_rng(100 + n)
    v = rng.normal(size=(2, n, channels)).astype("float32")

    def inclusive(t):
        return prefix_sum(t, 1.0)

    got = _unknown_length(inclusive, channels)(v).numpy()
    want = np.cumsum(v.astype(np.float64), axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=_float32_atol(v))


@pytest.mark.parametrize("n", [1, 65, 200])
@pytest.mark.parametrize("method", ["trapezoid", "rectangle"])
@pytest.mark.parametrize("channels", [3, 8])
def test_layer_in_a_model_with_unknown_length_matches_scipy(n, method, channels):
    rng = np.random.default_rng(7 * n)
    x = rng.normal(size=(2, n, channels)).astype("float32")
    layer = IntegralLayer(method=method, dx=0.25)
    got = _unknown_length(layer, channels)(x).numpy()
    x64 = x.astype(np.float64)
    if method == "trapezoid":
        want = cumulative_trapezoid(x64, dx=0.25, axis=1, initial=0)
    else:
        want = 0.25 * (np.cumsum(x64, axis=1) - x64)
    np.testing.assert_allclose(got, want, rtol=0, atol=_float32_atol(x, scale=0.25))


def test_gradient_is_the_reversed_running_sum():
    """d/dv_k of Σ_i w_i s_i with s = inclusive sum is Σ_{i≥k} w_i (numpy), for a ragged length."""
    rng = np.random.default_rng(3)
    v = tf.constant(rng.normal(size=(2, 150, 2)))
    w = rng.normal(size=(2, 150, 2))
    with tf.GradientTape() as tape:
        tape.watch(v)
        loss = tf.reduce_sum(prefix_sum(v, 1.0) * w)
    want = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [50, 1024, 1000])  # one product, whole blocks, a ragged last block
@pytest.mark.parametrize("channels", [3, 8])  # the batched and the one-matrix (kron) products
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_input_reaches_only_its_own_channel_from_its_own_step(n, channels, bad):
    """As scipy's cumulative_trapezoid (float64): the bad value's channel is NaN or infinite
    from its step on, earlier steps, other channels and the other sample keep their sums (matrix
    products alone would spread it everywhere: 0·NaN = NaN)."""
    v = np.random.default_rng(9).normal(size=(2, n, channels)).astype("float32")
    step = n // 3
    v[0, step, 0] = bad
    got = IntegralLayer()(v).numpy()
    expected = cumulative_trapezoid(v.astype("float64"), axis=1, initial=0)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(got), finite)
    assert not finite[0, step:, 0].any() and finite[0, :step, 0].all()
    np.testing.assert_allclose(got[finite], expected[finite], atol=_float32_atol(np.nan_to_num(v)))
    inclusive = np.cumsum(v.astype("float64"), axis=1)
    exclusive = np.concatenate([np.zeros((2, 1, channels)), inclusive[:, :-1]], axis=1)
    # Σ_{k<i} v_k (the rectangle rule's form) counts the bad value from the next step on.
    for diagonal, reference in ((0.0, exclusive), (1.0, inclusive)):
        sums = prefix_sum(tf.constant(v), diagonal).numpy()
        np.testing.assert_array_equal(np.isfinite(sums), np.isfinite(reference))

"""LpPooling1D/2D and GlobalLpPooling1D/2D against independent numpy references.

The reference below loops over the windows and applies the definition directly in float64 (no max
scaling, no pooling kernels): |R| is counted from the window's index range clipped to the input, the
way Keras' AveragePooling counts it with padding="same".
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from zoo_layer_contract import check_layer_contract

from zoo.layers import GlobalLpPooling1D, GlobalLpPooling2D, LpPooling1D, LpPooling2D
from zoo.layers.xla_context import in_xla_context

# -- independent references --------------------------------------------------------------------


def _window_ranges(n, k, s, padding):
    """[start, stop) of every window along one axis, clipped to the real input."""
    if padding == "valid":
        return [(i * s, i * s + k) for i in range((n - k) // s + 1)]
    out = math.ceil(n / s)
    before = max((out - 1) * s + k - n, 0) // 2
    return [(max(i * s - before, 0), min(i * s - before + k, n)) for i in range(out)]


def lp_norm(values, p, normalize):
    """Definition of the (normalised) p-norm of the flattened `values` along axis 0, float64."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    if math.isinf(p):
        return v.max(axis=0)
    total = (v**p).sum(axis=0)
    if normalize:
        total = total / v.shape[0]
    return total ** (1.0 / p)


def lp_pool_reference(x, pool, strides, padding, p, normalize):
    """Channels-last (batch, *spatial, channels) reference, spatial rank 1 or 2."""
    x = np.asarray(x, dtype=np.float64)
    rank = x.ndim - 2
    ranges = [_window_ranges(x.shape[1 + d], pool[d], strides[d], padding) for d in range(rank)]
    out_shape = (x.shape[0], *[len(r) for r in ranges], x.shape[-1])
    y = np.zeros(out_shape)
    for index in np.ndindex(*out_shape[1:-1]):
        window = x[(slice(None), *[slice(*ranges[d][i]) for d, i in enumerate(index)])]
        flat = np.moveaxis(window.reshape(x.shape[0], -1, x.shape[-1]), 1, 0)
        y[(slice(None), *index)] = lp_norm(flat, p, normalize)
    return y


EPS32 = float(np.finfo("float32").eps)  # 1.19e-7


def _layer(rank, **kwargs):
    return (LpPooling1D if rank == 1 else LpPooling2D)(**kwargs)


def _generic_input(shape, seed=0):
    """Values away from 0 and without ties, so |x| and the window max are differentiable."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.5, 2.0, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


# -- forward values ----------------------------------------------------------------------------

CASES_2D = [
    ((2, 2), None, "valid"),
    ((2, 2), None, "same"),
    ((3, 2), (1, 2), "valid"),
    ((3, 3), (2, 2), "valid"),
    ((3, 2), (1, 1), "valid"),
    ((3, 3), (2, 1), "same"),
    ((2, 3), (3, 1), "same"),
]


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5, 4.0, math.inf])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("pool,strides,padding", CASES_2D)
def test_lp_pooling_2d_matches_definition(p, normalize, pool, strides, padding):
    x = np.random.default_rng(1).normal(size=(2, 7, 6, 3)).astype("float32")
    layer = LpPooling2D(pool, strides, padding, p=p, normalize=normalize)
    expected = lp_pool_reference(x, pool, strides or pool, padding, p, normalize)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("p", [1.0, 2.0, 2.5, 7.0, math.inf])
@pytest.mark.parametrize(
    "pool,strides,padding", [(3, None, "valid"), (3, None, "same"), (4, 1, "same"), (2, 3, "valid")]
)
@pytest.mark.parametrize("normalize", [True, False])
def test_lp_pooling_1d_matches_definition(p, pool, strides, padding, normalize):
    x = np.random.default_rng(2).normal(size=(3, 11, 4)).astype("float32")
    layer = LpPooling1D(pool, strides, padding, p=p, normalize=normalize)
    expected = lp_pool_reference(x, (pool,), (strides or pool,), padding, p, normalize)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=2e-5, atol=1e-6)


def test_sum_form_is_pytorch_lppool_formula_on_nonnegative_input():
    # PyTorch documents LPPool2d as f(X) = (Σ_{x∈X} x^p)^{1/p}; it computes it as
    # (avg_pool(x^p) · kh·kw)^{1/p}. Written out here with numpy for 2x2 windows, stride 2.
    x = np.random.default_rng(3).uniform(0.0, 3.0, size=(2, 8, 6, 5))
    p = 3.0
    blocks = x.reshape(2, 4, 2, 3, 2, 5)
    expected = ((blocks**p).mean(axis=(2, 4)) * 4) ** (1.0 / p)
    got = LpPooling2D(2, p=p, normalize=False)(x.astype("float32")).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_p1_is_average_pooling_of_abs_and_pinf_is_max_pooling_of_abs():
    x = np.random.default_rng(4).normal(size=(2, 9, 7, 3)).astype("float32")
    for padding in ("valid", "same"):
        avg = keras.layers.AveragePooling2D(3, 2, padding=padding)(np.abs(x))
        mx = keras.layers.MaxPooling2D(3, 2, padding=padding)(np.abs(x))
        np.testing.assert_allclose(LpPooling2D(3, 2, padding, p=1.0)(x), avg, rtol=1e-6)
        np.testing.assert_allclose(LpPooling2D(3, 2, padding, p=math.inf)(x), mx, rtol=1e-6)
        # The generic path tends to the max as p grows: |R|^(-1/p) · max ≤ y ≤ max, |R| ≤ 9 (float32
        # rounding, ~1e-7 relative, is far inside the 0.55 % gap the bound allows at p = 400);
        # and p = 1.0000001 tends to the average.
        y400 = LpPooling2D(3, 2, padding, p=400.0)(x).numpy()
        assert np.all(y400 <= mx.numpy() * (1 + 10 * EPS32))
        assert np.all(y400 >= mx.numpy() * 9.0 ** (-1 / 400) * (1 - 10 * EPS32))
        np.testing.assert_allclose(LpPooling2D(3, 2, padding, p=1.0 + 1e-7)(x), avg, rtol=1e-5)


def test_channels_first_is_channels_last_transposed():
    x = np.random.default_rng(5).normal(size=(2, 8, 7, 3)).astype("float32")
    for p in (2.0, 3.0):
        last = LpPooling2D((3, 2), (2, 1), "same", "channels_last", p=p)(x).numpy()
        first = LpPooling2D((3, 2), (2, 1), "same", "channels_first", p=p)(
            x.transpose(0, 3, 1, 2)
        ).numpy()
        np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, rtol=1e-6)
    x1 = x[:, :, 0, :]
    last = LpPooling1D(3, 2, "same", "channels_last", p=3.0)(x1).numpy()
    first = LpPooling1D(3, 2, "same", "channels_first", p=3.0)(x1.transpose(0, 2, 1)).numpy()
    np.testing.assert_allclose(first.transpose(0, 2, 1), last, rtol=1e-6)


def test_integer_input_is_pooled_as_float():
    x = np.array([[[3], [-4], [0], [0]]], dtype="int32")
    y = LpPooling1D(2, p=2.0, normalize=False)(x).numpy()
    np.testing.assert_allclose(y, [[[5.0], [0.0]]])


# -- large p: stability ------------------------------------------------------------------------


@pytest.mark.parametrize("strides", [None, 1])
def test_p64_on_values_near_1e3_is_finite_and_matches_float64(strides):
    rng = np.random.default_rng(6)
    x = rng.uniform(500.0, 2000.0, size=(2, 8, 8, 3)) * rng.choice([-1, 1], size=(2, 8, 8, 3))
    x = x.astype("float32")
    # float32 would overflow at 2000^64 ≈ 1e211; the float64 reference computes it directly.
    expected = lp_pool_reference(x, (2, 2), (strides or 2,) * 2, "valid", 64.0, True)
    for normalize in (True, False):
        if not normalize:
            expected = lp_pool_reference(x, (2, 2), (strides or 2,) * 2, "valid", 64.0, False)
        y = LpPooling2D(2, strides, p=64.0, normalize=normalize)(x).numpy()
        assert np.all(np.isfinite(y))
        np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_large_p_scales_each_window_by_its_own_max():
    # Windows of size ~1e-20 next to windows of size ~1e3: (1e-20)^64 underflows even float64,
    # so the small windows are checked through homogeneity, Lp(c·x) = c·Lp(x) for c > 0.
    base = _generic_input((1, 12, 3), seed=7)
    x = base.copy()
    x[:, :6] *= 1e3
    x[:, 6:] *= 1e-20
    for strides in (3, 1):
        y = LpPooling1D(3, strides, p=64.0)(x.astype("float32")).numpy()
        reference = lp_pool_reference(base, (3,), (strides,), "valid", 64.0, True)
        n_big = (6 - 3) // strides + 1  # windows entirely inside the 1e3 block
        # Rounding |x|/m_R (eps32/2) is raised to the 64th power: terms carry up to p·eps32 = 7.6e-6
        # relative error (observed 3.9e-6 at the output); 10x that.
        rtol = 10 * 64 * EPS32
        np.testing.assert_allclose(y[:, :n_big], 1e3 * reference[:, :n_big], rtol=rtol)
        first_small = math.ceil(6 / strides)  # windows entirely inside the 1e-20 block
        np.testing.assert_allclose(
            y[:, first_small:], 1e-20 * reference[:, first_small:], rtol=rtol
        )


@pytest.mark.parametrize("trainable_p", [False, True])
@pytest.mark.parametrize("large", [1e3, 1.0])
def test_large_p_under_xla_scales_tiny_and_large_windows_alike(large, trainable_p):
    # As above, disjoint windows under XLA (the blocked slices of `lp_blocks`): the underflow of
    # (1e-20)^64 must take the scaled fallback there too, not give 0, also where no window
    # overflows (large = 1: the underflow alone must be seen).
    base = _generic_input((1, 12, 3), seed=7)
    x = base.copy()
    x[:, :6] *= large
    x[:, 6:] *= 1e-20
    layer = LpPooling1D(3, p=64.0, trainable_p=trainable_p)
    y = tf.function(layer, jit_compile=True)(tf.constant(x, "float32")).numpy()
    reference = lp_pool_reference(base, (3,), (3,), "valid", 64.0, True)
    rtol = 10 * 64 * EPS32  # as above
    np.testing.assert_allclose(y[:, :2], large * reference[:, :2], rtol=rtol)
    np.testing.assert_allclose(y[:, 2:], 1e-20 * reference[:, 2:], rtol=rtol)


def test_global_large_p_is_finite():
    x = np.random.default_rng(8).uniform(500.0, 2000.0, size=(2, 6, 5, 3)).astype("float32")
    y = GlobalLpPooling2D(p=64.0)(x).numpy()
    expected = lp_norm(x.reshape(2, 30, 3).transpose(1, 0, 2), 64.0, True)
    np.testing.assert_allclose(y, expected, rtol=1e-5)


# -- gradients ---------------------------------------------------------------------------------


def _central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize(
    "rank,pool,strides,padding,p",
    [
        (2, (2, 2), None, "valid", 1.0),
        (2, (2, 2), None, "same", 2.0),
        (2, (2, 2), None, "valid", 3.5),
        (2, (2, 2), None, "same", 3.0),
        (2, (3, 2), (1, 1), "same", 3.5),
        (1, (3,), (2,), "same", 5.0),
        (1, (2,), None, "valid", math.inf),
    ],
)
def test_input_gradient_matches_central_differences(rank, pool, strides, padding, p):
    shape = (1, 5, 4, 2) if rank == 2 else (2, 7, 2)
    x = _generic_input(shape, seed=9)
    weights = np.random.default_rng(10).normal(size=(1, 100))

    def reference(z):
        y = lp_pool_reference(z, pool, strides or pool, padding, p, True)
        return float((y.reshape(-1) * weights[0, : y.size]).sum())

    layer = _layer(rank, pool_size=pool, strides=strides, padding=padding, p=p, dtype="float64")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(tf.reshape(y, [-1]) * weights[0, : int(tf.size(y))])
    grad = tape.gradient(loss, xt).numpy()
    np.testing.assert_allclose(grad, _central_difference(reference, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["disjoint", "overlapping", "global"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gradient_with_respect_to_trainable_p(kind, normalize):
    x = _generic_input((2, 7, 3), seed=11)
    p0 = 2.7
    if kind == "global":
        layer = GlobalLpPooling1D(p=p0, normalize=normalize, trainable_p=True, dtype="float64")

        def reference(p):
            return lp_norm(x.transpose(1, 0, 2), p, normalize).sum()
    else:
        strides, padding = (3, "valid") if kind == "disjoint" else (2, "same")
        layer = LpPooling1D(
            3, strides, padding, p=p0, normalize=normalize, trainable_p=True, dtype="float64"
        )

        def reference(p):
            return lp_pool_reference(x, (3,), (strides,), padding, p, normalize).sum()

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(tf.constant(x)))
    (grad,) = tape.gradient(loss, [layer.p_weight])
    eps = 1e-6
    expected = (reference(p0 + eps) - reference(p0 - eps)) / (2 * eps)
    np.testing.assert_allclose(float(grad), expected, rtol=1e-6)
    np.testing.assert_allclose(float(loss), reference(p0), rtol=1e-12)


def test_trainable_p_gradients_with_exact_zeros_match_central_differences():
    """A learned p on an input with exact zeros (one all-zero window, zeros beside non-zeros):
    d/dx and d/dp against central differences of the float64 definition (|x|^p has derivative 0
    at x = 0 for p > 1, and an all-zero window stays 0 for every p)."""
    x = _generic_input((1, 4, 6, 2), seed=14)
    x[0, :2, :2, :] = 0.0  # an all-zero window
    x[0, 2, 3, 1] = 0.0  # a zero beside non-zeros
    x[0, 3, 4, 0] = 0.0
    p0 = 2.7
    weights = np.random.default_rng(15).normal(size=(1, 2, 3, 2))
    layer = LpPooling2D(2, p=p0, trainable_p=True, dtype="float64")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt) * weights)
    grad_x, grad_p = tape.gradient(loss, [xt, layer.p_weight])

    def reference(z, p):
        return float((lp_pool_reference(z, (2, 2), (2, 2), "valid", p, True) * weights).sum())

    eps = 1e-6
    expected_p = (reference(x, p0 + eps) - reference(x, p0 - eps)) / (2 * eps)
    # Central differences in float64: truncation ~eps² and rounding ~1e-16/eps = 1e-10 relative.
    np.testing.assert_allclose(float(grad_p), expected_p, rtol=1e-6)
    expected_x = _central_difference(lambda z: reference(z, p0), x)
    np.testing.assert_allclose(grad_x.numpy(), expected_x, rtol=1e-5, atol=1e-7)
    assert np.all(grad_x.numpy()[x == 0.0] == 0.0)


ZERO_LAYERS = [
    lambda **kw: LpPooling2D(2, **kw),
    lambda **kw: LpPooling2D(3, 1, "same", **kw),
    lambda **kw: GlobalLpPooling2D(**kw),
]


@pytest.mark.parametrize("make", ZERO_LAYERS)
@pytest.mark.parametrize(
    "kwargs", [{"p": 1.0}, {"p": 2.0}, {"p": 3.0}, {"p": math.inf}, {"p": 1.0, "trainable_p": True}]
)
def test_all_zero_windows_give_zero_and_finite_gradients(make, kwargs):
    x = np.zeros((2, 4, 4, 2), "float32")
    x[1, :2, :2, 0] = [[1.0, -2.0], [0.5, 3.0]]  # one non-zero window; the rest are all zero
    layer = make(**kwargs)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y)
    variables = [xt, *layer.trainable_weights]
    grads = tape.gradient(loss, variables)
    assert np.all(y.numpy()[0] == 0.0)
    for g in grads:
        assert np.all(np.isfinite(g.numpy())), f"non-finite gradient for {kwargs}"
    assert np.all(grads[0].numpy()[0] == 0.0)


# -- global layers -----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0, 4.5, math.inf])
@pytest.mark.parametrize("normalize", [True, False])
def test_global_layers_match_definition(p, normalize):
    x = np.random.default_rng(12).normal(size=(3, 5, 4, 2)).astype("float32")
    expected = lp_norm(x.reshape(3, 20, 2).transpose(1, 0, 2), p, normalize)
    y2 = GlobalLpPooling2D(p=p, normalize=normalize)(x).numpy()
    np.testing.assert_allclose(y2, expected, rtol=2e-5)
    y2f = GlobalLpPooling2D("channels_first", keepdims=True, p=p, normalize=normalize)(
        x.transpose(0, 3, 1, 2)
    ).numpy()
    np.testing.assert_allclose(y2f, expected[:, :, None, None], rtol=2e-5)
    x1 = x.reshape(3, 20, 2)
    y1 = GlobalLpPooling1D(keepdims=True, p=p, normalize=normalize)(x1).numpy()
    np.testing.assert_allclose(y1, expected[:, None, :], rtol=2e-5)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_global_1d_respects_keras_mask(p):
    x = np.random.default_rng(13).normal(size=(3, 6, 2)).astype("float32")
    lengths = [6, 2, 4]
    x_padded = x.copy()
    for i, n in enumerate(lengths):
        x_padded[i, n:] = 0.0
    model = keras.Sequential(
        [keras.Input((6, 2)), keras.layers.Masking(0.0), GlobalLpPooling1D(p=p)]
    )
    y = model(x_padded).numpy()
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(y[i], lp_norm(x[i, :n], p, True), rtol=2e-5)


# -- the contract: shapes, config, .keras, SavedModel as TF Serving loads it ----------------------

CONTRACT = [
    (lambda: LpPooling1D(3, 2, "same", p=3.0), (2, 9, 3)),
    (lambda: LpPooling1D(2, data_format="channels_first", p=math.inf), (2, 3, 8)),
    (lambda: LpPooling2D((2, 3), padding="same", p=2.0, normalize=False), (2, 7, 8, 3)),
    (lambda: LpPooling2D(3, 1, data_format="channels_first", p=4.0), (2, 3, 6, 6)),
    (lambda: LpPooling2D(2, p=1.5, trainable_p=True), (2, 6, 6, 3)),
    (lambda: GlobalLpPooling1D(p=3.0, trainable_p=True), (2, 7, 3)),
    (lambda: GlobalLpPooling2D("channels_first", keepdims=True, p=1.0), (2, 3, 5, 4)),
]


@pytest.mark.parametrize("make,shape", CONTRACT)
def test_layer_contract(make, shape, tmp_path):
    x = np.random.default_rng(14).normal(size=shape)
    layer = make()
    if layer.trainable_p:
        # A learned p other than the initial one must survive every round trip.
        def make_trained():
            fresh = make()
            fresh.build((None, *shape[1:]))
            fresh.p_weight.assign(2.25)
            return fresh

        check_layer_contract(make_trained, x, tmp_path, rtol=1e-5)
    else:
        check_layer_contract(make, x, tmp_path, rtol=1e-5)


def test_config_has_one_key_per_argument():
    layer = LpPooling2D((2, 3), (1, 2), "same", "channels_first", p=5.0, normalize=False)
    config = layer.get_config()
    assert config["pool_size"] == (2, 3)
    assert config["strides"] == (1, 2)
    assert config["padding"] == "same"
    assert config["data_format"] == "channels_first"
    assert config["p"] == 5.0
    assert config["normalize"] is False
    assert config["trainable_p"] is False
    assert LpPooling2D.from_config(config).get_config() == config
    glob = GlobalLpPooling1D(keepdims=True, p=math.inf).get_config()
    assert glob["keepdims"] is True and math.isinf(glob["p"])
    assert keras.saving.get_registered_object("zoo>LpPooling2D") is LpPooling2D


# -- training ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target_p,start_p", [(math.inf, 2.0), (1.0, 2.5)])
def test_p_is_learned_inside_fit(target_p, start_p):
    """Targets made by max pooling pull p up; targets made by mean |x| pull it down to 1."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(15).normal(size=(256, 12, 2)).astype("float32")
    target = lp_pool_reference(x, (4,), (4,), "valid", target_p, True).astype("float32")
    layer = LpPooling1D(4, p=start_p, trainable_p=True)
    model = keras.Sequential([keras.Input((12, 2)), layer])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    before = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=15, batch_size=64, verbose=0)
    after = model.evaluate(x, target, verbose=0)
    learned = float(layer.p_weight.numpy())
    assert after < 0.5 * before
    if math.isinf(target_p):
        assert learned > start_p + 1.0
    else:
        assert 1.0 <= learned < 1.2  # the constraint keeps p >= 1 while it is pushed below


# -- bad arguments and inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"p": 0.5}, r"`p` must be a number >= 1.*p=0.5"),
        ({"p": -math.inf}, r"`p` must be a number >= 1"),
        ({"p": math.nan}, r"`p` must be a number >= 1.*nan"),
        ({"p": "2"}, r"`p` must be a number >= 1.*str"),
        ({"p": None}, r"`p` must be a number >= 1"),
        ({"p": True}, r"`p` must be a number >= 1.*bool"),
        ({"p": math.inf, "trainable_p": True}, r"`p` must be finite when `trainable_p=True`"),
        ({"trainable_p": "yes"}, r"`trainable_p` must be True or False"),
        ({"normalize": 1}, r"`normalize` must be True or False"),
        ({"pool_size": 0}, r"`pool_size` must be a positive int.*pool_size=\(0, 0\)"),
        ({"pool_size": (2, 2, 2)}, r"`pool_size` must be .*2 positive ints"),
        ({"pool_size": 2.5}, r"`pool_size`"),
        ({"strides": -1}, r"`strides` must be a positive int"),
        ({"padding": "full"}, r"Unknown padding 'full'. Choose one of: 'valid', 'same'"),
        ({"data_format": "NHWC"}, r"Unknown data_format 'nhwc'. Choose one of"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LpPooling2D(**kwargs)


def test_bad_global_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"`keepdims` must be True or False"):
        GlobalLpPooling2D(keepdims="no")
    with pytest.raises(ValueError, match=r"`p` must be a number >= 1.*p=0.0"):
        GlobalLpPooling1D(p=0.0)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"`inputs` of LpPooling2D must have rank 4"):
        LpPooling2D(2)(np.ones((2, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"`inputs` of LpPooling1D must have rank 3"):
        LpPooling1D(2)(np.ones((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"`inputs` of GlobalLpPooling2D must have rank 4"):
        GlobalLpPooling2D()(np.ones((2, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"`pool_size` \(4, 4\) is larger than the input"):
        LpPooling2D(4)(np.ones((1, 3, 8, 2), "float32"))
    with pytest.raises(ValueError, match=r"`inputs` of LpPooling1D must have rank 3"):
        keras.Sequential([keras.Input((4, 4, 2)), LpPooling1D(2)])


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 64.0])
def test_mixed_float16_does_not_overflow(p):
    # x² (p = 2) and the global sums pass float16's max of 65504 for |x| ~ 300: computed in float32.
    x = np.random.default_rng(16).uniform(500.0, 2000.0, size=(2, 8, 8, 3)).astype("float32")
    y = LpPooling2D(2, p=p, dtype="mixed_float16")(x)
    g = GlobalLpPooling2D(p=p, dtype="mixed_float16")(x)
    assert y.dtype == tf.float16 and g.dtype == tf.float16
    # Two float16 roundings (the input cast, the output cast), 2^-11 relative each: 10x their sum.
    rtol = 10 * 2 * 2.0**-11
    expected = lp_pool_reference(x, (2, 2), (2, 2), "valid", p, True)
    np.testing.assert_allclose(y.numpy().astype("float64"), expected, rtol=rtol)
    expected = lp_norm(x.reshape(2, 64, 3).transpose(1, 0, 2), p, True)
    np.testing.assert_allclose(g.numpy().astype("float64"), expected, rtol=rtol)


@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same")])
def test_unknown_spatial_sizes_in_a_compiled_model(pool, strides, padding):
    inputs = keras.Input((None, None, 2))
    outputs = [
        LpPooling2D(pool, strides, padding, p=p, trainable_p=trainable)(inputs)
        for p, trainable in [(2.0, False), (3.0, False), (2.5, True)]
    ]
    model = keras.Model(inputs, outputs)
    predict = tf.function(model, reduce_retracing=True)
    for size in [(7, 5), (6, 9)]:
        x = np.random.default_rng(size[0]).normal(size=(2, *size, 2)).astype("float32")
        ys = predict(tf.constant(x))
        for y, p in zip(ys, (2.0, 3.0, 2.5), strict=True):
            s = strides or pool
            expected = lp_pool_reference(x, (pool, pool), (s, s), padding, p, True)
            np.testing.assert_allclose(y.numpy(), expected, rtol=2e-5, atol=1e-6)


def _xla_step(layer, weights=None):
    """An XLA-compiled step: x → (y, [∂L/∂x, ∂L/∂weights...]) for L = Σ y·weights (cropped to y's
    shape; all ones when None)."""

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            w = 1.0 if weights is None else weights[:, : y.shape[1], : y.shape[2]]
            loss = tf.reduce_sum(y * w)
        return y, tape.gradient(loss, [x, *layer.trainable_weights])

    return step


def test_forward_and_gradients_under_xla():
    x = np.random.default_rng(17).normal(size=(2, 7, 6, 3)).astype("float32")
    weights = np.random.default_rng(18).normal(size=(2, 4, 3, 3))
    # Disjoint "valid" windows take the blocked reductions of `lp_blocks` under XLA (the 7×6
    # input crops a row); overlapping or "same" windows the pooling kernels.
    cases = [
        (LpPooling2D(2, p=2.0), (2, 2), (2, 2), "valid", 2.0),
        (LpPooling2D(2, p=1.0), (2, 2), (2, 2), "valid", 1.0),
        (LpPooling2D(2, p=float("inf")), (2, 2), (2, 2), "valid", float("inf")),
        (LpPooling2D(2, p=3.0, normalize=False), (2, 2), (2, 2), "valid", 3.0),
        (LpPooling2D((2, 3), p=2.5, trainable_p=True), (2, 3), (2, 3), "valid", 2.5),
        (LpPooling2D(3, 2, "same", p=2.5, trainable_p=True), (3, 3), (2, 2), "same", 2.5),
    ]
    for layer, pool, strides, padding, p in cases:
        normalize = layer.normalize
        step = _xla_step(layer, weights)

        def reference(z, p=p, pool=pool, strides=strides, padding=padding, normalize=normalize):
            y = lp_pool_reference(z, pool, strides, padding, p, normalize)
            return float((y * weights[:, : y.shape[1], : y.shape[2]]).sum())

        y, grads = step(tf.constant(x))
        expected = lp_pool_reference(x, pool, strides, padding, p, normalize)
        np.testing.assert_allclose(y.numpy(), expected, rtol=2e-5, atol=1e-6)
        # float32 gradients against central differences of the float64 definition: each entry is
        # a sum over ≤ 4 windows of O(1) terms, so float32 rounding leaves ~1e-6; the difference
        # quotient (step 1e-6 in float64) is good to ~1e-9. 1e-5 relative, 1e-6 absolute.
        fd = _central_difference(reference, x.astype("float64"))
        np.testing.assert_allclose(grads[0].numpy(), fd, rtol=1e-5, atol=1e-6)
        if layer.trainable_p:
            eps = 1e-6
            dp = (reference(x, p=p + eps) - reference(x, p=p - eps)) / (2 * eps)
            np.testing.assert_allclose(float(grads[1]), dp, rtol=1e-5)


@pytest.mark.parametrize("p", [1.0, 2.0, 2.5])
def test_xla_blocks_without_a_cropped_edge_match_the_definition(p):
    # Sizes that are multiples of the pool (8×6, 2×2) skip the crop and the padding back.
    x = np.random.default_rng(23).normal(size=(2, 8, 6, 3)).astype("float32")
    weights = np.random.default_rng(24).normal(size=(2, 4, 3, 3))
    layer = LpPooling2D(2, p=p)

    def reference(z):
        return float((lp_pool_reference(z, (2, 2), (2, 2), "valid", p, True) * weights).sum())

    y, (grad,) = _xla_step(layer, weights)(tf.constant(x))
    expected = lp_pool_reference(x, (2, 2), (2, 2), "valid", p, True)
    np.testing.assert_allclose(y.numpy(), expected, rtol=2e-5, atol=1e-6)
    # As in the test above: float32 sums of <= 4 terms against float64 central differences.
    fd = _central_difference(reference, x.astype("float64"))
    np.testing.assert_allclose(grad.numpy(), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("trainable_p", [False, True])
def test_large_p_under_xla_scales_each_window_by_its_own_max(trainable_p):
    # p = 64 on values near 1e3 overflows the plain power mean: the forward takes the scaled
    # fallback, and the branch-free gradient under XLA (from y alone) must stay exact.
    x = (1e3 * np.random.default_rng(21).uniform(0.5, 1.0, size=(2, 6, 6, 2))).astype("float32")
    weights = np.random.default_rng(22).normal(size=(2, 3, 3, 2))
    layer = LpPooling2D(2, p=64.0, trainable_p=trainable_p)

    def reference(z, p=64.0):
        return float((lp_pool_reference(z, (2, 2), (2, 2), "valid", p, True) * weights).sum())

    y, grads = _xla_step(layer, weights)(tf.constant(x))
    expected = lp_pool_reference(x.astype("float64"), (2, 2), (2, 2), "valid", 64.0, True)
    # Each window's max times (mean of terms in [0, 1])^(1/64): float32 rounding, ~1e-6 relative.
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5)
    # d/dx = sign·(|x|/y)^63/4: float32 powers of ratios <= 4^(1/64) err by ~63·eps ≈ 8e-6
    # relative; central differences of the float64 definition (step 1e-3 on values ~1e3).
    fd = _central_difference(reference, x.astype("float64"), eps=1e-3)
    np.testing.assert_allclose(grads[0].numpy(), fd, rtol=5e-5, atol=1e-7)
    if trainable_p:
        dp = (
            reference(x.astype("float64"), 64.0 + 1e-4)
            - reference(x.astype("float64"), 64.0 - 1e-4)
        ) / 2e-4
        np.testing.assert_allclose(float(grads[1]), dp, rtol=1e-4)


def test_learned_p_under_xla_has_zero_gradients_on_zero_windows():
    x = np.random.default_rng(25).normal(size=(1, 4, 4, 1)).astype("float32")
    x[0, :2, :2, 0] = 0.0  # one all-zero window
    x[0, 2, 3, 0] = 0.0  # one zero in another
    layer = LpPooling2D(2, p=2.5, trainable_p=True)
    _, (grad_x, grad_p) = _xla_step(layer)(tf.constant(x))
    assert np.isfinite(grad_x.numpy()).all() and np.isfinite(float(grad_p))
    assert (grad_x.numpy()[0, :2, :2, 0] == 0).all() and grad_x.numpy()[0, 2, 3, 0] == 0

    def reference(z, p=2.5):
        return float(lp_pool_reference(z, (2, 2), (2, 2), "valid", p, True).sum())

    dp = (
        reference(x.astype("float64"), 2.5 + 1e-6) - reference(x.astype("float64"), 2.5 - 1e-6)
    ) / 2e-6
    # float32 sums of <= 4 terms against a float64 central difference: 1e-5 relative.
    np.testing.assert_allclose(float(grad_p), dp, rtol=1e-5)


def test_xla_context_is_seen_only_while_xla_compiles():
    seen = {}

    def probe(name):
        seen[name] = in_xla_context()
        return tf.constant(0.0)

    tf.function(lambda: probe("jit"), jit_compile=True)()
    tf.function(lambda: probe("graph"))()
    probe("eager")
    assert seen == {"jit": True, "graph": False, "eager": False}

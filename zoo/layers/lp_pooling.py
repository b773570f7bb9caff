"""Lp pooling: the (normalised) p-norm of each pooling window.

    y = ((1/|R|) Σ_{i∈R} |x_i|^p)^{1/p}        (normalize=True, the default)
    y = (Σ_{i∈R} |x_i|^p)^{1/p}                (normalize=False, PyTorch's LPPool form)

p = 1 is the mean of |x|, p = 2 the root mean square, p → ∞ the max of |x| (average pooling of
|x| and max pooling of |x| are the two ends). Every window is scaled by its own max |x| before the
power, so large p neither overflows nor underflows in float32, and the zero window has a finite
gradient.

This module holds `BaseLpPooling` (the windowed layers) and the parts shared with the global layers
in `global_lp_pooling.py`: validation of `p` and the optional trainable p weight.
"""

from __future__ import annotations

import math
import numbers

import keras
import tensorflow as tf

_PADDINGS = ("valid", "same")
_DATA_FORMATS = ("channels_last", "channels_first")


def _validate_p(p, trainable_p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ValueError(
            f"`p` must be a number >= 1 or float('inf'). Received: p={p!r} of type "
            f"{type(p).__name__}"
        )
    p = float(p)
    if math.isnan(p) or p < 1.0:
        raise ValueError(f"`p` must be a number >= 1 or float('inf'). Received: p={p!r}")
    if not isinstance(trainable_p, bool):
        raise ValueError(
            f"`trainable_p` must be True or False. Received: trainable_p={trainable_p!r}"
        )
    if trainable_p and math.isinf(p):
        raise ValueError(
            "`p` must be finite when `trainable_p=True` (it is the initial value of a weight). "
            f"Received: p={p!r}"
        )
    return p


def _validate_data_format(data_format):
    if data_format is None:
        data_format = keras.config.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in _DATA_FORMATS:
        raise ValueError(
            f"Unknown data_format {data_format!r}. Choose one of: 'channels_last', "
            "'channels_first'. (`data_format`)"
        )
    return data_format


def _validate_tuple(value, rank, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * rank
    try:
        value = tuple(value)
    except TypeError:
        value = None
    if (
        value is None
        or len(value) != rank
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
        or not all(v >= 1 for v in value)
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive ints. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in value)


@keras.saving.register_keras_serializable(package="zoo")
class AtLeastOne(keras.constraints.Constraint):
    """Projects a weight back to >= 1 after each optimizer step (keeps a learned p a valid norm)."""

    def __call__(self, w):
        return keras.ops.maximum(w, 1.0)

    def get_config(self):
        return {}


class _LpMixin:
    """What the windowed and the global Lp pooling layers share: p, the layout, the rank check.

    The layer sets `rank` (1 or 2) and `data_format` before using the layout methods.
    """

    def _spatial_axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return list(range(start, start + self.rank))

    def _check_rank(self, input_shape):
        """`input_shape` as a tuple, or an error naming the expected layout."""
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            spatial = "steps" if self.rank == 1 else "rows, cols"
            if self.data_format == "channels_first":
                layout = f"(batch, channels, {spatial})"
            else:
                layout = f"(batch, {spatial}, channels)"
            raise ValueError(
                f"`inputs` of {self.__class__.__name__} must have rank {self.rank + 2} {layout}. "
                f"Received: shape={input_shape}"
            )
        return input_shape

    def _init_p(self, p, normalize, trainable_p):
        self.p = _validate_p(p, trainable_p)
        if not isinstance(normalize, bool):
            raise ValueError(
                f"`normalize` must be True or False. Received: normalize={normalize!r}"
            )
        self.normalize = normalize
        self.trainable_p = trainable_p
        self.p_weight = None

    def _build_p(self):
        if self.trainable_p:
            # The weight *is* p (readable, initialised exactly at p, p = 1 allowed). The constraint
            # projects it back to >= 1 after each optimizer step, and `call` clamps it as well, so a
            # custom loop that skips constraints still pools with a valid norm.
            self.p_weight = self.add_weight(
                name="p",
                shape=(),
                # A callable rather than initializers.Constant, which rounds through float32.
                initializer=lambda shape, dtype: keras.ops.full(shape, self.p, dtype=dtype),
                constraint=AtLeastOne(),
                trainable=True,
            )

    @property
    def current_p(self) -> float:
        """The p in use now: the learned value when `trainable_p=True`, else the fixed `p`."""
        if self.p_weight is None:
            return self.p
        return max(float(keras.ops.convert_to_numpy(self.p_weight)), 1.0)

    def _p_tensor(self, dtype):
        return tf.maximum(tf.cast(self.p_weight, dtype), tf.constant(1.0, dtype))

    def _p_config(self):
        return {"p": self.p, "normalize": self.normalize, "trainable_p": self.trainable_p}


def _as_compute_tensor(inputs, compute_dtype):
    """The input as a float tensor to compute with, and the dtype to return.

    float16 is computed in float32: x² of the p = 2 path and the sums of the global layers overflow
    float16's 65504 already for |x| ~ 300.
    """
    x = tf.convert_to_tensor(inputs)
    if not x.dtype.is_floating:
        x = tf.cast(x, compute_dtype)
    out_dtype = x.dtype
    if x.dtype == tf.float16:
        x = tf.cast(x, tf.float32)
    return x, out_dtype


def _safe_root(total, p, scale):
    """scale * total^(1/p), 0 where scale == 0, with a finite gradient there."""
    positive = scale > 0
    safe_total = tf.where(positive, total, tf.ones_like(total))
    return tf.where(positive, scale * tf.pow(safe_total, 1.0 / p), tf.zeros_like(scale))


# Smallest normal number per float dtype (float32 and bfloat16 share 2^-126).
_SMALLEST_NORMAL = {tf.float16: 2.0**-14, tf.float64: 2.0**-1022}


def _int_power(p):
    """p as an int if it is a fixed integer from 3 to 16 (cheaper by multiplication), else None."""
    if isinstance(p, float) and p.is_integer() and 3 <= p <= 16:
        return int(p)
    return None


def _pow_01(r, p):
    """r^p for r in [0, 1] and p >= 1, without tf.pow (slow on CPU).

    A fixed integer p from 3 to 16 is computed by repeated squaring (at most 7 multiplications).
    Otherwise exp(p·log r), with r floored at the dtype's smallest normal number so log never sees
    0: the floored terms are below 1.2e-38 (float32), nothing next to a window's max term of 1, and
    the gradients with respect to r and p stay finite where r = 0.
    """
    n = _int_power(p)
    if n is not None:
        result, base = None, r
        while n:
            if n & 1:
                result = base if result is None else result * base
            n >>= 1
            if n:
                base = base * base
        return result
    tiny = tf.constant(_SMALLEST_NORMAL.get(r.dtype, 2.0**-126), r.dtype)
    return tf.exp(p * tf.math.log(tf.maximum(r, tiny)))


@tf.custom_gradient
def _safe_sqrt(q):
    """sqrt(q) for q >= 0 whose gradient is 0 (not inf) at q = 0; one op forward."""
    y = tf.sqrt(q)

    def grad(upstream):
        return tf.math.divide_no_nan(0.5 * upstream, y)

    return y, grad


def _same_padding(n, k, s):
    """TensorFlow's 'same' padding (before, after) and output length along one axis."""
    out = -(-n // s)
    total = tf.maximum((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2, out


def _window_counts(n, k, s, padding):
    """|R| per output position along one axis: the number of real (non-padded) inputs."""
    if padding == "valid":
        out = (n - k) // s + 1
        return tf.fill([out], k)
    before, _, out = _same_padding(n, k, s)
    start = tf.range(out) * s - before
    return tf.minimum(start + k, n) - tf.maximum(start, 0)


class BaseLpPooling(_LpMixin, keras.layers.Layer):
    """Shared implementation of `LpPooling1D` and `LpPooling2D` (see their docstrings).

    Works on channels-last rank-4 tensors; 1D inputs are viewed as (batch, 1, steps, channels).
    """

    def __init__(
        self,
        rank,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        p=2.0,
        normalize=True,
        trainable_p=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rank = rank
        self.pool_size = _validate_tuple(pool_size, rank, "pool_size")
        strides = _validate_tuple(strides, rank, "strides", allow_none=True)
        self.strides = self.pool_size if strides is None else strides
        padding = str(padding).lower()
        if padding not in _PADDINGS:
            raise ValueError(
                f"Unknown padding {padding!r}. Choose one of: 'valid', 'same'. (`padding`)"
            )
        self.padding = padding
        self.data_format = _validate_data_format(data_format)
        self._init_p(p, normalize, trainable_p)

    # -- shapes ---------------------------------------------------------------------------------

    def _check_input_shape(self, input_shape):
        input_shape = self._check_rank(input_shape)
        if self.padding == "valid":
            sizes = [input_shape[a] for a in self._spatial_axes()]
            for n, k in zip(sizes, self.pool_size, strict=True):
                if n is not None and n < k:
                    raise ValueError(
                        f"`pool_size` {self.pool_size} is larger than the input's spatial size "
                        f"{tuple(sizes)} with padding='valid' (use padding='same'). "
                        f"Received: shape={input_shape}"
                    )
        return input_shape

    def compute_output_shape(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        out = list(input_shape)
        for axis, k, s in zip(self._spatial_axes(), self.pool_size, self.strides, strict=True):
            n = input_shape[axis]
            if n is None:
                continue
            out[axis] = (n - k) // s + 1 if self.padding == "valid" else -(-n // s)
        return tuple(out)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        self._build_p()

    # -- computation ----------------------------------------------------------------------------

    def call(self, inputs):
        x, out_dtype = _as_compute_tensor(inputs, self.compute_dtype)
        if self.data_format == "channels_first":
            perm = [0, *range(2, self.rank + 2), 1]
            x = tf.transpose(x, perm)
        if self.rank == 1:
            x = tf.expand_dims(x, 1)
            pool, strides = (1, *self.pool_size), (1, *self.strides)
        else:
            pool, strides = self.pool_size, self.strides
        y = self._pool_channels_last(x, pool, strides)
        if self.rank == 1:
            y = tf.squeeze(y, 1)
        if self.data_format == "channels_first":
            perm = [0, self.rank + 1, *range(1, self.rank + 1)]
            y = tf.transpose(y, perm)
        return tf.cast(y, out_dtype)

    def _counts(self, x, pool, strides):
        """|R| of every output window of input `x`, shape (out_rows, out_cols, 1), x's dtype."""
        shape = tf.shape(x)
        rows = _window_counts(shape[1], pool[0], strides[0], self.padding)
        cols = _window_counts(shape[2], pool[1], strides[1], self.padding)
        return tf.cast(rows[:, None, None] * cols[None, :, None], x.dtype)

    def _pool_channels_last(self, x, pool, strides):
        padding = self.padding.upper()
        if not self.trainable_p:
            if math.isinf(self.p):
                return tf.nn.max_pool2d(tf.abs(x), pool, strides, padding)
            if self.p in (1.0, 2.0):
                # tf.nn.avg_pool divides by the number of real (non-padded) inputs: our |R|.
                pooled = tf.abs(x) if self.p == 1.0 else tf.square(x)
                mean = tf.nn.avg_pool2d(pooled, pool, strides, padding)
                if not self.normalize:
                    mean = mean * self._counts(x, pool, strides)
                return mean if self.p == 1.0 else _safe_sqrt(mean)
            p = self.p  # a Python float: integer p takes the multiplication path
        else:
            p = self._p_tensor(x.dtype)
        return self._generic(tf.abs(x), p, pool, strides)

    def _generic(self, a, p, pool, strides):
        """Scaled power: m_R · (Σ_R (|x|/m_R)^p / |R|)^{1/p}, m_R the window max of |x|.

        Every term (|x|/m_R)^p lies in [0, 1] and the max term is 1, so nothing overflows or
        underflows. The result does not depend on m_R mathematically, so m_R is a constant for the
        gradient (stop_gradient: exact, and cheaper).
        """
        padding = self.padding.upper()
        m = tf.stop_gradient(tf.nn.max_pool2d(a, pool, strides, padding))
        safe_m = tf.where(m > 0, m, tf.ones_like(m))
        counts = self._counts(a, pool, strides)
        shape = tf.shape(a)
        if self.padding == "same":
            top, bottom, out_rows = _same_padding(shape[1], pool[0], strides[0])
            left, right, out_cols = _same_padding(shape[2], pool[1], strides[1])
            a = tf.pad(a, [[0, 0], [top, bottom], [left, right], [0, 0]])
        else:
            out_rows = (shape[1] - pool[0]) // strides[0] + 1
            out_cols = (shape[2] - pool[1]) // strides[1] + 1
        if tuple(strides) == tuple(pool):
            # Disjoint windows (the default strides): view the (cropped or zero-padded) input as
            # (batch, out_rows, kh, out_cols, kw, channels), divide by the broadcast window max,
            # then let the average-pooling kernel sum each window.
            a = a[:, : out_rows * pool[0], : out_cols * pool[1], :]
            blocks = tf.reshape(a, [shape[0], out_rows, pool[0], out_cols, pool[1], shape[3]])
            scaled = blocks / safe_m[:, :, None, :, None, :]
            terms = tf.reshape(_pow_01(scaled, p), tf.shape(a))
            window_size = tf.constant(pool[0] * pool[1], a.dtype)
            total = tf.nn.avg_pool2d(terms, pool, strides, "VALID") * window_size
        else:
            # Overlapping windows: every window gathered by one extract_patches (each input then
            # appears in several windows, each scaled by its own max). Measured faster than
            # kh·kw strided slices of the input, forward and backward.
            def windows(t):
                patches = tf.image.extract_patches(
                    t,
                    sizes=[1, pool[0], pool[1], 1],
                    strides=[1, strides[0], strides[1], 1],
                    rates=[1, 1, 1, 1],
                    padding="VALID",
                )
                rows, cols = tf.shape(patches)[1], tf.shape(patches)[2]
                return tf.reshape(patches, [shape[0], rows, cols, pool[0] * pool[1], shape[3]])

            if _int_power(p) is not None:
                terms = _pow_01(windows(a) / safe_m[:, :, :, None, :], p)
            else:
                # exp(p·(log|x| − log m_R)): one log per input, one exp per (window, input) pair.
                tiny = tf.constant(_SMALLEST_NORMAL.get(a.dtype, 2.0**-126), a.dtype)
                log_a = tf.math.log(tf.maximum(a, tiny))
                log_m = tf.math.log(tf.maximum(safe_m, tiny))
                terms = tf.exp(p * (windows(log_a) - log_m[:, :, :, None, :]))
            total = tf.reduce_sum(terms, axis=3)
        if self.normalize:
            total = total / counts
        return _safe_root(total, p, m)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                **self._p_config(),
            }
        )
        return config


_MATH = """
    For each pooling window R (|R| = the number of real inputs in R: padded positions of
    padding="same" are not counted, exactly as Keras' AveragePooling divides):

        y = ((1/|R|) Σ_{i∈R} |x_i|^p)^{1/p}      normalize=True  (p=1: mean |x|, p=∞: max |x|)
        y = (Σ_{i∈R} |x_i|^p)^{1/p}              normalize=False (PyTorch's LPPool on x >= 0)

    Computation: p = 1 and p = 2 use the average-pooling kernel (on |x| and x², so p = 2 is finite
    for |x| < 1.8e19 in float32) and p = inf max pooling. Any other p, and a trainable p, scales
    each window by its own max m_R first, y = m_R · ((1/|R|) Σ (|x_i|/m_R)^p)^{1/p}, so every term
    is in [0, 1]: p = 64 on values ~1e3 (or ~1e-20) stays exact in float32. Integer p up to 16 is
    raised by multiplication, other p by exp(p·log). float16 inputs are computed in float32. An
    all-zero window gives 0 with a finite (zero) gradient, also with respect to a trainable p.
    NaN inputs propagate to the windows that contain them.
"""

_ARGS = """
        p: float >= 1, or float('inf') for the max of |x|. The initial value when `trainable_p`.
        normalize: True for the mean form (1/|R|), False for the sum form.
        trainable_p: learn p as a scalar weight named "p", kept >= 1 (projected after each
            optimizer step and clamped in `call`); `layer.current_p` reads the learned value
            (the config keeps the initial `p`; the weight travels with the saved weights).
        data_format: "channels_last" (default: `keras.config.image_data_format()`) or
            "channels_first".
        **kwargs: base Layer arguments (name, dtype, ...)."""

_REFERENCE = """
    Reference:
        Sermanet, Chintala & LeCun, "Convolutional Neural Networks Applied to House Numbers Digit
        Classification", ICPR 2012 (Lp pooling). Gulcehre, Cho, Pascanu & Bengio, "Learned-Norm
        Pooling for Deep Feedforward and Recurrent Neural Networks", ECML-PKDD 2014 (learned p).
"""


@keras.saving.register_keras_serializable(package="zoo")
class LpPooling1D(BaseLpPooling):
    __doc__ = (
        """Lp pooling over windows of the steps axis of (batch, steps, channels).
"""
        + _MATH
        + """
    Args:
        pool_size: int, window length. Default 2.
        strides: int or None (None: `pool_size`).
        padding: "valid" or "same", as in `keras.layers.AveragePooling1D`."""
        + _ARGS
        + """

    Input shape:
        (batch, steps, channels), or (batch, channels, steps) with channels_first.

    Output shape:
        (batch, pooled_steps, channels) (channels_first: (batch, channels, pooled_steps)), where
        pooled_steps = (steps - pool_size) // strides + 1 for "valid", ceil(steps / strides) for
        "same".

    Example:
        >>> x = np.array([[[3.0], [-4.0]]])
        >>> LpPooling1D(pool_size=2, p=2, normalize=False)(x)  # sqrt(9 + 16) = 5
"""
        + _REFERENCE
    )

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding="valid",
        data_format=None,
        p=2.0,
        normalize=True,
        trainable_p=False,
        **kwargs,
    ):
        super().__init__(
            1, pool_size, strides, padding, data_format, p, normalize, trainable_p, **kwargs
        )


@keras.saving.register_keras_serializable(package="zoo")
class LpPooling2D(BaseLpPooling):
    __doc__ = (
        """Lp pooling over windows of the two spatial axes of (batch, rows, cols, channels).
"""
        + _MATH
        + """
    Args:
        pool_size: int or (rows, cols). Default (2, 2).
        strides: int, (rows, cols) or None (None: `pool_size`).
        padding: "valid" or "same", as in `keras.layers.AveragePooling2D`."""
        + _ARGS
        + """

    Input shape:
        (batch, rows, cols, channels), or (batch, channels, rows, cols) with channels_first.

    Output shape:
        (batch, pooled_rows, pooled_cols, channels) (channels_first: channels before the spatial
        axes); per axis (n - pool) // stride + 1 for "valid", ceil(n / stride) for "same".

    Example:
        >>> layer = LpPooling2D(pool_size=2, p=3.0)
        >>> layer(np.ones((1, 4, 4, 8), "float32")).shape
        TensorShape([1, 2, 2, 8])
"""
        + _REFERENCE
    )

    def __init__(
        self,
        pool_size=(2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        p=2.0,
        normalize=True,
        trainable_p=False,
        **kwargs,
    ):
        super().__init__(
            2, pool_size, strides, padding, data_format, p, normalize, trainable_p, **kwargs
        )

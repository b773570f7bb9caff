"""Lp pooling: the (normalised) p-norm of each pooling window.

    y = ((1/|R|) Σ_{i∈R} |x_i|^p)^{1/p}        (normalize=True, the default)
    y = (Σ_{i∈R} |x_i|^p)^{1/p}                (normalize=False, PyTorch's LPPool form)

p = 1 is the mean of |x|, p = 2 the root mean square, p → ∞ the max of |x| (average pooling of
|x| and max pooling of |x| are the two ends). Where a window's power mean would overflow or
underflow (large p), every window is scaled by its own max |x| before the power, and the zero
window has a finite gradient.

This module holds `BaseLpPooling` (the windowed layers): the window geometry and the window
reductions; the recipe itself and what the global layers share live in `lp_base.py`.
"""

from __future__ import annotations

import dataclasses
import numbers

import keras
import tensorflow as tf

from zoo.layers import lp_base
from zoo.layers.lp_base import AtLeastOne, LpMixin, Regions
from zoo.layers.lp_blocks import block_regions
from zoo.layers.xla_context import in_xla_context

__all__ = ["AtLeastOne", "BaseLpPooling", "LpPooling1D", "LpPooling2D"]

_PADDINGS = ("valid", "same")


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


def _arguments(local_names):
    """A subclass constructor's arguments (its `locals()`) as keywords for `BaseLpPooling`."""
    arguments = {k: v for k, v in local_names.items() if k not in ("self", "__class__")}
    extra = arguments.pop("kwargs")
    return {**arguments, **extra}


class BaseLpPooling(LpMixin, keras.layers.Layer):
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
        self.data_format = lp_base.validate_data_format(data_format)
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
        x, out_dtype = lp_base.as_compute_tensor(inputs, self.compute_dtype)
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
        power_sum = lambda a, m, p: self._power_sum(a, m, p, pool, strides)  # noqa: E731
        disjoint = tuple(strides) == tuple(pool) and self.padding == "valid"
        if disjoint and in_xla_context():
            # Disjoint windows under XLA: window sums and maxes as slices of a blocked view,
            # which XLA fuses with the powers into one elementwise loop, and the gradient from
            # the blocks (`lp_blocks`); the pooling kernels elsewhere.
            return self.lp_pool(x, block_regions(x, pool, power_sum))
        regions = Regions(
            max=lambda a: tf.nn.max_pool2d(a, pool, strides, padding),
            mean=lambda v: tf.nn.avg_pool2d(v, pool, strides, padding),
            spread=lambda g: tf.raw_ops.AvgPoolGrad(
                orig_input_shape=tf.shape(x),
                grad=g,
                ksize=[1, *pool, 1],
                strides=[1, *strides, 1],
                padding=padding,
            ),
            count=lambda: self._counts(x, pool, strides),
            power_sum=power_sum,
        )
        if disjoint:
            # The gradient's spread(w)·f as one broadcast product over the blocked f, faster
            # than average pooling's gradient alone (`lp_blocks`); the forward keeps the kernels.
            regions = dataclasses.replace(
                regions, spread_times=block_regions(x, pool, power_sum).spread_times
            )
        return self.lp_pool(x, regions)

    def _power_sum(self, a, safe_m, p, pool, strides):
        """Σ_R (|x|/m_R)^p per window, m_R the (non-zero) window max."""
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
            terms = tf.reshape(lp_base.pow_01(scaled, p), tf.shape(a))
            window_size = tf.constant(pool[0] * pool[1], a.dtype)
            return tf.nn.avg_pool2d(terms, pool, strides, "VALID") * window_size

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

        if lp_base.int_power(p) is not None:
            terms = lp_base.pow_01(windows(a) / safe_m[:, :, :, None, :], p)
        else:
            # exp(p·(log|x| − log m_R)): one log per input, one exp per (window, input) pair.
            tiny = lp_base.tiny(a.dtype)
            log_a = tf.math.log(tf.maximum(a, tiny))
            log_m = tf.math.log(tf.maximum(safe_m, tiny))
            terms = tf.exp(p * (windows(log_a) - log_m[:, :, :, None, :]))
        return tf.reduce_sum(terms, axis=3)

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


_MATH = (
    """
    For each pooling window R (|R| = the number of real inputs in R: padded positions of
    padding="same" are not counted, exactly as Keras' AveragePooling divides):

        y = ((1/|R|) Σ_{i∈R} |x_i|^p)^{1/p}      normalize=True  (p=1: mean |x|, p=∞: max |x|)
        y = (Σ_{i∈R} |x_i|^p)^{1/p}              normalize=False (PyTorch's LPPool on x >= 0)
"""
    + lp_base.MATH_NOTES
)
_ARGS = lp_base.ARGS
_REFERENCE = lp_base.REFERENCE


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
        super().__init__(1, **_arguments(locals()))


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
        super().__init__(2, **_arguments(locals()))

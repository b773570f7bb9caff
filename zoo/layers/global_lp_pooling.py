"""Global Lp pooling: the (normalised) p-norm of |x| over all spatial positions, per channel."""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.layers import lp_base
from zoo.layers.lp_base import LpMixin, Regions


class BaseGlobalLpPooling(LpMixin, keras.layers.Layer):
    """Shared implementation of `GlobalLpPooling1D` and `GlobalLpPooling2D`."""

    def __init__(
        self,
        rank,
        data_format=None,
        keepdims=False,
        p=2.0,
        normalize=True,
        trainable_p=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = lp_base.validate_data_format(data_format)
        if not isinstance(keepdims, bool):
            raise ValueError(f"`keepdims` must be True or False. Received: keepdims={keepdims!r}")
        self.keepdims = keepdims
        self._init_p(p, normalize, trainable_p)

    def compute_output_shape(self, input_shape):
        input_shape = self._check_rank(input_shape)
        axes = self._spatial_axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def build(self, input_shape):
        self._check_rank(input_shape)
        self._build_p()

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, mask=None):
        x, out_dtype = lp_base.as_compute_tensor(inputs, self.compute_dtype)
        axes = self._spatial_axes()
        if mask is not None:
            # Masked steps (1D only) are not in R: zero them, and count only the kept ones.
            weight = tf.cast(mask, x.dtype)
            weight = tf.expand_dims(weight, -1 if self.data_format == "channels_last" else 1)
            x = x * weight
            count = tf.maximum(tf.reduce_sum(weight, axis=axes, keepdims=True), 1.0)
        else:
            count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), x.dtype)

        def total(v):
            return tf.reduce_sum(v, axis=axes, keepdims=True)

        regions = Regions(
            max=lambda a: tf.reduce_max(a, axis=axes, keepdims=True),
            mean=lambda v: total(v) / count,
            spread=lambda g: g / count,
            count=lambda: count,
            power_sum=lambda a, m, p: total(lp_base.pow_01(a / m, p)),
        )
        y = self.lp_pool(x, regions)
        if not self.keepdims:
            y = tf.squeeze(y, axes)
        return tf.cast(y, out_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"data_format": self.data_format, "keepdims": self.keepdims, **self._p_config()}
        )
        return config


_ARGS = lp_base.ARGS
_REFERENCE = lp_base.REFERENCE

_MATH = """
    Per sample and channel, over all N spatial positions (N = unmasked steps when a Keras mask is
    given to the 1D layer):

        y = ((1/N) Σ |x_i|^p)^{1/p}    normalize=True  (p=1: mean |x|, p=2: RMS, p=∞: max |x|)
        y = (Σ |x_i|^p)^{1/p}          normalize=False (the p-norm)

    p = inf is a plain max; other p the mean of |x|^p and its root, with a gradient in closed form;
    where that would overflow or underflow (large p) the values are scaled by their max |x| first,
    and an all-zero input gives 0 with a finite gradient.
"""


@keras.saving.register_keras_serializable(package="zoo")
class GlobalLpPooling1D(BaseGlobalLpPooling):
    __doc__ = (
        """Global Lp pooling over the steps axis of (batch, steps, channels); supports masking.
"""
        + _MATH
        + """
    Args:
        keepdims: keep the steps axis (length 1), as in `keras.layers.GlobalAveragePooling1D`."""
        + _ARGS
        + """

    Input shape:
        (batch, steps, channels), or (batch, channels, steps) with channels_first.

    Output shape:
        (batch, channels); with keepdims (batch, 1, channels) or (batch, channels, 1).

    Example:
        >>> GlobalLpPooling1D(p=2, normalize=False)(np.array([[[3.0], [4.0]]]))  # [[5.0]]
"""
        + _REFERENCE
    )

    def __init__(
        self, data_format=None, keepdims=False, p=2.0, normalize=True, trainable_p=False, **kwargs
    ):
        super().__init__(1, data_format, keepdims, p, normalize, trainable_p, **kwargs)
        self.supports_masking = True


@keras.saving.register_keras_serializable(package="zoo")
class GlobalLpPooling2D(BaseGlobalLpPooling):
    __doc__ = (
        """Global Lp pooling over the spatial axes of (batch, rows, cols, channels).
"""
        + _MATH
        + """
    Args:
        keepdims: keep the spatial axes (length 1), as in `keras.layers.GlobalAveragePooling2D`."""
        + _ARGS
        + """

    Input shape:
        (batch, rows, cols, channels), or (batch, channels, rows, cols) with channels_first.

    Output shape:
        (batch, channels); with keepdims (batch, 1, 1, channels) or (batch, channels, 1, 1).

    Example:
        >>> GlobalLpPooling2D(p=4.0)(np.ones((2, 5, 5, 3), "float32")).shape
        TensorShape([2, 3])
"""
        + _REFERENCE
    )

    def __init__(
        self, data_format=None, keepdims=False, p=2.0, normalize=True, trainable_p=False, **kwargs
    ):
        super().__init__(2, data_format, keepdims, p, normalize, trainable_p, **kwargs)

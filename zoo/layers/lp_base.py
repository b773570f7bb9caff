"""The Lp-pooling recipe, once, for the windowed (`lp_pooling.py`) and global layers.

    y = ((1/|R|) Σ_{i∈R} |x_i|^p)^{1/p}        (normalize=True)
    y = (Σ_{i∈R} |x_i|^p)^{1/p}                (normalize=False)

`LpMixin.lp_pool` is the recipe; a layer supplies the region operations (`Regions`): the max of
|x| over each region, the mean of a tensor over each region and its adjoint, |R|, and
Σ_R (|x|/m_R)^p.

* p = ∞: the max of |x|.
* any finite p, fixed or learned: `lp_power_mean.power_mean`, the mean of |x|^p per region (x² for
  p = 2, products and one sqrt for p = 2 + q with q a multiple of 1/2, exp(p·log|x|) otherwise),
  its root exp(log(·)/p), and a gradient in closed form. Only when a power mean leaves 2^±100
  somewhere (large p, values far from 1) is every region scaled by its own max m_R instead, so each
  term (|x|/m_R)^p lies in [0, 1], and y = m_R · (mean of the terms)^{1/p}; m_R is a constant for
  the gradient (the value does not depend on it). An all-zero region gives 0 with a zero gradient.

The module also holds the argument checks and the learned-p weight both layer families share.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from zoo.layers.lp_power_mean import int_pow, power_mean

DATA_FORMATS = ("channels_last", "channels_first")

# Smallest normal number per float dtype (float32 and bfloat16 share 2^-126).
_SMALLEST_NORMAL = {tf.float16: 2.0**-14, tf.float64: 2.0**-1022}


def tiny(dtype) -> tf.Tensor:
    """The dtype's smallest normal number: a floor that keeps log finite."""
    return tf.constant(_SMALLEST_NORMAL.get(dtype, 2.0**-126), dtype)


def validate_p(p, trainable_p) -> float:
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


def validate_data_format(data_format) -> str:
    if data_format is None:
        data_format = keras.config.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"Unknown data_format {data_format!r}. Choose one of: 'channels_last', "
            "'channels_first'. (`data_format`)"
        )
    return data_format


@keras.saving.register_keras_serializable(package="zoo")
class AtLeastOne(keras.constraints.Constraint):
    """Projects a weight back to >= 1 after each optimizer step (keeps a learned p a valid norm)."""

    def __call__(self, w):
        return keras.ops.maximum(w, 1.0)

    def get_config(self):
        return {}


def as_compute_tensor(inputs, compute_dtype):
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


def int_power(p):
    """p as an int if it is a fixed integer from 3 to 16 (cheaper by multiplication), else None."""
    if isinstance(p, float) and p.is_integer() and 3 <= p <= 16:
        return int(p)
    return None


def pow_01(r, p):
    """r^p for r >= 0 (in [0, 1] on the scaled path) and p >= 1, without tf.pow (slow on CPU).

    A fixed integer p from 3 to 16 is computed by repeated squaring (at most 7 multiplications).
    Otherwise exp(p·log r), with r floored at the dtype's smallest normal number so log never sees
    0: the floored terms are below 1.2e-38 (float32), nothing next to a region's max term of 1, and
    the gradients with respect to r and p stay finite where r = 0.
    """
    n = int_power(p)
    if n is not None:
        return int_pow(r, n)
    return tf.exp(p * tf.math.log(tf.maximum(r, tiny(r.dtype))))


def safe_root(mean, p, scale):
    """scale · mean^(1/p) = scale · exp(log(mean)/p), 0 where scale == 0, finite gradient there.

    `mean` is in (0, 1] wherever scale > 0 (the max term is 1), so the log is safe there.
    """
    positive = scale > 0
    safe_mean = tf.where(positive, mean, tf.ones_like(mean))
    return tf.where(positive, scale * tf.exp(tf.math.log(safe_mean) / p), tf.zeros_like(scale))


@dataclass(frozen=True)
class Regions:
    """How a layer reduces over its regions R (windows, or all spatial positions).

    max(a): max of `a` per region; mean(v): mean of `v` per region (over the real inputs);
    spread(g): the adjoint of `mean` (its gradient for upstream g, shaped like the input or
    broadcastable to it); count(): |R| per region, broadcastable to the results;
    power_sum(a, m, p): Σ_R (a/m_R)^p with m the (safe, non-zero) per-region scale;
    broadcast(v): each region's value on each of its inputs, only for disjoint regions (else
    None), which gives the branch-free gradient of `lp_power_mean`;
    spread_times(g, f): spread(g) · f for `f` shaped like the input, in one pass where the regions
    allow it (disjoint windows: a broadcast product of the blocked f); None: the two ops.
    """

    max: Callable
    mean: Callable
    spread: Callable
    count: Callable
    power_sum: Callable
    broadcast: Callable | None = None
    spread_times: Callable | None = None

    def spread_product(self, g, f):
        """spread(g) · f (see `spread_times`)."""
        if self.spread_times is None:
            return self.spread(g) * f
        return self.spread_times(g, f)


class LpMixin:
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
        self.p = validate_p(p, trainable_p)
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

    def _p_config(self):
        return {"p": self.p, "normalize": self.normalize, "trainable_p": self.trainable_p}

    def lp_pool(self, x, regions: Regions):
        """The recipe (module docstring) on the compute tensor `x`."""
        if not self.trainable_p:
            if math.isinf(self.p):
                return regions.max(tf.abs(x))
            p = self.p  # a Python float: the power takes the cheapest exact form for it
        else:
            p = tf.maximum(tf.cast(self.p_weight, x.dtype), tf.constant(1.0, x.dtype))

        def scaled(x, p):
            # Each region divided by its own max m_R: every term in [0, 1]; m_R is a constant for
            # the gradient (y does not depend on it).
            a = tf.abs(x)
            m = tf.stop_gradient(regions.max(a))
            safe_m = tf.where(m > 0, m, tf.ones_like(m))
            total = regions.power_sum(a, safe_m, p)
            return safe_root(total / regions.count() if self.normalize else total, p, m)

        return power_mean(x, p, regions, self.normalize, scaled)


MATH_NOTES = """
    Computation: p = inf is max pooling of |x|; any other p the average pooling of |x|^p (x² for
    p = 2, so p = 2 is finite for |x| < 1.8e19 in float32), its root exp(log(·)/p), and a gradient
    in closed form (one average-pooling gradient and one product; on disjoint windows one
    broadcast product over the blocked input). Powers p = 2 + q with q a
    multiple of 1/2 up to 16 take multiplications and at most one sqrt, other p exp(p·log|x|).
    Where a window's power mean leaves 2^±100 (large p, values far from 1), the call instead scales
    each window by its own max m_R, y = m_R · ((1/|R|) Σ (|x_i|/m_R)^p)^{1/p}, so every term is in
    [0, 1]: p = 64 on values ~1e3 (or ~1e-20) stays exact in float32. float16 inputs are computed
    in float32. An all-zero region gives 0 with a finite (zero) gradient, also with respect to a
    trainable p. NaN inputs propagate to the regions that contain them. While XLA compiles the
    call (`jit_compile=True`, Keras' default for `fit` where every layer supports it), disjoint
    "valid" windows with p = 1, 2 or inf are reduced as blocks, which XLA fuses with the power
    into one pass (`zoo.layers.lp_blocks`); the same values, to float32 rounding.
"""

ARGS = """
        p: float >= 1, or float('inf') for the max of |x|. The initial value when `trainable_p`.
        normalize: True for the mean form (1/|R|), False for the sum form.
        trainable_p: learn p as a scalar weight named "p", kept >= 1 (projected after each
            optimizer step and clamped in `call`); `layer.current_p` reads the learned value
            (the config keeps the initial `p`; the weight travels with the saved weights).
        data_format: "channels_last" (default: `keras.config.image_data_format()`) or
            "channels_first".
        **kwargs: base Layer arguments (name, dtype, ...)."""

REFERENCE = """
    Reference:
        Sermanet, Chintala & LeCun, "Convolutional Neural Networks Applied to House Numbers Digit
        Classification", ICPR 2012 (Lp pooling). Gulcehre, Cho, Pascanu & Bengio, "Learned-Norm
        Pooling for Deep Feedforward and Recurrent Neural Networks", ECML-PKDD 2014 (learned p).
"""

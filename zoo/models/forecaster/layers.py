"""Small graph pieces of the forecaster: in-graph scaling, the seasonal prior, the quantile output.

They keep normalisation inside the model (raw units in, raw units out), so a served SavedModel
needs no client-side preprocessing.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["PinballLoss", "QuantileOutput", "SeasonalPrior", "WindowScaling"]


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return value


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"`{name}` must be a number > 0. Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="zoo")
class WindowScaling(keras.layers.Layer):
    """x_n = (x - level) / scale, level = mean of each window's last `level_steps` values.

    `scale` is a constant fixed when the model is built (from the training part of the data);
    the level is computed per window in the graph, so the network sees series of any level.
    The third output s, the unit of the quantile band, is `scale` too or, with `adaptive=True`,
    each window's standard deviation (floored at 0.05·scale): the band then grows with the
    series' current amplitude.

    With `window` set, a call on another number of steps is an error (not a silent reshape).

    Input shape: (batch, window, 1).
    Output: [x_n (batch, window, 1), level (batch, 1), s (batch, 1)].
    """

    def __init__(
        self,
        level_steps: int,
        scale: float,
        window: int | None = None,
        adaptive: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.level_steps = _positive_int("level_steps", level_steps)
        self.scale = _positive_float("scale", scale)
        self.window = None if window is None else _positive_int("window", window)
        if not isinstance(adaptive, bool):
            raise ValueError(f"`adaptive` must be True or False. Received: adaptive={adaptive!r}")
        self.adaptive = adaptive

    def _check(self, shape) -> None:
        if len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                "`series` must have shape (batch, window, 1) of raw past values. "
                f"Received: shape={tuple(shape)}"
            )
        if self.window is not None and shape[1] is not None and shape[1] != self.window:
            raise ValueError(
                f"`series` must hold exactly window={self.window} past values per row. "
                f"Received: shape={tuple(shape)}"
            )

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, inputs):
        self._check(inputs.shape)
        if self.window is not None:
            # Traced steps often have an unknown length: check the running shape as well. The
            # check is on the data path (EnsureShape passes its input through), so no part of
            # the network can run on a wrong window before it fails; a control dependency on an
            # assert did not guarantee that (a mis-shaped MatMul once reported first).
            inputs = tf.ensure_shape(
                inputs,
                (None, self.window, 1),
                name=f"series_must_hold_window_{self.window}_values",
            )
        level = tf.reduce_mean(inputs[:, -self.level_steps :, :], axis=1)
        if self.adaptive:
            # Per-window spread, floored at 5% of the training scale (a flat window stays finite).
            spread = tf.maximum(tf.math.reduce_std(inputs, axis=1), 0.05 * self.scale)
        else:
            spread = tf.ones_like(level) * self.scale
        return [(inputs - level[:, tf.newaxis, :]) / self.scale, level, spread]

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape), (input_shape[0], 1), (input_shape[0], 1)]

    def get_config(self):
        return {
            **super().get_config(),
            "level_steps": self.level_steps,
            "scale": self.scale,
            "window": self.window,
            "adaptive": self.adaptive,
        }


@keras.saving.register_keras_serializable(package="zoo")
class SeasonalPrior(keras.layers.Layer):
    """The seasonal-naive path of each window: prior[h] = x[T + h - period·ceil(h/period)].

    `period=0` gives a zero prior (the forecast is then relative to the window level).

    Input shape: (batch, window, 1) with window ≥ period. Output shape: (batch, horizon).
    """

    def __init__(self, period: int, horizon: int, **kwargs):
        super().__init__(**kwargs)
        self.period = _positive_int("period", period, minimum=0)
        self.horizon = _positive_int("horizon", horizon)

    def call(self, inputs):
        x = inputs[:, :, 0]
        if self.period == 0:
            return tf.zeros_like(x[:, :1]) * tf.zeros((1, self.horizon), x.dtype)
        window = tf.shape(x)[1]
        index = window - self.period + tf.range(self.horizon) % self.period
        return tf.gather(x, index, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon)

    def get_config(self):
        return {**super().get_config(), "period": self.period, "horizon": self.horizon}


@keras.saving.register_keras_serializable(package="zoo")
class QuantileOutput(keras.layers.Layer):
    """Back to raw units: forecast = level + scale·point; quantiles (0.1, 0.5, 0.9) around it.

    Inputs: [point (batch, H), widths (batch, H, 2) ≥ 0, level (batch, 1), s (batch, 1)]. The
    0.1 and 0.9 quantiles are point ∓ band_scale·s·width (so they never cross the median),
    band_scale being calibrated on held-out training windows.
    Output: [forecast (batch, H), quantiles (batch, H, 3)].
    """

    def __init__(self, scale: float, band_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _positive_float("scale", scale)
        self.band_scale = _positive_float("band_scale", band_scale)

    def call(self, inputs):
        point, widths, level, unit = inputs
        forecast = level + self.scale * point
        spread = unit[:, :, tf.newaxis] * self.band_scale * widths
        quantiles = tf.stack(
            [forecast - spread[..., 0], forecast, forecast + spread[..., 1]], axis=-1
        )
        return [forecast, quantiles]

    def compute_output_shape(self, input_shape):
        point = tuple(input_shape[0])
        return [point, (*point, 3)]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "band_scale": self.band_scale}


@keras.saving.register_keras_serializable(package="zoo")
class PinballLoss(keras.losses.Loss):
    """Mean pinball loss over the last axis, one quantile level per position of that axis."""

    def __init__(self, levels=(0.1, 0.5, 0.9), name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.levels = tuple(float(q) for q in levels)

    def call(self, y_true, y_pred):
        q = tf.constant(self.levels, dtype=y_pred.dtype)
        diff = tf.cast(y_true, y_pred.dtype)[..., tf.newaxis] - y_pred
        return tf.reduce_mean(tf.maximum(q * diff, (q - 1.0) * diff), axis=-1)

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}

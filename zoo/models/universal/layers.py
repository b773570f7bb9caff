"""The custom layers of the universal forecaster, registered so a saved model loads anywhere.

* `SeriesScaler` — per-series normalisation inside the model (scale-free in, raw units out).
* `TimeQueries` — one ODE initial state per (series, requested future time).
* `TimeScaledField` — the latent vector field, rescaled so a fixed [0, 1] solve reaches any time.
* `QuantileHead` — monotone quantiles (q₀.₁ ≤ q₀.₅ ≤ q₀.₉) from the latent state at each time.
* `Denormalise` — the quantiles back in the series' units.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["Denormalise", "QuantileHead", "SeriesScaler", "TimeQueries", "TimeScaledField"]

# Normalised values are clipped to ±this: a scale estimated from a few points can be tiny.
_CLIP = 50.0


@keras.saving.register_keras_serializable(package="zoo")
class SeriesScaler(keras.layers.Layer):
    """Normalise each series by its observed part: z = (x − loc) / scale, 0 where x is NaN.

    loc is the last observed value, scale the standard deviation of the observed values, floored
    at `min_relative_scale`·mean|x| + 1e-8 (a constant series gets a finite scale). Both are
    equivariant: for a > 0, x → a·x + b maps loc → a·loc + b and scale → a·scale (while the floor is
    not active), so z, and the network's normalised output, do not change.

    Input shape:
        (batch, time), float, NaN for missing values and left padding.

    Output:
        [z (batch, time), observed (batch, time) bool, loc (batch, 1), scale (batch, 1),
        count (batch, 1)], the last the number of observed values.
    """

    def __init__(self, min_relative_scale: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.min_relative_scale = float(min_relative_scale)

    def call(self, x):
        x = tf.cast(x, self.compute_dtype)
        observed = tf.math.is_finite(x)
        weight = tf.cast(observed, x.dtype)
        filled = tf.where(observed, x, tf.zeros_like(x))
        count = tf.reduce_sum(weight, axis=1, keepdims=True)
        safe = tf.maximum(count, 1.0)
        mean = tf.reduce_sum(filled, axis=1, keepdims=True) / safe
        var = tf.reduce_sum(weight * tf.square(filled - mean), axis=1, keepdims=True) / safe
        mean_abs = tf.reduce_sum(tf.abs(filled), axis=1, keepdims=True) / safe
        scale = tf.maximum(tf.sqrt(var), self.min_relative_scale * mean_abs + 1e-8)
        # Index of the last observed value (0 when nothing is observed).
        steps = tf.shape(x)[1]
        positions = tf.range(steps)[None, :]
        last_index = tf.reduce_max(tf.where(observed, positions, tf.zeros_like(positions)), axis=1)
        loc = tf.gather(filled, last_index, batch_dims=1)[:, None]
        z = tf.where(observed, tf.clip_by_value((filled - loc) / scale, -_CLIP, _CLIP), 0.0)
        return [z, observed, loc, scale, count]

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape
        return [(batch, steps), (batch, steps), (batch, 1), (batch, 1), (batch, 1)]

    def compute_output_spec(self, x):
        batch, steps = x.shape
        f = self.compute_dtype
        return [
            keras.KerasTensor((batch, steps), f),
            keras.KerasTensor((batch, steps), "bool"),
            keras.KerasTensor((batch, 1), f),
            keras.KerasTensor((batch, 1), f),
            keras.KerasTensor((batch, 1), f),
        ]

    def get_config(self):
        return {**super().get_config(), "min_relative_scale": self.min_relative_scale}


@keras.saving.register_keras_serializable(package="zoo")
class TimeQueries(keras.layers.Layer):
    """Pair every series' latent start with every requested future time.

    Given h₀ (batch, d), a context code c (batch, k) and times τ (batch, K) (or, without times,
    τ = 1, …, `horizon` for every series), returns the rows [h₀, c, τ/time_scale] of shape
    (batch·K, d + k + 1), series-major: row i·K + j is series i at time τ_ij.
    """

    def __init__(self, horizon: int, time_scale: float, **kwargs):
        super().__init__(**kwargs)
        self.horizon = int(horizon)
        self.time_scale = float(time_scale)

    def call(self, inputs):
        h0, code = inputs[0], inputs[1]
        batch = tf.shape(h0)[0]
        if len(inputs) > 2:
            times = tf.cast(inputs[2], h0.dtype)
        else:
            grid = tf.range(1, self.horizon + 1, dtype=h0.dtype)[None, :]
            times = tf.tile(grid, tf.stack([batch, 1]))
        k = tf.shape(times)[1]
        start = tf.concat([h0, code], axis=1)
        start = tf.repeat(start, k, axis=0)
        u = tf.reshape(times, (-1, 1)) / self.time_scale
        return tf.concat([start, u], axis=1)

    def compute_output_shape(self, input_shapes):
        return (None, input_shapes[0][1] + input_shapes[1][1] + 1)

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "time_scale": self.time_scale}


@keras.saving.register_keras_serializable(package="zoo")
class TimeScaledField(keras.layers.Layer):
    """dz/ds for z = [h, c, u] on s ∈ [0, 1]: [u·f(h, c), 0, 0].

    With u = τ/T fixed, h(s) solves dh/dt = f(h, c) at t = s·τ/T (rescaled time), so the state at
    s = 1 is the latent state at the requested time τ: one fixed solve answers any time, also
    non-integer and irregular ones. f is a two-layer tanh network of the state and the code.

    Input/output shape: (rows, state_dim + code_dim + 1).
    """

    def __init__(self, state_dim: int, code_dim: int, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.state_dim = int(state_dim)
        self.code_dim = int(code_dim)
        self.hidden = int(hidden)
        self.inner = keras.layers.Dense(self.hidden, activation="tanh", name="inner")
        self.outer = keras.layers.Dense(
            self.state_dim, name="outer", kernel_initializer=keras.initializers.VarianceScaling(0.1)
        )

    def build(self, input_shape):
        self.inner.build((input_shape[0], self.state_dim + self.code_dim))
        self.outer.build((input_shape[0], self.hidden))

    def call(self, z):
        hc = z[:, : self.state_dim + self.code_dim]
        u = z[:, -1:]
        dh = u * self.outer(self.inner(hc))
        return tf.concat([dh, tf.zeros_like(z[:, self.state_dim :])], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "state_dim": self.state_dim,
            "code_dim": self.code_dim,
            "hidden": self.hidden,
        }


@keras.saving.register_keras_serializable(package="zoo")
class QuantileHead(keras.layers.Layer):
    """Normalised quantiles at each (series, time) row, reshaped to (batch, K, 3).

    q₀.₅ = w·g(z), q₀.₁ = q₀.₅ − softplus(·), q₀.₉ = q₀.₅ + softplus(·), so the three never cross.
    Inputs: the ODE end states (batch·K, D) and the times (batch, K) (or the context, to count
    the batch, when the default times 1..horizon are used).
    """

    def __init__(self, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.inner = keras.layers.Dense(self.hidden, activation="gelu", name="inner")
        self.outer = keras.layers.Dense(3, name="outer")

    def build(self, input_shapes):
        self.inner.build(input_shapes[0])
        self.outer.build((None, self.hidden))

    def call(self, inputs):
        states, reference = inputs
        raw = self.outer(self.inner(states))
        mid = raw[:, 1:2]
        low = mid - tf.nn.softplus(raw[:, 0:1])
        high = mid + tf.nn.softplus(raw[:, 2:3])
        q = tf.concat([low, mid, high], axis=1)
        batch = tf.shape(reference)[0]
        return tf.reshape(q, tf.stack([batch, -1, 3]))

    def compute_output_shape(self, input_shapes):
        return (input_shapes[1][0], None, 3)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="zoo")
class Denormalise(keras.layers.Layer):
    """Back to raw units: quantiles loc + scale·q (batch, K, 3) and the forecast, their median.

    Inputs: [q (batch, K, 3), loc (batch, 1), scale (batch, 1)]. Output: [forecast (batch, K),
    quantiles (batch, K, 3)].
    """

    def call(self, inputs):
        q, loc, scale = inputs
        quantiles = loc[:, :, None] + scale[:, :, None] * q
        return [quantiles[:, :, 1], quantiles]

    def compute_output_shape(self, input_shapes):
        batch, k, n = input_shapes[0]
        return [(batch, k), (batch, k, n)]

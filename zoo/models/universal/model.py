"""The universal zero-shot forecaster: LSTM encoder, neural-ODE decoder in continuous time.

    x (batch, T), NaN = missing/left padding
      └─ SeriesScaler: z = (x − loc)/scale on the observed values, mask of observed steps
          └─ LSTM over [z, observed] (masked steps carry the state unchanged, so left padding and
             gaps are skipped: a padded series gives the same code as the unpadded one)
              └─ code c = [LSTM state, log(1 + n)/5]; h₀ = tanh(W c)
                  └─ TimeQueries: one row [h₀, c', τ/T] per requested time τ (default 1..H)
                      └─ ODEBlock (rk4): dh/dt = f(h, c'), solved to t = τ for every row
                          └─ QuantileHead: q₀.₁ ≤ q₀.₅ ≤ q₀.₉ (normalised)
                              └─ Denormalise: loc + scale·q  →  {"forecast", "quantiles"}

Times are in steps of the series' own sampling interval after its last observation (τ = 1 is the
next step); any positive times work, also fractional and irregular ones (build with
`future_times=True` for a model with the extra input "times" (batch, K)). Irregularly sampled
history: put the observations on a regular grid with NaN in the gaps; the encoder skips them.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.layers import ODEBlock
from zoo.models.common.zoo_model import ZooModel
from zoo.models.universal.layers import (
    Denormalise,
    QuantileHead,
    SeriesScaler,
    TimeQueries,
    TimeScaledField,
)

__all__ = ["QUANTILES", "build_universal_forecaster", "with_future_times"]

# The quantile levels of the "quantiles" output, in order.
QUANTILES = (0.1, 0.5, 0.9)


@keras.saving.register_keras_serializable(package="zoo")
class CountFeature(keras.layers.Layer):
    """log(1 + n)/5 of the observed count n (batch, 1): how much history the code rests on."""

    def call(self, count):
        return tf.math.log1p(count) / 5.0

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="zoo")
class StackSteps(keras.layers.Layer):
    """[z, observed] (batch, T) each → (batch, T, 2) float: the LSTM's per-step input."""

    def call(self, inputs):
        z, observed = inputs
        return tf.stack([z, tf.cast(observed, z.dtype)], axis=-1)

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0], 2)


@keras.saving.register_keras_serializable(package="zoo")
class UniversalForecaster(ZooModel):
    """The universal forecaster (see the module docstring); its config is its builder's kwargs.

    Args:
        context_length: the longest history the model reads (a forecast keeps the last
            `context_length` values); shorter series are left-padded with NaN.
        horizon: number of default future times 1..horizon (without the "times" input).
        lstm_units: width of the LSTM encoder.
        state_dim: dimension of the latent ODE state h.
        code_dim: dimension of the context code c' that conditions the vector field.
        field_hidden: hidden width of the vector field f.
        head_hidden: hidden width of the quantile head.
        time_scale: T in u = τ/T (the ODE runs over t ∈ [0, τ/T] in its own units).
        num_steps: rk4 steps of every solve.
        future_times: add the input "times" (batch, K) of requested future times.
        name: the model's name.

    Input: "context" (batch, T) float32 (T ≤ context_length is read as given; NaN = missing).
    Output: {"forecast": (batch, K), "quantiles": (batch, K, 3)} in the series' units, the
    quantiles at levels `QUANTILES`; K = horizon, or the number of requested times.
    """

    def __init__(
        self,
        *,
        context_length: int = 96,
        horizon: int = 24,
        lstm_units: int = 96,
        state_dim: int = 32,
        code_dim: int = 16,
        field_hidden: int = 64,
        head_hidden: int = 64,
        time_scale: float = 24.0,
        num_steps: int = 6,
        future_times: bool = False,
        name: str = "forecaster_universal",
        **kwargs,
    ) -> None:
        config = {
            "context_length": context_length,
            "horizon": horizon,
            "lstm_units": lstm_units,
            "state_dim": state_dim,
            "code_dim": code_dim,
            "field_hidden": field_hidden,
            "head_hidden": head_hidden,
            "time_scale": float(time_scale),
            "num_steps": num_steps,
        }
        for arg, value in config.items():
            if arg == "time_scale":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be an integer >= 1. Received: {arg}={value!r}")
        if not time_scale > 0:
            raise ValueError(f"`time_scale` must be > 0. Received: time_scale={time_scale!r}")
        context = keras.Input((None,), name="context")
        inputs = {"context": context}
        z, observed, loc, scale, count = SeriesScaler(name="scaler")(context)
        steps = StackSteps(name="steps")([z, observed])
        encoded = keras.layers.LSTM(lstm_units, name="encoder")(steps, mask=observed)
        code = keras.layers.Concatenate(name="code")(
            [encoded, CountFeature(name="count_feature")(count)]
        )
        h0 = keras.layers.Dense(state_dim, activation="tanh", name="initial_state")(code)
        field_code = keras.layers.Dense(code_dim, activation="tanh", name="field_code")(code)
        queries = [h0, field_code]
        if future_times:
            times = keras.Input((None,), name="times")
            inputs["times"] = times
            queries.append(times)
        rows = TimeQueries(horizon, time_scale, name="queries")(queries)
        field = TimeScaledField(state_dim, code_dim, field_hidden, name="field")
        ends = ODEBlock(field, solver="rk4", num_steps=num_steps, name="decoder")(rows)
        normalised = QuantileHead(head_hidden, name="head")([ends, context])
        forecast, quantiles = Denormalise(name="denormalise")([normalised, loc, scale])
        super().__init__(
            inputs if future_times else context,
            {"forecast": forecast, "quantiles": quantiles},
            config={**config, "future_times": bool(future_times)},
            name=name,
            **kwargs,
        )

    def served_model(self, period: int | None = None) -> keras.Model:
        """What `zoo export` exports: this model itself, or with `period` the model that removes
        that season in the graph and answers as `zoo.forecast(..., period=period)`
        (`zoo.models.universal.served.served_forecaster`)."""
        if period is None:
            return self
        from zoo.models.universal.served import served_forecaster

        return served_forecaster(self, period=period)


def build_universal_forecaster(**config) -> UniversalForecaster:
    """The untrained `UniversalForecaster` for builder kwargs `config` (see its Args)."""
    return UniversalForecaster(**config)


def with_future_times(model: keras.Model, config: dict) -> keras.Model:
    """`model`'s weights in a model built from `config` with the extra input "times"."""
    timed = build_universal_forecaster(**{**config, "future_times": True})
    timed.set_weights(model.get_weights())
    return timed

"""`served_forecaster(model, period)`: the universal forecaster with its seasonal adjustment and
band scales in the graph, so an exported SavedModel answers as `zoo.predict` / `zoo.forecast`.

    context (batch, W) float32, NaN = missing / left padding
      └─ the transform (a model fine-tuned in the log scale: z = log y, values ≤ 0 read as NaN)
      └─ seasonal index of each row's last `window` values (`graph_seasonality.py`), y/s or y − s
          └─ the network on the last `context_length` adjusted values
              └─ q·s or q + s at the steps after each row's last value
                  └─ toward the seasonal naive forecast by `naive_weight` (naive_blend.py)
                  └─ band scales (a fine-tuned model): q₀.₁ = q₀.₅ − λ_lo·(q₀.₅ − q₀.₁), …
                     times f ≥ 1 per row for an adaptive band: the steps above also run on each
                     row cut H + j values short, j < r, and f comes from their misses
                     (`adaptive_band.py`)
                      └─ back from the transform (exp for "log")
                      └─ {"forecast": (batch, H), "quantiles": (batch, H, 3)} float32

The season and window are fixed when the served model is built, as the SavedModel signature has
one input: a `TunedUniversalForecaster` brings its own (`transform`, `adjust_period`, `history`,
band scales, adaptive band, as `tuned.forecast_histories`); a zero-shot `UniversalForecaster`
takes `period` (None or 1: no adjustment, only the last `context_length` values read) and fits the
index on the last max(context_length, `SEASONS`·period) values, as `forecast.forecast` with that
period.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.models.universal.adaptive_band import graph_recent_contexts, graph_widening
from zoo.models.universal.graph_seasonality import graph_seasonal_index
from zoo.models.universal.naive_blend import graph_shift_toward_naive
from zoo.models.universal.transform import check_transform, graph_forward, graph_inverse
from zoo.models.universal.user_settings import SEASONS, user_settings

__all__ = ["SeasonalForecast", "served_forecaster"]


@keras.saving.register_keras_serializable(package="zoo")
class SeasonalForecast(keras.layers.Layer):
    """`network` between the graph seasonal adjustment and its inverse, then the band scales.

    Args:
        network: the universal forecaster (its call: context → {"forecast", "quantiles"}).
        period: the season removed (1: none).
        window: the last values the seasonal index is fitted on.
        context_length: the last values the network reads.
        band_lower: per-step scales of the 0.1 quantile's distance to the median, or None.
        band_upper: likewise for the 0.9 quantile.
        transform: "none" or "log": the scale the rest works in (`transform.py`).
        naive_period: the season of the seasonal naive forecast.
        naive_weight: how far the quantiles move toward it (`naive_blend.py`; 0: not at all).
        band_adapt: r earlier origins that widen the band (`adaptive_band.py`; 0: static).

    Input shape: (batch, W) float32, NaN-left-padded.
    Output shape: {"forecast": (batch, H), "quantiles": (batch, H, 3)}.
    """

    def __init__(
        self,
        network: keras.Model,
        *,
        period: int,
        window: int,
        context_length: int,
        band_lower=None,
        band_upper=None,
        transform: str = "none",
        naive_period: int = 1,
        naive_weight: float = 0.0,
        band_adapt: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.network = network
        self.period = int(period)
        self.window = int(window)
        self.context_length = int(context_length)
        self.band_lower = None if band_lower is None else [float(v) for v in band_lower]
        self.band_upper = None if band_upper is None else [float(v) for v in band_upper]
        self.transform = check_transform(transform)
        self.naive_period = int(naive_period)
        self.naive_weight = float(naive_weight)
        self.band_adapt = int(band_adapt)

    def _quantiles(self, z):
        """(batch, H, 3) float64 quantiles of the transformed batch z, band not scaled."""
        season = graph_seasonal_index(z, self.period, self.window, self.transform == "none")
        window = z[:, -self.window :]
        adjusted = season.adjust(window)[:, -self.context_length :]
        out = self.network(tf.cast(adjusted, tf.float32), training=False)
        q = season.restore(tf.cast(out["quantiles"], tf.float64))
        if self.naive_weight > 0:
            q = graph_shift_toward_naive(q, z, self.naive_period, self.naive_weight)
        return q

    def call(self, context):
        z = graph_forward(tf.cast(context, tf.float64), self.transform)
        if self.band_adapt > 0:
            horizon = int(self.network.builder_config["horizon"])
            earlier, actual, has_values = graph_recent_contexts(z, horizon, self.band_adapt)
            q = self._quantiles(tf.concat([z, earlier], 0))
            batch = tf.shape(z)[0]
            earlier_q = tf.reshape(q[batch:], [self.band_adapt, batch, horizon, 3])
            q = q[:batch]
        else:
            q = self._quantiles(z)
        if self.band_lower is not None:
            lower = tf.constant(self.band_lower, tf.float64)
            upper = tf.constant(self.band_upper, tf.float64)
            if self.band_adapt > 0:
                factor = graph_widening(actual, earlier_q, lower, upper, has_values)[:, None]
                lower, upper = factor * lower, factor * upper
            lower, upper = lower[..., None], upper[..., None]
            mid = q[..., 1:2]
            q = tf.concat(
                [mid - lower * (mid - q[..., :1]), mid, mid + upper * (q[..., 2:] - mid)], -1
            )
        q = tf.cast(graph_inverse(q, self.transform), tf.float32)
        return {"forecast": q[..., 1], "quantiles": q}

    def compute_output_shape(self, input_shape):
        horizon = self.network.outputs[0].shape[1]
        return {"forecast": (input_shape[0], horizon), "quantiles": (input_shape[0], horizon, 3)}

    def get_config(self):
        return super().get_config() | {
            "network": keras.saving.serialize_keras_object(self.network),
            "period": self.period,
            "window": self.window,
            "context_length": self.context_length,
            "band_lower": self.band_lower,
            "band_upper": self.band_upper,
            "transform": self.transform,
            "naive_period": self.naive_period,
            "naive_weight": self.naive_weight,
            "band_adapt": self.band_adapt,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def served_forecaster(model: keras.Model, period: int | None = None) -> keras.Model:
    """A functional model, input "context" (batch, W), that forecasts as `zoo.predict` does.

    Args:
        model: a `TunedUniversalForecaster` (its own transform, season, history and band
            scales; `period` must then be None) or a zero-shot `UniversalForecaster`.
        period: the zero-shot model's season (None or 1: no seasonal adjustment).

    Export it with `zoo.export(served_forecaster(model), ...)`: the SavedModel's signatures
    return the forecast and quantiles of `zoo.predict` (tuned) / `zoo.forecast(model, series,
    horizon, period=period)` (zero-shot, its default horizon).
    """
    config = model.builder_config
    settings = user_settings(model)
    length = int(config["context_length"])
    if settings and period is not None:
        raise ValueError(
            "`period` must be None for a fine-tuned model (it brings its own season "
            f"adjust_period={settings['adjust_period']}). Received: period={period!r}"
        )
    if period is not None and (
        isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1
    ):
        raise ValueError(f"`period` must be an integer >= 1 or None. Received: period={period!r}")
    if settings:
        season = settings["adjust_period"]
        window = settings["history"] or max(length, SEASONS * season)
        bands = {"band_lower": settings["band_lower"], "band_upper": settings["band_upper"]}
        bands["transform"] = settings.get("transform", "none")
        bands["naive_period"] = settings["period"]
        bands["naive_weight"] = settings.get("naive_weight", 0.0)
        bands["band_adapt"] = settings.get("band_adapt", 0)
    else:
        season, bands = period or 1, {}
        window = max(length, SEASONS * season)
    context = keras.Input((None,), name="context")
    layer = SeasonalForecast(
        model,
        period=season,
        window=window,
        context_length=length,
        name="seasonal_forecast",
        **bands,
    )
    return keras.Model(context, layer(context), name=model.name)

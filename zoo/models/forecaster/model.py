"""`IntegralForecaster`: an LSTM forecaster whose head integrates a predicted velocity.

Architecture (`build_forecaster`), raw units in and out:

    series (batch, window, 1)
      -> WindowScaling: x_n = (x - level) / scale, level = mean of the last `level_steps` values
      -> per ensemble member: LSTM encoder over the last `lstm_steps` of x_n, concatenated with
         the whole scaled window (a linear skip path)
         -> Dense: velocities v_0..v_H of the forecast's departure from the seasonal prior
         -> IntegralLayer (rectangle rule): the departure path d(h) = ∫_0^h v dt, d(0) = 0
         -> Dense: the offset c at the origin, and the widths of the 0.1/0.9 quantiles
      -> point(h) = prior(h) + c + d(h), averaged over members; prior = the value one period ago
         (SeasonalPrior; zero for `period=0`)
      -> QuantileOutput: {"forecast": (batch, H), "quantiles": (batch, H, 3) for q = 0.1, 0.5, 0.9}

Why the integral: a forecast path is its start plus the integral of its rate of change. The head
predicts that rate (how fast the series drifts away from last season's shape: the growth rate for
CO2, the rise or decay of the solar cycle for sunspots) and IntegralLayer accumulates it, so a
smooth velocity gives a smooth, coherent path across the whole horizon instead of H independent
outputs.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.layers.integral import IntegralLayer
from zoo.models.common.backtest import check_series, model_window
from zoo.models.common.predictor import predictor
from zoo.models.common.zoo_model import ZooModel
from zoo.models.forecaster.layers import PinballLoss, QuantileOutput, SeasonalPrior, WindowScaling

QUANTILES = (0.1, 0.5, 0.9)


def _member(x_n, flat, prior, i: int, horizon: int, lstm_steps: int, units: int, dropout: float):
    """One ensemble member: (point (batch, H) in scaled units, widths (batch, H, 2))."""
    window = x_n.shape[1]
    recent = keras.layers.Cropping1D((window - lstm_steps, 0), name=f"m{i}_recent")(x_n)
    state = keras.layers.LSTM(units, name=f"m{i}_lstm")(recent)
    if dropout:
        state = keras.layers.Dropout(dropout, name=f"m{i}_dropout")(state)
    # Velocity = a linear map of the scaled window (least squares on the training windows) plus a
    # nonlinear correction from the LSTM state (starts at zero).
    # The linear path is fit in closed form (ridge), not by gradient steps: Adam's per-weight
    # steps would shake a (window x horizon) least-squares map far more than they improve it.
    linear = keras.layers.Dense(
        horizon + 1, kernel_initializer="zeros", trainable=False, name=f"m{i}_linear"
    )(flat)
    nonlinear = keras.layers.Dense(horizon + 1, kernel_initializer="zeros", name=f"m{i}_velocity")(
        state
    )
    velocity = keras.layers.Add(name=f"m{i}_velocity_sum")([linear, nonlinear])
    velocity = keras.layers.Reshape((horizon + 1, 1), name=f"m{i}_velocity_seq")(velocity)
    path = IntegralLayer(method="rectangle", name=f"m{i}_integral")(velocity)
    path = keras.layers.Cropping1D((1, 0), name=f"m{i}_path_steps")(path)
    path = keras.layers.Flatten(name=f"m{i}_path")(path)
    offset = keras.layers.Dense(1, kernel_initializer="zeros", name=f"m{i}_offset")(state)
    point = keras.layers.Add(name=f"m{i}_point")([prior, path, offset])
    features = keras.layers.Concatenate(name=f"m{i}_features")([state, flat])
    widths = keras.layers.Dense(
        2 * horizon, activation="softplus", bias_initializer="ones", name=f"m{i}_band"
    )(features)
    widths = keras.layers.Reshape((horizon, 2), name=f"m{i}_widths")(widths)
    return point, widths


@keras.saving.register_keras_serializable(package="zoo")
class IntegralForecaster(ZooModel):
    """An untrained forecaster: input "series" (batch, window, 1) of raw values.

    Args:
        window: past values the model sees (≥ period, ≥ level_steps).
        horizon: steps forecast.
        period: season length of the prior (the value one period earlier); 0 for no prior.
        level_steps: the per-window level is the mean of this many last values.
        scale: the constant the level-free window is divided by (raw units).
        band_scale: multiplies the learned quantile widths (calibrated on held-out windows).
        lstm_steps: the LSTM reads the last `lstm_steps` values (default: the whole window).
        units: LSTM units.
        members: ensemble members averaged in the graph (each trained on its own seed).
        dropout: dropout on each member's features while training.
        adaptive_scale: the quantile band's unit is each window's standard deviation (floored
            at 0.05·scale) instead of the constant `scale`: the band grows with the series'
            current amplitude.
        name: the model's name.

    Output: {"forecast": (batch, horizon), "quantiles": (batch, horizon, 3)} for q = 0.1, 0.5,
    0.9, raw units.
    """

    def __init__(
        self,
        *,
        window: int,
        horizon: int,
        period: int = 0,
        level_steps: int = 1,
        scale: float = 1.0,
        band_scale: float = 1.0,
        lstm_steps: int | None = None,
        units: int = 32,
        members: int = 1,
        dropout: float = 0.0,
        adaptive_scale: bool = False,
        name: str = "integral_forecaster",
        **kwargs: Any,
    ) -> None:
        for arg, value in (("window", window), ("horizon", horizon), ("units", units)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be an int >= 1. Received: {arg}={value!r}")
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise ValueError(f"`members` must be an int >= 1. Received: members={members!r}")
        lstm_steps = window if lstm_steps is None else lstm_steps
        for arg, value in (
            ("period", period),
            ("level_steps", level_steps),
            ("lstm_steps", lstm_steps),
        ):
            if not isinstance(value, int) or value > window:
                raise ValueError(
                    f"`{arg}` must be an int <= window ({window}). Received: {arg}={value!r}"
                )
        series = keras.Input((window, 1), name="series")
        x_n, level, spread = WindowScaling(
            level_steps, scale, window, adaptive_scale, name="scaling"
        )(series)
        prior = SeasonalPrior(period, horizon, name="seasonal_prior")(x_n)
        flat = keras.layers.Flatten(name="window_flat")(x_n)
        outputs = [
            _member(x_n, flat, prior, i, horizon, lstm_steps, units, dropout)
            for i in range(members)
        ]
        if members == 1:
            point, widths = outputs[0]
        else:
            point = keras.layers.Average(name="point")([p for p, _ in outputs])
            widths = keras.layers.Average(name="widths")([w for _, w in outputs])
        forecast, quantiles = QuantileOutput(scale, band_scale, name="output")(
            [point, widths, level, spread]
        )
        forecast = keras.layers.Identity(name="forecast")(forecast)
        quantiles = keras.layers.Identity(name="quantiles")(quantiles)
        config = {
            "window": window,
            "horizon": horizon,
            "period": period,
            "level_steps": level_steps,
            "scale": float(scale),
            "band_scale": float(band_scale),
            "lstm_steps": lstm_steps,
            "units": units,
            "members": members,
            "dropout": float(dropout),
            "adaptive_scale": bool(adaptive_scale),
        }
        super().__init__(
            series,
            {"forecast": forecast, "quantiles": quantiles},
            config=config,
            name=name,
            **kwargs,
        )


def build_forecaster(**config: Any) -> IntegralForecaster:
    """The untrained `IntegralForecaster` for builder kwargs `config` (see its Args)."""
    return IntegralForecaster(**config)


def compile_forecaster(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam; MAE on the point forecast, pinball loss on the quantiles."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"forecast": keras.losses.MeanAbsoluteError(), "quantiles": PinballLoss(QUANTILES)},
    )
    return model


def window_scale(values: np.ndarray, window: int, level_steps: int) -> float:
    """The spread of level-free training windows: std of x - mean(last `level_steps` of x)."""
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(values, "float64"), window)
    spread = float(np.std(view - view[:, -level_steps:].mean(axis=1, keepdims=True)))
    return spread if spread > 0 else 1.0


def predict(model: keras.Model, data) -> dict[str, np.ndarray]:
    """Forecast from the last `window` values of a raw 1-D series."""
    window = model_window(model)
    values = check_series(data, name="data", min_length=window)
    out = predictor(model)(values[None, -window:, None].astype("float32"))
    return {
        "forecast": np.asarray(out["forecast"])[0],
        "quantiles": np.asarray(out["quantiles"])[0],
    }

"""A forecaster on a user's series: forecast from the end of each series, evaluate at rolling
origins beside seasonal naive, ETS and ARIMA, and draw that evaluation.

The other series families' `user.py` have the same functions, so the face (`zoo.predict`,
`zoo.evaluate`, `zoo.backtest`, `zoo.plot` and the CLI) calls either without knowing which.
`series` is always a list of :class:`zoo.data.series_input.UserSeries` (one, or one per id of a
long-format file); their `period` is the season used by MASE and the baselines.

A history shorter than the model's window (an early origin of a short series) is padded on the
left with its first value: the model's input is always the last `window` values.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.models.common.backtest import model_window
from zoo.models.common.predictor import predictor
from zoo.models.common.rolling_origin import RollingOriginResult
from zoo.models.common.series_forecasts import evaluate_forecasts, forecast_rows, series_plotter

__all__ = ["evaluate_series", "forecast_histories", "plot_series", "predict_table"]


def forecast_histories(model: keras.Model, histories: Sequence[np.ndarray]) -> dict:
    """The model's {"forecast" (n, H), "quantiles" (n, H, 3)} from the end of each history."""
    window = model_window(model)
    inputs = np.empty((len(histories), window, 1), "float32")
    for k, history in enumerate(histories):
        tail = np.asarray(history, "float64")[-window:]
        inputs[k, :, 0] = np.pad(tail, (window - len(tail), 0), mode="edge")
    out = predictor(model)(inputs)
    return {"forecast": np.asarray(out["forecast"]), "quantiles": np.asarray(out["quantiles"])}


def model_horizon(model: keras.Model) -> int:
    """Steps the forecaster forecasts: the last axis of its "forecast" output."""
    return int(model.output["forecast"].shape[-1])


def predict_table(
    model: keras.Model, series: Sequence[UserSeries], horizon: int | None = None
) -> pd.DataFrame:
    """One row per series and future step: (unique_id,) (ds,) step, forecast, q0.1, q0.5, q0.9;
    the first `horizon` steps of the model's own (None: all of them)."""
    return forecast_rows(lambda histories: forecast_histories(model, histories), series, horizon)


def evaluate_series(
    model: keras.Model, series: Sequence[UserSeries], **options
) -> RollingOriginResult:
    """Rolling origins over the last `test_fraction` of every series (the model's horizon),
    beside the baselines refit at each origin (options of `evaluate_forecasts`)."""
    return evaluate_forecasts(
        lambda histories: forecast_histories(model, histories),
        model_horizon(model),
        series,
        **options,
    )


# The first series' rolling-origin forecasts with their band, as a PNG.
plot_series = series_plotter(evaluate_series)

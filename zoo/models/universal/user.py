"""The universal forecaster on a user's series: the same functions as the forecaster family's
`user.py` (predict table, rolling-origin evaluation, plot), through `tuned.forecast_histories`.

A fine-tuned model (`TunedUniversalForecaster`) forecasts its own horizon with its own seasons
and calibrated band; the zero-shot preset forecasts its default horizon with the season of each
of the user's series (`UserSeries.period`) and its uncalibrated band.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.models.common.rolling_origin import RollingOriginResult
from zoo.models.common.series_forecasts import (
    evaluate_forecasts,
    evaluation_steps,
    forecast_rows,
    series_plotter,
)
from zoo.models.universal.tuned import forecast_histories
from zoo.models.universal.user_settings import user_settings

__all__ = ["evaluate_series", "plot_series", "predict_table"]


def _forecast_fn(model: keras.Model, horizon: int | None = None):
    """Forecasts of each history with the season of its own series (`Histories.periods`)."""
    return lambda histories: forecast_histories(model, histories, histories.periods, horizon)


def predict_table(
    model: keras.Model, series: Sequence[UserSeries], horizon: int | None = None
) -> pd.DataFrame:
    """One row per series and future step: (unique_id,) (ds,) step, forecast, q0.1, q0.5, q0.9.

    `horizon`: steps to forecast; any number for the zero-shot model (its continuous-time
    decoder), at most its own for a fine-tuned one (whose band is calibrated per step)."""
    return forecast_rows(_forecast_fn(model, horizon), series, horizon)


def evaluate_series(
    model: keras.Model, series: Sequence[UserSeries], horizon: int | None = None, **options
) -> RollingOriginResult:
    """Rolling origins over the last `test_fraction` of every series (`horizon` steps: any for
    the zero-shot model, at most its own for a fine-tuned one; default its own), beside the
    baselines refit at each origin (options of `evaluate_forecasts`)."""
    own = int(model.builder_config["horizon"])
    fraction = options.get("test_fraction", 0.2)
    h = evaluation_steps(horizon, own, series, fraction, any_horizon=not user_settings(model))
    return evaluate_forecasts(_forecast_fn(model, h), h, series, **options)


# The first series' rolling-origin forecasts with their band, as a PNG.
plot_series = series_plotter(evaluate_series)

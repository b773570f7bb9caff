"""A forecaster on a user's series: forecast from the end of each series, evaluate at rolling
origins beside seasonal naive, ETS and ARIMA, and draw that evaluation.

The other series families' `user.py` have the same functions, so the face (`zoo.predict`,
`zoo.evaluate`, `zoo.backtest`, `zoo.plot` and the CLI) calls either without knowing which.
`series` is always a list of :class:`zoo.data.series_input.UserSeries` (one, or one per id of a
long-format file); their `period` is the season used by MASE and the baselines.

A history shorter than the model's window (an early origin of a short series) is padded on the
left with its first value: the model's input is always the last `window` values.

The model is level-free but not scale-free: it divides by the spread of the data it was built
on (`WindowScaling.scale`). A series whose own spread (`window_scale` of its last window) is more
than 10x away from it gets a warning that says what to do: fine-tune on it, or use the
scale-free `forecaster_universal`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.models.common.backtest import model_window
from zoo.models.common.predictor import predictor
from zoo.models.common.rolling_origin import RollingOriginResult
from zoo.models.common.series_forecasts import (
    evaluate_forecasts,
    evaluation_steps,
    forecast_rows,
    series_plotter,
)
from zoo.models.forecaster.model import window_scale

# A series' spread this many times the model's own scale (or its inverse) gets a warning.
SCALE_RATIO_WARNING = 10.0

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


def warn_if_out_of_scale(model: keras.Model, series: Sequence[UserSeries]) -> None:
    """A warning for each series whose spread is more than `SCALE_RATIO_WARNING` times away from
    the scale the model divides by (module docstring), and one for the series shorter than the
    model's window."""
    config = model.get_config()
    short = [item for item in series if len(item.values) < int(config["window"])]
    if short:
        name = "" if short[0].id is None else f" {short[0].id!r}"
        warnings.warn(
            f"{len(short)} series (the first{name}: {len(short[0].values)} values) are shorter "
            f"than the {int(config['window'])} values {model.name!r} reads: it reads them "
            "padded with their first value, which it never saw in training. Fine-tune it with "
            "a shorter `--window`, or use forecaster_universal, which reads any length.",
            UserWarning,
            stacklevel=3,
        )
    for item in series:
        tail = np.asarray(item.values, "float64")[-int(config["window"]) :]
        if len(tail) < 2:
            continue
        own = window_scale(tail, len(tail), min(int(config["level_steps"]), len(tail)))
        ratio = own / float(config["scale"])
        if not 1 / SCALE_RATIO_WARNING <= ratio <= SCALE_RATIO_WARNING:
            name = "" if item.id is None else f" {item.id!r}"
            warnings.warn(
                f"The series{name} spreads {own:.3g} around its level, {ratio:.3g} times the "
                f"scale {model.name!r} was built on ({float(config['scale']):.3g}): its "
                "forecasts are outside what it learned. Fine-tune it on your series (`zoo "
                "fine-tune`), or use forecaster_universal, which is scale-free.",
                UserWarning,
                stacklevel=3,
            )


def predict_table(
    model: keras.Model, series: Sequence[UserSeries], horizon: int | None = None
) -> pd.DataFrame:
    """One row per series and future step: (unique_id,) (ds,) step, forecast, q0.1, q0.5, q0.9;
    the first `horizon` steps of the model's own (None: all of them)."""
    warn_if_out_of_scale(model, series)
    return forecast_rows(lambda histories: forecast_histories(model, histories), series, horizon)


def evaluate_series(
    model: keras.Model, series: Sequence[UserSeries], horizon: int | None = None, **options
) -> RollingOriginResult:
    """Rolling origins over the last `test_fraction` of every series (`horizon` steps, at most
    the model's; default its own), beside the baselines refit at each origin (options of
    `evaluate_forecasts`)."""
    warn_if_out_of_scale(model, series)
    return evaluate_forecasts(
        lambda histories: forecast_histories(model, histories),
        evaluation_steps(horizon, model_horizon(model), series, options.get("test_fraction", 0.2)),
        series,
        **options,
    )


# The first series' rolling-origin forecasts with their band, as a PNG.
plot_series = series_plotter(evaluate_series)

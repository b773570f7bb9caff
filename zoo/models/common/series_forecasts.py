"""What every forecaster family's `user.py` does with a user's series, given how it forecasts.

A family supplies ``forecast_fn(histories) -> {"forecast" (n, H), "quantiles" (n, H, 3)}`` (the
forecasts from the end of each 1-D history; `histories` is a `rolling_origin.Histories`, whose
`periods` give each one's season) and its horizon H; these functions turn that into
the table `zoo predict` writes, the rolling-origin evaluation beside the baselines and its plot.
`series` is always a list of :class:`zoo.data.series_input.UserSeries`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries
from zoo.data.series_output import forecast_table
from zoo.models.common.plots import plot_forecasts
from zoo.models.common.rolling_origin import (
    Histories,
    RollingOriginResult,
    rolling_origin,
    training_part,
)

__all__ = [
    "QUANTILES",
    "evaluate_forecasts",
    "evaluation_steps",
    "forecast_rows",
    "series_plotter",
    "steps",
]

QUANTILES = (0.1, 0.5, 0.9)
ForecastFn = Callable[[Sequence[np.ndarray]], dict]


def steps(horizon: int | None, own: int, *, any_horizon: bool = False) -> int:
    """The steps to forecast: `horizon`, or the model's `own` when None. A model with a fixed
    head (`any_horizon` False) forecasts at most its own; more is an error that says how."""
    if horizon is None:
        return own
    if horizon > own and not any_horizon:
        raise ValueError(
            f"`horizon` must be at most this model's {own} steps. Received: horizon={horizon}. "
            f"Fine-tune it with `--horizon {horizon}` (a new head), or use "
            "forecaster_universal, which forecasts any horizon."
        )
    return int(horizon)


def evaluation_steps(
    horizon: int | None,
    own: int,
    series: Sequence[UserSeries],
    test_fraction: float = 0.2,
    *,
    any_horizon: bool = False,
) -> int:
    """The steps forecast at each rolling origin: `horizon` as `steps` checks it; when None, the
    model's `own` or, when the test part of the shortest series (n − ⌊(1 − test_fraction)·n⌋
    values) holds fewer, that many, with a warning that names both (a model forecasts fewer
    steps than its own by leaving off the rest)."""
    if horizon is not None:
        return steps(horizon, own, any_horizon=any_horizon)
    lengths = [len(item.values) for item in series]
    room = min((n - training_part(n, test_fraction) for n in lengths), default=own)
    if 1 <= room < own:
        warnings.warn(
            f"Forecasting {room} steps at each origin, the test part of the shortest series "
            f"({min(lengths)} values, test_fraction={test_fraction}); the model's own horizon "
            f"is {own}. Pass `horizon` (--horizon) to choose, or raise `test_fraction`.",
            stacklevel=2,
        )
        return int(room)
    return own


def forecast_rows(
    forecast_fn: ForecastFn, series: Sequence[UserSeries], horizon: int | None = None
) -> pd.DataFrame:
    """One row per series and future step: (unique_id,) (ds,) step, forecast, q0.1, q0.5, q0.9.

    `horizon`: the first `horizon` steps of the forecasts (None: all); more steps than
    `forecast_fn` gives is an error that says how to get them."""
    out = forecast_fn(Histories([item.values for item in series], [item.period for item in series]))
    point, band = np.asarray(out["forecast"]), np.asarray(out["quantiles"])
    if horizon is not None:
        keep = steps(horizon, point.shape[1])
        point, band = point[:, :keep], band[:, :keep]
    _warn_if_no_band(series, point, band)
    return forecast_table(series, point, band, QUANTILES)


def _warn_if_no_band(series: Sequence[UserSeries], point: np.ndarray, band: np.ndarray) -> None:
    """A warning when the 0.1–0.9 band of a series is narrower at every step than 1/1000 of
    the series' own mean absolute step (an 80 % band is a few one-step errors wide): the model
    is outside what it learned (a per-series model on another series' scale), and the band
    says nothing."""
    width = band[..., -1] - band[..., 0]
    flat = []
    for k, item in enumerate(series):
        steps_taken = np.abs(np.diff(np.asarray(item.values, "float64")))
        typical = float(np.mean(steps_taken)) if len(steps_taken) else 0.0
        if typical > 0 and np.all(width[k] < 1e-3 * typical):
            flat.append(k)
    if flat:
        name = "" if series[flat[0]].id is None else f" (the first: {series[flat[0]].id!r})"
        warnings.warn(
            f"The 0.1–0.9 band of {len(flat)} series{name} has almost no width (under 1/1000 "
            "of the series' mean step): the model is outside "
            "what it learned on them. Fine-tune it on your series (`zoo fine-tune`), or use "
            "forecaster_universal.",
            stacklevel=3,
        )


def evaluate_forecasts(
    forecast_fn: ForecastFn,
    horizon: int,
    series: Sequence[UserSeries],
    *,
    labels=None,
    test_fraction: float = 0.2,
    stride: int | None = None,
    progress: bool | None = None,
) -> RollingOriginResult:
    """Rolling origins over the last `test_fraction` of every series (`horizon` steps), beside
    the baselines refit at each origin (`zoo.models.common.rolling_origin`)."""
    if labels is not None:
        raise ValueError("`label_column` applies to detectors only; a forecaster has no labels.")
    return rolling_origin(
        list(series),
        forecast_fn,
        horizon=horizon,
        levels=QUANTILES,
        test_fraction=test_fraction,
        stride=stride,
        progress=progress,
    )


def series_plotter(evaluate_series: Callable[..., RollingOriginResult]) -> Callable[..., Path]:
    """A family's `plot_series(model, series, path, *, result=None, **options)`: the first
    series with the model's forecasts and 0.1–0.9 band at every rolling origin and the ETS
    forecasts beside them, as a PNG; `result` (else `evaluate_series(model, series,
    **options)`) gives the forecasts."""

    def plot_series(
        model,
        series: Sequence[UserSeries],
        path: str | Path,
        *,
        result: RollingOriginResult | None = None,
        **options,
    ) -> Path:
        result = result or evaluate_series(model, series, **options)
        first = series[0]
        # The frame holds the series one after the other: the first one's origins come first.
        rows = int(result.per_series.iloc[0]["origins"]) * int(result.report["horizon"])
        frame = result.frame.iloc[:rows]
        title = f"{model.name}: rolling origins on {first.id or 'the series'}"
        baseline = "ets" if "ets" in frame.columns else None
        return plot_forecasts(
            first.values, frame, path, timestamps=first.timestamps, baseline=baseline, title=title
        )

    return plot_series

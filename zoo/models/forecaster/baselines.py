"""The forecasting protocol of the two forecaster presets and the baselines measured on it.

Protocol (issue 4): train on the first 80% (`n_train = int(0.8 * n)`); forecast at rolling origins
`range(n_train, n - horizon + 1, stride)` — an origin `o` has seen `series[:o]` and forecasts
`series[o:o + horizon]`, which never runs past the end of the series — and score MAE over all
origins and steps; MASE divides it by the in-sample MAE of the lag-`scale_lag` naive forecast on
`series[:n_train]`. Every baseline is refit on `series[:o]` at every origin.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoo.models.common.forecast_metrics import naive_scale

__all__ = [
    "BASELINES",
    "PROTOCOLS",
    "Protocol",
    "ar",
    "arima_fourier",
    "holt_winters",
    "seasonal_naive",
    "seasonal_naive_drift",
]


@dataclass(frozen=True)
class Protocol:
    """Rolling-origin evaluation of a `horizon`-step forecast on the last (1 - train_fraction)."""

    horizon: int
    stride: int
    scale_lag: int
    train_fraction: float = 0.8

    def n_train(self, n: int) -> int:
        return int(self.train_fraction * n)

    def origins(self, n: int) -> list[int]:
        return list(range(self.n_train(n), n - self.horizon + 1, self.stride))

    def scale(self, series: np.ndarray) -> float:
        return naive_scale(np.asarray(series)[: self.n_train(len(series))], self.scale_lag)


PROTOCOLS = {
    "co2": Protocol(horizon=52, stride=13, scale_lag=52),
    "sunspots": Protocol(horizon=11, stride=1, scale_lag=1),
}


def seasonal_naive(history: np.ndarray, horizon: int, *, period: int) -> np.ndarray:
    """Each step repeats the value one period earlier: y[T+h] = y[T+h-m·ceil(h/m)]."""
    history = np.asarray(history, "float64")
    steps = np.arange(horizon)
    return history[len(history) - period + steps % period]


def seasonal_naive_drift(history: np.ndarray, horizon: int, *, period: int) -> np.ndarray:
    """Seasonal naive plus the average slope of the whole history times the periods skipped."""
    history = np.asarray(history, "float64")
    slope = (history[-1] - history[0]) / (len(history) - 1)
    periods_ahead = np.arange(horizon) // period + 1
    return seasonal_naive(history, horizon, period=period) + slope * period * periods_ahead


def holt_winters(
    history: np.ndarray, horizon: int, *, period: int, damped: bool = False
) -> np.ndarray:
    """Additive Holt-Winters (additive trend, optionally damped; additive season), statsmodels."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            np.asarray(history, "float64"),
            trend="add",
            damped_trend=damped,
            seasonal="add",
            seasonal_periods=period,
        ).fit()
    return np.asarray(fit.forecast(horizon))


def fourier_terms(t: np.ndarray, k: int, period: float) -> np.ndarray:
    """sin/cos pairs of the first `k` harmonics of `period` at times `t`, shape (len(t), 2k)."""
    angles = 2.0 * np.pi * np.outer(t, np.arange(1, k + 1)) / period
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def arima_fourier(
    history: np.ndarray, horizon: int, *, period: float = 365.25 / 7, k: int = 4
) -> np.ndarray:
    """ARIMA(1,1,1) with drift and `k` Fourier pairs of `period` as regressors, statsmodels."""
    from statsmodels.tsa.arima.model import ARIMA

    history = np.asarray(history, "float64")
    exog = fourier_terms(np.arange(len(history) + horizon), k, period)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(history, exog=exog[: len(history)], order=(1, 1, 1), trend="t").fit()
    return np.asarray(fit.forecast(horizon, exog=exog[len(history) :]))


def ar(history: np.ndarray, horizon: int, *, order: int = 9) -> np.ndarray:
    """AR(`order`) with a constant, exact Gaussian likelihood (statsmodels ARIMA(order, 0, 0))."""
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(np.asarray(history, "float64"), order=(order, 0, 0)).fit()
    return np.asarray(fit.forecast(horizon))


Forecaster = Callable[[np.ndarray, int], np.ndarray]

#: Baselines of each preset's protocol: name -> forecast(history, horizon).
BASELINES: dict[str, dict[str, Forecaster]] = {
    "co2": {
        "seasonal_naive": lambda h, n: seasonal_naive(h, n, period=52),
        "seasonal_naive_drift": lambda h, n: seasonal_naive_drift(h, n, period=52),
        "holt_winters": lambda h, n: holt_winters(h, n, period=52),
        "arima111_drift_fourier4": lambda h, n: arima_fourier(h, n, period=365.25 / 7, k=4),
    },
    "sunspots": {
        "seasonal_naive_m11": lambda h, n: seasonal_naive(h, n, period=11),
        "holt_winters_damped_m11": lambda h, n: holt_winters(h, n, period=11, damped=True),
        "ar9": lambda h, n: ar(h, n, order=9),
    },
}

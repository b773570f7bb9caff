"""Statistical baselines for forecasting: seasonal naive, ETS and ARIMA, each with a Gaussian band.

Each baseline is ``f(history, horizon, period) -> BaselineForecast``: the point forecast (h,) and
the standard deviation (h,) of its forecast error, from which :meth:`BaselineForecast.quantiles`
gives any quantile levels as ``mean + std·Φ⁻¹(q)``.

- **seasonal naive**: ``ŷ_{T+k} = y_{T+k-m·⌈k/m⌉}``; std ``σ·√(⌊(k-1)/m⌋ + 1)`` with σ the RMS
  of the in-sample seasonal differences (Hyndman & Athanasopoulos, FPP3 §5.5).
- **ETS** (statsmodels ``ETSModel``): additive errors; an additive season when m > 1 and the
  history holds at least two full seasons plus two points (heuristic initial states), else none;
  the trend is none or additive damped, whichever has the lower AIC. Analytic forecast variance.
- **ARIMA** (statsmodels ``ARIMA``):
  m = 1: d = 1 if the KPSS test rejects level stationarity at 5 %, else 0; (p, q) in
  {(1,0), (0,1), (1,1), (2,1)} by AIC, with a constant when d = 0; when d = 1, a drift is
  added to the best order if it lowers the AIC.
  2 ≤ m ≤ 12 with at least three seasons: the airline model ARIMA(0,1,1)(0,1,1)_m.
  m > 12 (hourly, weekly) with at least two seasons: the m = 1 search with
  K = min(4, m // 2) Fourier pairs of period m as regressors (dynamic harmonic regression,
  FPP3 §10.5), because seasonal state spaces of that size are too slow to refit per origin.
  Shorter histories: the m = 1 search.

Robustness: :func:`forecast_baseline` runs a baseline and, when it raises or returns a non-finite
value (a failed optimiser, too short a history), returns the seasonal naive forecast instead with
``fallback=True`` (the seasonal naive itself falls back to the last value when the history is
shorter than one season).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = [
    "BASELINES",
    "BaselineForecast",
    "arima",
    "ets",
    "forecast_baseline",
    "seasonal_naive",
]


@dataclass(frozen=True)
class BaselineForecast:
    """A baseline's forecast: `mean` (h,), error `std` (h,), `fallback` True if it was replaced."""

    mean: np.ndarray
    std: np.ndarray
    fallback: bool = False

    def quantiles(self, levels: Sequence[float]) -> np.ndarray:
        """(h, len(levels)) Gaussian quantiles ``mean + std·Φ⁻¹(q)``."""
        z = np.asarray([NormalDist().inv_cdf(float(q)) for q in levels])
        return self.mean[:, None] + self.std[:, None] * z[None, :]


def seasonal_naive(history, horizon: int, period: int) -> BaselineForecast:
    """Repeat the last season; with fewer than `period` values, repeat the last value."""
    y = np.asarray(history, "float64")
    m = period if len(y) > period else 1
    steps = np.arange(horizon)
    mean = y[len(y) - m + steps % m]
    residuals = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0
    return BaselineForecast(mean, sigma * np.sqrt(steps // m + 1.0))


def _quiet(fit: Callable):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


def ets(history, horizon: int, period: int) -> BaselineForecast:
    """Additive-error ETS, season if the history allows, trend none/damped by AIC."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # A RangeIndex Series: statsmodels' ETS prediction needs an index on its input.
    y = pd.Series(np.asarray(history, "float64"))
    seasonal = period > 1 and len(y) >= 2 * period + 2
    options = {"error": "add", "seasonal": "add" if seasonal else None}
    if seasonal:
        options.update(seasonal_periods=period, initialization_method="heuristic")
    fits = []
    for trend in (None, "add"):
        model = ETSModel(y, trend=trend, damped_trend=trend is not None, **options)
        fits.append(_quiet(lambda model=model: model.fit(disp=False)))
    best = min(fits, key=lambda fit: fit.aic)
    prediction = best.get_prediction(start=len(y), end=len(y) + horizon - 1)
    return BaselineForecast(
        np.asarray(prediction.predicted_mean, "float64"),
        np.sqrt(np.asarray(prediction.forecast_variance, "float64")),
    )


def _fourier(t: np.ndarray, k: int, period: int) -> np.ndarray:
    angle = 2.0 * np.pi * np.outer(t, np.arange(1, k + 1)) / period
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def _fit_arima(model):
    # For non-seasonal orders the innovations algorithm reaches the state-space optimum (same
    # AIC to ~1e-6 relative) several times faster, most with Fourier regressors; seasonal
    # orders keep the state-space fit, where it did not.
    return _quiet(lambda: model.fit(method="innovations_mle"))


def _difference_order(y: np.ndarray) -> int:
    from statsmodels.tsa.stattools import kpss

    if len(y) < 8 or np.ptp(y) == 0:
        return 0
    p_value = _quiet(lambda: kpss(y, regression="c", nlags="auto")[1])
    return int(p_value < 0.05)


def _arima_search(y: np.ndarray, horizon: int, exog: np.ndarray | None) -> BaselineForecast:
    from statsmodels.tsa.arima.model import ARIMA

    d = _difference_order(y)
    past, future = (None, None) if exog is None else (exog[: len(y)], exog[len(y) :])
    trend = "c" if d == 0 else "n"
    best = None
    for p, q in ((1, 0), (0, 1), (1, 1), (2, 1)):
        try:
            fit = _fit_arima(ARIMA(y, exog=past, order=(p, d, q), trend=trend))
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(fit.aic) and (best is None or fit.aic < best.aic):
            best = fit
    if best is None:
        raise ValueError("no ARIMA order could be fitted")
    if d == 1:
        # A drift is tried on the best order only: one more fit instead of four.
        drift = _fit_arima(ARIMA(y, exog=past, order=best.model.order, trend="t"))
        best = drift if np.isfinite(drift.aic) and drift.aic < best.aic else best
    prediction = best.get_forecast(horizon, exog=future)
    return BaselineForecast(
        np.asarray(prediction.predicted_mean), np.sqrt(np.asarray(prediction.var_pred_mean))
    )


def arima(history, horizon: int, period: int) -> BaselineForecast:
    """ARIMA with the order rule of the module docstring."""
    from statsmodels.tsa.arima.model import ARIMA

    y = np.asarray(history, "float64")
    if 2 <= period <= 12 and len(y) >= 3 * period:
        model = ARIMA(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, period))
        prediction = _quiet(model.fit).get_forecast(horizon)  # state space: exact seasonal MLE
        return BaselineForecast(
            np.asarray(prediction.predicted_mean), np.sqrt(np.asarray(prediction.var_pred_mean))
        )
    exog = None
    if period > 12 and len(y) >= 2 * period:
        exog = _fourier(np.arange(len(y) + horizon), min(4, period // 2), period)
    return _arima_search(y, horizon, exog)


#: Baseline name -> f(history, horizon, period) -> BaselineForecast.
BASELINES: dict[str, Callable[[np.ndarray, int, int], BaselineForecast]] = {
    "seasonal_naive": seasonal_naive,
    "ets": ets,
    "arima": arima,
}


def forecast_baseline(name: str, history, horizon: int, period: int) -> BaselineForecast:
    """Run baseline `name`; on an error or a non-finite result, the seasonal naive (fallback)."""
    if name not in BASELINES:
        raise ValueError(f"Unknown baseline {name!r}. Choose one of: {', '.join(BASELINES)}")
    try:
        result = BASELINES[name](history, horizon, period)
        if np.all(np.isfinite(result.mean)) and np.all(np.isfinite(result.std)):
            return result
    except Exception:  # any statsmodels failure takes the documented fallback
        pass
    naive = seasonal_naive(history, horizon, period)
    return BaselineForecast(naive.mean, naive.std, fallback=True)

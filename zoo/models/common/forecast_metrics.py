"""Forecast accuracy measures: MAE, MASE's in-sample scale, pinball loss and band coverage."""

from __future__ import annotations

import numpy as np

from zoo.models.common.forecast_scores import coverage, pinball_loss

__all__ = ["band_coverage", "mae", "naive_scale", "pinball"]


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error over every element."""
    forecast, actual = np.asarray(forecast, "float64"), np.asarray(actual, "float64")
    if forecast.shape != actual.shape:
        raise ValueError(
            f"`forecast` and `actual` must have the same shape. Received: {forecast.shape} and "
            f"{actual.shape}"
        )
    return float(np.mean(np.abs(forecast - actual)))


def naive_scale(train: np.ndarray, lag: int) -> float:
    """MASE's denominator: the in-sample MAE of the lag-`lag` naive forecast on `train`.

    `lag=1` is the random walk (Hyndman & Koehler 2006), `lag=m` the seasonal naive of period m.
    """
    train = np.asarray(train, "float64")
    if lag < 1 or lag >= len(train):
        raise ValueError(
            f"`lag` must be in [1, len(train) - 1] = [1, {len(train) - 1}]. Received: lag={lag}"
        )
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def pinball(quantiles: np.ndarray, actual: np.ndarray, levels: tuple[float, ...]) -> float:
    """Mean pinball (quantile) loss; `quantiles` has a last axis of len(levels)."""
    return pinball_loss(actual, quantiles, levels)


def band_coverage(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> float:
    """Share of `actual` values inside [lower, upper]."""
    return coverage(actual, lower, upper)

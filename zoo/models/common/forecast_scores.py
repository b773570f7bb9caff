"""Forecast scores: MASE, sMAPE, band coverage, pinball loss and weighted quantile loss.

Shapes: `actual` and `forecast` broadcast together (e.g. (h,) for one forecast, (origins, h) for
many); `quantiles` has one more, last axis of len(levels). Every score is a mean over all elements.

- MASE (Hyndman & Koehler 2006): ``mean|y - ŷ| / s`` with the in-sample scale
  ``s = mean_t |x_t - x_{t-m}|`` of the seasonal naive forecast on the history `insample` x.
  When the history is not longer than m, or its seasonal scale is 0, m falls back to 1; a scale
  that is still 0 (a constant history) gives NaN.
- sMAPE (M4 competition), in percent: ``mean 200·|y - ŷ| / (|y| + |ŷ|)``, a term with
  ``y = ŷ = 0`` counting 0.
- coverage: share of ``lower <= y <= upper``.
- pinball: ``mean over levels q and elements of max(q·(y - ŷ_q), (q - 1)·(y - ŷ_q))``.
- weighted quantile loss (GluonTS' mean wQL): ``mean_q 2·Σ pinball_q / Σ|y|``, scale-free.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["coverage", "mase", "pinball_loss", "seasonal_scale", "smape", "weighted_quantile_loss"]


def _pair(actual, forecast, names=("actual", "forecast")) -> tuple[np.ndarray, np.ndarray]:
    a, f = np.asarray(actual, "float64"), np.asarray(forecast, "float64")
    try:
        np.broadcast_shapes(a.shape, f.shape)
    except ValueError:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have broadcastable shapes. Received: "
            f"{a.shape} and {f.shape}"
        ) from None
    return a, f


def seasonal_scale(insample, period: int) -> float:
    """In-sample MAE of the lag-`period` naive forecast (lag 1 if that is impossible or 0)."""
    x = np.asarray(insample, "float64").ravel()
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1:
        raise ValueError(f"`period` must be an int >= 1. Received: period={period!r}")
    if len(x) < 2:
        raise ValueError(f"`insample` must hold at least 2 values. Received {len(x)}")
    for lag in (period, 1):
        if lag < len(x):
            scale = float(np.mean(np.abs(x[lag:] - x[:-lag])))
            if scale > 0:
                return scale
    return float("nan")


def mase(actual, forecast, insample, period: int) -> float:
    """Mean absolute scaled error of `forecast` against `actual`, scaled on `insample`."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)) / seasonal_scale(insample, period))


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent (0 to 200)."""
    a, f = _pair(actual, forecast)
    num, den = np.abs(a - f), np.abs(a) + np.abs(f)
    terms = np.divide(
        num, den, out=np.zeros(np.broadcast_shapes(num.shape, den.shape)), where=den > 0
    )
    return float(200.0 * np.mean(terms))


def coverage(actual, lower, upper) -> float:
    """Share of `actual` values inside the closed band [lower, upper]."""
    a, lo = _pair(actual, lower, ("actual", "lower"))
    _, hi = _pair(actual, upper, ("actual", "upper"))
    return float(np.mean((a >= lo) & (a <= hi)))


def _quantile_terms(actual, quantiles, levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(levels, "float64")
    if q.ndim != 1 or not len(q) or np.any((q <= 0) | (q >= 1)):
        raise ValueError(
            f"`levels` must be a non-empty list of numbers in (0, 1). Received: {levels!r}"
        )
    values = np.asarray(quantiles, "float64")
    if values.shape[-1:] != q.shape:
        raise ValueError(
            f"`quantiles` must have a last axis of len(levels) = {len(q)}. Received shape "
            f"{values.shape}"
        )
    a, values = _pair(np.asarray(actual, "float64")[..., None], values, ("actual", "quantiles"))
    diff = a - values
    return np.maximum(q * diff, (q - 1.0) * diff), a


def pinball_loss(actual, quantiles, levels: Sequence[float]) -> float:
    """Mean pinball (quantile) loss over the levels and all elements."""
    terms, _ = _quantile_terms(actual, quantiles, levels)
    return float(np.mean(terms))


def weighted_quantile_loss(actual, quantiles, levels: Sequence[float]) -> float:
    """Mean over levels of 2·Σ pinball / Σ|actual| (NaN when every actual value is 0)."""
    terms, a = _quantile_terms(actual, quantiles, levels)
    total = float(np.sum(np.abs(np.broadcast_to(a, terms.shape)[..., 0])))
    if total == 0:
        return float("nan")
    per_level = 2.0 * terms.reshape(-1, terms.shape[-1]).sum(axis=0) / total
    return float(np.mean(per_level))

"""Forecast accuracy on competition sets: MASE, weighted quantile loss, relative geometric mean.

* MASE of one series = mean|y − ŷ| over the horizon / mean|yₜ − yₜ₋ₘ| over its training part
  (the in-sample seasonal naive error, m the set's season; m = 1 when the history is ≤ m long).
  A set's MASE is the mean over its series.
* Weighted quantile loss of a set = 2·Σ_{series, h, q} ρ_q(y − ŷ_q) / (|Q|·Σ_{series, h} |y|),
  ρ_q(e) = max(q·e, (q − 1)·e), the pinball loss.
* The headline: the geometric mean over sets of MASE(model)/MASE(seasonal naive).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["geometric_mean", "mase", "mase_scale", "seasonal_naive", "weighted_quantile_loss"]


def mase_scale(train: np.ndarray, period: int) -> float:
    """mean|yₜ − yₜ₋ₘ| over the training part (m → 1 when the history is too short)."""
    train = np.asarray(train, dtype="float64")
    m = period if len(train) > period else 1
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def mase(trains: Sequence[np.ndarray], tests: np.ndarray, forecasts: np.ndarray, period: int):
    """Mean MASE over series; series whose scale is 0 (a constant history) are left out."""
    values = []
    for train, test, pred in zip(trains, tests, forecasts, strict=True):
        scale = mase_scale(train, period)
        if scale > 0:
            values.append(np.mean(np.abs(np.asarray(test) - pred)) / scale)
    return float(np.mean(values))


def weighted_quantile_loss(tests: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]):
    """2·Σ pinball / (|Q|·Σ|y|); `tests` (n, h), `quantiles` (n, h, len(levels))."""
    tests = np.asarray(tests, dtype="float64")
    total = 0.0
    for j, q in enumerate(levels):
        e = tests - quantiles[..., j]
        total += float(np.sum(np.maximum(q * e, (q - 1) * e)))
    return 2 * total / (len(levels) * float(np.sum(np.abs(tests))))


def seasonal_naive(train: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """ŷ_{n+h} = y_{n+h−m·⌈h/m⌉}: the last season repeated (the last value when m = 1)."""
    train = np.asarray(train, dtype="float64")
    m = period if len(train) >= period else 1
    last = train[-m:]
    return np.array([last[h % m] for h in range(horizon)])


def geometric_mean(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype="float64")))))

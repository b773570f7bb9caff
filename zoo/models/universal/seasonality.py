"""Classical seasonal adjustment around the universal forecaster (numpy only).

The network forecasts the seasonally adjusted series; the seasonal indices are put back on its
outputs. This is the preprocessing of the Theta method (Assimakopoulos & Nikolopoulos, 2000):

1. Test for seasonality at lag m: the series is seasonal when |r_m| > 1.645·√((1 + 2Σ_{k<m} r_k²)/n)
   (r_k the sample autocorrelation; a 90 % one-sided test), and only when n ≥ 3m.
2. Classical decomposition: a centred moving average of order m (2×m for even m) as the trend;
   the seasonal index of position j (mod m) is the mean of y/trend (multiplicative, when every
   value is > 0) or y − trend (additive), normalised to mean 1 (or 0).
3. Adjust: y/s or y − s; a forecast at step n + k gets s back at position (n + k) mod m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeasonalIndex", "fit_seasonal_index", "is_seasonal"]


@dataclass(frozen=True)
class SeasonalIndex:
    """Seasonal indices by position mod `period`; `multiplicative` picks ÷/× or −/+."""

    index: np.ndarray
    multiplicative: bool

    @property
    def period(self) -> int:
        return len(self.index)

    def at(self, positions: np.ndarray) -> np.ndarray:
        return self.index[np.asarray(positions) % self.period]

    def adjust(self, y: np.ndarray, start: int = 0) -> np.ndarray:
        s = self.at(np.arange(start, start + len(y)))
        return y / s if self.multiplicative else y - s

    def restore(self, y: np.ndarray, start: int) -> np.ndarray:
        """Put the season back on values at positions start, start+1, ... (last axis)."""
        s = self.at(np.arange(start, start + np.shape(y)[-1]))
        return y * s if self.multiplicative else y + s


def _acf(y: np.ndarray, max_lag: int) -> np.ndarray:
    d = y - y.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(max_lag + 1)
    return np.array([float(d[: len(d) - k] @ d[k:]) / denom for k in range(max_lag + 1)])


def is_seasonal(y: np.ndarray, period: int) -> bool:
    """The 90 % autocorrelation test at lag `period` (False when period < 2 or n < 3·period)."""
    y = np.asarray(y, dtype="float64")
    if period < 2 or len(y) < 3 * period:
        return False
    r = _acf(y, period)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:period] ** 2)) / len(y))
    return bool(abs(r[period]) > limit)


def _centred_moving_average(y: np.ndarray, m: int) -> np.ndarray:
    weights = np.full(m, 1.0 / m)
    if m % 2 == 0:
        weights = np.convolve(weights, [0.5, 0.5])
    trend = np.full(len(y), np.nan)
    half = len(weights) // 2
    trend[half : len(y) - half] = np.convolve(y, weights, mode="valid")
    return trend


def fit_seasonal_index(
    y: np.ndarray, period: int | None, allow_multiplicative: bool = True
) -> SeasonalIndex | None:
    """The seasonal index of `y` (finite, 1-D), or None when the series is not seasonal.

    `allow_multiplicative=False` keeps it additive also when every value is > 0 (a series
    already in the log scale, where a multiplicative season has become additive)."""
    y = np.asarray(y, dtype="float64")
    if period is None or not is_seasonal(y, int(period)):
        return None
    m = int(period)
    multiplicative = allow_multiplicative and bool(np.all(y > 0))
    trend = _centred_moving_average(y, m)
    detrended = y / trend if multiplicative else y - trend
    positions = np.arange(len(y)) % m
    index = np.array([np.nanmean(detrended[positions == j]) for j in range(m)])
    index = index / index.mean() if multiplicative else index - index.mean()
    if not np.all(np.isfinite(index)) or (multiplicative and np.any(index <= 0)):
        return None
    return SeasonalIndex(index, multiplicative)

"""A seeded generator of synthetic time series: the bulk of the universal forecaster's corpus.

Each series is a sum (or, for seasonality, sometimes a product) of components, each drawn from a
`numpy.random.Generator` so that one seed gives one corpus, bit for bit:

* trend: linear, damped (a·(1 − φᵗ)/(1 − φ)) or exponential growth;
* seasonality: Fourier sums with one or several periods (4, 7, 12, 24, 52, ...);
* ARMA(p, q) noise with p ≤ 2, q ≤ 1, stationary (AR roots outside the unit circle);
* level shifts: steps at Poisson-distributed times;
* intermittent demand: Bernoulli occurrences times gamma-distributed sizes (zeros elsewhere);
* Gaussian-process samples whose kernel is a random sum/product of RBF, periodic, linear and
  rational-quadratic kernels (the "KernelSynth" idea of Ansari et al., Chronos, 2024).

The components are public so that their promised statistics can be tested one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PERIODS",
    "SyntheticSeries",
    "arma_noise",
    "gp_kernel",
    "gp_sample",
    "intermittent_demand",
    "level_shifts",
    "seasonal_component",
    "synthetic_corpus",
    "trend_component",
]

# Seasonal periods drawn from; the first of a series' periods is reported as its `period`.
PERIODS = (4, 7, 12, 24, 52)


@dataclass(frozen=True)
class SyntheticSeries:
    """A generated series (float64, 1-D) and its main seasonal period (1: none)."""

    values: np.ndarray
    period: int


def trend_component(rng: np.random.Generator, n: int) -> np.ndarray:
    """A trend of length n: linear, damped or exponential, with a random sign and slope."""
    t = np.arange(n, dtype="float64")
    kind = rng.integers(3)
    slope = rng.normal(0.0, 1.0) / max(n, 1)
    if kind == 0:
        return slope * t
    if kind == 1:
        phi = rng.uniform(0.8, 0.99)
        return slope * n / 10 * (1 - phi**t) / (1 - phi)
    rate = rng.uniform(-1.0, 2.0) / max(n, 1)
    return np.expm1(rate * t)


def seasonal_component(
    rng: np.random.Generator, n: int, period: int, *, harmonics: int = 3
) -> np.ndarray:
    """A zero-mean periodic signal of exactly `period` samples: a random Fourier sum, amplitude ~1.

    s(t) = Σₖ aₖ cos(2πkt/p) + bₖ sin(2πkt/p), k = 1..min(harmonics, p // 2), so s(t + p) = s(t).
    """
    t = np.arange(n, dtype="float64")
    out = np.zeros(n)
    for k in range(1, max(1, min(harmonics, period // 2)) + 1):
        a, b = rng.normal(0.0, 1.0 / k, size=2)
        out += a * np.cos(2 * np.pi * k * t / period) + b * np.sin(2 * np.pi * k * t / period)
    return out


def arma_noise(
    rng: np.random.Generator, n: int, ar: tuple[float, ...] = (), ma: tuple[float, ...] = ()
) -> np.ndarray:
    """x_t = Σᵢ arᵢ x_{t−i} + e_t + Σⱼ maⱼ e_{t−j}, e ~ N(0, 1)

    A burn-in of 100 steps is dropped.
    """
    from scipy.signal import lfilter

    burn = 100
    e = rng.standard_normal(n + burn)
    x = lfilter([1.0, *ma], [1.0, *(-a for a in ar)], e)
    return x[burn:]


def _random_arma(rng: np.random.Generator) -> tuple[tuple[float, ...], tuple[float, ...]]:
    # Stationary AR(2) from two real roots of modulus > 1 (their inverses in (-0.9, 0.9)).
    p = int(rng.integers(3))
    inverse_roots = rng.uniform(-0.9, 0.9, size=p)
    ar = ()
    if p == 1:
        ar = (float(inverse_roots[0]),)
    elif p == 2:
        r1, r2 = inverse_roots
        ar = (float(r1 + r2), float(-r1 * r2))
    ma = (float(rng.uniform(-0.8, 0.8)),) if rng.random() < 0.3 else ()
    return ar, ma


def level_shifts(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """A step function: jumps N(0, 1) at the events of a Bernoulli(rate) process, 0 at t = 0."""
    jumps = np.where(rng.random(n) < rate, rng.standard_normal(n), 0.0)
    jumps[0] = 0.0
    return np.cumsum(jumps)


def intermittent_demand(
    rng: np.random.Generator, n: int, probability: float, mean_size: float = 5.0
) -> np.ndarray:
    """Demand that occurs with `probability` per step, of gamma size (mean `mean_size`), else 0."""
    occurs = rng.random(n) < probability
    sizes = rng.gamma(2.0, mean_size / 2.0, size=n)
    return np.where(occurs, np.ceil(sizes), 0.0)


def gp_kernel(rng: np.random.Generator, t: np.ndarray, *, depth: int = 2) -> np.ndarray:
    """A random kernel matrix K(t, t): `depth` base kernels combined by random + or ×."""

    def base() -> np.ndarray:
        d = t[:, None] - t[None, :]
        kind = rng.integers(4)
        if kind == 0:
            length = rng.uniform(0.02, 0.5) * max(len(t), 2)
            return np.exp(-0.5 * (d / length) ** 2)
        if kind == 1:
            period = float(rng.choice(PERIODS))
            return np.exp(-2.0 * np.sin(np.pi * np.abs(d) / period) ** 2)
        if kind == 2:
            c = t[-1] * rng.uniform(0, 1)
            return (t[:, None] - c) * (t[None, :] - c) / max(len(t), 1) ** 2
        length = rng.uniform(0.05, 0.5) * max(len(t), 2)
        alpha = rng.uniform(0.5, 2.0)
        return (1 + d**2 / (2 * alpha * length**2)) ** (-alpha)

    kernel = base()
    for _ in range(depth - 1):
        kernel = kernel + base() if rng.random() < 0.5 else kernel * base()
    return kernel


def gp_sample(rng: np.random.Generator, kernel: np.ndarray, jitter: float = 1e-6) -> np.ndarray:
    """One draw of a zero-mean Gaussian process with covariance `kernel` (Cholesky)."""
    n = kernel.shape[0]
    scale = max(float(np.mean(np.diag(kernel))), 1e-12)
    chol = np.linalg.cholesky(kernel + jitter * scale * np.eye(n))
    return chol @ rng.standard_normal(n)


def _one_series(rng: np.random.Generator, n: int) -> SyntheticSeries:
    kind = rng.random()
    if kind < 0.1:
        return SyntheticSeries(intermittent_demand(rng, n, rng.uniform(0.1, 0.6)), 1)
    if kind < 0.3:
        t = np.arange(n, dtype="float64")
        values = gp_sample(rng, gp_kernel(rng, t, depth=int(rng.integers(1, 4))))
        return SyntheticSeries(values + rng.uniform(0, 4) * values.std() + 1e-3, 1)
    # A structural series: level + trend + seasonality + ARMA noise (+ level shifts).
    n_periods = int(rng.choice([0, 1, 1, 2]))
    periods = [int(p) for p in rng.choice(PERIODS, size=n_periods, replace=False)]
    season = sum(
        (rng.uniform(0.2, 2.0) * seasonal_component(rng, n, p) for p in periods),
        start=np.zeros(n),
    )
    ar, ma = _random_arma(rng)
    noise = arma_noise(rng, n, ar, ma) * rng.uniform(0.05, 0.6)
    trend = trend_component(rng, n) * rng.uniform(0, 8)
    shifts = level_shifts(rng, n, 0.02) if rng.random() < 0.2 else 0.0
    signal = trend + noise + shifts
    level = rng.uniform(3, 20) * (1 + np.abs(signal).max())
    if periods and rng.random() < 0.5:
        # Multiplicative seasonality: the seasonal swing grows with the level.
        values = (level + signal) * (1 + 0.1 * season / (1 + np.abs(season).max()))
    else:
        values = level + signal + season
    return SyntheticSeries(values, periods[0] if periods else 1)


def synthetic_corpus(
    n_series: int, *, seed: int, min_length: int = 24, max_length: int = 256
) -> list[SyntheticSeries]:
    """`n_series` series of random lengths in [min_length, max_length], a pure function of `seed`.

    Series k is drawn from `np.random.default_rng([seed, k])`, so a corpus grows without changing
    the series it already has.
    """
    if not isinstance(n_series, int) or n_series < 0:
        raise ValueError(f"`n_series` must be an integer >= 0. Received: n_series={n_series!r}")
    if not 2 <= min_length <= max_length:
        raise ValueError(
            "`min_length` and `max_length` must satisfy 2 <= min_length <= max_length. "
            f"Received: min_length={min_length}, max_length={max_length}"
        )
    out = []
    for k in range(n_series):
        rng = np.random.default_rng([seed, k])
        n = int(rng.integers(min_length, max_length + 1))
        out.append(_one_series(rng, n))
    return out

"""Training windows for the universal forecaster: (context, future) pairs cut from a corpus.

Every window is normalised the way the model normalises (loc = last observed value, scale =
standard deviation of the context), so the pinball loss is measured in comparable units across
series of any scale; the model's own `SeriesScaler` then sees loc 0 and scale 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.models.universal.seasonality import fit_seasonal_index

__all__ = ["CorpusSeries", "adjusted", "sample_windows"]

# Normalised targets are clipped to ±this (the model clips its normalised inputs likewise).
_CLIP = 50.0


@dataclass(frozen=True)
class CorpusSeries:
    """A training series (finite, 1-D), its seasonal period and the corpus it comes from."""

    values: np.ndarray
    period: int
    source: str


def adjusted(series: CorpusSeries) -> np.ndarray:
    """The series seasonally adjusted as `forecast` does (unchanged when not seasonal)."""
    index = fit_seasonal_index(series.values, series.period)
    return series.values if index is None else index.adjust(series.values)


def sample_windows(
    corpus: list[CorpusSeries],
    weights: dict[str, float],
    n_windows: int,
    *,
    context_length: int,
    horizon: int,
    seed: int,
    short_fraction: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """`n_windows` normalised windows: x (n, context_length) NaN-left-padded, y (n, horizon).

    A window is drawn by picking a source with probability ∝ `weights[source]`, a series of it
    uniformly, and a cut point uniformly among those leaving ≥ 3 context values and ≥ 1 future
    value. The context is everything before the cut (up to `context_length`); with probability
    `short_fraction` it is shortened to a uniform length in [3, that]. Future values past the
    series' end are NaN (masked in the loss).
    """
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[np.ndarray]] = {}
    for s in corpus:
        values = adjusted(s)
        if len(values) >= 4 and np.isfinite(values).all():
            by_source.setdefault(s.source, []).append(values)
    sources = [s for s in by_source if weights.get(s, 0) > 0]
    if not sources:
        raise ValueError(f"`weights` select no source of the corpus. Received: weights={weights}")
    p = np.array([weights[s] for s in sources], dtype="float64")
    p /= p.sum()
    x = np.full((n_windows, context_length), np.nan, dtype="float32")
    y = np.full((n_windows, horizon), np.nan, dtype="float32")
    picks = rng.choice(len(sources), size=n_windows, p=p)
    for i, k in enumerate(picks):
        pool = by_source[sources[k]]
        values = pool[rng.integers(len(pool))]
        cut = int(rng.integers(3, len(values)))
        length = min(cut, context_length)
        if rng.random() < short_fraction:
            length = int(rng.integers(3, length + 1))
        context = values[cut - length : cut]
        future = values[cut : cut + horizon]
        loc = context[-1]
        scale = max(float(np.std(context)), 1e-3 * float(np.mean(np.abs(context))) + 1e-8)
        x[i, context_length - length :] = (context - loc) / scale
        y[i, : len(future)] = np.clip((future - loc) / scale, -_CLIP, _CLIP)
    return x, y

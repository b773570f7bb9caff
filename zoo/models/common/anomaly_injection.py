"""Inject labelled anomalies into a normal series: spikes, level shifts, noise bursts, flat lines
and season breaks (seeded, so a benchmark is reproducible).

Each event takes a segment ``[start, stop)`` of the series and marks exactly its points as
anomalous (label 1); segments never overlap and are separated by at least `gap` normal points, so
anomaly-free stretches remain to measure false alarms on. With σ the standard deviation of the
series, ``magnitude`` (default 3) sets the size:

- ``spike``: 1–3 points moved by ±magnitude·σ.
- ``level_shift``: the segment moved by ±magnitude·σ/2.
- ``noise_burst``: Gaussian noise of std magnitude·σ/2 added to the segment.
- ``flat_line``: the segment held at its first value (a stuck sensor).
- ``season_break``: the segment replaced by the values half a season earlier (a phase jump);
  for period < 2 the segment is reversed in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KINDS", "InjectedSeries", "inject_anomalies"]

KINDS = ("spike", "level_shift", "noise_burst", "flat_line", "season_break")


@dataclass(frozen=True)
class InjectedSeries:
    """`values` (n,) with anomalies, `labels` (n,) int8, `events`: (kind, start, stop) each."""

    values: np.ndarray
    labels: np.ndarray
    events: tuple[tuple[str, int, int], ...]


def _apply(kind, x, original, start, stop, scale, period, rng) -> None:
    sign = rng.choice((-1.0, 1.0))
    if kind in ("spike", "level_shift"):
        x[start:stop] += sign * scale * (1.0 if kind == "spike" else 0.5)
    elif kind == "noise_burst":
        x[start:stop] += rng.normal(0.0, 0.5 * scale, stop - start)
    elif kind == "flat_line":
        x[start:stop] = original[start]
    elif period >= 2:
        shift = period // 2
        x[start:stop] = original[start - shift : stop - shift]
    else:
        x[start:stop] = original[start:stop][::-1]


def inject_anomalies(
    series,
    *,
    count: int = 10,
    kinds: Sequence[str] = KINDS,
    period: int = 1,
    length: tuple[int, int] = (5, 20),
    magnitude: float = 3.0,
    start: int = 0,
    gap: int | None = None,
    seed: int = 0,
) -> InjectedSeries:
    """Add `count` anomalies of `kinds` (cycled in order) at random places in ``series[start:]``.

    Args:
        series: the normal 1-D series (not modified).
        count: number of events.
        kinds: names from KINDS.
        period: season length, for season breaks.
        length: (min, max) points of a segment event (spikes use 1–3 points).
        magnitude: size in standard deviations of the series.
        start: first position an event may touch (keep a clean training part before it).
        gap: least normal points between events; default 2·max(length).
        seed: seed of the NumPy generator that places and sizes the events.

    Raises:
        ValueError: an unknown kind, or no room for `count` events of that size after `start`.
    """
    original = np.asarray(series, "float64").copy()
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"Unknown anomaly kind {unknown[:1] or kinds!r}. Choose from: {', '.join(KINDS)}"
        )
    low, high = int(length[0]), int(length[1])
    if not 1 <= low <= high:
        raise ValueError(f"`length` must be (min, max) with 1 <= min <= max. Received: {length!r}")
    gap = 2 * high if gap is None else int(gap)
    first = max(int(start), period // 2 if period >= 2 else 0)
    room = len(original) - first
    if count * (high + gap) > room:
        raise ValueError(
            f"`count`={count} events of up to {high} points with gaps of {gap} need "
            f"{count * (high + gap)} points after `start`; the series has {room}."
        )
    rng = np.random.default_rng(seed)
    scale = float(np.std(original)) * float(magnitude)
    # Slots of equal width; each event sits at a random place inside its own slot.
    slot = room // count
    x, labels, events = original.copy(), np.zeros(len(original), "int8"), []
    for k in range(count):
        kind = kinds[k % len(kinds)]
        size = int(rng.integers(1, 4)) if kind == "spike" else int(rng.integers(low, high + 1))
        begin = first + k * slot + int(rng.integers(0, slot - size - gap + 1))
        _apply(kind, x, original, begin, begin + size, scale, period, rng)
        labels[begin : begin + size] = 1
        events.append((kind, begin, begin + size))
    return InjectedSeries(x, labels, tuple(events))

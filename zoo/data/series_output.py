"""Tables a user gets back: forecasts from the end of each series, and point-wise anomaly flags.

``forecast_table`` writes one row per series and future step with the columns
(``unique_id``,) (``ds``,) ``step``, ``forecast``, ``q0.1``, ``q0.5``, ``q0.9`` (one ``q<level>``
column per level), ``unique_id`` only for long-format input (series with an id) and ``ds`` only
when the series have time stamps (the steps after the last one, on the same grid).
``detection_table`` writes one row per step of each series' grid: (``unique_id``,) (``ds``,)
``value`` (empty for a step missing from the time column), ``score``, ``is_anomaly``
(``score > threshold``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries

__all__ = ["detection_table", "forecast_table"]


def _leading_columns(series: UserSeries, count: int, stamps) -> dict:
    columns = {}
    if series.id is not None:
        columns["unique_id"] = [series.id] * count
    if stamps is not None:
        columns["ds"] = _whole_numbers_as_ints(stamps)
    return columns


def _whole_numbers_as_ints(stamps):
    """Numeric time stamps that are all whole numbers (years such as 2021, a counter) as ints,
    so that a table writes 2021, not 2021.0; anything else as it is."""
    if isinstance(stamps, np.ndarray) and stamps.dtype.kind == "f":
        finite = np.isfinite(stamps).all()
        if finite and np.all(stamps == np.round(stamps)) and np.abs(stamps).max(initial=0) < 2**53:
            return stamps.astype("int64")
    return stamps


def forecast_table(
    series: Sequence[UserSeries],
    forecast,
    quantiles=None,
    levels: Sequence[float] = (0.1, 0.5, 0.9),
) -> pd.DataFrame:
    """Forecasts (n, h) and optional quantiles (n, h, len(levels)) of n series as one table."""
    point = np.asarray(forecast, "float64")
    if point.ndim != 2 or point.shape[0] != len(series):
        raise ValueError(
            f"`forecast` must have shape (number of series = {len(series)}, horizon). Received "
            f"shape {point.shape}"
        )
    horizon = point.shape[1]
    band = None if quantiles is None else np.asarray(quantiles, "float64")
    if band is not None and band.shape != (*point.shape, len(levels)):
        raise ValueError(
            f"`quantiles` must have shape {(*point.shape, len(levels))} for levels "
            f"{tuple(levels)}. Received shape {band.shape}"
        )
    parts = []
    for k, item in enumerate(series):
        columns = _leading_columns(item, horizon, item.future_timestamps(horizon))
        columns.update(step=np.arange(1, horizon + 1), forecast=point[k])
        for j, q in enumerate(levels):
            if band is not None:
                columns[f"q{q:g}"] = band[k, :, j]
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)


def detection_table(series: Sequence[UserSeries], scores, threshold: float) -> pd.DataFrame:
    """Point-wise `scores` (one array per series, as long as it) flagged at score > threshold."""
    if len(scores) != len(series):
        raise ValueError(
            f"`scores` must hold one array per series ({len(series)}). Received {len(scores)}"
        )
    parts = []
    for item, score in zip(series, scores, strict=True):
        score = np.asarray(score, "float64").ravel()
        if score.shape != item.values.shape:
            raise ValueError(
                f"`scores` of series {item.id!r} must have one value per point "
                f"({len(item.values)}). Received {score.size}"
            )
        columns = _leading_columns(item, len(score), item.timestamps)
        # A step missing from the time column has no value of its own: blank, not the filled one.
        columns.update(
            value=item.with_gaps_missing(), score=score, is_anomaly=score > float(threshold)
        )
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)

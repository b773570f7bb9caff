"""`forecast(model, series, horizon)`: zero-shot forecasts for any series, with quantiles.

Series of different lengths go through the model in one left-padded batch. With a seasonal
`period` (given, or inferred from a DataFrame's `ds` frequency), each series is first seasonally
adjusted by classical decomposition (`seasonality.py`, the Theta method's test and indices) and
the season is put back on the model's outputs.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from zoo.models.universal.seasonality import fit_seasonal_index

__all__ = ["forecast", "infer_period", "prepare_context"]

_TRAINED_LEVELS = (0.1, 0.5, 0.9)
# Pandas offset prefixes -> seasonal period.
_PERIODS = {"Y": 1, "A": 1, "Q": 4, "M": 12, "W": 52, "D": 7, "B": 5, "H": 24, "h": 24}


def infer_period(ds: pd.Series) -> int:
    """The seasonal period of a `ds` column (12 monthly, 4 quarterly, ...; 1 if unknown)."""
    if not pd.api.types.is_datetime64_any_dtype(ds) or len(ds) < 3:
        return 1
    freq = pd.infer_freq(pd.DatetimeIndex(ds))
    if freq is None:
        return 1
    return _PERIODS.get(freq.lstrip("0123456789")[:1], 1)


def prepare_context(values: np.ndarray, context_length: int, period: int | None):
    """(context, seasonal index or None): the last `context_length` values, seasonally adjusted.

    Leading NaNs are dropped; NaNs inside the series stay (the model skips them), but then the
    series is not seasonally adjusted.
    """
    values = np.asarray(values, dtype="float64")
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        raise ValueError("Each series must have at least one finite value. Received: all NaN")
    values = values[finite[0] :][-context_length:]
    index = None
    if period and period > 1 and np.isfinite(values).all():
        index = fit_seasonal_index(values, period)
        if index is not None:
            values = index.adjust(values)
    return values, index


def _as_series_list(series, name: str = "series") -> list[np.ndarray]:
    if isinstance(series, np.ndarray | pd.Series) and np.ndim(series) == 1:
        return [np.asarray(series, dtype="float64")]
    if isinstance(series, list | tuple):
        out = [np.asarray(s, dtype="float64") for s in series]
        if out and all(s.ndim == 0 for s in out):
            return [np.asarray(out, dtype="float64")]
        if any(s.ndim != 1 for s in out):
            raise ValueError(
                f"`{name}` must be 1-D arrays. Received shapes {[s.shape for s in out]}"
            )
        return out
    if isinstance(series, np.ndarray) and series.ndim == 2:
        return list(np.asarray(series, dtype="float64"))
    raise TypeError(
        f"`{name}` must be a 1-D array, a list of 1-D arrays or a DataFrame with columns "
        f"unique_id, ds, y. Received: {type(series).__name__}"
    )


def _levels(q: np.ndarray, levels) -> np.ndarray:
    """Quantiles at `levels` from the model's (0.1, 0.5, 0.9): exact at those three, else a
    normal shape whose lower/upper spread matches q0.1/q0.9 on each side of the median."""
    z90 = NormalDist().inv_cdf(0.9)
    out = []
    for level in levels:
        if level in _TRAINED_LEVELS:
            out.append(q[..., _TRAINED_LEVELS.index(level)])
            continue
        z = NormalDist().inv_cdf(level)
        mid = q[..., 1]
        side = q[..., 2] - mid if level > 0.5 else mid - q[..., 0]
        out.append(mid + side * z / z90)
    return np.stack(out, axis=-1)


def _run(model, contexts: list[np.ndarray], horizon: int, batch_size: int) -> np.ndarray:
    from zoo.models.universal.model import with_future_times

    config = getattr(model, "builder_config", None)
    default_horizon = config["horizon"] if config else int(model.outputs[0].shape[1] or 0)
    runner, times = model, None
    if horizon > default_horizon:
        if config is None:
            raise ValueError(
                f"`horizon` {horizon} exceeds the model's default horizon {default_horizon} and "
                "the model has no `builder_config` to rebuild it with a times input."
            )
        runner = with_future_times(model, config)
        times = np.arange(1, horizon + 1, dtype="float32")
    width = max(len(c) for c in contexts)
    batch = np.full((len(contexts), width), np.nan, dtype="float32")
    for i, c in enumerate(contexts):
        batch[i, width - len(c) :] = c
    chunks = []
    for start in range(0, len(batch), batch_size):
        x = batch[start : start + batch_size]
        if times is None:
            out = runner(x, training=False)
        else:
            out = runner({"context": x, "times": np.tile(times, (len(x), 1))}, training=False)
        chunks.append(np.asarray(out["quantiles"])[:, :horizon])
    return np.concatenate(chunks, axis=0).astype("float64")


def forecast(
    model,
    series,
    horizon: int,
    *,
    period: int | None = None,
    quantiles=(0.1, 0.5, 0.9),
    batch_size: int = 256,
):
    """Forecast `horizon` steps of every series, zero-shot.

    Args:
        model: the universal forecaster (`build_universal_forecaster` with trained weights).
        series: a 1-D array, a list of 1-D arrays (any lengths; leading NaN allowed), or a long
            DataFrame with columns `unique_id, ds, y`.
        horizon: number of future steps, >= 1.
        period: seasonal period (12 for monthly data, ...); None infers it from a DataFrame's
            `ds` and means "no seasonal adjustment" for arrays.
        quantiles: levels in (0, 1); 0.1, 0.5, 0.9 come straight from the model, other levels
            from a normal shape fitted to them on each side of the median.
        batch_size: series per model call.

    Returns:
        {"forecast": (n, horizon), "quantiles": (n, horizon, len(quantiles))}; for a DataFrame,
        a long DataFrame `unique_id, ds, forecast, q0.1, ...` (ds continues each series' dates
        when their frequency is regular, else counts steps 1..horizon).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"`horizon` must be an integer >= 1. Received: horizon={horizon!r}")
    levels = tuple(float(q) for q in quantiles)
    if not levels or any(not 0 < q < 1 for q in levels):
        raise ValueError(f"`quantiles` must be levels in (0, 1). Received: quantiles={quantiles!r}")
    if period is not None and (not isinstance(period, int | np.integer) or period < 1):
        raise ValueError(f"`period` must be an integer >= 1 or None. Received: period={period!r}")
    frame = isinstance(series, pd.DataFrame)
    if frame:
        missing = {"unique_id", "ds", "y"} - set(series.columns)
        if missing:
            raise ValueError(
                "`series` DataFrame must have the columns unique_id, ds, y. "
                f"Missing: {sorted(missing)}"
            )
        groups = [(uid, g.sort_values("ds")) for uid, g in series.groupby("unique_id", sort=False)]
        arrays = [g["y"].to_numpy(dtype="float64") for _, g in groups]
        periods = [period or infer_period(g["ds"]) for _, g in groups]
    else:
        arrays = _as_series_list(series)
        periods = [period] * len(arrays)
    config = getattr(model, "builder_config", None) or {}
    context_length = int(config.get("context_length", 96))
    prepared = [prepare_context(a, context_length, p) for a, p in zip(arrays, periods, strict=True)]
    q = _run(model, [c for c, _ in prepared], int(horizon), batch_size)
    for i, (context, index) in enumerate(prepared):
        if index is not None:
            q[i] = index.restore(q[i].T, start=len(context)).T
    out = {"forecast": q[:, :, 1], "quantiles": _levels(q, levels)}
    if not frame:
        return out
    return _long_frame(groups, out, levels, int(horizon))


def _long_frame(groups, out, levels, horizon: int) -> pd.DataFrame:
    rows = []
    for i, (uid, g) in enumerate(groups):
        ds = g["ds"]
        freq = pd.infer_freq(pd.DatetimeIndex(ds)) if len(ds) >= 3 else None
        if pd.api.types.is_datetime64_any_dtype(ds) and freq is not None:
            future = pd.date_range(ds.iloc[-1], periods=horizon + 1, freq=freq)[1:]
        else:
            future = np.arange(1, horizon + 1)
        part = pd.DataFrame({"unique_id": uid, "ds": future, "forecast": out["forecast"][i]})
        for j, level in enumerate(levels):
            part[f"q{level:g}"] = out["quantiles"][i, :, j]
        rows.append(part)
    return pd.concat(rows, ignore_index=True)

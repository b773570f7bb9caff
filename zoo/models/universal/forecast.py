"""`forecast(model, series, horizon)`: zero-shot forecasts for any series, with quantiles.

Series of different lengths go through the model in one left-padded batch. With a seasonal
`period` (given, or inferred from a DataFrame's `ds` frequency), each series is first seasonally
adjusted by classical decomposition (`seasonality.py`, the Theta method's test and indices) and
the season is put back on the model's outputs.

Each series enters the model divided by a power of two near its largest |value|, and the outputs
are multiplied back (`zoo.models.common.unit_scale`): the model is scale-equivariant
(`SeriesScaler`) and such a division is exact, so nothing changes at ordinary magnitudes, while
series of 1e30 or 1e-30 (whose squares overflow or underflow float32 inside the model) or beyond
float32's range get the forecast of their shape instead of inf or a flat line.
"""

from __future__ import annotations

import weakref
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zoo.models.common.unit_scale import unit_scale
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.user_settings import SEASONS

if TYPE_CHECKING:
    from zoo.data.series_input import UserSeries

__all__ = ["forecast", "prepare_context"]

_TRAINED_LEVELS = (0.1, 0.5, 0.9)
# model -> (its copy with a "times" input, that copy's compiled call); see `_timed_call`.
_TIMED_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prepare_context(
    values: np.ndarray,
    context_length: int,
    period: int | None,
    history: int = 0,
    allow_multiplicative: bool = True,
):
    """(context, seasonal index or None, the index's position of the step after the context):
    the last `context_length` values, seasonally adjusted.

    The index is fitted on the last `history` values, by default on the last
    max(`context_length`, `SEASONS`·period) (several seasons, also when the network reads fewer
    values: a weekly season of 52 needs 3·52 values to be tested at all), as `zoo predict`, the
    fine-tuned model and the SavedModel fit it. Leading NaNs are dropped; NaNs inside that tail
    stay (the model skips them), but then the series is not seasonally adjusted.
    """
    values = np.asarray(values, dtype="float64")
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        raise ValueError("Each series must have at least one finite value. Received: all NaN")
    season = int(period or 1)
    tail = values[finite[0] :][-(history or max(context_length, SEASONS * season)) :]
    index = None
    if season > 1 and np.isfinite(tail).all():
        index = fit_seasonal_index(tail, season, allow_multiplicative)
    adjusted = tail if index is None else index.adjust(tail)
    return adjusted[-context_length:], index, len(tail)


def _numbers(values, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must hold numbers ({error}).") from None


def _as_series_list(series, name: str = "series") -> list[np.ndarray]:
    if isinstance(series, np.ndarray | pd.Series) and np.ndim(series) == 1:
        return [_numbers(series, name)]
    if isinstance(series, list | tuple):
        out = [_numbers(s, name) for s in series]
        if out and all(s.ndim == 0 for s in out):
            return [np.asarray(out, dtype="float64")]
        if any(s.ndim != 1 for s in out):
            raise ValueError(
                f"`{name}` must be 1-D arrays. Received shapes {[s.shape for s in out]}"
            )
        return out
    if isinstance(series, np.ndarray) and series.ndim == 2:
        return list(_numbers(series, name))
    raise TypeError(
        f"`{name}` must be a 1-D array, a list of 1-D arrays or a DataFrame with columns "
        f"unique_id, ds, y. Received: {type(series).__name__}"
    )


def _check_finite(arrays: list[np.ndarray], names: list) -> None:
    """Refuse ±inf, naming the series and the row (NaN is a missing value)."""
    for values, name in zip(arrays, names, strict=True):
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            row = int(infinite[0])
            raise ValueError(
                f"`series` must be finite or NaN (missing). Series {name!r}, row {row} is "
                f"{values[row]}."
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


def _timed_call(model, config: dict):
    """A compiled call of `model` rebuilt with the "times" input (`with_future_times`), made once
    per model and given the model's current weights on every use (so a fine-tuned model is never
    served stale weights): (context (b, t), times (b, k)) -> quantiles (b, k, 3)."""
    import tensorflow as tf

    from zoo.models.universal.model import with_future_times

    found = _TIMED_CALLS.get(model)
    if found is None:
        timed = with_future_times(model, config)
        spec = tf.TensorSpec((None, None), "float32")
        call = tf.function(
            lambda context, times: timed({"context": context, "times": times}, training=False)[
                "quantiles"
            ],
            input_signature=[spec, spec],
        )
        found = _TIMED_CALLS[model] = (timed, call)
    timed, call = found
    timed.set_weights(model.get_weights())
    return call


def _run(model, contexts: list[np.ndarray], horizon: int, batch_size: int) -> np.ndarray:
    """Quantiles (n, horizon, 3) of the left-padded contexts, each run at its `unit_scale`
    (module docstring); compiled calls (`predictor`, `_timed_call`), not eager ones."""
    from zoo.models.common.predictor import predictor

    config = getattr(model, "builder_config", None)
    default_horizon = config["horizon"] if config else int(model.outputs[0].shape[1] or 0)
    if horizon > default_horizon and config is None:
        raise ValueError(
            f"`horizon` {horizon} exceeds the model's default horizon {default_horizon} and "
            "the model has no `builder_config` to rebuild it with a times input."
        )
    width = max(len(c) for c in contexts)
    scales = np.array([unit_scale(c) for c in contexts])
    batch = np.full((len(contexts), width), np.nan, dtype="float32")
    for i, c in enumerate(contexts):
        batch[i, width - len(c) :] = c / scales[i]
    if horizon > default_horizon:
        call = _timed_call(model, config)
        times = np.arange(1, horizon + 1, dtype="float32")
        chunks = [
            np.asarray(call(x, np.tile(times, (len(x), 1))))
            for x in (batch[s : s + batch_size] for s in range(0, len(batch), batch_size))
        ]
        quantiles = np.concatenate(chunks, axis=0)
    else:
        quantiles = predictor(model, batch_size=batch_size)(batch)["quantiles"]
    return quantiles[:, :horizon].astype("float64") * scales[:, None, None]


def forecast(
    model,
    series,
    horizon: int,
    *,
    period: int | None = None,
    quantiles=(0.1, 0.5, 0.9),
    batch_size: int = 256,
    quantile_fn=None,
):
    """Forecast `horizon` steps of every series, zero-shot.

    Args:
        model: the universal forecaster (`build_universal_forecaster` with trained weights).
        series: a 1-D array, a list of 1-D arrays (any lengths; leading NaN allowed), a long
            DataFrame with columns `unique_id, ds, y` (without `unique_id`: one series), read
            as `zoo predict` reads a CSV: each series sorted by ds (dates, numbers, or text
            dates), put on its regular grid, its missing steps and NaN values filled linearly;
            or a pandas Series with a DatetimeIndex, read so too (its index the ds).
        horizon: number of future steps, >= 1.
        period: seasonal period (12 for monthly data, ...); None takes it from a DataFrame's
            `ds` grid (12 monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly, 1 yearly or
            numeric) and means "no seasonal adjustment" for arrays.
        quantiles: levels in (0, 1); 0.1, 0.5, 0.9 come straight from the model, other levels
            from a normal shape fitted to them on each side of the median.
        batch_size: series per model call.
        quantile_fn: instead of the network zero-shot, ``quantile_fn(arrays, horizon)`` gives
            the (n, horizon, 3) quantiles of the series read (a fine-tuned model's own:
            `tuned.tuned_quantiles`, which `zoo.forecast` passes for one).

    Returns:
        {"forecast": (n, horizon), "quantiles": (n, horizon, len(quantiles))} (a dated pandas
        Series too: n = 1); for a DataFrame, a long DataFrame `unique_id, ds, forecast, q0.1,
        ...` (without `unique_id` when the input had none; ds: the steps after each series'
        last time stamp on its grid; 1..horizon for a series of one time stamp).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"`horizon` must be an integer >= 1. Received: horizon={horizon!r}")
    levels = tuple(float(q) for q in quantiles)
    if not levels or any(not 0 < q < 1 for q in levels):
        raise ValueError(f"`quantiles` must be levels in (0, 1). Received: quantiles={quantiles!r}")
    if period is not None and (not isinstance(period, int | np.integer) or period < 1):
        raise ValueError(f"`period` must be an integer >= 1 or None. Received: period={period!r}")
    from zoo.data.series_input import dated_frame

    frame = isinstance(series, pd.DataFrame)
    dated = dated_frame(series)
    if frame or dated is not None:
        series = series if dated is None else dated
        missing = {"ds", "y"} - set(series.columns)
        if missing:
            raise ValueError(
                "`series` DataFrame must have the columns unique_id, ds, y (one series may "
                f"leave out unique_id). Missing: {sorted(missing)}"
            )
        single = "unique_id" not in series.columns
        groups = _frame_series(series.assign(unique_id=0) if single else series, period)
        arrays = [item.values for _, item in groups]
        periods = [item.period for _, item in groups]
    else:
        arrays = _as_series_list(series)
        periods = [period] * len(arrays)
        _check_finite(arrays, list(range(len(arrays))))
    if not arrays:  # no series: no forecasts
        empty = {
            "forecast": np.zeros((0, int(horizon))),
            "quantiles": np.zeros((0, int(horizon), len(levels))),
        }
        return _long_frame([], empty, levels, int(horizon), ids=not single) if frame else empty
    if quantile_fn is not None:  # e.g. a fine-tuned model's own (`tuned.tuned_quantiles`)
        q = quantile_fn(arrays, int(horizon))
    else:
        config = getattr(model, "builder_config", None) or {}
        context_length = int(config.get("context_length", 96))
        prepared = [
            prepare_context(a, context_length, p) for a, p in zip(arrays, periods, strict=True)
        ]
        q = _run(model, [c for c, _, _ in prepared], int(horizon), batch_size)
        for i, (_, index, end) in enumerate(prepared):
            if index is not None:
                q[i] = index.restore(q[i].T, start=end).T
    out = {"forecast": q[:, :, 1], "quantiles": _levels(q, levels)}
    if not frame:
        return out
    return _long_frame(groups, out, levels, int(horizon), ids=not single)


def _frame_series(frame: pd.DataFrame, period: int | None) -> list[tuple[object, UserSeries]]:
    """(the frame's id, its series) of each series of a long `unique_id, ds, y` DataFrame, in
    order of first appearance, read as `zoo predict` reads a CSV (`read_user_series`): its rows
    sorted by ds (text dates read as a CSV's time column is), put on the regular grid of their
    usual spacing (monthly, daily, a numeric step, ...) with missing steps and NaN values filled
    linearly, its season that grid's (12 for monthly, ...) unless `period` is given."""
    from zoo.data.series_input import read_frame_series, rows_by_series, warn_gaps

    frame = frame.reset_index(drop=True)
    y = _numbers(frame["y"], "series")
    groups = rows_by_series(frame["unique_id"])
    ids = [frame["unique_id"].iloc[rows[0]] for _, rows in groups]
    _check_finite([y[rows] for _, rows in groups], ids)
    for ident, (_, rows) in zip(ids, groups, strict=True):
        if not np.isfinite(y[rows]).any():
            raise ValueError(
                f"Each series must have at least one finite value. Series {ident!r} is all NaN."
            )
    if not groups:
        return []
    items, _, _ = read_frame_series(
        frame,
        "y",
        y,
        time_column="ds",
        groups=[rows for _, rows in groups],
        id_column="unique_id",
        period=period,
    )
    warn_gaps(items)
    return list(zip(ids, items, strict=True))


def _long_frame(groups, out, levels, horizon: int, ids: bool = True) -> pd.DataFrame:
    """One row per series and step: unique_id (left out with `ids` False: a frame of one
    series without ids), ds (the steps after each series' last time stamp on its grid;
    1..horizon for a series of one time stamp), forecast, q<level>..."""
    rows = []
    for i, (uid, item) in enumerate(groups):
        future = item.future_timestamps(horizon)
        if future is None:
            future = np.arange(1, horizon + 1)
        elif isinstance(future, np.ndarray) and np.all(future == np.round(future)):
            future = future.astype("int64")  # numeric steps of whole numbers stay whole
        part = pd.DataFrame({"unique_id": uid, "ds": future, "forecast": out["forecast"][i]})
        for j, level in enumerate(levels):
            part[f"q{level:g}"] = out["quantiles"][i, :, j]
        rows.append(part)
    if not rows:
        table = pd.DataFrame(columns=["unique_id", "ds", "forecast", *(f"q{q:g}" for q in levels)])
    else:
        table = pd.concat(rows, ignore_index=True)
    return table if ids else table.drop(columns="unique_id")

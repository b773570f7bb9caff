"""Rolling-origin evaluation of any forecaster beside seasonal naive, ETS and ARIMA.

Protocol, per series of n values: the first ``n_train = ⌊(1 - test_fraction)·n⌋`` are the training
part; origins run over ``range(n_train, n - horizon + 1, stride)``. An origin o has seen
``series[:o]`` and forecasts ``series[o:o + horizon]``, so every forecast step has its actual value.
`stride` defaults to the smallest step giving at most `max_origins` origins per series. The model
is called on the histories (never refit here); every baseline of
:mod:`zoo.models.common.stat_baselines` is refit on ``series[:o]`` at every origin.

Scores per series, over all its origins and steps (:mod:`zoo.models.common.forecast_scores`):
``mase`` (season m = the series' period, scale = seasonal naive MAE on the training part, the same
for all origins), ``smape`` (percent), ``coverage`` of the band between the lowest and highest
quantile levels (0.1–0.9 by default), ``pinball`` (mean over levels, in the series' units),
``scaled_pinball`` (pinball / the MASE scale) and ``wql`` (weighted quantile loss). With many
series every score is the plain mean of the per-series scores (so MASE is the mean of per-series
MASEs, as in M4; mean ``pinball`` mixes the series' units, ``scaled_pinball`` does not).

The report has the JSON layout ``{"metrics": {...}, "baselines": {"seasonal_naive": {...},
"ets": {...}, "arima": {...}}, "origins": N, ...}`` with N the number of origins over all series;
each baseline also counts its ``fallbacks`` (fits that failed and were replaced by seasonal naive).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoo.models.common import forecast_scores as scores
from zoo.models.common.progress import DelayedProgress
from zoo.models.common.stat_baselines import BASELINES, forecast_baseline

__all__ = ["Histories", "RollingOriginResult", "rolling_origin"]

ForecastFn = Callable[[list[np.ndarray]], dict]


class Histories(list):
    """The list of 1-D histories a `forecast_fn` receives, with `periods`: the season of the
    series each one was cut from (a `forecast_fn` that reads no season uses it as a list)."""

    def __init__(self, histories, periods) -> None:
        super().__init__(histories)
        self.periods = [int(p) for p in periods]
        if len(self.periods) != len(self):
            raise ValueError(f"{len(self)} histories need as many periods: {len(self.periods)}")


@dataclass(frozen=True)
class RollingOriginResult:
    """What :func:`rolling_origin` measured.

    Attributes:
        report: the JSON layout of the module docstring.
        frame: one row per (series, origin, step): unique_id, origin, step, index (position in
            the series), ds (when time stamps are known), actual, forecast and q<level> of the
            model, and each baseline's point and quantiles (``ets``, ``ets_q0.1``, ...).
        per_series: one row per series: its length, training part, period, origins, stride and
            scores (``model_mase``, ``ets_mase``, ...).
    """

    report: dict
    frame: pd.DataFrame
    per_series: pd.DataFrame


@dataclass(frozen=True)
class _Plan:
    id: object
    values: np.ndarray
    timestamps: object
    period: int
    n_train: int
    origins: np.ndarray
    stride: int


def training_part(n: int, test_fraction: float) -> int:
    """⌊(1 − test_fraction)·n⌋: the values of a series of n before its first origin."""
    return math.floor((1.0 - test_fraction) * n + 1e-9)


def _as_plans(series, period, horizon, test_fraction, stride, max_origins) -> list[_Plan]:
    many = (
        isinstance(series, list | tuple)
        and len(series)
        and np.ndim(getattr(series[0], "values", series[0])) > 0
    )
    items = list(series) if many else [series]
    plans = []
    for k, item in enumerate(items):
        values = np.asarray(getattr(item, "values", item), "float64")
        ident = getattr(item, "id", None)
        ident = k if ident is None and len(items) > 1 else ident
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise ValueError(
                f"`series` must be finite 1-D series. Received series {ident!r} with shape "
                f"{values.shape} and {int(np.sum(~np.isfinite(values)))} non-finite value(s)"
            )
        m = int(period if period is not None else getattr(item, "period", 1))
        n = len(values)
        n_train = training_part(n, test_fraction)
        possible = np.arange(n_train, n - horizon + 1)
        if n_train < 2 or not len(possible):
            name = "The series" if ident is None else f"`series` {ident!r}"
            raise ValueError(
                f"{name} is too short: {n} values leave a training part of {n_train} and a test "
                f"part of {n - n_train} (test_fraction={test_fraction}), which must hold at least "
                f"horizon={horizon} values. Raise `test_fraction`, or lower `horizon` (any for "
                "forecaster_universal, up to their own for the other forecasters)."
            )
        step = stride or max(1, math.ceil(len(possible) / max_origins))
        plans.append(
            _Plan(
                ident, values, getattr(item, "timestamps", None), m, n_train, possible[::step], step
            )
        )
    return plans


def _model_forecasts(forecast_fn, plans, horizon, levels, batch_size, bar):
    histories = [(p, o) for p in plans for o in p.origins]
    points, bands = [], []
    for start in range(0, len(histories), batch_size):
        chunk = histories[start : start + batch_size]
        out = forecast_fn(Histories([p.values[:o] for p, o in chunk], [p.period for p, _ in chunk]))
        point = np.asarray(out["forecast"], "float64")
        if point.ndim != 2 or point.shape[0] != len(chunk) or point.shape[1] < horizon:
            raise ValueError(
                f"`forecast_fn` must return 'forecast' of shape ({len(chunk)}, >= {horizon}). "
                f"Received shape {point.shape}"
            )
        points.append(point[:, :horizon])
        if out.get("quantiles") is not None:
            band = np.asarray(out["quantiles"], "float64")
            if band.shape[:1] + band.shape[2:] != (len(chunk), len(levels)):
                raise ValueError(
                    f"`forecast_fn` must return 'quantiles' of shape ({len(chunk)}, >= {horizon}, "
                    f"{len(levels)}) for levels {tuple(levels)}. Received shape {band.shape}"
                )
            bands.append(band[:, :horizon, :])
        bar.advance(len(chunk))
    point = np.concatenate(points) if points else np.zeros((0, horizon))
    band = np.concatenate(bands) if len(bands) == len(points) and bands else None
    return point, band


def _score(actual, point, band, insample, period, levels) -> dict:
    result = {
        "mase": scores.mase(actual, point, insample, period),
        "smape": scores.smape(actual, point),
    }
    if band is not None:
        pinball = scores.pinball_loss(actual, band, levels)
        result.update(
            coverage=scores.coverage(actual, band[..., 0], band[..., -1]),
            pinball=pinball,
            scaled_pinball=pinball / scores.seasonal_scale(insample, period),
            wql=scores.weighted_quantile_loss(actual, band, levels),
        )
    return result


def rolling_origin(
    series,
    forecast_fn: ForecastFn | None,
    *,
    horizon: int,
    period: int | None = None,
    levels: Sequence[float] = (0.1, 0.5, 0.9),
    test_fraction: float = 0.2,
    stride: int | None = None,
    max_origins: int = 20,
    baselines: Sequence[str] = tuple(BASELINES),
    batch_size: int = 256,
    progress: bool | None = None,
) -> RollingOriginResult:
    """Evaluate `forecast_fn` and the baselines at rolling origins (see the module docstring).

    Args:
        series: a 1-D array, a UserSeries (its id, period and time stamps are used), or a list
            of them (many series).
        forecast_fn: maps a list of 1-D histories (float64, different lengths) to a dict with
            "forecast" (n, >= horizon) and optionally "quantiles" (n, >= horizon, len(levels));
            None scores the baselines only.
        horizon: steps forecast and scored per origin.
        period: season length for MASE and the baselines; default each series' own (else 1).
        levels: quantile levels of "quantiles", increasing; the band is the first to the last.
        test_fraction: share of each series held out, in (0, 1).
        stride: steps between origins; default ⌈possible origins / max_origins⌉ per series.
        max_origins: bound on origins per series when `stride` is None.
        baselines: names from BASELINES to refit at every origin.
        batch_size: histories per `forecast_fn` call.
        progress: True/False to force the progress bar on/off; None shows it on a terminal
            when the job takes more than a few seconds.
    """
    for name, value, low in (("horizon", horizon, 1), ("max_origins", max_origins, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    if stride is not None and (
        isinstance(stride, bool) or not isinstance(stride, int) or stride < 1
    ):
        raise ValueError(f"`stride` must be an int >= 1 or None. Received: stride={stride!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(
            f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    if list(levels) != sorted(levels):
        raise ValueError(f"`levels` must be increasing. Received: levels={tuple(levels)!r}")
    unknown = [name for name in baselines if name not in BASELINES]
    if unknown:
        raise ValueError(f"Unknown baseline {unknown[0]!r}. Choose from: {', '.join(BASELINES)}")
    plans = _as_plans(series, period, horizon, float(test_fraction), stride, max_origins)
    pairs = sum(len(p.origins) for p in plans)
    work = pairs * ((forecast_fn is not None) + len(baselines))
    with DelayedProgress(work, "rolling-origin evaluation", show=progress) as bar:
        if forecast_fn is not None:
            point, band = _model_forecasts(forecast_fn, plans, horizon, levels, batch_size, bar)
        frames, rows, offset = [], [], 0
        for plan in plans:
            frame, row = _evaluate_series(plan, horizon, levels, baselines, bar)
            if forecast_fn is not None:
                count = len(plan.origins)
                b = None if band is None else band[offset : offset + count]
                _attach_model(frame, row, plan, point[offset : offset + count], b, levels)
                offset += count
            frames.append(frame)
            rows.append(row)
    per_series = pd.DataFrame(rows)
    report = _report(per_series, forecast_fn is not None, baselines, pairs)
    report.update(
        series=len(plans),
        horizon=int(horizon),
        test_fraction=float(test_fraction),
        levels=[float(q) for q in levels],
    )
    return RollingOriginResult(report, pd.concat(frames, ignore_index=True), per_series)


def _attach_model(frame, row, plan: _Plan, point, band, levels) -> None:
    """Add the model's forecasts to the series' `frame` and its scores to its `row`."""
    actual = frame["actual"].to_numpy().reshape(point.shape)
    scored = _score(actual, point, band, plan.values[: plan.n_train], plan.period, levels)
    row.update({f"model_{key}": value for key, value in scored.items()})
    frame["forecast"] = point.ravel()
    if band is not None:
        for j, q in enumerate(levels):
            frame[f"q{q:g}"] = band[..., j].ravel()


def _evaluate_series(plan: _Plan, horizon, levels, baselines, bar) -> tuple[pd.DataFrame, dict]:
    steps = np.arange(1, horizon + 1)
    index = plan.origins[:, None] + steps[None, :] - 1
    actual = plan.values[index]
    frame = pd.DataFrame(
        {
            "unique_id": plan.id,
            "origin": np.repeat(plan.origins, horizon),
            "step": np.tile(steps, len(plan.origins)),
            "index": index.ravel(),
        }
    )
    if plan.timestamps is not None:
        frame["ds"] = np.asarray(plan.timestamps)[index.ravel()]
    frame["actual"] = actual.ravel()
    row = {
        "unique_id": plan.id,
        "n": len(plan.values),
        "n_train": plan.n_train,
        "period": plan.period,
        "origins": len(plan.origins),
        "stride": plan.stride,
    }
    insample = plan.values[: plan.n_train]
    for name in baselines:
        means, bands, fallbacks = [], [], 0
        for origin in plan.origins:
            result = forecast_baseline(name, plan.values[:origin], horizon, plan.period)
            means.append(result.mean)
            bands.append(result.quantiles(levels))
            fallbacks += result.fallback
            bar.advance()
        mean, band = np.stack(means), np.stack(bands)
        frame[name] = mean.ravel()
        for j, q in enumerate(levels):
            frame[f"{name}_q{q:g}"] = band[..., j].ravel()
        scored = _score(actual, mean, band, insample, plan.period, levels)
        row.update(
            {f"{name}_{k}": v for k, v in scored.items()}, **{f"{name}_fallbacks": fallbacks}
        )
    return frame, row


def _mean_of(per_series: pd.DataFrame, prefix: str) -> dict:
    names = [c for c in per_series.columns if c.startswith(prefix)]
    result = {}
    for column in names:
        key = column[len(prefix) :]
        values = per_series[column].to_numpy("float64")
        result[key] = int(values.sum()) if key == "fallbacks" else float(np.nanmean(values))
    return result


def _report(per_series: pd.DataFrame, has_model: bool, baselines, origins: int) -> dict:
    return {
        "metrics": _mean_of(per_series, "model_") if has_model else {},
        "baselines": {name: _mean_of(per_series, f"{name}_") for name in baselines},
        "origins": int(origins),
    }

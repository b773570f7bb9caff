"""Your own data, from Python: one call per `zoo` command, with the same names and results.

    zoo.fine_tune("forecaster_sunspots", "sales.csv", "y", time_column="ds")  # -> keras.Model
    zoo.evaluate(model, frame, "y", time_column="ds")     # -> the dict `zoo evaluate --json` prints
    zoo.backtest(model, frame, "y", time_column="ds")     # -> RollingOriginResult (.frame, .report)
    zoo.plot(model, frame, "y", time_column="ds", output="sales.png")  # -> the PNG's path
    zoo.predict(model, frame, "y", time_column="ds")      # -> the table `zoo predict` writes

`model` is a registry name, a path to a `.keras` file, or a model in memory. `data` is a CSV path
or a pandas DataFrame (read by `zoo.data.series_input.read_user_series`: a value `column`, optional
`time_column` whose frequency sets the season, optional `id_column` for long format), a 1-D array
or pandas Series (with a DatetimeIndex: read as a frame whose time column is that index), or a
list of `UserSeries`. The family of the model (forecaster or detector)
decides what each call does (`zoo/models/<family>/user.py`). This module is part of the face: it
may import everything and nothing imports it back.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.series_input import (
    UserSeries,
    dated_frame,
    read_frame_series,
    read_user_series,
    rows_by_series,
    warn_gaps,
)

__all__ = [
    "backtest",
    "detect",
    "evaluate",
    "fine_tune",
    "load_model",
    "plot",
    "predict",
    "read_series",
]

# The forecasting families, and the module holding each family's `fine_tune`.
FORECASTERS = {"forecaster": "recipe", "universal": "fine_tune"}
# The detector families whose `fine_tune` takes the series' season (`period`).
SEASONAL_DETECTORS = ("universal_anomaly",)
# Detectors given a series' missing steps as missing (NaN), not filled by interpolation.
GAP_READING_DETECTORS = ("universal_anomaly",)
# Model class -> family package under zoo.models, for the models that take a user's series.
SERIES_FAMILIES = {
    "IntegralForecaster": "forecaster",
    "UniversalForecaster": "universal",
    "TunedUniversalForecaster": "universal",
    "WindowDetector": "anomaly",
    "UniversalDetector": "universal_anomaly",
}
FORECASTER_FAMILIES = ("forecaster", "universal")
# The share of each series at its end that a forecaster's evaluation forecasts.
DEFAULT_TEST_FRACTION = 0.2
# How a forecaster and the other detectors read a step missing from the time column.
_FILLED = "filled by time interpolation"


def load_model(model, *, shared: bool = False):
    """A registry name, a `.keras` path or a model in memory, as a Keras model. With `shared`
    (the calls that only run a model: predict, evaluate, detect, forecast), a registry name
    gives one model per process (`_shared_preset`), so that its compiled function is traced
    once: `zoo.forecast("forecaster_universal", ...)` took 350 ms a call, loading and tracing
    the model each time, against 4 ms with a loaded one."""
    if not isinstance(model, str | Path):
        return model
    from zoo import registry

    if shared and Path(model).suffix != ".keras":
        return _shared_preset(str(model))

    path = Path(model)
    if path.suffix == ".keras":
        import keras

        if not path.exists():
            raise FileNotFoundError(f"`model` must be an existing .keras file. Received: {path}")
        check_keras_file(path, "model")
        return keras.saving.load_model(path)
    return registry.load(str(model))


@functools.cache
def _shared_preset(name: str):
    """The preset `name`, loaded (and its checksums checked) once per process; never handed to
    a caller that could change it (fine-tuning loads its own copy)."""
    from zoo import registry

    return registry.load(name)


def check_keras_file(path: Path, name: str) -> None:
    """A clear error for a `.keras` path that is a folder or not the zip archive Keras saves
    (Keras itself says "File not found" for both)."""
    import zipfile

    if not path.is_file() or not zipfile.is_zipfile(path):
        raise ValueError(
            f"`{name}` must be a .keras file saved by Keras (a zip archive, e.g. from `zoo "
            f"fine-tune` or model.save). Received {str(path)!r}, which is "
            f"{'a folder' if path.is_dir() else 'not one'}."
        )


def family(model) -> str:
    """The family of a zoo series model (`SERIES_FAMILIES`); a clear error for another model."""
    name = SERIES_FAMILIES.get(type(model).__name__)
    if name is None:
        raise ValueError(
            "`model` must be a zoo forecaster or detector to take a series. Received "
            f"{type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    return name


def _user_module(model):
    return importlib.import_module(f"zoo.models.{family(model)}.user")


def read_series(
    data,
    column: str | None = None,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    default_period: int = 1,
) -> list[UserSeries]:
    """`data` (see the module docstring) as a list of UserSeries; `period` overrides every
    series' season, `default_period` is the season of a series without time stamps."""
    dated = dated_frame(data)
    if isinstance(data, list | tuple) and data and isinstance(data[0], UserSeries):
        items = list(data)
    elif dated is not None and column is None and time_column is None:
        items = read_user_series(dated, "y", time_column="ds", period=period)
    elif isinstance(data, str | Path) or type(data).__name__ == "DataFrame":
        if column is None:
            raise ValueError("`column` must name the value column of a CSV file or DataFrame.")
        items = read_user_series(
            data, column, time_column=time_column, id_column=id_column, period=period
        )
    else:
        from zoo.models.common.backtest import check_series

        values = check_series(data, name="data")
        items = [UserSeries(None, values, None, None, period or max(default_period, 1))]
    if period is not None:
        return [dataclasses.replace(item, period=int(period)) for item in items]
    return [
        item if item.freq is not None else dataclasses.replace(item, period=default_period)
        for item in items
    ]


def _labels(labels, data, series, time_column, id_column) -> list[np.ndarray] | None:
    """`labels` as one 0/1 array per series: a column name of the tabular `data`, or arrays."""
    if labels is None:
        return None
    if isinstance(labels, str):
        return _label_column(data, labels, time_column, id_column)
    arrays = [labels] if np.ndim(labels[0]) == 0 else list(labels)
    arrays = [(np.asarray(y, "float64") > 0.5).astype("int8") for y in arrays]
    if [len(y) for y in arrays] != [len(s) for s in series]:
        raise ValueError(
            f"`labels` must hold one label per point of each series ({[len(s) for s in series]})."
            f" Received lengths {[len(y) for y in arrays]}"
        )
    return arrays


# Words a label column may hold for 1 and 0 (pandas writes a bool column as True/False).
LABEL_WORDS = {"true": "1", "false": "0", "yes": "1", "no": "0"}


def _label_column(data, column: str, time_column, id_column) -> list[np.ndarray]:
    """The 0/1 labels of `column` of a CSV or DataFrame, one array per series, read on the
    series' grid; 1/0 or True/False (any case), as `zoo predict` writes `is_anomaly`. An error
    names `label_column`."""
    import pandas as pd

    from zoo.data.csv_input import _read_csv

    frame = data if isinstance(data, pd.DataFrame) else _read_csv(data)  # read once
    if column in frame:
        words = frame[column].astype(str).str.strip().str.lower()
        if words.isin(list(LABEL_WORDS)).any():
            frame = frame.assign(**{column: words.map(LABEL_WORDS).fillna(frame[column])})
    try:
        found = read_user_series(frame, column, time_column=time_column, id_column=id_column)
    except (KeyError, ValueError) as error:
        text = str(error.args[0]).replace("`column`", "`label_column`", 1)
        text = text.replace(f"column={column!r}", f"label_column={column!r}", 1)
        if not isinstance(data, pd.DataFrame):  # the file, not the frame read from it
            text = text.replace("the DataFrame", repr(str(data)))
        raise type(error)(text) from None
    return [(item.values > 0.5).astype("int8") for item in found]


def _model_period(model) -> int:
    return max(int(model.get_config().get("period", 1)), 1)


def _prepared(model, data, column, time_column, id_column, period):
    model = load_model(model)
    default = _model_period(model) if family(model) in FORECASTERS else 1
    series = read_series(
        data,
        column,
        time_column=time_column,
        id_column=id_column,
        period=period,
        default_period=default,
    )
    missing = family(model) in GAP_READING_DETECTORS
    warn_gaps(series, "given to the detector as missing" if missing else _FILLED)
    return model, series


def fine_tune(
    model,
    data,
    column: str | None = None,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    seed: int = 0,
    run_dir: str | Path | None = None,
    verbose: int = 0,
    **options: Any,
):
    """Fine-tune a forecaster or detector on a user's series (what `zoo fine-tune` saves).

    Forecasters (`zoo.models.forecaster.recipe.fine_tune`): one model over every series; the
    season (`period`) defaults to the one the time column implies (none: the model's); options
    `horizon`, `window`, `epochs`, `learning_rate`, `freeze_backbone`. Detectors
    (`zoo.models.anomaly.recipe.fine_tune`): one normal series; options `window`,
    `false_alarm_rate` (default 0.001) or `percentile`, `epochs`, `learning_rate`; the
    universal detector also takes the season (as forecasters do) for the season breaks it is
    trained to find.
    """
    model, series = _prepared(model, data, column, time_column, id_column, period)
    kind = family(model)
    recipe = importlib.import_module(f"zoo.models.{kind}.{FORECASTERS.get(kind, 'recipe')}")
    common = {"seed": seed, "run_dir": None if run_dir is None else Path(run_dir)}
    seasonal = kind in FORECASTERS or kind in SEASONAL_DETECTORS
    if period is not None and not seasonal:
        raise ValueError(
            f"`period` does not apply to {model.name} ({type(model).__name__}): its fine-tuning "
            "does not use a season. Leave it out."
        )
    if seasonal and (period is not None or series[0].freq is not None):
        options.setdefault("period", series[0].period)
    if kind in FORECASTERS:
        values = [item.values for item in series]
        return recipe.fine_tune(model, values, verbose=verbose, **common, **options)
    if len(series) != 1:
        raise ValueError(
            f"A detector fine-tunes on one normal series. Received {len(series)} series "
            f"(`id_column`={id_column!r}); fine-tune one detector per series."
        )
    values = series[0].with_gaps_missing() if kind in GAP_READING_DETECTORS else series[0].values
    return recipe.fine_tune(model, values, verbose=verbose, **common, **options)


def predict(
    model,
    data,
    column: str | None = None,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    horizon: int | None = None,
):
    """The table `zoo predict --csv` writes: forecasters one row per future step of each series
    ((unique_id,) (ds,) step, forecast, q0.1, q0.5, q0.9), detectors one row per point
    ((unique_id,) (ds,) value, score, is_anomaly).

    `period` (`forecaster_universal`): the season of every series (default: from its time
    column, else none); the other models forecast or score with what they were built or
    fine-tuned with, and refuse it. `horizon` (forecasters): steps to forecast;
    `forecaster_universal` forecasts any number, the other forecasters (and a fine-tuned
    universal one) up to their own horizon."""
    model = load_model(model, shared=True)
    if period is not None:
        _check_period_applies(model, "predictions")
    model, series = _prepared(model, data, column, time_column, id_column, period)
    options = _horizon_option(model, horizon)
    return _naming_series(
        lambda part: _user_module(model).predict_table(model, part, **options), series
    )


def _naming_series(call, series: list[UserSeries]):
    """`call(series)`; when it raises a ValueError and there are several series, the error
    again with the series it is about (found by calling each alone) and its data rows."""
    try:
        return call(series)
    except ValueError:
        if len(series) > 1:
            for k, item in enumerate(series):
                try:
                    call([item])
                except ValueError as error:
                    which = f"Series {k}" if item.id is None else f"Series {item.id!r}"
                    if item.id is not None:  # read from a table: its rows are known
                        which += f" (data rows {item.rows[0]}–{item.rows[1]})"
                    raise ValueError(f"{which}: {error}") from None
        raise


def _check_period_applies(model, job: str) -> None:
    """A clear error when `period` would change nothing of `job` for `model`: a detector's
    predictions and evaluations (anomaly_universal finds each series' period itself), and the
    predictions of a forecaster with a season of its own (per-series, or fine-tuned)."""
    kind = family(model)
    if kind in FORECASTER_FAMILIES and (job != "predictions" or _zero_shot_universal(model)):
        return
    if kind in FORECASTER_FAMILIES:
        season = int(model.get_config().get("period", 1))
        own = f"the season it was built or fine-tuned with ({season if season > 1 else 'none'})"
        how = "fine-tune it with `period` to change it"
    elif kind in SEASONAL_DETECTORS:
        own = "the period it finds in each series itself"
        how = "`period` applies to its fine-tuning"
    else:
        own = "its fixed windows"
        how = "it has no season"
    raise ValueError(
        f"`period` does not apply to the {job} of {model.name} ({type(model).__name__}): it uses "
        f"{own}; {how}."
    )


def _zero_shot_universal(model) -> bool:
    from zoo.models.universal.user_settings import user_settings

    return family(model) == "universal" and not user_settings(model)


def _horizon_option(model, horizon) -> dict:
    """{"horizon": int >= 1} for a forecaster, {} when `horizon` is None (detectors' functions
    take no horizon); a clear error otherwise."""
    if horizon is None:
        return {}
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"`horizon` must be an integer >= 1. Received: horizon={horizon!r}")
    if family(model) not in FORECASTER_FAMILIES:
        raise ValueError(
            f"`horizon` applies to forecasters; {model.name!r} is a detector. "
            f"Received: horizon={horizon}"
        )
    return {"horizon": int(horizon)}


def _evaluation(model, data, column, time_column, id_column, period, labels, options):
    model = load_model(model, shared=True)
    if period is not None:
        _check_period_applies(model, "evaluation")
    model, series = _prepared(model, data, column, time_column, id_column, period)
    marks = _labels(labels, data, series, time_column, id_column)
    options = {
        **_rolling_options(model, options),
        **_horizon_option(model, options.pop("horizon", None)),
    }
    return _user_module(model).evaluate_series(model, series, labels=marks, **options)


def _rolling_options(model, options: dict) -> dict:
    """`options` with the rolling-origin ones (`test_fraction`, default 0.2, and `stride`) for a
    forecaster; for a detector, which scores whole series, without them, and an error that
    names one that was given."""
    options = dict(options)
    if family(model) in FORECASTER_FAMILIES:
        if options.get("test_fraction") is None:
            options["test_fraction"] = DEFAULT_TEST_FRACTION
        return options
    for key in ("test_fraction", "stride"):
        given = options.pop(key, None)
        if given is not None:
            raise ValueError(
                f"`{key}` applies to forecasters (rolling origins); {model.name} is a detector, "
                f"which scores each series whole. Received: {key}={given!r}"
            )
    return options


def _preset_job(name, attribute: str, *args):
    """The preset's own `evaluation` or `plot` on its bundled data (`name` a registry name)."""
    from zoo import registry

    if not isinstance(name, str) or name.endswith(".keras"):
        raise ValueError(f"`data` is needed unless `model` is a registry name. Received {name!r}")
    return registry.get_preset(name).resolve(attribute)(registry.load(name), *args)


def evaluate(
    model,
    data=None,
    column: str | None = None,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    labels=None,
    test_fraction: float | None = None,
    stride: int | None = None,
    horizon: int | None = None,
    progress: bool | None = None,
) -> dict:
    """What `zoo evaluate --json` prints. Without `data`, the preset's own protocol on its
    bundled data (`model` a registry name). Forecasters: rolling origins over the last
    `test_fraction` (default 0.2) of each series, ``{"metrics": {"mase", "smape", "coverage",
    "pinball", ...}, "baselines": {"seasonal_naive", "ets", "arima"}, "origins": N, ...}``
    (`test_fraction` and `stride` apply to forecasters only). Detectors: with
    `labels` (a column name or arrays) ``{"metrics": {"roc_auc", "pr_auc", "best_f1",
    "false_alarm_rate", ...}, "baselines": {...}}``, else the flagged points. `horizon`
    (forecasters): steps forecast at each origin (default the model's own; any number for
    `forecaster_universal`, at most their own for the others)."""
    if data is None:
        return _preset_job(model, "evaluation")
    options = {"test_fraction": test_fraction, "stride": stride, "progress": progress}
    options["horizon"] = horizon
    result = _evaluation(model, data, column, time_column, id_column, period, labels, options)
    return result.report if hasattr(result, "report") else result


def backtest(
    model,
    data,
    start: int | str | None = None,
    stride: int | None = None,
    horizon: int | None = None,
    *,
    column: str | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    test_fraction: float | None = None,
    progress: bool | None = None,
    batch_size: int = 256,
):
    """Forecasts at rolling origins (forecasters only).

    ``zoo.backtest(model, series, start, stride)`` (an int `start`) returns the frame of
    `zoo.models.common.backtest.backtest`: the model's forecasts at ``range(start, ..., stride)``.
    ``zoo.backtest(model, data, column, ...)`` (a text third argument is the value column;
    what `zoo backtest` runs) returns a
    `RollingOriginResult`: ``.frame`` one row per (series, origin, step) with the model's and
    the baselines' forecasts (what `zoo backtest --output` writes), ``.report`` as `evaluate`.
    """
    if isinstance(start, int | np.integer) and not isinstance(start, bool):
        from zoo.models.common.backtest import backtest as fixed_origins

        if stride is None:
            raise ValueError("`stride` must be given with an int `start`.")
        model = load_model(model, shared=True)
        return fixed_origins(model, data, start, stride, horizon, batch_size=batch_size)
    column = start if column is None and isinstance(start, str) else column
    options = {"test_fraction": test_fraction, "stride": stride, "progress": progress}
    options["horizon"] = horizon
    result = _evaluation(model, data, column, time_column, id_column, period, None, options)
    if not hasattr(result, "frame"):
        raise ValueError("`backtest` applies to forecasters; use `evaluate` for a detector.")
    return result


def plot(model, data=None, column: str | None = None, *, output="zoo.png", **options) -> Path:
    """The PNG `zoo plot` writes: forecasters, the rolling-origin forecasts with their band
    against the actual values of the first series; detectors, the first series' point scores
    with the threshold and the flagged points (labelled anomalies shaded). `options` are those
    of `evaluate`. Without `data`, the preset's own picture (`model` a registry name)."""
    if data is None:
        return _preset_job(model, "plot", Path(output))
    reading = {k: options.pop(k, None) for k in ("time_column", "id_column", "period")}
    labels = options.pop("labels", None)
    model = load_model(model, shared=True)
    if reading["period"] is not None:
        _check_period_applies(model, "picture")
    model, series = _prepared(model, data, column, *reading.values())
    marks = _labels(labels, data, series, reading["time_column"], reading["id_column"])
    options = _rolling_options(model, options)
    options.update(_horizon_option(model, options.pop("horizon", None)))
    return _user_module(model).plot_series(model, series, output, labels=marks, **options)


def _threshold(model, threshold) -> float:
    from zoo.models.common.threshold import get_threshold

    return get_threshold(model) if threshold is None else float(threshold)


def _detect_one(model, values, threshold) -> dict[str, np.ndarray]:
    found = _user_module(model).point_scores(model, [UserSeries(None, values, None, None, 1)])[0]
    return {"score": found, "is_anomaly": found > _threshold(model, threshold)}


def _named_point_scores(model, items: list[UserSeries]) -> list[np.ndarray]:
    """The family's point scores of all `items` at once (batched where it can); an error is
    raised again naming the series it is about (`_naming_series`)."""
    return _naming_series(lambda part: _user_module(model).point_scores(model, part), items)


def _scores_on_grid(model, frame, column, id_column, time_column, groups) -> np.ndarray:
    """Point scores (len(frame),) of a DataFrame's series read as `zoo predict` reads a CSV
    (`read_user_series`: each series in time order on its regular grid, missing steps and NaN
    values filled, which `anomaly_universal` takes as missing), each row given the score of its
    own step (a NaN value's: that of its step; NaN before a series' first or after its last
    value: no score, NaN). Before, rows were scored as consecutive, so a gap of k steps shifted
    a periodic series' phase by k and the jump was scored."""
    values = frame[column].to_numpy(float)
    empty = [rows for rows in groups if not np.isfinite(values[rows]).any()]
    if empty:
        raise ValueError(
            f"`column` {column!r} must hold a number in every series. The series of data row "
            f"{empty[0].min() + 1} holds none."
        )
    items, ordered, times = read_frame_series(
        frame,
        column,
        values,
        time_column=time_column,
        groups=groups,
        id_column=id_column if id_column in frame else None,
    )
    missing = family(model) in GAP_READING_DETECTORS
    warn_gaps(items, "given to the detector as missing" if missing else _FILLED)
    scores = _named_point_scores(model, items)
    out = np.full(len(frame), np.nan)
    for rows, item, found in zip(ordered, items, scores, strict=True):
        if item.grid is None:  # a single time stamp
            positions = np.zeros(len(rows), "int64")
        else:
            positions = np.round(item.grid.positions(times[rows])).astype("int64")
        inside = (positions >= 0) & (positions < len(found))
        out[rows[inside]] = found[positions[inside]]
    return out


def detect(
    model,
    series,
    *,
    threshold: float | None = None,
    column: str = "y",
    id_column="unique_id",
    time_column="ds",
):
    """Point-wise anomaly scores and flags of a zoo detector (`anomaly_universal` zero-shot, or
    any detector), with no training.

    `model`: a registry name, a `.keras` file or a loaded detector. `series`: a 1-D array
    or a list of numbers (returns ``{"score": (n,), "is_anomaly": (n,) bool}``), a list of 1-D
    arrays of any lengths (returns lists of those arrays; an empty list, empty lists), or a
    DataFrame with the value column `column` and, for many series in long format, `id_column`
    (returns a copy with the columns ``score`` and ``is_anomaly``; rows keep their order). If
    the DataFrame has `time_column`, each series is read as `zoo predict` reads a CSV (in time
    order on its regular grid, text dates read as a CSV's time column is; a time column off any
    regular step is an error naming the row) and a missing step or NaN value is given to the
    detector as missing; else the rows are scored in row order. A pandas Series with a
    DatetimeIndex is read as such a frame of one series (returns the dict of arrays). A
    point is flagged when its own score passes the stored threshold (or `threshold`).
    """
    model = load_model(model, shared=True)
    if family(model) in FORECASTER_FAMILIES:
        raise ValueError(
            f"`zoo.detect` takes a detector. Received the forecaster {model.name!r}: use "
            "zoo.forecast or zoo.predict for it."
        )
    dated = dated_frame(series)
    if dated is not None:  # scored on its grid, as a frame with ds
        scored = detect(model, dated, threshold=threshold)
        return {"score": scored["score"].to_numpy(), "is_anomaly": scored["is_anomaly"].to_numpy()}
    if type(series).__name__ == "DataFrame":
        if column not in series.columns:
            raise ValueError(
                f"`column` must name a column of the DataFrame. Received column={column!r}; "
                f"columns: {list(series.columns)}"
            )
        frame = series.reset_index(drop=True)
        groups = [np.arange(len(frame))]
        if id_column in frame:
            groups = [rows for _, rows in rows_by_series(frame[id_column])]
        values = frame[column].to_numpy(float)
        if time_column in frame and len(frame):
            score = _scores_on_grid(model, frame, column, id_column, time_column, groups)
        else:
            score = np.full(len(frame), np.nan)
            items = [UserSeries(None, values[rows], None, None, 1) for rows in groups]
            for rows, found in zip(groups, _named_point_scores(model, items), strict=True):
                score[rows] = found
        flags = np.nan_to_num(score, nan=-np.inf) > _threshold(model, threshold)
        out = series.copy()
        out["score"], out["is_anomaly"] = score, flags
        return out
    if isinstance(series, list | tuple) and not (series and all(np.ndim(s) == 0 for s in series)):
        items = [UserSeries(None, np.asarray(s, "float64"), None, None, 1) for s in series]
        scores = _user_module(model).point_scores(model, items) if items else []
        level = _threshold(model, threshold)
        return {"score": scores, "is_anomaly": [found > level for found in scores]}
    return _detect_one(model, np.asarray(series, "float64"), threshold)

"""A user's series from a CSV file or a pandas DataFrame: wide (one value column) or long format.

``read_user_series(source, column, time_column=None, id_column=None, period=None, min_length=1)``
returns one :class:`UserSeries` per series: a single series, or one per value of `id_column` in the
long layout ``unique_id, ds, y`` that statsforecast and Darts use (order of first appearance).

With a `time_column` (dates in any format pandas reads, numeric ones such as 03/04/2021 in one
order for the whole column, day or month first (:mod:`zoo.data.date_order`), quarters such as
"1965 Q1", ISO weeks such as "1991 W06" read as their Monday, or numbers) the frequency is
inferred from the most common spacing (:mod:`zoo.data.series_time`) and sets the season length
unless `period` is given. Missing steps of the regular grid are inserted and filled by linear
interpolation in time (in the position on the grid, i.e.
``pandas.Series.interpolate(method="time")`` for fixed steps); :class:`GapReport` says how many
and where.

Errors name the column and the row. Rows are counted as **data rows, 1-based, header not
counted**: data row 1 is the first line under the header (line 2 of the file, row 2 of a
spreadsheet); for a DataFrame it is the first row. Refused: a missing column (the message lists
the ones there are), an empty, NaN, infinite or non-numeric value, a time stamp that cannot be
read, goes backwards, repeats or lies off the grid, a grid left more empty than filled (e.g.
yyyymmdd numbers read as plain numbers), and a series shorter than `min_length`.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.csv_input import _read_csv, bad_value_hint
from zoo.data.date_order import as_month_first, day_first
from zoo.data.series_time import TimeGrid, infer_grid
from zoo.data.unix_times import read_as_unix, unix_times

__all__ = [
    "GapReport",
    "UserSeries",
    "frame_times",
    "parse_time_column",
    "read_frame_series",
    "read_user_series",
    "rows_by_series",
    "warn_gaps",
]


@dataclass(frozen=True)
class GapReport:
    """Steps that were missing from the time column and filled by interpolation.

    Attributes:
        count: number of filled steps.
        positions: their indices in the filled series (0-based).
        timestamps: their time stamps as ISO text (or numbers as text for numeric time).
    """

    count: int = 0
    positions: tuple[int, ...] = ()
    timestamps: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.count:
            return "no gaps"
        shown = ", ".join(self.timestamps[:5]) + (", ..." if self.count > 5 else "")
        return f"{self.count} missing step(s) filled by time interpolation: {shown}"


@dataclass(frozen=True)
class UserSeries:
    """One series as the models read it.

    Attributes:
        id: the `id_column` value (text), or None for a single series.
        values: (n,) float array, gaps filled.
        timestamps: (n,) pandas DatetimeIndex or float array on the regular grid, or None.
            Fixed steps keep the user's stamps (time of day included); monthly, quarterly and
            yearly stamps become the first day of their period (the last day when every stamp
            was a period end). Time-zone-aware stamps keep their wall-clock time, except closer
            than a day with a changing offset (a clock change): those are read in UTC, naive.
        freq: frequency name ("monthly", ...; see `zoo.data.series_time`) or None without time.
        period: season length: `period` if given, else the frequency's default, else 1.
        filled: the gaps that were filled.
        rows: (first, last) data row of this series in the source (1-based, header not counted).
        grid: the regular time grid (None without a time column).
    """

    id: str | None
    values: np.ndarray
    timestamps: pd.DatetimeIndex | np.ndarray | None
    freq: str | None
    period: int
    filled: GapReport = field(default_factory=GapReport)
    rows: tuple[int, int] = (1, 1)
    grid: TimeGrid | None = None

    def __len__(self) -> int:
        return len(self.values)

    def with_gaps_missing(self) -> np.ndarray:
        """A copy of `values` (n,) float64 with the filled steps NaN (missing), for a model that
        reads missing values itself."""
        values = np.array(self.values, "float64")
        values[list(self.filled.positions)] = np.nan
        return values

    def future_timestamps(self, horizon: int) -> pd.DatetimeIndex | np.ndarray | None:
        """Time stamps of the `horizon` steps after the last value (None without time)."""
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ValueError(f"`horizon` must be an int >= 1. Received: horizon={horizon!r}")
        if self.grid is None:
            return None
        return self.grid.stamps(np.arange(len(self.values), len(self.values) + horizon))


def warn_gaps(series, how: str = "filled by time interpolation") -> None:
    """One warning that names the steps missing from the time column of the `series`
    (UserSeries; the first three steps of the first three series with gaps), when any, and
    `how` they were read."""
    gaps = [(item.id, item.filled) for item in series if item.filled.count]
    if not gaps:
        return
    parts = []
    for ident, report in gaps[:3]:
        stamps = [stamp.removesuffix("T00:00:00") for stamp in report.timestamps[:3]]
        shown = ", ".join(stamps) + (", ..." if report.count > 3 else "")
        parts.append(f"{'' if ident is None else f'series {ident!r} '}{shown}")
    more = f"; and {len(gaps) - 3} more series" if len(gaps) > 3 else ""
    total = sum(report.count for _, report in gaps)
    warnings.warn(
        f"{total} step(s) missing from the time column, {how}: {'; '.join(parts)}{more}.",
        stacklevel=3,
    )


def _check_columns(frame: pd.DataFrame, source: str, **named: str | None) -> None:
    for argument, column in named.items():
        if column is not None and column not in frame.columns:
            raise KeyError(
                f"`{argument}` must name a column of {source}. Received: {argument}={column!r}; "
                f"the columns are: {', '.join(map(repr, frame.columns)) or '(none)'}"
            )


def _first(bad) -> int | None:
    """Index of the first True of `bad`, or None."""
    hits = np.flatnonzero(np.asarray(bad))
    return int(hits[0]) if len(hits) else None


def _parse_values(text: pd.Series, column: str, rows: np.ndarray, source: str) -> np.ndarray:
    values = pd.to_numeric(text.astype(str).str.strip(), errors="coerce").to_numpy("float64")
    k = _first(~np.isfinite(values))
    if k is not None:
        raise ValueError(
            f"`column` {column!r} of {source} must hold finite numbers. Received "
            f"{str(text.iloc[k])!r} at data row {rows[k]} "
            f"({int(np.sum(~np.isfinite(values)))} bad value(s) in all); "
            + bad_value_hint(text.iloc[k])
        )
    return values


def _iso_monday(year: str, week: str) -> str:
    try:
        return datetime.date.fromisocalendar(int(year), int(week), 1).isoformat()
    except ValueError:
        return "invalid"  # read as NaT below, so the row is reported


def _spell_periods(text: pd.Series) -> pd.Series:
    """Quarters ("1965 Q1"), months written as statistics offices do ("2018M01", "2018 M1"),
    ISO weeks ("1991 W06", "2020-W05") and spans as pandas writes a weekly period
    ("2014-12-29/2015-01-04", read as its first day) as dates pandas can read."""
    span = text.str.replace(r"^(\d{4}-\d{2}-\d{2})/\d{4}-\d{2}-\d{2}$", r"\1", regex=True)
    month = span.str.replace(r"^(\d{4})[\s-]*M(0?[1-9]|1[0-2])$", r"\1-\2-01", regex=True)
    quarter = month.str.replace(r"^(\d{4})[\s-]*Q([1-4])$", r"\1Q\2", regex=True)
    week = quarter.str.extract(r"^(\d{4})[\s-]*W(\d{1,2})$")
    has_week = week[0].notna().to_numpy()
    if has_week.any():
        quarter = quarter.copy()
        quarter[has_week] = [_iso_monday(y, w) for y, w in week[has_week].itertuples(index=False)]
    return quarter


def _numbers(text: pd.Series) -> np.ndarray:
    """A column's cells as float64 (NaN where one is not a number); a numeric column (a
    DataFrame's) without a round trip through text."""
    if pd.api.types.is_numeric_dtype(text) and not pd.api.types.is_bool_dtype(text):
        return text.to_numpy("float64")
    return pd.to_numeric(text.astype(str).str.strip(), errors="coerce").to_numpy("float64")


def _unix_unit(text: pd.Series, column: str, source: str) -> str | None:
    """The unit ("s" or "ms") of a whole time column of Unix times (`zoo.data.unix_times`),
    with a warning that says so; None for any other column."""
    if pd.api.types.is_datetime64_any_dtype(text) or not np.isfinite(_numbers(text[:1])).all():
        return None  # dates, or text that is not a number: no pass over the whole column
    numbers = _numbers(text)
    return read_as_unix(numbers, column, source) if np.isfinite(numbers).all() else None


def _parse_times(
    text: pd.Series, column: str, rows: np.ndarray, source: str, dayfirst: bool, unix=None
):
    """Numbers if every cell is a number (Unix times in `unix`, "s" or "ms", as UTC dates), else
    dates (numeric ones day first if `dayfirst`, `zoo.data.date_order`); an unreadable cell
    names its row. A column of naive datetimes or of numbers (a DataFrame's) is taken as it is,
    without a round trip through text."""
    if pd.api.types.is_datetime64_dtype(text) and text.notna().all():
        return pd.DatetimeIndex(text)
    numbers = _numbers(text)
    if np.isfinite(numbers).all():
        return numbers if unix is None else unix_times(numbers, unix)
    stripped = text.astype(str).str.strip()
    dates = _dates(_spell_periods(as_month_first(stripped, dayfirst)))
    k = _first(dates.isna())
    if k is not None:
        raise ValueError(
            f"`time_column` {column!r} of {source} must hold dates or numbers. Received "
            f"{str(text.iloc[k])!r} at data row {rows[k]}."
        )
    return pd.DatetimeIndex(dates)


# A time of day followed by a zone: "Z", "UTC" or an offset such as +01:00 (group 1: the time).
_ZONE = r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"


def _dates(spelled: pd.Series) -> pd.Series:
    """Text dates as naive datetimes (NaT where unreadable). Times with a zone (offsets change
    with the clock: +01:00 in winter, +02:00 in summer) keep their wall-clock time when the
    stamps are a day or more apart, so that a daily series across a clock change stays daily,
    and are read as instants in UTC when closer and the offset changes, so that an hourly one
    stays hourly (no hour repeated or skipped); closer stamps with one offset throughout keep
    their wall-clock time too (the same grid, the user's own hours)."""
    unzoned = spelled.str.replace(_ZONE, r"\1", regex=True)
    if (unzoned == spelled).all():
        return pd.to_datetime(spelled, errors="coerce", format="mixed")
    wall = pd.to_datetime(unzoned, errors="coerce", format="mixed")
    steps = np.diff(np.sort(wall.dropna().to_numpy("datetime64[ns]").astype("int64")))
    if np.any(steps > 0) and np.median(steps[steps > 0]) >= pd.Timedelta(days=1).value:
        return wall
    utc = pd.to_datetime(spelled, errors="coerce", format="mixed", utc=True).dt.tz_localize(None)
    if (wall - utc).dropna().nunique() <= 1:
        return wall
    return utc


def dated_frame(data) -> pd.DataFrame | None:
    """A pandas Series with a DatetimeIndex as the frame of one series it stands for (columns
    ds, its index, and y, its values); None for anything else."""
    if isinstance(data, pd.Series) and isinstance(data.index, pd.DatetimeIndex):
        return pd.DataFrame({"ds": data.index, "y": data.to_numpy()})
    return None


def rows_by_series(ids) -> list[tuple[str, np.ndarray]]:
    """(id as text, its row positions) of each series named in an id column (any values, read as
    text without surrounding spaces), in order of first appearance."""
    text = pd.Series(np.asarray(ids)).astype(str).str.strip()
    positions = text.groupby(text, sort=False).indices  # one pass, not one per series
    return [(key, np.asarray(positions[key], "int64")) for key in pd.unique(text)]


def parse_time_column(
    text: pd.Series, column: str = "ds", source: str = "the DataFrame", groups=None
) -> pd.DatetimeIndex | np.ndarray:
    """A time column as a CSV's is read (module docstring): numbers if every cell is one, else
    dates, numeric ones in one order for the whole column; `groups` the row positions of each
    series (for that order; default one series). An unreadable cell names its data row."""
    text = text.reset_index(drop=True)
    rows = np.arange(1, len(text) + 1)
    return _parse_times(text, column, rows, source, day_first(text, column, source, groups))


def frame_times(times: pd.Series, column: str, groups=None) -> pd.DatetimeIndex | np.ndarray:
    """A DataFrame's time column as a CSV's is read: numbers as float64, datetimes as they are,
    text and datetimes with a zone as `parse_time_column` reads them (numeric dates in one order
    for the whole column, zones as `_dates` reads them); `groups` the row positions of each
    series."""
    if pd.api.types.is_numeric_dtype(times):
        numbers = times.to_numpy("float64")
        unit = _unix_unit(times, column, "the DataFrame")
        return numbers if unit is None else unix_times(numbers, unit)
    if pd.api.types.is_datetime64_any_dtype(times) and times.dt.tz is None:
        return pd.DatetimeIndex(times)
    return parse_time_column(times, column, "the DataFrame", groups)


def read_frame_series(
    frame: pd.DataFrame,
    column: str,
    values: np.ndarray,
    *,
    time_column: str,
    groups: list[np.ndarray],
    id_column: str | None = None,
    period: int | None = None,
) -> tuple[list[UserSeries], list[np.ndarray], pd.DatetimeIndex | np.ndarray]:
    """The series of a DataFrame (index 0..n-1) whose rows may come in any order, read as a CSV's
    are (`read_user_series`): each series' rows (`groups`, at least one finite value each) sorted
    by `time_column`, its NaN values (`values`, the column as float64) dropped, so that they are
    gaps of its grid. Returns (the series, each one's row positions in time order, the time
    column as read by `frame_times`)."""
    times = frame_times(frame[time_column], time_column, groups)
    key = times.asi8 if isinstance(times, pd.DatetimeIndex) else times
    ordered = [rows[np.argsort(key[rows], kind="stable")] for rows in groups]
    seen = np.concatenate([rows[np.isfinite(values[rows])] for rows in ordered])
    part = frame.iloc[seen].assign(**{column: values[seen], time_column: times[seen]})
    series = read_user_series(
        part, column, time_column=time_column, id_column=id_column, period=period
    )
    return series, ordered, times


def _grid_positions(stamps, column: str, rows: np.ndarray, source: str):
    """Check order and repeats, infer the grid, and return it with integer positions."""
    order = np.diff(stamps.asi8 if isinstance(stamps, pd.DatetimeIndex) else stamps)
    k = _first(order <= 0)
    if k is not None:
        k += 1
        what = "repeats" if order[k - 1] == 0 else "goes backwards"
        raise ValueError(
            f"`time_column` {column!r} of {source} must increase from row to row. Received "
            f"{stamps[k]} at data row {rows[k]}, which {what} (previous: {stamps[k - 1]} at "
            f"data row {rows[k - 1]}). Sort the rows by time and drop duplicates."
        )
    grid = infer_grid(stamps)
    positions = grid.positions(stamps)
    whole = np.round(positions)
    k = _first((np.abs(positions - whole) > 1e-6) | (np.diff(whole, prepend=-1.0) <= 0))
    if k is not None:
        raise ValueError(
            f"`time_column` {column!r} of {source} must follow one regular step ({grid.freq}, "
            f"from the usual spacing). Received {stamps[k]} at data row {rows[k]}, off that "
            "grid or in the same period as the row before (without a time column, the rows are "
            "taken as consecutive steps)."
        )
    empty = int(whole[-1]) + 1 - len(whole)
    if empty > len(whole):
        raise ValueError(
            f"`time_column` {column!r} of {source} leaves {empty} steps of its {grid.freq} grid "
            f"empty between data rows {rows[0]} and {rows[-1]}, more than the {len(whole)} it "
            "fills. Expected time stamps of one series at a regular step (several series need "
            "`id_column`)."
        )
    return grid, whole.astype("int64")


def _fill(
    values: np.ndarray, positions: np.ndarray, grid: TimeGrid
) -> tuple[np.ndarray, GapReport]:
    full = np.arange(positions[-1] + 1)
    missing = np.setdiff1d(full, positions)
    if not len(missing):
        return values, GapReport()
    filled = np.interp(full, positions, values)
    stamps = grid.stamps(missing)
    text = tuple(str(s.isoformat()) if hasattr(s, "isoformat") else repr(float(s)) for s in stamps)
    return filled, GapReport(len(missing), tuple(int(k) for k in missing), text)


def _one_series(
    frame,
    column,
    time_column,
    rows,
    source,
    period,
    ident,
    dtype,
    dayfirst=False,
    grids=None,
    unix=None,
) -> UserSeries:
    """One series of `frame`'s rows; `grids` (a dict) keeps the grid, positions and stamps of
    each time column already read, so that the many series of a long file that share their time
    stamps infer their grid once; `unix` the unit of a time column of Unix times."""
    values = _parse_values(frame[column], column, rows, source)
    grid, stamps, report = None, None, GapReport()
    if time_column is not None and len(values) >= 2:
        times = _parse_times(frame[time_column], time_column, rows, source, dayfirst, unix)
        key = np.asarray(times.asi8 if isinstance(times, pd.DatetimeIndex) else times)
        key = (key.dtype.str, key.tobytes())
        grids = {} if grids is None else grids
        if key not in grids:
            grid, positions = _grid_positions(times, time_column, rows, source)
            grids[key] = grid, positions, grid.stamps(np.arange(positions[-1] + 1))
        grid, positions, stamps = grids[key]
        if isinstance(stamps, np.ndarray):  # numeric stamps: an array of this series' own
            stamps = stamps.copy()
        values, report = _fill(values, positions, grid)
    freq = grid.freq if grid is not None else None
    default = grid.period if grid is not None else 1
    return UserSeries(
        id=ident,
        values=values.astype(dtype),
        timestamps=stamps,
        freq=freq,
        period=default if period is None else int(period),
        filled=report,
        rows=(int(rows[0]), int(rows[-1])),
        grid=grid,
    )


def read_user_series(
    source: str | Path | pd.DataFrame,
    column: str,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    period: int | None = None,
    min_length: int = 1,
    dtype: str = "float64",
) -> list[UserSeries]:
    """Read the series of a CSV file or a DataFrame (see the module docstring for the rules).

    Args:
        source: path of a CSV file with a header row, or a pandas DataFrame.
        column: the value column.
        time_column: optional column of dates or numbers, increasing within each series.
        id_column: optional column naming the series (long format); rows of one series need not
            be contiguous, but each series' rows must be in time order.
        period: season length for every series; default from the inferred frequency, else 1.
        min_length: least number of values (after filling gaps) each series must have.
        dtype: "float64" or "float32" for `values`.

    Returns:
        A list of UserSeries: one, or one per id in order of first appearance.
    """
    if period is not None and (
        isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1
    ):
        raise ValueError(f"`period` must be an int >= 1 or None. Received: period={period!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"`dtype` must be 'float64' or 'float32'. Received: dtype={dtype!r}")
    if isinstance(source, pd.DataFrame):
        frame, name = source.reset_index(drop=True), "the DataFrame"
    else:
        frame, name = _read_csv(source), repr(str(source))
    _check_columns(frame, name, column=column, time_column=time_column, id_column=id_column)
    if len(frame) == 0:
        raise ValueError(f"`source` {name} must hold data rows. Received 0 rows.")
    rows = np.arange(1, len(frame) + 1)
    if id_column is None:
        groups = [(None, rows - 1)]
    else:
        groups = rows_by_series(frame[id_column])
    # Numeric dates (03/04/2021) are read in one order for the whole column.
    dayfirst = time_column is not None and day_first(
        frame[time_column], time_column, name, [index for _, index in groups]
    )
    # Whole minutes of Unix time are read as UTC dates, decided once for the whole column.
    unix = _unix_unit(frame[time_column], time_column, name) if time_column is not None else None
    result, grids = [], {}
    for ident, index in groups:
        part = frame.iloc[index]
        series = _one_series(
            part,
            column,
            time_column,
            rows[index],
            name,
            period,
            ident,
            dtype,
            dayfirst,
            grids,
            unix,
        )
        if len(series) < max(int(min_length), 1):
            which = f" (series {ident!r})" if ident is not None else ""
            raise ValueError(
                f"`column` {column!r} of {name}{which} must hold at least {min_length} values. "
                f"Received {len(series)} (data rows {series.rows[0]}–{series.rows[1]})."
            )
        result.append(series)
    return result

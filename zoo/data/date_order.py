"""Which of day and month comes first in a column of numeric dates such as 03/04/2021.

pandas reads each cell of such a column on its own: month first where it can, day first where
the first number is above 12. So a column of day-first dates (as most of Europe writes them)
is read partly one way and partly the other (01/02/2024 as January 2, 13/02/2024 as February
13), and a monthly series written 01/01/2024, 01/02/2024, ... reads as a daily one.
`day_first` decides once for the whole column, from the cells of the form d/d/yy(yy) (with
'/', '-' or '.' between the numbers, a time of day may follow):

- a first number above 12 in some cell means day first, a second number above 12 month first;
  a column with both mixes the two orders and is refused, naming a row of each;
- otherwise (every number <= 12) a '.' separator means day first (the convention where dates
  are written so); else the order that fits each series better is taken: fewer repeated
  dates, then fewer steps of its regular grid left empty or missed (month first reads a
  monthly 01/02/2019, 01/03/2019, ... as January 2, 3, ..., with a year-long jump after every
  twelve), then fewer steps back in time; if both fit alike, month first (pandas' reading)
  with a warning saying how to be sure (ISO dates).

`as_month_first` rewrites those cells as YYYY-MM-DD (a time of day kept) for pandas to read;
other cells (ISO dates, quarters, weeks) are left as they are. Two-digit years are read as
Python's ``%y`` does (69–99 → 19xx, 00–68 → 20xx).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["as_month_first", "day_first"]

_NUMERIC_DATE = r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?=$|[\sT])(.*)$"


def _parts(text: pd.Series) -> pd.DataFrame:
    """Columns first, sep, second, year, rest (NaN where a cell is not a numeric d/d/y date)."""
    found = text.astype(str).str.strip().str.extract(_NUMERIC_DATE)
    found.columns = ["first", "sep", "second", "year", "rest"]
    return found


def _iso(parts: pd.DataFrame, day_is_first: bool) -> pd.Series:
    day, month = ("first", "second") if day_is_first else ("second", "first")
    year = parts["year"].astype(str)
    short = year.str.len() == 2
    number = pd.to_numeric(year.where(~short, "0"), errors="coerce").fillna(0).astype(int)
    two = pd.to_numeric(year.where(short, "0"), errors="coerce").fillna(0).astype(int)
    full = np.where(short, np.where(two >= 69, 1900 + two, 2000 + two), number)
    return (
        pd.Series(full, index=parts.index).astype(str).str.zfill(4)
        + "-"
        + parts[month].astype(str).str.zfill(2)
        + "-"
        + parts[day].astype(str).str.zfill(2)
        + parts["rest"].fillna("").astype(str)
    )


def as_month_first(text: pd.Series, day_is_first: bool) -> pd.Series:
    """`text` with its numeric d/d/y cells as YYYY-MM-DD (module docstring), others unchanged."""
    parts = _parts(text)
    dated = parts["first"].notna()
    if not dated.any():
        return text
    out = text.astype(str).copy()
    out[dated] = _iso(parts[dated], day_is_first)
    return out


def _misfit(text: pd.Series, day_is_first: bool, groups) -> tuple[int, int, int] | None:
    """(repeated dates, steps of the regular grid left empty or missed by the sorted dates, steps
    back in time in row order) within the series `groups` (index arrays) when `text` is read so;
    None if some cell is then no date. Sorted first, so rows need not be in time order (a
    DataFrame's need not be; a CSV's must, and there the steps back break a tie)."""
    from zoo.data.series_time import infer_grid

    stamps = pd.to_datetime(as_month_first(text, day_is_first), errors="coerce", format="mixed")
    if stamps.isna().any():
        return None
    repeats, gaps, back = 0, 0, 0
    for index in groups:
        part = pd.DatetimeIndex(stamps.iloc[index])
        back += int(np.sum(np.diff(part.asi8) <= 0))
        ordered = part.sort_values()
        repeats += int(np.sum(np.diff(ordered.asi8) == 0))
        ordered = ordered.unique()
        if len(ordered) < 3:
            continue
        try:
            positions = infer_grid(ordered).positions(ordered)
        except ValueError:  # no usual step: as far from a grid as can be
            gaps += len(ordered)
            continue
        whole = np.round(positions)
        gaps += int(np.sum(np.abs(positions - whole) > 1e-6)) + int(whole[-1] + 1 - len(whole))
    return repeats, gaps, back


def day_first(text: pd.Series, column: str, source: str, groups=None) -> bool:
    """Whether the numeric dates of `text` (one column, data rows 1.. in order) put the day
    first (module docstring); `groups` the row indices of each series (default: one series)."""
    parts = _parts(text)
    dated = parts["first"].notna().to_numpy()
    if not dated.any():
        return False
    first = pd.to_numeric(parts["first"], errors="coerce").to_numpy()
    second = pd.to_numeric(parts["second"], errors="coerce").to_numpy()
    over_first, over_second = np.flatnonzero(first > 12), np.flatnonzero(second > 12)
    if len(over_first) and len(over_second):
        a, b = int(over_first[0]), int(over_second[0])
        raise ValueError(
            f"`time_column` {column!r} of {source} must write its dates in one order. Received "
            f"{text.iloc[a]!r} at data row {a + 1} (day first) and {text.iloc[b]!r} at data row "
            f"{b + 1} (month first); write them as YYYY-MM-DD."
        )
    if len(over_first) or len(over_second):
        return bool(len(over_first))
    if (parts["sep"][dated] == ".").all():
        return True
    groups = [np.arange(len(text))] if groups is None else groups
    misfits = {order: _misfit(text, order, groups) for order in (False, True)}
    readable = {order: n for order, n in misfits.items() if n is not None}
    if len(readable) == 1:
        return next(iter(readable))
    if not readable or readable[False] != readable[True]:
        return bool(readable and readable[True] < readable[False])
    k = int(np.flatnonzero(dated)[0])
    warnings.warn(
        f"`time_column` {column!r} of {source}: dates such as {text.iloc[k]!r} (data row "
        f"{k + 1}) read either way, so they are read month first, as pandas does; write them "
        "as YYYY-MM-DD to be sure.",
        UserWarning,
        stacklevel=3,
    )
    return False

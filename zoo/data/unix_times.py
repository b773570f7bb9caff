"""Numeric time stamps that are Unix times: seconds or milliseconds since 1970-01-01 UTC.

Databases, Prometheus, InfluxDB and most loggers export time as a Unix time. Read as plain
numbers, an hourly series of them has a step of 3600 and no calendar, so its daily season is
lost. A numeric time column is read as Unix time when all three hold:

* every value is a whole number;
* every value lies in [1990-01-01, 2100-01-01) as seconds (6.3e8 … 4.1e9) or as milliseconds
  (6.3e11 … 4.1e12);
* every step between its distinct sorted values is a whole number of minutes.

The last is what tells a clock from other numbers in that range: a counter steps by 1, and
hours written as digits (yyyymmddhh, 2.0e9) step by 1 within a day. A column that passes is read
as naive UTC datetimes, with a warning that says so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["UNIX_RANGE", "read_as_unix", "unix_times", "unix_unit"]

# [1990-01-01, 2100-01-01) in Unix seconds.
UNIX_RANGE = (631_152_000, 4_102_444_800)
_PER_SECOND = {"s": 1, "ms": 1000}
_MINUTE = 60


def unix_unit(numbers: np.ndarray) -> str | None:
    """The unit ("s" or "ms") in which the float64 `numbers` (n,) read as Unix times (module
    docstring), else None."""
    numbers = np.asarray(numbers, "float64")
    if not len(numbers) or not np.all(np.isfinite(numbers)) or np.any(numbers % 1):
        return None
    low, high = float(numbers.min()), float(numbers.max())
    for unit, scale in _PER_SECOND.items():
        if UNIX_RANGE[0] * scale <= low and high < UNIX_RANGE[1] * scale:
            steps = np.diff(np.unique(numbers))
            if np.all(steps % (_MINUTE * scale) == 0):
                return unit
    return None


def unix_times(numbers: np.ndarray, unit: str) -> pd.DatetimeIndex:
    """`numbers` (n,) Unix times in `unit` ("s" or "ms") as naive UTC datetimes."""
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(numbers, "int64"), unit=unit))


def read_as_unix(numbers: np.ndarray, column: str, source: str) -> str | None:
    """`unix_unit` of a whole time column, with a warning that names `column` of `source`, its
    unit and its first stamp when it is one."""
    unit = unix_unit(numbers)
    if unit is not None:
        first = unix_times(numbers[:1], unit)[0]
        warnings.warn(
            f"`time_column` {column!r} of {source} holds Unix times in {unit} "
            f"({int(numbers[0])} = {first.isoformat(sep=' ')} UTC): read as dates in UTC, so "
            "that the frequency sets the season. Write dates in the column to read it otherwise.",
            stacklevel=4,
        )
    return unit

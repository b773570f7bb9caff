"""Time stamps of a user's series: the frequency they follow, the regular grid, the future steps.

A series is sampled on a regular grid when every time stamp is ``t_0 + k·step`` for an integer
``k`` (fixed steps: hourly, daily, weekly, any sub-daily step) or falls in the ``k``-th calendar
period after the first one (monthly, quarterly, yearly, whose steps differ in days). The frequency
is read from the most common spacing of consecutive stamps (the smallest one on a tie), so gaps
do not change it:

=========  ==================  ============================
name       usual spacing       default season length (period)
=========  ==================  ============================
hourly     1 hour              24  (one day)
business   1 weekday           5   (one week of weekdays)
daily      1 day               7   (one week)
weekly     7 days              52  (one year)
monthly    28–31 days          12
quarterly  89–92 days          4
yearly     365–366 days        1
=========  ==================  ============================

A daily series with no stamp on a Saturday or Sunday that skips at least one weekend (Friday to
Monday) is on the grid of weekdays ("business"): its k-th step is the k-th weekday after the
first, a missing weekday (a holiday) is a gap, and its future steps skip weekends.

Any other step that divides a day evenly (30 min, 15 min, ...) is kept as a fixed step named by its
pandas alias, with one day as its season (e.g. 48 for 30 min); other steps get a season of 1.
Numeric time columns (e.g. 1, 2, 3 or 1871, 1872, ...) are a fixed numeric step; whole years
between 1000 and 3000 with step 1 are named "yearly".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_PERIODS", "TimeGrid", "infer_grid"]

#: Season length that each named frequency implies when the caller gives no `period`.
DEFAULT_PERIODS = {
    "hourly": 24,
    "business": 5,
    "daily": 7,
    "weekly": 52,
    "monthly": 12,
    "quarterly": 4,
    "yearly": 1,
}

# Named calendar frequencies: usual spacing range in days -> pandas Period alias.
_CALENDAR = {
    "monthly": ((27.5, 31.5), "M"),
    "quarterly": ((88.5, 92.5), "Q"),
    "yearly": ((364.5, 366.5), "Y"),
}
_DAY = pd.Timedelta(days=1)
# The step of the grid of weekdays (Monday to Friday).
BUSINESS = "B"


@dataclass(frozen=True)
class TimeGrid:
    """A regular grid that a series' time stamps lie on.

    Attributes:
        freq: "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", a pandas alias of
            another fixed step (e.g. "30min"), or "numeric" for a numeric step.
        period: the default season length of `freq` (see the module docstring).
        origin: the first time stamp (a pandas Timestamp, or a float for numeric time).
        step: a pandas Timedelta, a float for numeric time, or a pandas Period alias ("M", "Q",
            "Y") for calendar frequencies.
        anchor: for calendar frequencies, "start" or "end": whether stamps name the first or
            the last day of their period ("start" when they are neither).
    """

    freq: str
    period: int
    origin: object
    step: object
    anchor: str = "start"

    @property
    def calendar(self) -> bool:
        return isinstance(self.step, str) and self.step != BUSINESS

    def positions(self, stamps) -> np.ndarray:
        """Grid index k of each stamp, as float (an integer when the stamp lies on the grid)."""
        if self.step == BUSINESS:
            days = pd.DatetimeIndex(stamps)
            first = pd.Timestamp(self.origin)
            whole = np.busday_count(_day([first])[0], _day(days)).astype("float64")
            # a weekend stamp counts as the Monday after it: it then repeats a position
            return whole + np.asarray(
                ((days - days.normalize()) - (first - first.normalize())) / _DAY
            )
        if self.calendar:
            periods = pd.DatetimeIndex(stamps).to_period(self.step)
            first = pd.Timestamp(self.origin).to_period(self.step)
            return np.asarray([(p - first).n for p in periods], dtype="float64")
        if isinstance(self.step, pd.Timedelta):
            return np.asarray((pd.DatetimeIndex(stamps) - self.origin) / self.step, dtype="float64")
        return (np.asarray(stamps, dtype="float64") - self.origin) / self.step

    def stamps(self, positions) -> pd.DatetimeIndex | np.ndarray:
        """Time stamps at integer grid indices `positions` (the inverse of `positions`)."""
        positions = np.asarray(positions, dtype="int64")
        if self.step == BUSINESS:
            first = pd.Timestamp(self.origin)
            days = np.busday_offset(_day([first])[0], positions, roll="forward")
            return pd.DatetimeIndex(days) + (first - first.normalize())
        if self.calendar:
            first = pd.Timestamp(self.origin).to_period(self.step)
            periods = pd.PeriodIndex([first + int(k) for k in positions])
            how = "end" if self.anchor == "end" else "start"
            return periods.to_timestamp(how=how).normalize()
        if isinstance(self.step, pd.Timedelta):
            return pd.DatetimeIndex(self.origin + positions * self.step)
        return self.origin + positions * self.step


def _day(stamps) -> np.ndarray:
    """The calendar days (numpy datetime64[D]) of time stamps."""
    return np.asarray(pd.DatetimeIndex(stamps).normalize(), dtype="datetime64[D]")


def _on_weekdays(stamps: pd.DatetimeIndex) -> bool:
    """True when no stamp falls on a weekend and some step skips one (Friday to Monday)."""
    weekday = stamps.dayofweek.to_numpy()
    skips = (weekday[:-1] == 4) & (np.diff(stamps.normalize().asi8) == 3 * _DAY.value)
    return bool(np.all(weekday < 5) and np.any(skips))


def _fixed_freq(step: pd.Timedelta) -> tuple[str, int]:
    named = {pd.Timedelta(hours=1): "hourly", _DAY: "daily", pd.Timedelta(days=7): "weekly"}
    if step in named:
        return named[step], DEFAULT_PERIODS[named[step]]
    alias = pd.tseries.frequencies.to_offset(step).freqstr
    per_day = _DAY / step
    period = int(per_day) if step < _DAY and float(per_day).is_integer() else 1
    return alias, period


def _usual_step(steps: np.ndarray):
    """The most common step; the smallest of the most common ones on a tie."""
    unique, counts = np.unique(steps, return_counts=True)
    return unique[np.argmax(counts)]


def infer_grid(stamps) -> TimeGrid:
    """The regular grid of sorted, distinct time stamps (at least two), from their usual spacing.

    `stamps` is a pandas DatetimeIndex or a 1-D float array. The caller checks order and
    repeats first; this function only reads the spacing.
    """
    if isinstance(stamps, pd.DatetimeIndex):
        spacing = pd.Timedelta(_usual_step(np.diff(stamps.asi8)), unit="ns")
        days = spacing / _DAY
        for name, ((low, high), alias) in _CALENDAR.items():
            if low <= days <= high:
                periods = stamps.to_period(alias)
                at_end = bool(
                    np.all(stamps.normalize() == periods.to_timestamp(how="end").normalize())
                )
                return TimeGrid(
                    name, DEFAULT_PERIODS[name], stamps[0], alias, "end" if at_end else "start"
                )
        if spacing == _DAY and _on_weekdays(stamps):
            return TimeGrid("business", DEFAULT_PERIODS["business"], stamps[0], BUSINESS)
        freq, period = _fixed_freq(spacing)
        return TimeGrid(freq, period, stamps[0], spacing)
    values = np.asarray(stamps, dtype="float64")
    step = float(_usual_step(np.round(np.diff(values), 9)))
    whole = np.all(values == np.round(values))
    if step == 1.0 and whole and 1000 <= values[0] and values[-1] <= 3000:
        return TimeGrid("yearly", 1, float(values[0]), 1.0)
    return TimeGrid("numeric", 1, float(values[0]), step)

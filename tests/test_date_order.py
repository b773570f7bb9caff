"""Numeric dates (03/04/2021) are read in one order for the whole column: against dates written
by pandas' own strftime, so the expected stamps come from outside the code under test."""

import warnings

import numpy as np
import pandas as pd
import pytest

from zoo.data.series_input import read_user_series


@pytest.mark.parametrize(
    ("pattern", "freq", "start", "step"),
    [
        ("%d/%m/%Y", "daily", "2024-01-01", "D"),  # 13/01/2024 shows the order
        ("%m/%d/%Y", "daily", "2024-01-01", "D"),  # 01/13/2024 shows the order
        ("%d.%m.%Y", "monthly", "2019-01-01", "MS"),  # every number <= 12: '.' is day first
        ("%d/%m/%Y", "monthly", "2019-01-01", "MS"),  # every number <= 12: only day first rises
        ("%d-%m-%y %H:%M", "hourly", "2023-12-30 00:00", "h"),  # two-digit years, a time of day
    ],
)
def test_numeric_dates_are_read_in_one_order(pattern, freq, start, step):
    stamps = pd.date_range(start, periods=40, freq=step)
    frame = pd.DataFrame({"ds": stamps.strftime(pattern), "y": np.arange(40.0)})
    (series,) = read_user_series(frame, "y", time_column="ds")
    assert series.freq == freq and series.filled.count == 0
    pd.testing.assert_index_equal(series.timestamps, stamps, check_names=False, exact=False)


def test_day_first_dates_are_read_in_one_order_in_every_series_of_a_long_table():
    # Two monthly series, day first: 01/13/2020 is no date, so only day first reads them.
    stamps = pd.date_range("2020-01-01", periods=14, freq="MS")
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 14 + ["b"] * 14,
            "ds": list(stamps.strftime("%d/%m/%Y")) * 2,
            "y": np.arange(28.0),
        }
    )
    found = read_user_series(frame, "y", time_column="ds", id_column="unique_id")
    assert [s.freq for s in found] == ["monthly", "monthly"]
    for series in found:
        pd.testing.assert_index_equal(series.timestamps, stamps, check_names=False, exact=False)


def test_dates_that_read_either_way_are_month_first_with_a_warning():
    # 01/01 .. 12/01: January to December read month first, January 1 to 12 read day first;
    # both are regular series, so nothing tells them apart.
    frame = pd.DataFrame({"ds": [f"{k:02d}/01/2024" for k in range(1, 13)], "y": np.ones(12)})
    with pytest.warns(UserWarning, match="YYYY-MM-DD"):
        (series,) = read_user_series(frame, "y", time_column="ds")
    assert series.freq == "monthly"  # 01/01, 02/01, ... read as January, February, ...
    assert series.timestamps[1] == pd.Timestamp("2024-02-01")


def test_a_column_mixing_day_first_and_month_first_names_both_rows():
    frame = pd.DataFrame({"ds": ["13/01/2024", "01/14/2024"], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"data row 1 \(day first\).*data row 2 \(month first\)"):
        read_user_series(frame, "y", time_column="ds")


def test_iso_dates_and_an_impossible_date_are_unchanged_and_named():
    stamps = pd.date_range("2024-01-01", periods=20, freq="D")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ISO dates need no guess: no warning
        (series,) = read_user_series(
            pd.DataFrame({"ds": stamps.strftime("%Y-%m-%d"), "y": np.arange(20.0)}),
            "y",
            time_column="ds",
        )
    pd.testing.assert_index_equal(series.timestamps, stamps, check_names=False, exact=False)
    bad = pd.DataFrame({"ds": ["30/01/2024", "31/02/2024"], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"'31/02/2024' at data row 2"):
        read_user_series(bad, "y", time_column="ds")

"""zoo.data.series_input: a user's CSV or DataFrame read into series, against pandas and by hand."""

import datetime
import warnings

import numpy as np
import pandas as pd
import pytest

from zoo.data.series_input import read_user_series
from zoo.data.series_output import detection_table, forecast_table


def _csv(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("alias", "freq", "period"),
    [
        ("h", "hourly", 24),
        ("D", "daily", 7),
        ("W-MON", "weekly", 52),
        ("W-SUN", "weekly", 52),
        ("MS", "monthly", 12),
        ("ME", "monthly", 12),
        ("QS", "quarterly", 4),
        ("QE", "quarterly", 4),
        ("YS", "yearly", 1),
        ("30min", "30min", 48),
    ],
)
def test_frequency_and_season_are_inferred_with_gaps(alias, freq, period):
    stamps = pd.date_range("2001-01-01", periods=40, freq=alias)
    kept = np.delete(np.arange(40), [5, 6, 20])
    frame = pd.DataFrame({"ds": stamps[kept].strftime("%Y-%m-%d %H:%M"), "y": kept * 2.0})
    (series,) = read_user_series(frame, "y", time_column="ds")
    assert (series.freq, series.period) == (freq, period)
    assert series.filled.count == 3 and series.filled.positions == (5, 6, 20)
    # The regular grid comes back whole, and the values are linear in the grid position.
    pd.testing.assert_index_equal(series.timestamps, pd.DatetimeIndex(stamps), check_names=False)
    np.testing.assert_allclose(series.values, np.arange(40) * 2.0, rtol=0, atol=1e-12)
    future = series.future_timestamps(3)
    expected = pd.date_range(stamps[-1], periods=4, freq=alias)[1:]
    pd.testing.assert_index_equal(future, pd.DatetimeIndex(expected), check_names=False)


def test_hourly_gap_is_filled_like_pandas_time_interpolation():
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2020-03-01", periods=30, freq="h")
    values = rng.normal(size=30).cumsum()
    kept = np.delete(np.arange(30), [3, 4, 5, 17])
    frame = pd.DataFrame({"when": stamps[kept], "v": values[kept]})
    (series,) = read_user_series(frame, "v", time_column="when")
    reference = pd.Series(values[kept], index=stamps[kept]).reindex(stamps)
    reference = reference.interpolate(method="time").to_numpy()
    np.testing.assert_allclose(series.values, reference, rtol=1e-12, atol=1e-12)
    assert series.filled.timestamps[0] == "2020-03-01T03:00:00"
    assert "4 missing step(s)" in str(series.filled)


def test_monthly_gap_is_linear_in_months_and_period_is_overridable():
    frame = pd.DataFrame({"ds": ["2020-01-01", "2020-02-01", "2020-05-01"], "y": [1.0, 2.0, 8.0]})
    (series,) = read_user_series(frame, "y", time_column="ds", period=6)
    # Hand: months 0, 1, 4 observed; 2 and 3 lie 1/3 and 2/3 of the way from 2 to 8.
    np.testing.assert_allclose(series.values, [1.0, 2.0, 4.0, 6.0, 8.0], rtol=1e-12)
    assert series.period == 6 and series.freq == "monthly"


def test_numeric_time_years_and_plain_numbers():
    frame = pd.DataFrame({"t": [1871, 1872, 1874], "y": [1.0, 3.0, 7.0]})
    (series,) = read_user_series(frame, "y", time_column="t")
    assert series.freq == "yearly" and series.period == 1
    np.testing.assert_array_equal(series.timestamps, [1871.0, 1872.0, 1873.0, 1874.0])
    np.testing.assert_allclose(series.values, [1.0, 3.0, 5.0, 7.0])
    np.testing.assert_array_equal(series.future_timestamps(2), [1875.0, 1876.0])
    frame = pd.DataFrame({"t": [0.5, 1.0, 1.5], "y": [1.0, 2.0, 3.0]})
    (series,) = read_user_series(frame, "y", time_column="t")
    assert series.freq == "numeric" and series.period == 1


def test_without_time_column_and_float32(tmp_path):
    path = _csv(tmp_path, "value\n1\n2.5\n-3\n")
    (series,) = read_user_series(path, "value", dtype="float32")
    assert series.values.dtype == np.float32 and series.timestamps is None
    np.testing.assert_array_equal(series.values, np.float32([1, 2.5, -3]))
    assert series.freq is None and series.period == 1 and series.future_timestamps(2) is None
    assert series.rows == (1, 3)


def test_long_format_splits_by_id_in_order_of_first_appearance(tmp_path):
    text = (
        "unique_id,ds,y\nb,2020-01-01,1\na,2020-01-01,10\nb,2020-01-02,2\na,2020-01-02,20\n"
        "a,2020-01-04,40\n"
    )
    series = read_user_series(_csv(tmp_path, text), "y", time_column="ds", id_column="unique_id")
    assert [s.id for s in series] == ["b", "a"]
    np.testing.assert_allclose(series[0].values, [1.0, 2.0])
    np.testing.assert_allclose(series[1].values, [10.0, 20.0, 30.0, 40.0])
    assert series[1].filled.count == 1 and series[1].rows == (2, 5)
    assert all(s.freq == "daily" and s.period == 7 for s in series)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("ds,y\n2020-01-01,1\n2020-01-02,\n", r"`column` 'y'.*''.*data row 2"),
        ("ds,y\n2020-01-01,1\n2020-01-02,NaN\n", r"`column` 'y'.*'NaN'.*data row 2"),
        ("ds,y\n2020-01-01,1\n2020-01-02,abc\n", r"`column` 'y'.*'abc'.*data row 2"),
        ("ds,y\n2020-01-02,1\n2020-01-01,2\n", r"`time_column` 'ds'.*data row 2.*goes backwards"),
        ("ds,y\n2020-01-01,1\n2020-01-01,2\n", r"`time_column` 'ds'.*data row 2.*repeats"),
        ("ds,y\n2020-01-01,1\nlater,2\n", r"`time_column` 'ds'.*'later' at data row 2"),
        (
            "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03 06:00,3\n2020-01-04,4\n2020-01-05,5\n",
            r"`time_column` 'ds'.*daily.*data row 3",
        ),
    ],
)
def test_bad_rows_name_the_column_and_the_row(tmp_path, text, pattern):
    with pytest.raises(ValueError, match=pattern):
        read_user_series(_csv(tmp_path, text), "y", time_column="ds")


@pytest.mark.parametrize(
    ("cells", "freq"),
    [
        (["1965 Q1", "1965 Q2", "1965-Q4"], "quarterly"),
        (["1991 W06", "1991-W07", "1991W09"], "weekly"),
        (["2018M11", "2018 M12", "2019M2"], "monthly"),  # as statistics offices write months
    ],
)
def test_quarter_and_iso_week_labels_are_read(cells, freq):
    (series,) = read_user_series(
        pd.DataFrame({"t": cells, "y": [1.0, 2.0, 4.0]}), "y", time_column="t"
    )
    assert series.freq == freq
    np.testing.assert_allclose(series.values, [1.0, 2.0, 3.0, 4.0])
    if freq == "weekly":
        # ISO week 6 of 1991 starts on Monday 4 February.
        assert series.timestamps[0] == pd.Timestamp("1991-02-04")
    if freq == "monthly":
        assert series.timestamps[3] == pd.Timestamp("2019-02-01")


def test_mostly_empty_grid_is_refused():
    frame = pd.DataFrame({"t": [20200130, 20200131, 20200201, 20200202], "y": [1.0, 2, 3, 4]})
    with pytest.raises(ValueError, match=r"`time_column` 't'.*empty between data rows 1 and 4"):
        read_user_series(frame, "y", time_column="t")


def test_unknown_columns_list_the_columns():
    frame = pd.DataFrame({"ds": [1, 2], "y": [1.0, 2.0]})
    with pytest.raises(KeyError, match=r"`column`.*'price'.*'ds', 'y'"):
        read_user_series(frame, "price")
    with pytest.raises(KeyError, match=r"`time_column`.*'date'"):
        read_user_series(frame, "y", time_column="date")
    with pytest.raises(KeyError, match=r"`id_column`.*'id'"):
        read_user_series(frame, "y", id_column="id")


def test_short_series_names_column_id_and_rows():
    frame = pd.DataFrame({"id": ["a", "a", "a", "b", "b"], "y": [1.0, 2, 3, 4, 5]})
    with pytest.raises(ValueError, match=r"`column` 'y'.*series 'b'.*at least 3.*Received 2.*4–5"):
        read_user_series(frame, "y", id_column="id", min_length=3)


@pytest.mark.parametrize(("argument", "value"), [("period", 0), ("period", 2.5), ("dtype", "int8")])
def test_bad_arguments(argument, value):
    frame = pd.DataFrame({"y": [1.0, 2.0]})
    with pytest.raises(ValueError, match=f"`{argument}`"):
        read_user_series(frame, "y", **{argument: value})


def test_future_timestamps_rejects_bad_horizon():
    (series,) = read_user_series(pd.DataFrame({"t": [1, 2], "y": [1.0, 2.0]}), "y", time_column="t")
    with pytest.raises(ValueError, match="`horizon`"):
        series.future_timestamps(0)


def test_forecast_table_has_future_dates_ids_and_quantile_columns():
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "b"],
            "ds": ["2020-01", "2020-02", "2021-03", "2021-04", "2021-05"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    series = read_user_series(frame, "y", time_column="ds", id_column="unique_id")
    point = np.array([[10.0, 11.0], [20.0, 21.0]])
    band = point[..., None] + np.array([-1.0, 0.0, 1.0])
    table = forecast_table(series, point, band)
    assert list(table.columns) == ["unique_id", "ds", "step", "forecast", "q0.1", "q0.5", "q0.9"]
    assert list(table["unique_id"]) == ["a", "a", "b", "b"]
    assert list(table["ds"]) == list(
        pd.to_datetime(["2020-03-01", "2020-04-01", "2021-06-01", "2021-07-01"])
    )
    np.testing.assert_array_equal(table["q0.9"], point.ravel() + 1.0)
    # A single series without time: only step and the values.
    (plain,) = read_user_series(pd.DataFrame({"y": [1.0, 2.0]}), "y")
    table = forecast_table([plain], [[5.0, 6.0, 7.0]])
    assert list(table.columns) == ["step", "forecast"]
    with pytest.raises(ValueError, match="`forecast`"):
        forecast_table([plain], [5.0, 6.0])


def test_detection_table_flags_points_strictly_above_the_threshold():
    frame = pd.DataFrame(
        {"ds": pd.date_range("2020-01-01", periods=4, freq="D"), "v": [1.0, 2, 3, 4]}
    )
    series = read_user_series(frame, "v", time_column="ds")
    table = detection_table(series, [np.array([0.1, 0.5, 0.9, 0.5])], 0.5)
    assert list(table.columns) == ["ds", "value", "score", "is_anomaly"]
    assert list(table["is_anomaly"]) == [False, False, True, False]
    with pytest.raises(ValueError, match="one value per point"):
        detection_table(series, [np.zeros(3)], 0.5)


@pytest.mark.parametrize("as_text", [True, False])
def test_times_with_zones_across_clock_changes_stay_regular(as_text):
    # Local times with offsets, as a database exports them: +01:00 in winter, +02:00 in summer.
    # Before, the mixed offsets failed with pandas' "Can only use .dt accessor". A daily series
    # keeps its wall-clock dates (in UTC it would alternate 23:00 and 22:00, off a daily grid);
    # an hourly one is read in UTC, where the hours around the autumn's repeated wall-clock
    # hour are consecutive.
    daily = pd.date_range("2021-03-20", periods=30, freq="D", tz="Europe/Berlin")
    hourly = pd.date_range("2021-10-30 20:00", periods=30, freq="h", tz="UTC")
    hourly = hourly.tz_convert("Europe/Berlin")
    assert hourly.tz_localize(None).duplicated().any()  # the repeated wall-clock hour
    for stamps, freq, first in (
        (daily, "daily", pd.Timestamp("2021-03-20")),
        (hourly, "hourly", pd.Timestamp("2021-10-30 20:00")),
    ):
        ds = pd.Series(stamps).map(lambda t: t.isoformat()) if as_text else stamps
        frame = pd.DataFrame({"ds": ds, "y": np.arange(30.0)})
        (series,) = read_user_series(frame, "y", time_column="ds")
        assert series.freq == freq and series.filled.count == 0 and len(series) == 30
        assert series.timestamps[0] == first


@pytest.mark.parametrize("as_text", [True, False])
def test_hourly_times_with_one_offset_keep_their_hours(as_text):
    # Kolkata is +05:30 all year: before, hourly stamps were read in UTC, so a forecast's ds and
    # a detection table's came back 5.5 hours off the user's own.
    stamps = pd.date_range("2021-10-30 20:00", periods=30, freq="h", tz="Asia/Kolkata")
    ds = pd.Series(stamps).map(lambda t: t.isoformat()) if as_text else stamps
    (series,) = read_user_series(
        pd.DataFrame({"ds": ds, "y": np.arange(30.0)}), "y", time_column="ds"
    )
    assert series.freq == "hourly" and len(series) == 30
    assert list(series.timestamps) == list(stamps.tz_localize(None))
    assert series.future_timestamps(1)[0] == pd.Timestamp("2021-11-01 02:00")  # 29 h after 20:00


def test_weekday_series_are_on_the_grid_of_weekdays():
    # Monday-Friday stamps, one holiday missing: before, a daily grid whose weekends were filled
    # by interpolation (2 invented values a week, a season of 7, forecasts dated on Saturdays).
    stamps = pd.bdate_range("2024-01-01", periods=60) + pd.Timedelta(hours=9, minutes=30)
    frame = pd.DataFrame({"ds": stamps, "y": np.arange(60.0)}).drop(index=[10])
    (series,) = read_user_series(frame, "y", time_column="ds")
    assert (series.freq, series.period, len(series), series.filled.count) == ("business", 5, 60, 1)
    assert list(series.timestamps) == list(stamps)
    np.testing.assert_allclose(series.values, np.arange(60.0))  # the holiday filled linearly
    assert list(series.future_timestamps(2)) == [
        pd.Timestamp("2024-03-25 09:30"),  # the Monday after Friday 22 March
        pd.Timestamp("2024-03-26 09:30"),
    ]
    # Every day of the week, or weekdays that never skip a weekend: daily.
    daily = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30), "y": np.arange(30.0)})
    assert read_user_series(daily, "y", time_column="ds")[0].freq == "daily"
    # A Saturday among weekdays is off the grid of weekdays' usual spacing: still daily, and its
    # weekends are gaps.
    odd = pd.DataFrame({"ds": [*stamps[:20], pd.Timestamp("2024-01-27 09:30")], "y": 1.0})
    assert read_user_series(odd.sort_values("ds"), "y", time_column="ds")[0].freq == "daily"


def test_series_sharing_their_time_stamps_read_as_each_alone():
    # A long frame's series usually share their dates: their grid is inferred once. Each series
    # still reads as it does alone, one with a missing month (other stamps) included.
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    rng = np.random.default_rng(8)
    parts = [pd.DataFrame({"id": key, "ds": months, "y": rng.normal(size=24)}) for key in "abc"]
    parts[1] = parts[1].drop(index=[5])
    frame = pd.concat(parts, ignore_index=True)
    together = read_user_series(frame, "y", time_column="ds", id_column="id")
    for part, got in zip(parts, together, strict=True):
        (alone,) = read_user_series(part, "y", time_column="ds")
        np.testing.assert_array_equal(got.values, alone.values)
        assert list(got.timestamps) == list(alone.timestamps) == list(months)
        assert got.filled == alone.filled and got.freq == "monthly" and got.period == 12
    assert together[1].filled.positions == (5,) and together[0].filled.count == 0


def _utc(seconds):
    """Naive UTC datetimes of Unix seconds, by the standard library (the reference)."""
    zone = datetime.UTC
    return pd.DatetimeIndex(
        [datetime.datetime.fromtimestamp(int(t), zone).replace(tzinfo=None) for t in seconds]
    )


@pytest.mark.parametrize(("scale", "unit"), [(1, "s"), (1000, "ms")])
def test_unix_times_are_read_as_utc_dates_with_their_season(tmp_path, scale, unit):
    # An export of hourly Unix times (seconds or milliseconds, as databases and Prometheus write
    # them), two series in the long layout, one hour missing: hourly with the daily season 24,
    # not numbers 3600 apart with none. One warning names the column and the unit.
    start = 1_700_000_000 - 1_700_000_000 % 3600
    hours = np.delete(np.arange(72), 30)
    seconds = start + 3600 * hours
    frame = pd.DataFrame({
        "unique_id": np.repeat(["a", "b"], len(hours)),
        "ts": np.tile(seconds * scale, 2),
        "y": np.arange(2 * len(hours), dtype="float64"),
    })  # fmt: skip
    path = tmp_path / "unix.csv"
    frame.to_csv(path, index=False)
    for source in (path, frame):
        with pytest.warns(UserWarning, match=f"'ts' of .* holds Unix times in {unit} ") as seen:
            found = read_user_series(source, "y", time_column="ts", id_column="unique_id")
        assert len([w for w in seen if "Unix" in str(w.message)]) == 1
        for series in found:
            assert (series.freq, series.period, series.filled.positions) == ("hourly", 24, (30,))
            expected = _utc(start + 3600 * np.arange(72))
            pd.testing.assert_index_equal(series.timestamps, expected, check_names=False)


@pytest.mark.parametrize(
    "stamps",
    [
        np.arange(50.0),  # a counter
        1_700_000_000 + np.arange(50.0),  # seconds in the range, but not whole minutes apart
        1_700_000_000 + 60 * np.arange(50.0) + 0.5,  # not whole numbers
        200 + 3600 * np.arange(50.0),  # whole hours, but before 1990
    ],
)
def test_other_numbers_stay_numbers(stamps):
    frame = pd.DataFrame({"t": stamps, "y": np.arange(50.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (series,) = read_user_series(frame, "y", time_column="t")
    assert series.freq == "numeric" and series.period == 1
    np.testing.assert_array_equal(series.timestamps, stamps)


def test_a_weekly_period_as_pandas_writes_it_reads_as_its_first_day(tmp_path):
    # A PeriodIndex of weeks written to CSV ("2014-12-29/2015-01-04"): pandas read it as two
    # zoned dates (a FutureWarning) and failed at a later row.
    weeks = pd.period_range("2014-12-29", periods=60, freq="W")
    path = tmp_path / "weeks.csv"
    pd.DataFrame({"ds": weeks.astype(str), "y": np.arange(60.0)}).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (series,) = read_user_series(path, "y", time_column="ds")
    assert (series.freq, series.period) == ("weekly", 52)
    pd.testing.assert_index_equal(series.timestamps, weeks.start_time, check_names=False)

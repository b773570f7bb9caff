"""Your own data end to end: `zoo fine-tune | predict | evaluate | backtest | plot` on a CSV, and
the same calls from Python (`zoo.fine_tune`, ...), against independent numpy/sklearn references.

Tiny series and one epoch: these check the wiring (season from the dates, long format, the
split-conformal band, the point-wise false-alarm threshold, tables and reports), not accuracy.
"""

import io
import json
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import zoo
from zoo.cli import main
from zoo.data.statsmodels_series import co2_weekly
from zoo.models.anomaly import model as anomaly


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _on_csv(capsys, command, model, csv, column, *extra):
    """`zoo COMMAND --model MODEL --csv CSV --column COLUMN ...`; its stdout (status 0 asserted)."""
    code, out, err = _run(
        capsys, command, "--model", model, "--csv", csv, "--column", column, *extra
    )
    assert code == 0, err
    return out


def _monthly(n=120, seed=0, level=100.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + 0.3 * t + 8.0 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, n)
    return pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": values})


@pytest.fixture(scope="module")
def monthly_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("own") / "monthly.csv"
    _monthly().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def tuned_forecaster(monthly_csv, tmp_path_factory):
    output = tmp_path_factory.mktemp("model") / "m.keras"
    code = main(
        ["fine-tune", "forecaster_sunspots", "--csv", str(monthly_csv), "--column", "y",
         "--time-column", "ds", "--horizon", "6", "--epochs", "1", "--output", str(output),
         "--quiet"]
    )  # fmt: skip
    assert code == 0
    return output


def test_fine_tune_takes_the_season_from_the_dates(tuned_forecaster):
    config = keras.saving.load_model(tuned_forecaster).get_config()
    # monthly dates -> period 12 (not the preset's 0); the level is the last season's mean
    assert (config["period"], config["horizon"], config["level_steps"]) == (12, 6, 12)
    assert config["window"] >= 12 and config["band_scale"] > 0
    assert (tuned_forecaster.parent / "m.keras.run" / "checkpoints" / "fine_tune").exists()


def test_predict_writes_one_row_per_future_step(capsys, tuned_forecaster, monthly_csv, tmp_path):
    path = tmp_path / "next.csv"
    _on_csv(capsys, "predict", tuned_forecaster, monthly_csv, "y", "--time-column", "ds",
            "--output", path)  # fmt: skip
    table = pd.read_csv(path, parse_dates=["ds"])
    assert list(table.columns) == ["ds", "step", "forecast", "q0.1", "q0.5", "q0.9"]
    expected = pd.date_range("2010-01-01", periods=6, freq="MS")  # after Dec 2009
    assert list(table["ds"]) == list(expected) and list(table["step"]) == [1, 2, 3, 4, 5, 6]
    assert (table["q0.1"] <= table["q0.9"]).all()
    # the same numbers as the model called on the last `window` values
    model = keras.saving.load_model(tuned_forecaster)
    window = model.get_config()["window"]
    values = pd.read_csv(monthly_csv)["y"].to_numpy("float32")
    direct = model.predict(values[None, -window:, None], verbose=0)["forecast"][0]
    np.testing.assert_allclose(table["forecast"], direct, rtol=1e-5, atol=1e-4)


def test_predict_horizon_any_for_the_universal_forecaster_own_for_the_others(
    capsys, tuned_forecaster, monthly_csv, tmp_path
):
    # `zoo predict forecaster_universal --csv F --column y --horizon H`: any H (its
    # continuous-time decoder answers each future time on its own, so the first 24 steps of a
    # 40-step table are the default 24-step table's); another forecaster: up to its own.
    default, longer = tmp_path / "default.csv", tmp_path / "longer.csv"
    for path, extra in ((default, ()), (longer, ("--horizon", "40"))):
        code, _, err = _run(
            capsys, "predict", "forecaster_universal", "--csv", monthly_csv, "--column", "y",
            "--time-column", "ds", *extra, "--output", path,
        )  # fmt: skip
        assert code == 0, err
    default, longer = pd.read_csv(default), pd.read_csv(longer)
    assert len(default) == 24 and list(longer["step"]) == list(range(1, 41))
    assert longer["ds"].iloc[-1] == "2013-04-01"  # 40 months after Dec 2009
    columns = ["forecast", "q0.1", "q0.5", "q0.9"]
    np.testing.assert_allclose(longer[columns][:24], default[columns], rtol=1e-5, atol=1e-4)
    frame = _monthly()
    first = zoo.predict("forecaster_universal", frame, "y", time_column="ds", horizon=3)
    np.testing.assert_allclose(first[columns], default[columns][:3], rtol=1e-5, atol=1e-4)
    short = zoo.predict(tuned_forecaster, frame, "y", time_column="ds", horizon=2)
    full = zoo.predict(tuned_forecaster, frame, "y", time_column="ds")
    np.testing.assert_allclose(short[columns], full[columns][:2])
    with pytest.raises(ValueError, match=r"at most this model's 6 steps\. Received: horizon=7"):
        zoo.predict(tuned_forecaster, frame, "y", time_column="ds", horizon=7)
    with pytest.raises(ValueError, match="`horizon` applies to forecasters"):
        zoo.predict("anomaly_universal", frame, "y", horizon=3)
    with pytest.raises(ValueError, match="`horizon` must be an integer >= 1"):
        zoo.predict("forecaster_universal", frame, "y", horizon=0)
    code, _, err = _run(capsys, "predict", "cnn_digits", "--input", monthly_csv, "--horizon", "3")
    assert code == 2 and "`--horizon` goes with `--csv`" in err


def test_evaluate_and_backtest_take_a_horizon(capsys, tuned_forecaster, tmp_path):
    # 60 monthly values leave a test part of 12, too short for the universal forecaster's
    # own 24 steps: without `--horizon` it evaluates the 12 that fit, says so in one warning
    # line, and gives what `--horizon 12` gives; 24 asked for is an error that says how. Its
    # continuous-time decoder answers each step on its own, so at an origin the 6-step
    # forecasts are the first 6 of the 30-step ones; the seasonal naive baseline is the value
    # 12 months before, by hand; the per-series model stops at its own 6 steps.
    frame = _monthly(60)
    path = tmp_path / "short.csv"
    frame.to_csv(path, index=False)
    on_csv = ("evaluate", "forecaster_universal", "--csv", path, "--column", "y",
              "--time-column", "ds", "--json")  # fmt: skip
    code, fitted, err = _run(capsys, *on_csv)
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("warning: Forecasting 12 steps")
    assert "the model's own horizon is 24" in err
    code, twelve, err = _run(capsys, *on_csv, "--horizon", "12")
    assert code == 0 and err == ""
    assert json.loads(fitted)["horizon"] == 12 and json.loads(fitted) == json.loads(twelve)
    code, _, err = _run(capsys, *on_csv, "--horizon", "24")
    assert code == 2 and "lower `horizon`" in err and "The series is too short" in err
    code, out, err = _run(capsys, "evaluate", "forecaster_universal", "--csv", path, "--column",
                          "y", "--time-column", "ds", "--horizon", "6", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["horizon"] == 6
    options = {"time_column": "ds", "test_fraction": 0.6, "progress": False}
    six = zoo.backtest("forecaster_universal", frame, "y", horizon=6, **options).frame
    thirty = zoo.backtest("forecaster_universal", frame, "y", horizon=30, **options).frame
    assert sorted(set(six["step"])) == list(range(1, 7)) and thirty["step"].max() == 30
    origin = int(thirty["origin"].iloc[0])
    a = six[six["origin"] == origin].set_index("step")
    b = thirty[thirty["origin"] == origin].set_index("step").loc[1:6]
    np.testing.assert_allclose(a[["forecast", "q0.1", "q0.9"]], b[["forecast", "q0.1", "q0.9"]],
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    values = frame["y"].to_numpy()
    np.testing.assert_allclose(a["seasonal_naive"], values[origin - 12 : origin - 6])
    with pytest.raises(ValueError, match=r"at most this model's 6 steps\. Received: horizon=7"):
        zoo.evaluate(tuned_forecaster, frame, "y", time_column="ds", horizon=7)
    with pytest.raises(ValueError, match="`horizon` applies to forecasters"):
        zoo.evaluate("anomaly_universal", frame, "y", horizon=3)


def test_predict_uses_the_period_given_or_refuses_it_by_name(capsys, tuned_forecaster, monthly_csv):
    # `zoo predict forecaster_universal --period 1` forecasts without the season the monthly
    # dates imply (12), as `zoo.forecast` does with period=1 (before, --period was dropped and
    # the table was the season-12 one). A model that would ignore it refuses it by name.
    columns = ["forecast", "q0.1", "q0.9"]
    tables = {}
    for period in (None, 1):
        extra = () if period is None else ("--period", period)
        code, out, err = _run(capsys, "predict", "forecaster_universal", "--csv", monthly_csv,
                              "--column", "y", "--time-column", "ds", "--horizon", "6",
                              *extra)  # fmt: skip
        assert code == 0, err
        tables[period] = pd.read_csv(io.StringIO(out))
    values = pd.read_csv(monthly_csv)["y"].to_numpy()
    for period in (12, 1):
        found = zoo.forecast("forecaster_universal", values, 6, period=period)
        table = tables[None if period == 12 else 1]
        np.testing.assert_allclose(table["forecast"], found["forecast"][0], rtol=1e-5, atol=1e-4)
    assert np.max(np.abs(tables[None][columns].to_numpy() - tables[1][columns].to_numpy())) > 1.0
    refused = [
        ("predict", "anomaly_universal", "the period it finds in each series itself"),
        ("evaluate", "anomaly_universal", "the period it finds in each series itself"),
        ("plot", "anomaly_ucr135", "its fixed windows"),
        ("predict", tuned_forecaster, "the season it was built or fine-tuned with (12)"),
        ("predict", "forecaster_sunspots", "the season it was built or fine-tuned with (none)"),
    ]
    for command, model, reason in refused:
        which = ("--model", model) if isinstance(model, Path) else (model,)
        code, _, err = _run(capsys, command, *which, "--csv", monthly_csv, "--column", "y",
                            "--period", "12")  # fmt: skip
        assert code == 2 and "`period` does not apply to the" in err and reason in err, err
    # An evaluation's baselines take it: seasonal naive of period 4 is the value 4 steps back.
    result = zoo.backtest(tuned_forecaster, monthly_csv, "y", time_column="ds", period=4,
                          progress=False)  # fmt: skip
    first = result.frame[result.frame["origin"] == result.frame["origin"].min()]
    origin = int(first["origin"].iloc[0])
    np.testing.assert_allclose(first["seasonal_naive"].iloc[:4], values[origin - 4 : origin])


def test_a_single_series_forecaster_warns_on_a_series_of_another_scale(tuned_forecaster):
    # forecaster_co2 divides by the spread of the CO2 windows it was built on (2.86 ppm): a
    # series 1e6 times wider is outside what it learned, and the user is told what to do. The
    # model fine-tuned on the series itself, and co2 on its own data, say nothing.
    frame = _monthly()
    with pytest.warns(UserWarning, match=r"times the scale 'forecaster_co2' was built on"):
        zoo.predict("forecaster_co2", frame.assign(y=frame["y"] * 1e6), "y", time_column="ds")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        zoo.predict(tuned_forecaster, frame, "y", time_column="ds")
        co2 = co2_weekly().to_numpy()
        zoo.predict("forecaster_co2", co2[-400:])


def test_evaluate_json_layout_and_seasonal_naive_by_hand(capsys, tuned_forecaster, monthly_csv):
    out = _on_csv(capsys, "evaluate", tuned_forecaster, monthly_csv, "y", "--time-column", "ds",
                  "--stride", "12", "--json")  # fmt: skip
    report = json.loads(out)
    assert {"mase", "smape", "coverage", "pinball"} <= set(report["metrics"])
    assert set(report["baselines"]) == {"seasonal_naive", "ets", "arima"}
    y = pd.read_csv(monthly_csv)["y"].to_numpy()
    n_train, h, m = 96, 6, 12
    origins = list(range(n_train, len(y) - h + 1, 12))
    assert report["origins"] == len(origins)
    scale = np.mean(np.abs(y[m:n_train] - y[: n_train - m]))
    errors = [np.abs(y[o : o + h] - y[o - m : o - m + h]) for o in origins]
    assert report["baselines"]["seasonal_naive"]["mase"] == pytest.approx(
        np.mean(errors) / scale, rel=1e-9
    )
    # Python gives the same object
    same = zoo.evaluate(tuned_forecaster, monthly_csv, "y", time_column="ds", stride=12)
    assert same["metrics"]["mase"] == pytest.approx(report["metrics"]["mase"], rel=1e-6)


def test_backtest_and_plot_on_the_csv(capsys, tuned_forecaster, monthly_csv, tmp_path):
    out = _on_csv(capsys, "backtest", tuned_forecaster, monthly_csv, "y", "--time-column", "ds",
                  "--stride", "12", "--output", tmp_path / "bt.csv")  # fmt: skip
    assert "mase" in out and "seasonal_naive" in out
    frame = pd.read_csv(tmp_path / "bt.csv")
    y = pd.read_csv(monthly_csv)["y"].to_numpy()
    np.testing.assert_allclose(frame["actual"], y[frame["index"]])
    png = tmp_path / "f.png"
    _on_csv(capsys, "plot", tuned_forecaster, monthly_csv, "y", "--time-column", "ds",
            "--stride", "12", "--output", png)  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_format_is_one_model_over_every_series():
    frames = [_monthly(90, seed=k, level=50.0 * (k + 1)).assign(unique_id=f"s{k}") for k in (0, 1)]
    frame = pd.concat(frames, ignore_index=True)
    model = zoo.fine_tune(
        "forecaster_sunspots", frame, "y", time_column="ds", id_column="unique_id", epochs=1
    )
    table = zoo.predict(model, frame, "y", time_column="ds", id_column="unique_id")
    horizon = model.get_config()["horizon"]
    assert list(table["unique_id"]) == ["s0"] * horizon + ["s1"] * horizon
    # each series' forecast sits near its own level, not the other's
    means = table.groupby("unique_id")["forecast"].mean()
    assert means["s0"] < 110 < means["s1"]


def test_old_backtest_call_still_works():
    model = zoo.load("forecaster_sunspots")
    series = np.linspace(0.0, 100.0, 60)
    frame = zoo.backtest(model, series, start=22, stride=10)
    assert sorted(frame["origin"].unique()) == [22, 32, 42]


def _normal(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 70 + 5 * np.sin(2 * np.pi * t / 25) + rng.normal(0, 0.3, n)


def _point_scores_by_hand(window_scores, window, n):
    """min over the windows covering each point (a fine-tuned detector's rule), as a loop."""
    return np.array(
        [min(window_scores[j] for j in range(max(0, i - window + 1), min(i, n - window) + 1))
         for i in range(n)]
    )  # fmt: skip


def test_a_preset_named_in_a_call_is_loaded_once_and_fine_tuning_leaves_it_alone():
    # zoo.forecast("forecaster_universal", ...) loaded and traced the model on every call
    # (350 ms against 4 ms with a loaded model). Calls that only run a model share one copy
    # per process; a fine-tune gets its own, so the shared one keeps its weights and threshold.
    from zoo.own_data import load_model

    shared = load_model("anomaly_universal", shared=True)
    assert load_model("anomaly_universal", shared=True) is shared
    assert load_model("anomaly_universal") is not shared
    before = [w.copy() for w in shared.get_weights()]
    values = _normal(600, seed=2)
    tuned = zoo.fine_tune("anomaly_universal", values, epochs=1, windows=64, percentile=50.0)
    assert tuned is not shared
    for kept, now in zip(before, shared.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, now)
    by_name = zoo.detect("anomaly_universal", values)["score"]
    by_copy = zoo.detect(load_model("anomaly_universal"), values)["score"]
    np.testing.assert_allclose(by_name, by_copy, rtol=1e-5, atol=1e-6)  # float32 scores


def test_whole_number_time_stamps_come_back_as_whole_numbers(capsys, tmp_path):
    # A column of years read as numbers: the table's ds said 2020.0, 2021.0.
    path = tmp_path / "years.csv"
    pd.DataFrame({"year": np.arange(1950, 2020), "y": np.arange(70.0)}).to_csv(path, index=False)
    code, out, err = _run(capsys, "predict", "forecaster_universal", "--csv", path, "--column",
                          "y", "--time-column", "year", "--horizon", "2")  # fmt: skip
    assert code == 0, err
    assert [line.split(",")[0] for line in out.splitlines()] == ["ds", "2020", "2021"]


def test_a_per_series_model_out_of_its_depth_says_so():
    # forecaster_co2 reads 260 weeks; 120 months of another level get a band of no width, and
    # anomaly_ucr135 (built on one heart-rate series) flags every point of an hourly cycle:
    # each said nothing before.
    frame = _monthly(120)
    with pytest.warns(UserWarning) as seen:
        table = zoo.predict("forecaster_co2", frame, "y", time_column="ds", horizon=3)
    said = " ".join(str(w.message) for w in seen)
    assert "shorter than the 260 values 'forecaster_co2' reads" in said
    width = (table["q0.9"] - table["q0.1"]).max()
    assert width < 1e-3 * np.abs(np.diff(frame["y"])).mean()  # 0.0007 against steps of ~4
    assert "band of 1 series has almost no width" in said
    hours = pd.DataFrame({"v": 20 + 5 * np.sin(2 * np.pi * np.arange(720) / 24)})
    with pytest.warns(UserWarning, match=r"of the points are flagged: the detector does not fit"):
        flags = zoo.predict("anomaly_ucr135", hours, "v")
    assert flags["is_anomaly"].mean() > 0.1


def test_a_label_column_of_true_and_false_reads_as_1_and_0(tmp_path):
    # pandas writes a bool column as True/False, and so does `zoo predict`'s is_anomaly: it was
    # refused as not numbers, by an error that named `column`.
    values = _normal(600, seed=4)
    values[[200, 450]] += 4.0
    flags = np.isin(np.arange(600), [200, 450])
    frame = pd.DataFrame({"v": values, "bool": flags, "int": flags.astype(int)})
    path = tmp_path / "labelled.csv"
    frame.to_csv(path, index=False)
    words = zoo.evaluate("anomaly_universal", path, "v", labels="bool")
    numbers = zoo.evaluate("anomaly_universal", path, "v", labels="int")
    assert words["metrics"] == numbers["metrics"] and words["metrics"]["roc_auc"] > 0.9
    frame["bool"] = frame["bool"].astype(object).where(frame.index != 7, "maybe")
    frame.to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=r"`label_column` 'bool' of '.*labelled.csv' .* 'maybe' at data row 8"
    ):
        zoo.evaluate("anomaly_universal", path, "v", labels="bool")
    with pytest.raises(KeyError, match="`label_column` must name a column"):
        zoo.evaluate("anomaly_universal", path, "v", labels="nope")


def test_missing_steps_are_named_in_one_warning_and_left_blank(capsys, tmp_path):
    # Three months missing from the file: the detector's table keeps a row for each step of the
    # grid but leaves the missing values empty (before, it showed the interpolated ones as if
    # measured), and every command says in one warning line which steps were missing and how
    # they were read (before, nothing did, though the README promised it).
    frame = _monthly(60).drop(index=[30, 31, 32])
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    output = tmp_path / "flags.csv"
    code, _, err = _run(capsys, "predict", "anomaly_universal", "--csv", path, "--column", "y",
                        "--time-column", "ds", "--output", output)  # fmt: skip
    assert code == 0
    assert err == (
        "warning: 3 step(s) missing from the time column, given to the detector as missing: "
        "2002-07-01, 2002-08-01, 2002-09-01.\n"
    )
    table = pd.read_csv(output)
    assert len(table) == 60 and table["value"].isna().sum() == 3
    assert table["value"][30:33].isna().all()
    np.testing.assert_allclose(table["value"].dropna(), frame["y"], rtol=1e-12)  # via CSV text
    code, _, err = _run(capsys, "predict", "forecaster_universal", "--csv", path, "--column",
                        "y", "--time-column", "ds")  # fmt: skip
    assert code == 0 and err.startswith("warning: 3 step(s) missing from the time column, filled")
    with pytest.warns(UserWarning, match=r"3 step\(s\) missing .* 2002-07-01, 2002-08-01"):
        zoo.forecast("forecaster_universal", frame, 2)


def test_detector_baselines_cover_every_series_of_a_long_file():
    """The baselines of a labelled long file are each series' own (fitted before its first
    anomaly), pooled: their flags are the sum of the per-series ones (before, the first series'
    alone stood beside the model's over all). A series without 5 windows before its first
    anomaly is left out, named, and the model is reported on the same series beside them."""
    from zoo.models.common.detection_baselines import detection_baselines
    from zoo.models.universal_anomaly.user import EVALUATION_WINDOW

    frames = []
    for k, first in enumerate((600, 700, 100)):
        values = _normal(1000, seed=k)
        labels = np.zeros(1000, "int8")
        labels[[first, first + 150]] = 1
        values[labels == 1] += 4.0
        frames.append(pd.DataFrame({"unique_id": f"s{k}", "v": values, "label": labels}))
    frame = pd.concat(frames, ignore_index=True)
    options = {"id_column": "unique_id", "labels": "label"}
    report = zoo.evaluate("anomaly_universal", frame, "v", **options)
    by_hand = [
        detection_baselines(
            part["v"][: int(np.argmax(part["label"]))],
            part["v"],
            window=EVALUATION_WINDOW,
            labels=part["label"],
        )
        for part in frames[:2]
    ]
    for name in ("isolation_forest", "zscore"):
        assert report["baselines"][name]["flagged"] == sum(r[name]["flagged"] for r in by_hand)
    assert "left out: s2 (100)" in report["baselines_note"]
    two = zoo.evaluate("anomaly_universal", frame[frame["unique_id"] != "s2"], "v", **options)
    assert report["baselines"]["model (same series)"] == two["metrics"]
    assert "baselines_note" not in two and "model (same series)" not in two["baselines"]
    one = zoo.evaluate("anomaly_universal", frames[0], "v", labels="label")
    for name in ("isolation_forest", "zscore"):
        assert one["baselines"][name]["roc_auc"] == pytest.approx(by_hand[0][name]["roc_auc"])
        assert one["baselines"][name]["flagged"] == by_hand[0][name]["flagged"]


def test_detector_threshold_sets_the_point_wise_false_alarm_rate(tmp_path):
    values = _normal(600, seed=1)
    model = zoo.fine_tune(
        "anomaly_ucr135", values, window=16, false_alarm_rate=0.01, epochs=1, seed=0
    )
    assert anomaly.window_length(model) == 16
    assert model.get_config()["mean"] == pytest.approx(values[:480].mean(), rel=1e-6)
    held = values[480:].astype("float32")
    windows = np.lib.stride_tricks.sliding_window_view(held, 16)[..., None]
    points = _point_scores_by_hand(model.predict(windows, verbose=0)["score"], 16, len(held))
    # rate 0.01 on 120 held-out points: at most 1 passes; the threshold is the 2nd largest
    expected = np.sort(points)[-2]
    # float32 sums in another batch order: a few ulps of the score scale
    assert anomaly.get_threshold(model) == pytest.approx(expected, rel=1e-4)


def test_detector_predict_and_evaluate_with_labels(capsys, tmp_path):
    normal = _normal(500, seed=2)
    csv = tmp_path / "normal.csv"
    pd.DataFrame({"v": normal}).to_csv(csv, index=False)
    output = tmp_path / "d.keras"
    code, out, err = _run(
        capsys, "fine-tune", "anomaly_ucr135", "--csv", csv, "--column", "v", "--window", "16",
        "--false-alarm-rate", "0.01", "--epochs", "1", "--output", output, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    test = _normal(300, seed=3)
    labels = np.zeros(300, int)
    test[150:156] += 15.0
    labels[150:156] = 1
    test_csv = tmp_path / "test.csv"
    pd.DataFrame({"t": np.arange(300), "v": test, "label": labels}).to_csv(test_csv, index=False)
    flags = tmp_path / "flags.csv"
    _on_csv(capsys, "predict", output, test_csv, "v", "--time-column", "t", "--output", flags)
    table = pd.read_csv(flags)
    assert list(table.columns) == ["ds", "value", "score", "is_anomaly"] and len(table) == 300
    threshold = anomaly.get_threshold(keras.saving.load_model(output))
    np.testing.assert_array_equal(table["is_anomaly"], table["score"] > threshold)
    out = _on_csv(capsys, "evaluate", output, test_csv, "v", "--label-column", "label", "--json")
    report = json.loads(out)
    assert report["metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(labels, table["score"]), rel=1e-9
    )
    assert {"pr_auc", "best_f1", "false_alarm_rate"} <= set(report["metrics"])
    assert set(report["baselines"]) == {"isolation_forest", "zscore"}


def test_clear_errors(capsys, monthly_csv):
    code, _, err = _run(capsys, "evaluate", "--csv", monthly_csv, "--column", "y")
    assert code == 2 and "--model" in err
    code, _, err = _run(capsys, "predict", "forecaster_sunspots", "--csv", monthly_csv)
    assert code == 2 and "`--column`" in err
    code, _, err = _run(
        capsys, "fine-tune", "anomaly_ucr135", "--csv", monthly_csv, "--column", "y",
        "--horizon", "3",
    )  # fmt: skip
    assert code == 2 and "--horizon" in err
    with pytest.raises(ValueError, match="zoo forecaster or detector"):
        zoo.predict("cnn_digits", np.arange(50.0))
    # An option of a user's CSV given without `--csv` did nothing (the preset's protocol, the
    # raw --input); it is refused by name. A backtest has no labels.
    for argv, flag in (
        (("evaluate", "forecaster_sunspots", "--horizon", "3"), "--horizon"),
        (("plot", "forecaster_sunspots", "--period", "4"), "--period"),
        (("predict", "forecaster_universal", "--input", monthly_csv, "--column", "y",
          "--time-column", "ds"), "--time-column"),
    ):  # fmt: skip
        code, _, err = _run(capsys, *argv)
        assert code == 2 and f"`{flag}` goes with `--csv`" in err, err
    code, _, err = _run(capsys, "backtest", "forecaster_universal", "--csv", monthly_csv,
                        "--column", "y", "--label-column", "y")  # fmt: skip
    assert code == 2 and "`--label-column` applies to detectors" in err
    # A folder given as the CSV, and a .keras file that is not one, get errors that say so
    # (a traceback of IsADirectoryError, and Keras' "File not found").
    code, _, err = _run(capsys, "predict", "forecaster_universal", "--csv", monthly_csv.parent,
                        "--column", "y")  # fmt: skip
    assert code == 2 and "must be a CSV file. Received the folder" in err
    fake = monthly_csv.parent / "fake.keras"
    fake.write_text("not a zip")
    code, _, err = _run(capsys, "predict", "--model", fake, "--csv", monthly_csv, "--column", "y")
    assert code == 2 and "must be a .keras file saved by Keras" in err and "not one" in err
    # A series of a long file that a model cannot take is named with its rows (the error
    # named neither), and a fine-tune's least length says where it comes from.
    long = pd.concat([_monthly(40).assign(unique_id="a"), _monthly(5).assign(unique_id="b")])
    with pytest.raises(ValueError, match=r"Series 'b' \(data rows 41–45\): `series` must have"):
        zoo.predict("anomaly_universal", long, "y", time_column="ds", id_column="unique_id")
    with pytest.raises(ValueError, match=r"at least 55 values to fine-tune: the inner holdout"):
        zoo.fine_tune("forecaster_universal", _monthly(25), "y", time_column="ds", horizon=12)
    # A detector scores each series whole: the rolling-origin options are refused by name
    # (before, they were dropped without a word).
    for flag, value in (("--test-fraction", "0.5"), ("--stride", "3")):
        code, _, err = _run(capsys, "evaluate", "anomaly_universal", "--csv", monthly_csv,
                            "--column", "y", flag, value)  # fmt: skip
        assert code == 2 and f"`{flag[2:].replace('-', '_')}` applies to forecasters" in err


def test_universal_detector_fine_tunes_with_the_season_of_the_dates(monkeypatch):
    """Weekly dates give period 52, which the universal detector's fine-tune receives (its
    injected season breaks become half-season phase jumps); a period < 1 is refused by name."""
    from zoo.models.universal_anomaly import recipe

    real_fine_tune, seen = recipe.fine_tune, {}

    def record(model, values, **options):
        seen.update(options, points=len(values))
        return model

    monkeypatch.setattr(recipe, "fine_tune", record)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"ds": pd.date_range("2001-01-07", periods=160, freq="W"), "v": rng.normal(size=160)}
    )
    zoo.fine_tune("anomaly_universal", frame, "v", time_column="ds", epochs=0)
    assert (seen["period"], seen["points"], seen["epochs"]) == (52, 160, 0)
    zoo.fine_tune("anomaly_universal", frame, "v", time_column="ds", period=13, epochs=0)
    assert seen["period"] == 13
    with pytest.raises(ValueError, match="`period` must be a whole number >= 1"):
        real_fine_tune(zoo.load("anomaly_universal"), frame["v"].to_numpy(), period=0)
    with pytest.raises(ValueError, match="`period` does not apply to anomaly_ucr135"):
        zoo.fine_tune("anomaly_ucr135", frame, "v", time_column="ds", period=13)


def test_universal_detector_fine_tunes_on_its_gaps_as_missing(monkeypatch):
    """Steps missing from the time column reach the universal detector's fine-tune as NaN (as
    `zoo.detect` scores them), not filled by interpolation; the other detector gets them filled."""
    from zoo.models.anomaly import recipe as ucr_recipe
    from zoo.models.universal_anomaly import recipe

    seen = {}

    def record(name):
        def fine_tune(model, values, **options):
            seen[name] = np.asarray(values)
            return model

        return fine_tune

    monkeypatch.setattr(recipe, "fine_tune", record("universal"))
    monkeypatch.setattr(ucr_recipe, "fine_tune", record("ucr"))
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {"ds": pd.date_range("2001-01-01", periods=300, freq="D"), "v": rng.normal(size=300)}
    ).drop(index=range(100, 120))
    zoo.fine_tune("anomaly_universal", frame, "v", time_column="ds", epochs=0)
    zoo.fine_tune("anomaly_ucr135", frame, "v", time_column="ds", epochs=0)
    missing = np.zeros(300, bool)
    missing[100:120] = True
    np.testing.assert_array_equal(np.isnan(seen["universal"]), missing)
    # the grid's interpolation reproduces observed values to a few ulp
    np.testing.assert_allclose(seen["universal"][~missing], frame["v"], rtol=1e-12, atol=1e-15)
    assert np.isfinite(seen["ucr"]).all() and len(seen["ucr"]) == 300


def test_a_pandas_series_with_a_datetime_index_is_read_on_its_grid():
    """As a frame whose time column is the index: its season and dates (before, a bare array:
    no season, steps 1..h)."""
    months = pd.date_range("2020-01-01", periods=60, freq="MS")
    y = pd.Series(100 + 10 * np.sin(np.arange(60) * 2 * np.pi / 12), index=months)
    frame = y.to_frame("y").rename_axis("ds").reset_index()
    got = zoo.predict("forecaster_universal", y, horizon=2)
    expected = zoo.predict("forecaster_universal", frame, "y", time_column="ds", horizon=2)
    pd.testing.assert_frame_equal(got, expected)
    assert got["ds"].iloc[0] == pd.Timestamp("2025-01-01")

"""The universal forecaster: shapes, NaN padding, scale equivariance, continuous times, saving,
SavedModel export, the `forecast` API, seasonal adjustment and the metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from zoo.models.universal import metrics
from zoo.models.universal.forecast import forecast
from zoo.models.universal.model import build_universal_forecaster, with_future_times
from zoo.models.universal.seasonality import fit_seasonal_index, is_seasonal
from zoo.models.universal.windows import CorpusSeries, sample_windows

EPS32 = float(np.finfo("float32").eps)
# A tiny model: the contract does not depend on the width.
SMALL = {"context_length": 32, "horizon": 6, "num_steps": 2}
SMALL.update(lstm_units=8, state_dim=4, code_dim=3, field_hidden=8, head_hidden=8)
PRESET = Path(__file__).resolve().parents[1] / "zoo" / "pretrained" / "forecaster_universal"


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_universal_forecaster(**SMALL)


def _series(seed, n):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (10 + 0.1 * t + np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.3, n)).astype("float32")


def test_outputs_have_the_documented_shapes(model):
    x = np.stack([_series(i, 20) for i in range(3)])
    out = model(x)
    assert out["forecast"].shape == (3, 6)
    assert out["quantiles"].shape == (3, 6, 3)
    q = np.asarray(out["quantiles"])
    assert np.all(q[..., 0] <= q[..., 1]) and np.all(q[..., 1] <= q[..., 2])
    np.testing.assert_array_equal(out["forecast"], q[..., 1])


def test_left_padding_with_nan_gives_the_unpadded_forecast(model):
    x = _series(1, 12)
    padded = np.concatenate([np.full(20, np.nan, "float32"), x])[None]
    a = np.asarray(model(x[None])["quantiles"])
    b = np.asarray(model(padded)["quantiles"])
    # Masked LSTM steps carry the state unchanged: identical up to float32 rounding of the sums.
    scale = np.abs(x).max()
    np.testing.assert_allclose(b, a, rtol=0, atol=100 * EPS32 * scale)


def test_missing_values_inside_are_skipped(model):
    x = _series(2, 16)
    gap = x.copy()
    gap[5] = np.nan
    out = np.asarray(model(gap[None])["forecast"])
    assert np.isfinite(out).all()


@pytest.mark.parametrize(("a", "b"), [(3.0, 10.0), (0.01, -5.0), (250.0, 1000.0)])
def test_scale_equivariance(model, a, b):
    x = np.stack([_series(i, 24) for i in range(4)])
    y = np.asarray(model(x)["quantiles"], "float64")
    z = np.asarray(model((a * x + b).astype("float32"))["quantiles"], "float64")
    # The network sees (x - last)/std, invariant under x -> a x + b; the rounding of the affine
    # map and of the normalisation is a few eps of |a x + b|, amplified by the (small) network's
    # gain (< 10 here); 10x margin on top.
    tol = 100 * EPS32 * (np.abs(a * x).max() + abs(b)) * 10
    np.testing.assert_allclose(z, a * y + b, rtol=0, atol=tol)


def test_continuous_times_answer_each_time_independently(model):
    timed = with_future_times(model, model.builder_config)
    x = np.stack([_series(i, 20) for i in range(2)])
    default = np.asarray(model(x)["quantiles"])
    grid = np.asarray(
        timed({"context": x, "times": np.tile(np.arange(1, 7, dtype="float32"), (2, 1))})[
            "quantiles"
        ]
    )
    np.testing.assert_allclose(grid, default, rtol=1e-6, atol=1e-6 * np.abs(default).max())
    one = np.asarray(timed({"context": x, "times": np.full((2, 1), 2.5, "float32")})["forecast"])
    mixed = np.asarray(
        timed({"context": x, "times": np.array([[0.5, 2.5, 9.0]] * 2, "float32")})["forecast"]
    )
    np.testing.assert_allclose(mixed[:, 1], one[:, 0], rtol=1e-6, atol=1e-5)


def test_config_round_trip_and_builder_checks(model):
    # the config is the builder's kwargs: the family's own class rebuilds the same graph
    config = model.get_config()
    assert {"context_length", "horizon", "state_dim"} <= set(config)
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    x = _series(3, 10)[None]
    np.testing.assert_allclose(clone(x)["forecast"], model(x)["forecast"], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="`horizon`"):
        build_universal_forecaster(horizon=0)


# CI covers both in tests/test_save_load_anywhere.py (every preset in one new process) and
# tests/test_serving_zoo_models.py (every preset's export in the C++ loader).
@pytest.mark.slow
def test_saved_model_loads_in_a_new_process(model, tmp_path):
    path = tmp_path / "universal.keras"
    model.save(path)
    x = _series(4, 15)[None]
    expected = np.asarray(model(x)["quantiles"])
    np.save(tmp_path / "x.npy", x)
    code = (
        "import numpy as np, keras, zoo\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        f"print(np.asarray(m(np.load({str(tmp_path / 'x.npy')!r}))['quantiles']).tolist())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.slow
def test_savedmodel_export_runs_in_the_cxx_loader(model, tmp_path):
    from zoo.serving import export
    from zoo.serving.session_runner import SessionSignatureRunner

    path = export(
        model,
        tmp_path / "forecaster_universal",
        1,
        signatures={"forecast": ("forecast",), "quantiles": ("quantiles",)},
    )
    x = np.stack([_series(i, 18) for i in range(2)])
    x[0, :5] = np.nan
    runner = SessionSignatureRunner(str(path))
    try:
        out = runner.run({"context": x})
    finally:
        runner.close()
    expected = np.asarray(model(x)["quantiles"])
    np.testing.assert_allclose(out["quantiles"], expected, rtol=1e-5, atol=1e-5)


def test_forecast_api_arrays_lists_and_frames(model):
    single = forecast(model, _series(0, 30), 4)
    assert single["forecast"].shape == (1, 4) and single["quantiles"].shape == (1, 4, 3)
    many = forecast(model, [_series(1, 5), _series(2, 40)], 9, quantiles=(0.05, 0.5, 0.95))
    assert many["forecast"].shape == (2, 9) and many["quantiles"].shape == (2, 9, 3)
    q = many["quantiles"]
    assert np.all(q[..., 0] <= q[..., 1]) and np.all(q[..., 1] <= q[..., 2])
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 24 + ["b"] * 12,
            "ds": list(pd.date_range("2000-01-01", periods=24, freq="MS"))
            + list(pd.date_range("2001-01-01", periods=12, freq="MS")),
            "y": np.r_[_series(3, 24), _series(4, 12)],
        }
    )
    out = forecast(model, frame, 3)
    assert list(out.columns) == ["unique_id", "ds", "forecast", "q0.1", "q0.5", "q0.9"]
    assert len(out) == 6 and out["ds"].iloc[0] == pd.Timestamp("2002-01-01")


def test_forecast_fills_a_frames_missing_months_as_zoo_predict_does(model, tmp_path):
    # A monthly series with a month missing and a NaN value: before, its rows were taken as
    # consecutive, the frequency (so the season of 12) was lost and ds counted steps 1..h. Now it
    # is read as `zoo predict` reads the same CSV (missing steps filled linearly, season 12).
    import zoo

    t = np.arange(60)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, 60)
    full = pd.DataFrame(
        {"unique_id": 7, "ds": pd.date_range("2010-01-01", periods=60, freq="MS"), "y": y}
    )
    holed = full.drop(index=[30]).assign(y=lambda f: f["y"].where(f.index != 41))
    got = forecast(model, holed.sample(frac=1.0, random_state=1), 4)
    holed.dropna().to_csv(tmp_path / "holed.csv", index=False)  # the CLI refuses empty cells
    cli = zoo.predict(model, tmp_path / "holed.csv", "y", time_column="ds", id_column="unique_id")
    cli = cli[cli["step"] <= 4].reset_index(drop=True)
    assert list(got["ds"]) == list(pd.date_range("2015-01-01", periods=4, freq="MS"))
    assert list(got["unique_id"]) == [7] * 4  # the frame's own id, not its text
    filled = full["y"].to_numpy().copy()
    filled[30] = (filled[29] + filled[31]) / 2
    filled[41] = (filled[40] + filled[42]) / 2
    expected = forecast(model, filled, 4, period=12)["quantiles"][0]
    np.testing.assert_allclose(got[["q0.1", "q0.5", "q0.9"]], expected, rtol=1e-6)
    np.testing.assert_allclose(cli[["q0.1", "q0.5", "q0.9"]], expected, rtol=1e-6)
    numeric = forecast(model, full.assign(ds=t + 1), 2)
    assert list(numeric["ds"]) == [61, 62]


def test_zoo_predict_and_evaluate_give_each_series_its_own_season(model, tmp_path):
    # One CSV, two series: every day (a season of 7) and weekdays only (a season of 5). Before,
    # `zoo predict` and the rolling origins of `zoo evaluate` / `zoo backtest` took the first
    # series' season for both.
    import zoo

    rng = np.random.default_rng(2)
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    weekdays = pd.bdate_range("2024-01-01", periods=100)
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": "a", "ds": days, "y": 50 + 5 * np.sin(np.arange(140))}),
            pd.DataFrame({"unique_id": "b", "ds": weekdays, "y": 50 + rng.normal(0, 1, 100)}),
        ]
    )
    frame["y"] += 3 * (np.arange(len(frame)) % 5 == 0)  # a weekday pattern in b
    frame.to_csv(tmp_path / "two.csv", index=False)
    both = zoo.predict(model, tmp_path / "two.csv", "y", time_column="ds", id_column="unique_id")
    for key, period in (("a", 7), ("b", 5)):
        values = frame.loc[frame["unique_id"] == key, "y"].to_numpy()
        alone = forecast(model, values, 6, period=period)["quantiles"][0]
        got = both.loc[both["unique_id"] == key, ["q0.1", "q0.5", "q0.9"]].to_numpy()
        np.testing.assert_allclose(got[:6], alone, rtol=1e-6)
    result = zoo.backtest(model, frame, "y", time_column="ds", id_column="unique_id", horizon=3)
    assert list(result.per_series["period"]) == [7, 5]
    for key in ("a", "b"):
        alone = zoo.backtest(
            model, frame[frame["unique_id"] == key], "y", time_column="ds", horizon=3
        )
        rows = result.frame[result.frame["unique_id"] == key]
        np.testing.assert_allclose(rows["forecast"], alone.frame["forecast"], rtol=1e-6)


def test_forecast_of_one_dated_series_reads_its_season(model):
    # A frame of ds and y without unique_id, and a pandas Series with a DatetimeIndex, are one
    # series read on its grid: before, the first was refused and the second forecast as a bare
    # array, without its season of 12.
    t = np.arange(72)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 1, 72)
    months = pd.date_range("2015-01-01", periods=72, freq="MS")
    expected = forecast(model, y, 4, period=12)
    table = forecast(model, pd.DataFrame({"ds": months, "y": y}), 4)
    assert list(table.columns) == ["ds", "forecast", "q0.1", "q0.5", "q0.9"]
    assert list(table["ds"]) == list(pd.date_range("2021-01-01", periods=4, freq="MS"))
    np.testing.assert_allclose(table[["q0.1", "q0.5", "q0.9"]], expected["quantiles"][0])
    dated = forecast(model, pd.Series(y, index=months), 4)
    np.testing.assert_allclose(dated["quantiles"], expected["quantiles"])
    assert not np.allclose(forecast(model, y, 4)["forecast"], expected["forecast"])
    with pytest.raises(ValueError, match=r"Missing: \['ds'\]"):
        forecast(model, pd.DataFrame({"y": y}), 4)


def test_forecast_reads_text_dates_as_pd_read_csv_leaves_them(model):
    # Day-first text dates, rows shuffled within each series: read as dates (not sorted as text,
    # which puts 01/02/2000 before 02/01/2000), each series sorted in time, its season seen.
    stamps = pd.date_range("2000-01-01", periods=24, freq="MS")
    dated = pd.DataFrame(
        {"unique_id": ["a"] * 24 + ["b"] * 24, "ds": list(stamps) * 2, "y": _series(6, 48)}
    )
    text = dated.assign(ds=dated["ds"].dt.strftime("%d/%m/%Y")).sample(frac=1.0, random_state=0)
    expected, got = forecast(model, dated, 3), forecast(model, text, 3)
    got = got.sort_values(["unique_id", "ds"], ignore_index=True)  # series in order of appearance
    pd.testing.assert_frame_equal(got, expected)
    assert got["ds"].iloc[0] == pd.Timestamp("2002-01-01")
    with pytest.raises(ValueError, match=r"`time_column` 'ds'.*'soon' at data row 2"):
        forecast(model, pd.DataFrame({"unique_id": "a", "ds": ["01/01/2000", "soon"], "y": 1.0}), 2)


def test_forecast_rejects_bad_arguments(model):
    with pytest.raises(ValueError, match="`horizon`"):
        forecast(model, _series(0, 10), 0)
    with pytest.raises(ValueError, match="`quantiles`"):
        forecast(model, _series(0, 10), 2, quantiles=(0.0, 0.5))
    with pytest.raises(ValueError, match="unique_id, ds, y"):
        forecast(model, pd.DataFrame({"y": [1.0, 2.0]}), 2)
    with pytest.raises(ValueError, match="at least one finite"):
        forecast(model, np.full(5, np.nan), 2)


@pytest.mark.parametrize("factor", [1e30, 1e-30, 1e300, 1e-300])
def test_forecast_is_scale_free_at_any_float64_magnitude(model, factor):
    # Inside the graph (float32) 1e30·x overflows when squared, 1e-30·x falls under the scale's
    # absolute floor 1e-8 and 1e±300·x is beyond float32 (measured before the rescaling: inf, a
    # flat line and garbage); `forecast` runs x / 2^k and multiplies back, so each gives x's
    # forecast times the factor. The model then sees x times some c in [0.7, 1.4]: rounding as in
    # `test_scale_equivariance`.
    x = _series(5, 30).astype("float64")
    base = forecast(model, x, 4)["quantiles"]
    scaled = forecast(model, factor * x, 4)["quantiles"] / factor
    np.testing.assert_allclose(scaled, base, rtol=0, atol=1000 * EPS32 * np.abs(x).max())


def test_forecast_answers_as_the_model_called_eagerly(model):
    # `forecast` runs compiled functions (`zoo.predictor`; for a horizon past the default, a
    # copy of the model with a "times" input): the same quantiles as the Keras model called on the
    # left-padded batch, and the copy follows the model's weights when they change.
    series = [_series(0, 20), _series(1, 32), _series(2, 9)]
    batch = np.full((3, 32), np.nan, "float32")
    for i, x in enumerate(series):
        batch[i, 32 - len(x) :] = x
    expected = np.asarray(model(batch)["quantiles"])
    tol = 1e-5 * np.abs(expected).max()
    np.testing.assert_allclose(forecast(model, series, 6)["quantiles"], expected, atol=tol)
    original = model.get_weights()
    try:
        for weights in (original, [w * 1.05 for w in original]):
            model.set_weights(weights)
            timed = with_future_times(model, model.builder_config)
            times = np.tile(np.arange(1, 11, dtype="float32"), (3, 1))
            long = np.asarray(timed({"context": batch, "times": times})["quantiles"])
            got = forecast(model, series, 10)["quantiles"]
            np.testing.assert_allclose(got, long, atol=1e-5 * np.abs(long).max())
    finally:
        model.set_weights(original)


def test_forecast_refuses_infinities_and_text_and_answers_no_series(model):
    x = _series(0, 12).astype("float64")
    x[7] = -np.inf
    with pytest.raises(ValueError, match=r"finite or NaN \(missing\)\. Series 1, row 7 is -inf"):
        forecast(model, [_series(1, 10), x], 2)
    frame = pd.DataFrame({"unique_id": ["a"] * 12, "ds": np.arange(12), "y": x})
    with pytest.raises(ValueError, match="Series 'a', row 7 is -inf"):
        forecast(model, frame, 2)
    with pytest.raises(ValueError, match="`series` must hold numbers"):
        forecast(model, ["a", "b"], 2)
    empty = forecast(model, [], 3, quantiles=(0.2, 0.5))
    assert empty["forecast"].shape == (0, 3) and empty["quantiles"].shape == (0, 3, 2)
    none = forecast(model, frame.iloc[:0], 3)
    columns = ["unique_id", "ds", "forecast", "q0.1", "q0.5", "q0.9"]
    assert len(none) == 0 and list(none.columns) == columns


def test_seasonal_index_matches_statsmodels_decomposition():
    from statsmodels.tsa.seasonal import seasonal_decompose

    rng = np.random.default_rng(5)
    t = np.arange(48)
    y = (100 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.01, 48))
    index = fit_seasonal_index(y, 12)
    assert index is not None and index.multiplicative
    reference = seasonal_decompose(y, model="multiplicative", period=12).seasonal[:12]
    np.testing.assert_allclose(index.index, reference, rtol=1e-10)
    np.testing.assert_allclose(index.restore(index.adjust(y), 0), y, rtol=1e-12)
    assert not is_seasonal(rng.normal(size=60), 12)
    assert fit_seasonal_index(y, 1) is None


def test_metrics_against_hand_computed_values():
    train = np.array([1.0, 3.0, 2.0, 4.0, 3.0])
    # In-sample naive errors |3-1|, |2-3|, |4-2|, |3-4| -> mean 1.5;
    # lag 2: |2-1|, |4-3|, |3-2| -> 1.
    assert metrics.mase_scale(train, 1) == pytest.approx(1.5)
    assert metrics.mase_scale(train, 2) == pytest.approx(1.0)
    assert metrics.mase([train], np.array([[5.0, 5.0]]), np.array([[4.0, 7.0]]), 1) == (
        pytest.approx(1.0)
    )
    np.testing.assert_array_equal(metrics.seasonal_naive(train, 5, 2), [4, 3, 4, 3, 4])
    tests = np.array([[2.0]])
    q = np.array([[[1.0, 2.0, 4.0]]])
    # pinball: 0.1*1, 0, 0.1*2 -> 0.3; 2*0.3/(3*2) = 0.1.
    assert metrics.weighted_quantile_loss(tests, q, (0.1, 0.5, 0.9)) == pytest.approx(0.1)
    assert metrics.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)


def test_training_windows_are_normalised_and_causal():
    values = np.arange(1.0, 61.0)
    corpus = [CorpusSeries(values, 1, "a")]
    x, y = sample_windows(corpus, {"a": 1.0}, 50, context_length=16, horizon=8, seed=0)
    for row_x, row_y in zip(x, y, strict=True):
        ctx = row_x[np.isfinite(row_x)]
        assert 3 <= len(ctx) <= 16
        assert ctx[-1] == 0 and np.std(ctx) == pytest.approx(1.0, rel=1e-5)
        # A linear series: every future value lies above the whole context.
        future = row_y[np.isfinite(row_y)]
        assert len(future) >= 1 and np.all(future > ctx.max())


@pytest.mark.skipif(not PRESET.exists(), reason="no shipped weights yet")
def test_shipped_weights_forecast_a_seasonal_trend_better_than_naive():
    config = json.loads((PRESET / "config.json").read_text())
    trained = build_universal_forecaster(**config)
    trained.load_weights(PRESET / "model.weights.h5")
    t = np.arange(72)
    y = 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 12)
    out = forecast(trained, y[:60], 12, period=12)
    naive = np.abs(y[60:] - y[59]).mean()
    assert np.abs(out["forecast"][0] - y[60:]).mean() < naive


@pytest.mark.slow
def test_zero_shot_evaluation_on_m1_and_tourism_matches_the_card():
    from zoo.data.competitions import BENCHMARK_SETS
    from zoo.models.universal.evaluate import score_sets

    config = json.loads((PRESET / "config.json").read_text())
    trained = build_universal_forecaster(**config)
    trained.load_weights(PRESET / "model.weights.h5")
    # Seasonal naive only: the other baselines' refits take most of an hour on 2 cores.
    result = score_sets(trained, BENCHMARK_SETS, baselines=("SeasonalNaive",), verbose=0)
    card = json.loads((PRESET / "card.json").read_text())["metrics"]
    for key, entry in result["sets"].items():
        for name in ("forecaster_universal", "SeasonalNaive"):
            assert entry[name]["mase"] == pytest.approx(card["sets"][key][name]["mase"], rel=1e-3)
    shipped = card["relative_mase"]["forecaster_universal"]
    assert result["relative_mase"]["forecaster_universal"] == pytest.approx(shipped, rel=1e-3)


def test_plot_writes_a_png(model, tmp_path):
    from zoo.models.universal.plot import plot

    path = plot(model, tmp_path / "sub" / "universal.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

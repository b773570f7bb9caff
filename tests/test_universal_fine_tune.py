"""The universal forecaster on a user's series: the split-conformal band against numpy order
statistics and its coverage on fresh draws, the tuned model's config and saved file, and
`zoo.fine_tune` / `zoo.evaluate` / `zoo.predict` with it (a tiny untrained network: wiring only)."""

import math

import keras
import numpy as np
import pytest

import zoo
from zoo.models.common import forecast_scores
from zoo.models.universal.calibration import apply_band_scales, band_scales, conformal_quantile
from zoo.models.universal.fine_tune import MIN_ORIGINS, fine_tune, inner_split
from zoo.models.universal.model import build_universal_forecaster
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.tuned import TunedUniversalForecaster, forecast_histories

SMALL = {"context_length": 32, "horizon": 6, "num_steps": 2}
SMALL.update(lstm_units=8, state_dim=4, code_dim=3, field_hidden=8, head_hidden=8)


def _kth_smallest(scores, level):
    """numpy's inverted-CDF quantile at k/n, k = ceil((n + 1)·level): the k-th smallest."""
    n = scores.size
    k = min(math.ceil((n + 1) * level), n)
    return np.quantile(scores, k / n, method="inverted_cdf")


@pytest.mark.parametrize("n", [9, 10, 37, 200])
@pytest.mark.parametrize("level", [0.8, 0.9])
def test_conformal_quantile_is_the_finite_sample_order_statistic(n, level):
    scores = np.random.default_rng(n).normal(size=n)
    assert conformal_quantile(scores, level) == _kth_smallest(scores, level)


def test_band_scales_per_step_and_pooled_match_numpy():
    rng = np.random.default_rng(1)
    n, horizon = 50, 4
    mid = rng.normal(size=(n, horizon))
    q = np.stack([mid - 1.0, mid, mid + 2.0], axis=-1)
    actual = mid + rng.normal(size=(n, horizon)) * np.arange(1, horizon + 1)
    lower, upper = band_scales(actual, q, min_scores=40)  # 50 windows: each step alone
    for h in range(horizon):
        assert lower[h] == _kth_smallest((mid - actual)[:, h] / 1.0, 0.9)
        assert upper[h] == _kth_smallest((actual - mid)[:, h] / 2.0, 0.9)
    # 12 windows: step 0 pools steps 0..3 (48 scores), step 1 likewise (its w=2 window clips).
    lower, _ = band_scales(actual[:12], q[:12], min_scores=40)
    assert lower[0] == _kth_smallest((mid - actual)[:12, :4].ravel(), 0.9)
    # Scales grow with the noise of the step (1, 2, 3, 4 per step).
    lower, upper = band_scales(actual, q, min_scores=1)
    assert lower[-1] > lower[0] and upper[-1] > upper[0]


def test_calibrated_band_covers_eighty_percent_of_fresh_draws():
    """A band three times too narrow, calibrated on 400 windows, covers ~80 % of new ones."""
    rng = np.random.default_rng(2)
    horizon, sd = 3, np.array([1.0, 2.0, 3.0])
    z90 = 1.2815515655446004

    def draw(n):
        mid = rng.normal(size=(n, horizon)) * 5
        q = np.stack([mid - z90 * sd / 3, mid, mid + z90 * sd / 3], axis=-1)
        return mid + rng.normal(size=(n, horizon)) * sd, q

    lower, upper = band_scales(*draw(400))
    actual, q = draw(20_000)
    band = apply_band_scales(q, lower, upper)
    covered = forecast_scores.coverage(actual, band[..., 0], band[..., 2])
    # 400 calibration windows: lambda's own sampling spread moves coverage by ~±2 % (one sd).
    assert abs(covered - 0.8) < 0.05
    np.testing.assert_allclose(lower, 3.0, rtol=0.25)
    np.testing.assert_allclose(band[..., 1], q[..., 1])


def test_calibration_rejects_bad_shapes():
    with pytest.raises(ValueError, match="`actual` must be"):
        band_scales(np.zeros((3, 2)), np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="`scores` must hold"):
        conformal_quantile([], 0.9)


@pytest.fixture(scope="module")
def network():
    keras.utils.set_random_seed(0)
    return build_universal_forecaster(**SMALL)


def test_tuned_model_config_and_save_load(network, tmp_path):
    tuned = TunedUniversalForecaster(
        **SMALL, period=4, adjust_period=4, band_lower=[2.0] * 6, band_upper=[0.5] * 6
    )
    tuned.set_weights(network.get_weights())
    path = tmp_path / "t.keras"
    tuned.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == tuned.get_config()
    series = [10 + np.sin(np.arange(60) * np.pi / 2) + 0.01 * np.arange(60)]
    a, b = forecast_histories(tuned, series), forecast_histories(loaded, series)
    np.testing.assert_allclose(a["quantiles"], b["quantiles"], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="`band_lower` must hold"):
        TunedUniversalForecaster(**SMALL, band_lower=[1.0])
    with pytest.raises(ValueError, match="`adjust_period` must be"):
        TunedUniversalForecaster(**SMALL, adjust_period=0)


def test_forecast_puts_the_season_back_and_scales_the_band(network):
    """The tuned forecast = the network on the adjusted context, season restored, band scaled,
    computed here step by step with numpy."""
    rng = np.random.default_rng(3)
    t = np.arange(70)
    values = 20 + 3 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.2, 70)
    lower, upper = [0.5, 1, 1.5, 2, 2.5, 3], [3, 2.5, 2, 1.5, 1, 0.5]
    tuned = TunedUniversalForecaster(
        **SMALL, period=4, adjust_period=4, band_lower=lower, band_upper=upper
    )
    tuned.set_weights(network.get_weights())
    got = forecast_histories(tuned, [values])["quantiles"][0]
    tail = values[-32:]  # the index is fitted on the last max(32, 8 * 4) values
    index = fit_seasonal_index(tail, 4)
    context = index.adjust(tail)
    raw = np.asarray(network(context[None].astype("float32"))["quantiles"])[0]
    raw = raw * index.at(np.arange(32, 38))[:, None]
    mid = raw[:, 1]
    np.testing.assert_allclose(got[:, 1], mid, rtol=1e-5)
    np.testing.assert_allclose(got[:, 0], mid - np.array(lower) * (mid - raw[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(got[:, 2], mid + np.array(upper) * (raw[:, 2] - mid), rtol=1e-5)


def _monthly(n, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 50 + 0.2 * t + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n)


def test_fine_tune_calibrates_on_the_inner_holdout_only(network):
    values = _monthly(96)
    tuned = fine_tune(network, values, horizon=6, period=12, epochs=1, windows=64)
    config = tuned.get_config()
    assert isinstance(tuned, TunedUniversalForecaster)
    assert (config["horizon"], config["period"], config["adjust_period"]) == (6, 12, 12)
    assert len(config["band_lower"]) == 6 and min(config["band_upper"]) >= 0
    assert inner_split(96, 6, 0.2) == 96 - max(20, 6 + MIN_ORIGINS - 1)
    with pytest.raises(ValueError, match="`data` must have at least"):
        fine_tune(network, values[:30], horizon=6, period=12)
    # Long format: one model over two series of different scales, zero-shot weights.
    both = fine_tune(network, [values, 10 * _monthly(80, 5)], horizon=6, period=12, epochs=0)
    assert len(both.get_config()["band_upper"]) == 6
    np.testing.assert_array_equal(both.get_weights()[0], network.get_weights()[0])


def test_fine_tune_band_choice_is_stored_and_keeps_the_calibration(network):
    """The band tried (static 0 or adaptive r) is stored; the calibrated scales are the same."""
    values = _monthly(110, 2)
    kept = {}
    for adapts in ((8,), (0, 8)):
        tuned = fine_tune(network, values, horizon=6, period=12, epochs=0, band_adapts=adapts)
        kept[adapts] = tuned.get_config()
    assert kept[8,]["band_adapt"] == 8 and kept[0, 8]["band_adapt"] in (0, 8)
    np.testing.assert_array_equal(kept[8,]["band_lower"], kept[0, 8]["band_lower"])
    np.testing.assert_array_equal(kept[8,]["band_upper"], kept[0, 8]["band_upper"])


def test_zoo_fine_tune_evaluate_predict_with_the_universal_family(network, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"ds": pd.date_range("2000-01-01", periods=110, freq="MS"), "y": _monthly(110, 1)}
    )
    tuned = zoo.fine_tune(network, frame.iloc[:90], "y", time_column="ds", horizon=6, epochs=0)
    assert tuned.get_config()["period"] == 12
    # period=1: MASE and the baselines non-seasonal (a seasonal ARIMA refit takes seconds)
    report = zoo.evaluate(tuned, frame, "y", time_column="ds", period=1, stride=8, progress=False)
    assert report["horizon"] == 6 and 0 <= report["metrics"]["coverage"] <= 1
    table = zoo.predict(tuned, frame, "y", time_column="ds")
    assert list(table["step"]) == [1, 2, 3, 4, 5, 6]
    assert (table["q0.1"] <= table["q0.5"]).all() and (table["q0.5"] <= table["q0.9"]).all()
    assert table["ds"].iloc[0] == pd.Timestamp("2009-03-01")
    # zoo.forecast gives what zoo predict gives (its season, scale and band; before, it dropped
    # them and forecast as the zero-shot network), on the frame and on the bare values; more
    # steps than its own or another season are refused by name.
    columns = ["forecast", "q0.1", "q0.5", "q0.9"]
    found = zoo.forecast(tuned, frame, 6)
    np.testing.assert_allclose(found[columns], table[columns], rtol=1e-6)
    bare = zoo.forecast(tuned, frame["y"].to_numpy(), 3)
    np.testing.assert_allclose(bare["quantiles"][0], table[["q0.1", "q0.5", "q0.9"]][:3], rtol=1e-6)
    with pytest.raises(ValueError, match="at most this fine-tuned model's 6 steps"):
        zoo.forecast(tuned, frame, 7)
    with pytest.raises(ValueError, match="own season 12"):
        zoo.forecast(tuned, frame, 3, period=4)
    with pytest.raises(ValueError, match=r"`zoo\.forecast` takes forecaster_universal"):
        zoo.forecast("anomaly_universal", frame["y"].to_numpy(), 3)
    with pytest.raises(ValueError, match=r"`zoo\.detect` takes a detector"):
        zoo.detect(tuned, frame["y"].to_numpy())


def test_cli_fine_tune_and_predict_the_preset(tmp_path, capsys):
    import pandas as pd

    from zoo.cli import main

    csv = tmp_path / "q.csv"
    stamps = pd.date_range("2000-01-01", periods=80, freq="QS")
    pd.DataFrame({"ds": stamps, "y": _monthly(80, 2)}).to_csv(csv, index=False)
    out = tmp_path / "q.keras"
    common = ["--csv", str(csv), "--column", "y", "--time-column", "ds"]
    argv = ["fine-tune", "forecaster_universal", *common, "--horizon", "4", "--epochs", "1"]
    assert main([*argv, "--freeze-backbone", "--output", str(out), "--quiet"]) == 0
    assert "horizon=4, period=4" in capsys.readouterr().out
    rows = tmp_path / "next.csv"
    assert main(["predict", "--model", str(out), *common, "--output", str(rows)]) == 0
    table = pd.read_csv(rows)
    assert len(table) == 4 and table["ds"].iloc[0] == "2020-01-01"
    # --period overrides the season the quarterly dates imply
    seasonal = tmp_path / "p2.keras"
    assert main([*argv[:-2], "--epochs", "0", "--period", "2", "--output", str(seasonal)]) == 0
    assert "horizon=4, period=2" in capsys.readouterr().out
    assert main([*argv[:-2], "--window", "8", "--output", str(out)]) != 0
    assert "`window` does not apply" in capsys.readouterr().err

"""The log transform of a fine-tuned universal forecaster, against numpy.

A model in the log scale must forecast exp of what the same network, seasons and band give on
log values; the band it calibrates must be the split-conformal one of log values; and the
fine-tune tries the log only when every value is > 0 (a tiny untrained network: wiring only).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.universal.calibration import band_scales
from zoo.models.universal.fine_tune import fine_tune, inner_split
from zoo.models.universal.model import build_universal_forecaster
from zoo.models.universal.naive_blend import seasonal_naive
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.transform import (
    applicable,
    check_transform,
    forward,
    graph_forward,
    graph_inverse,
    inverse,
)
from zoo.models.universal.tuned import TunedUniversalForecaster, forecast_histories

SMALL = {"context_length": 32, "horizon": 6, "num_steps": 2}
SMALL.update(lstm_units=8, state_dim=4, code_dim=3, field_hidden=8, head_hidden=8)
# float64 logs and exps of values of order 1-100: a few ulps.
F64 = dict(rtol=1e-12, atol=1e-12)
# The network runs in float32 on contexts that both sides compute in float64 by different
# routes (log of y, or y given as log values): a context can differ by one float32 ulp, which
# the network carries to its normalised outputs (observed: under 1e-6); budget 10x that, on
# values of order 1 in the log scale, then through exp (relative error unchanged).
F32_NET = dict(rtol=1e-5, atol=1e-5)


def test_forward_and_inverse_match_numpy():
    y = np.random.default_rng(0).uniform(0.01, 500.0, 50)
    np.testing.assert_allclose(forward(y, "log"), np.log(y), **F64)
    np.testing.assert_allclose(inverse(np.log(y), "log"), y, **F64)
    np.testing.assert_array_equal(forward(y, "none"), y)
    np.testing.assert_array_equal(inverse(y, "none"), y)
    assert applicable([y, y + 1], "log") and not applicable([y, y - y[0]], "log")
    assert applicable([-y], "none")
    with pytest.raises(ValueError, match="`data` must be > 0"):
        forward(np.r_[y, 0.0], "log")
    with pytest.raises(ValueError, match=r"Unknown transform 'sqrt'\. Choose one of: none, log"):
        check_transform("sqrt")


def test_graph_transform_matches_numpy_and_reads_non_positive_values_as_missing():
    x = np.array([[np.nan, 0.5, 2.0, 40.0], [3.0, 0.0, -1.0, 7.0]])
    z = graph_forward(tf.constant(x), "log").numpy()
    expected = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
    np.testing.assert_allclose(z, expected, **F64)
    np.testing.assert_allclose(graph_inverse(tf.constant(z), "log").numpy(), np.exp(z), **F64)
    np.testing.assert_array_equal(graph_forward(tf.constant(x), "none").numpy(), x)


@pytest.fixture(scope="module")
def network():
    keras.utils.set_random_seed(0)
    return build_universal_forecaster(**SMALL)


def _tuned(network, **settings) -> TunedUniversalForecaster:
    model = TunedUniversalForecaster(**SMALL, **settings)
    model.set_weights(network.get_weights())
    return model


def _pair(network, period: int, lower, upper):
    """The same network, seasons and band scales, in the log scale and in the series' own."""
    common = {"period": period, "adjust_period": period, "band_lower": lower, "band_upper": upper}
    return [_tuned(network, transform=t, **common) for t in ("log", "none")]


@pytest.mark.parametrize("period", [1, 4])
def test_log_model_forecasts_exp_of_the_forecast_on_log_values(network, period):
    """Log values that cross 0 are seasonally adjusted additively also by the plain model, so
    both sides remove the same season: the log model's quantiles are exp of the plain ones."""
    rng = np.random.default_rng(period)
    t = np.arange(70)
    z = 0.01 * t - 0.3 + 0.4 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.05, 70)
    assert z.min() < 0 < z.max()
    lower, upper = [0.5, 1, 1.5, 2, 2.5, 3], [3, 2.5, 2, 1.5, 1, 0.5]
    log_model, plain = _pair(network, period, lower, upper)
    got = forecast_histories(log_model, [np.exp(z), np.exp(z[:40])])
    on_logs = forecast_histories(plain, [z, z[:40]])
    np.testing.assert_allclose(got["quantiles"], np.exp(on_logs["quantiles"]), **F32_NET)
    np.testing.assert_allclose(got["forecast"], np.exp(on_logs["forecast"]), **F32_NET)
    assert np.all(got["quantiles"] > 0)
    with pytest.raises(ValueError, match="`data` must be > 0"):
        forecast_histories(log_model, [np.r_[np.exp(z), -1.0]])


def test_log_model_removes_an_additive_season_from_positive_logs(network):
    """Log values all > 0 (y > 1): the season removed is still additive, computed here with
    numpy (index = mean of z − centred moving average by phase, centred to mean 0)."""
    rng = np.random.default_rng(5)
    t = np.arange(64)
    z = 3.0 + 0.01 * t + 0.3 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.02, 64)
    log_model, _ = _pair(network, 4, [1.0] * 6, [1.0] * 6)
    got = forecast_histories(log_model, [np.exp(z)])["quantiles"][0]
    tail = z[-32:]  # the index is fitted on the last max(32, 8 * 4) values
    trend = np.convolve(tail, [0.125, 0.25, 0.25, 0.25, 0.125], mode="valid")
    detrended = tail[2:-2] - trend
    index = np.array([detrended[(np.arange(2, 30) % 4) == j].mean() for j in range(4)])
    index -= index.mean()
    np.testing.assert_allclose(fit_seasonal_index(tail, 4, False).index, index, **F64)
    adjusted = tail - index[np.arange(32) % 4]
    raw = np.asarray(network(adjusted[None].astype("float32"))["quantiles"])[0]
    expected = np.exp(raw + index[np.arange(32, 38) % 4][:, None])
    np.testing.assert_allclose(got, expected, **F32_NET)


def _monthly_growing(n, seed=0):
    """A series whose level and spread grow together (multiplicative noise); its logs cross 0,
    so a plain model removes an additive season from them too."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return np.exp(-0.9 + 0.02 * t + 0.2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.05, n))


def test_fine_tune_calibrates_a_log_model_on_log_values(network):
    values = _monthly_growing(96)
    tuned = fine_tune(network, values, horizon=6, period=12, epochs=0, transforms=("log",))
    config = tuned.get_config()
    assert config["transform"] == "log"
    z = np.log(values)
    assert z.min() < 0 < z.max()
    # The split-conformal scales of the holdout windows' log values, from the plain model's
    # quantiles on log values (numpy side: band_scales is checked against order statistics in
    # test_universal_fine_tune.py).
    n_fit = inner_split(96, 6, 0.2)
    origins = range(n_fit, 96 - 6 + 1)
    plain = TunedUniversalForecaster(
        **{**config, "band_lower": None, "band_upper": None, "transform": "none", "band_adapt": 0}
    )
    plain.set_weights(tuned.get_weights())
    q = forecast_histories(plain, [z[:o] for o in origins])["quantiles"]
    actual = np.array([z[o : o + 6] for o in origins])
    lower, upper = band_scales(actual, q)
    np.testing.assert_allclose(config["band_lower"], lower, rtol=1e-4)
    np.testing.assert_allclose(config["band_upper"], upper, rtol=1e-4)


def test_fine_tune_tries_the_log_only_on_positive_series(network):
    values = _monthly_growing(96) - 1.0  # some values <= 0
    assert values.min() <= 0
    tuned = fine_tune(network, values, horizon=6, period=12, epochs=0)
    assert tuned.get_config()["transform"] == "none"
    with pytest.raises(ValueError, match="`transforms` must name one that fits the data"):
        fine_tune(network, values, horizon=6, period=12, epochs=0, transforms=("log",))
    with pytest.raises(ValueError, match="Unknown transform 'box'"):
        fine_tune(network, values, horizon=6, period=12, epochs=0, transforms=("box",))


def test_seasonal_naive_repeats_the_last_season():
    histories = [np.arange(10.0), np.arange(3.0), np.array([5.0])]
    got = seasonal_naive(histories, 4, 6)
    np.testing.assert_array_equal(got[0], [6, 7, 8, 9, 6, 7])
    assert np.isnan(got[1]).all()  # shorter than a season
    np.testing.assert_array_equal(seasonal_naive(histories, 1, 3)[2], [5, 5, 5])


def test_naive_weight_moves_the_log_quantiles_toward_the_last_season(network):
    """w = 0.5 in the log scale, with band scales, against numpy on the w = 0 model's output:
    q' = q + w·(log ŷ − q0.5) on log values, then the band scales, then exp."""
    rng = np.random.default_rng(9)
    t = np.arange(60)
    y = np.exp(1.0 + 0.01 * t + 0.3 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.05, 60))
    lower, upper = [0.5, 1, 1.5, 2, 2.5, 3], [3, 2.5, 2, 1.5, 1, 0.5]
    common = {"period": 4, "adjust_period": 4, "transform": "log"}
    plain = _tuned(network, **common)
    blended = _tuned(network, naive_weight=0.5, band_lower=lower, band_upper=upper, **common)
    q = np.log(forecast_histories(plain, [y])["quantiles"][0])
    q = q + 0.5 * (np.log(y[[56, 57, 58, 59, 56, 57]]) - q[:, 1])[:, None]
    mid = q[:, 1]
    expected = np.stack(
        [mid - np.array(lower) * (mid - q[:, 0]), mid, mid + np.array(upper) * (q[:, 2] - mid)],
        axis=-1,
    )
    got = forecast_histories(blended, [y])["quantiles"][0]
    np.testing.assert_allclose(got, np.exp(expected), **F64)
    with pytest.raises(ValueError, match=r"`naive_weight` must be in \[0, 1\]"):
        TunedUniversalForecaster(**SMALL, naive_weight=1.5)

"""zoo.models.common.forecast_scores against hand computations, element by element."""

import math

import numpy as np
import pytest

from zoo.models.common import forecast_scores as fs

LEVELS = (0.1, 0.5, 0.9)


def _data(seed, shape=(4, 6)):
    rng = np.random.default_rng(seed)
    actual = rng.normal(10.0, 3.0, size=shape)
    forecast = actual + rng.normal(0.0, 1.0, size=shape)
    insample = rng.normal(10.0, 3.0, size=40)
    return actual, forecast, insample


def test_mase_matches_loops_with_seasonal_scale():
    actual, forecast, insample = _data(0)
    m = 4
    scale = sum(abs(insample[t] - insample[t - m]) for t in range(m, len(insample))) / (40 - m)
    errors = [abs(a - f) for a, f in zip(actual.ravel(), forecast.ravel(), strict=True)]
    expected = sum(errors) / len(errors) / scale
    assert fs.mase(actual, forecast, insample, m) == pytest.approx(expected, rel=1e-12)


def test_seasonal_scale_falls_back_to_lag_one_then_nan():
    # Seasonal differences all 0 (period 2 repeats exactly): lag 1 is used instead.
    assert fs.seasonal_scale([1.0, 3.0, 1.0, 3.0, 1.0], 2) == pytest.approx(2.0)
    # History not longer than the period: lag 1.
    assert fs.seasonal_scale([1.0, 2.0, 4.0], 12) == pytest.approx(1.5)
    assert math.isnan(fs.seasonal_scale([5.0, 5.0, 5.0], 1))
    with pytest.raises(ValueError, match="`period`"):
        fs.seasonal_scale([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="`insample`"):
        fs.seasonal_scale([1.0], 1)


def test_smape_matches_loop_and_counts_zero_over_zero_as_zero():
    actual, forecast, _ = _data(1)
    terms = [
        200.0 * abs(a - f) / (abs(a) + abs(f))
        for a, f in zip(actual.ravel(), forecast.ravel(), strict=True)
    ]
    assert fs.smape(actual, forecast) == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    assert fs.smape([0.0, 1.0], [0.0, 3.0]) == pytest.approx((0.0 + 200.0 * 2 / 4) / 2)


def test_coverage_counts_closed_band():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    assert fs.coverage(actual, [1.0, 2.5, 0.0, 5.0], [2.0, 3.0, 3.0, 6.0]) == 0.5


def test_pinball_and_weighted_quantile_loss_match_loops():
    actual, forecast, _ = _data(2)
    rng = np.random.default_rng(5)
    quantiles = forecast[..., None] + np.sort(rng.normal(0, 2, size=(*actual.shape, 3)), axis=-1)
    total, per_level = 0.0, [0.0, 0.0, 0.0]
    for index in np.ndindex(actual.shape):
        for j, q in enumerate(LEVELS):
            u = actual[index] - quantiles[index][j]
            loss = q * u if u >= 0 else (q - 1) * u
            total += loss
            per_level[j] += loss
    count = actual.size * 3
    assert fs.pinball_loss(actual, quantiles, LEVELS) == pytest.approx(total / count, rel=1e-12)
    denominator = np.abs(actual).sum()
    expected = sum(2 * p / denominator for p in per_level) / 3
    assert fs.weighted_quantile_loss(actual, quantiles, LEVELS) == pytest.approx(
        expected, rel=1e-12
    )


def test_pinball_of_the_median_is_half_the_mae():
    actual, forecast, _ = _data(3)
    mae = np.mean(np.abs(actual - forecast))
    assert fs.pinball_loss(actual, forecast[..., None], (0.5,)) == pytest.approx(mae / 2, rel=1e-12)


def test_shape_and_level_errors():
    with pytest.raises(ValueError, match="`actual` and `forecast`"):
        fs.smape(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"`quantiles`.*len\(levels\) = 3"):
        fs.pinball_loss(np.zeros(3), np.zeros((3, 2)), LEVELS)
    with pytest.raises(ValueError, match="`levels`"):
        fs.pinball_loss(np.zeros(3), np.zeros((3, 1)), (1.5,))
    assert math.isnan(fs.weighted_quantile_loss(np.zeros(2), np.ones((2, 1)), (0.5,)))

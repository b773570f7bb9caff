"""The adaptive band of the fine-tuned universal forecaster: the widening against numpy order
statistics of scores written out here, its graph twin, and a tuned model's band widened by the
misses of its earlier origins (a tiny untrained network: wiring only)."""

import math

import keras
import numpy as np
import pytest

from zoo.models.universal import adaptive_band as ab
from zoo.models.universal.tuned import TunedUniversalForecaster, forecast_histories

SMALL = {"context_length": 32, "horizon": 6, "num_steps": 2}
SMALL.update(lstm_units=8, state_dim=4, code_dim=3, field_hidden=8, head_hidden=8)


def _reference(actual, q, lower, upper, valid):
    """f per row, with every score divided out by hand: the two sides' misses in units of the
    calibrated half-widths, the k-th smallest of the valid windows', k = ⌈0.8·(N + 1)⌉."""
    out = []
    for i in range(len(actual)):
        scores = []
        for j in range(actual.shape[1]):
            if not valid[i, j]:
                continue
            below = (q[i, j, :, 1] - actual[i, j]) / (lower * (q[i, j, :, 1] - q[i, j, :, 0]))
            above = (actual[i, j] - q[i, j, :, 1]) / (upper * (q[i, j, :, 2] - q[i, j, :, 1]))
            scores.extend(np.maximum(below, above))
        if not scores:
            out.append(1.0)
            continue
        k = min(math.ceil(0.8 * (len(scores) + 1)), len(scores))
        out.append(min(max(sorted(scores)[k - 1], 1.0), ab.MAX_WIDENING))
    return np.array(out)


def _draw(seed, rows=5, recent=8, horizon=6):
    rng = np.random.default_rng(seed)
    mid = rng.normal(10.0, 3.0, (rows, recent, horizon))
    half = rng.uniform(0.5, 2.0, (rows, recent, horizon, 2))
    q = np.stack([mid - half[..., 0], mid, mid + half[..., 1]], -1)
    # misses of growing size per row: row 0 inside its band, the last far outside
    spread = np.linspace(0.3, 6.0, rows)[:, None, None]
    actual = mid + spread * rng.normal(0.0, 1.0, (rows, recent, horizon))
    lower, upper = rng.uniform(0.7, 1.5, horizon), rng.uniform(0.7, 1.5, horizon)
    valid = rng.uniform(size=(rows, recent)) > 0.2
    valid[0] = False  # no valid window: f = 1
    return actual, q, lower, upper, valid


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_widening_is_the_clipped_order_statistic_of_the_recent_scores(seed):
    actual, q, lower, upper, valid = _draw(seed)
    expected = _reference(actual, q, lower, upper, valid)
    got = ab.widening(actual, q, lower, upper, valid)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == 1.0 and got[-1] == ab.MAX_WIDENING  # the clip at both ends is exercised
    assert np.any((got > 1.0) & (got < ab.MAX_WIDENING))


def test_widening_closed_form():
    """Band (−1, 0, 1), λ = 1: scores are |y|; ten of them 0.1 … 1.0 and 1.5, 2.5 → k = 11 of 12."""
    ys = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, -1.5, 2.5])
    q = np.broadcast_to([-1.0, 0.0, 1.0], (1, 12, 1, 3))
    got = ab.widening(ys.reshape(1, 12, 1), q, np.ones(1), np.ones(1))
    assert got[0] == pytest.approx(1.5)
    assert ab.widening(0.5 * ys.reshape(1, 12, 1), q, np.ones(1), np.ones(1))[0] == 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_graph_widening_equals_numpy(seed):
    actual, q, lower, upper, valid = _draw(seed)
    expected = ab.widening(actual, q, lower, upper, valid)
    got = ab.graph_widening(
        np.transpose(actual, (1, 0, 2)), np.transpose(q, (1, 0, 2, 3)), lower, upper, valid.T
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_recent_origins_numpy_and_graph_cut_the_same_windows():
    horizon, recent, width = 3, 4, 12
    histories = [np.arange(1.0, 13.0), np.arange(1.0, 7.0), np.arange(1.0, 4.0)]
    subs, actual, valid = ab.recent_origins(histories, horizon, recent)
    # origin j of a history of n values: the first n − 3 − j values, actuals the next 3
    assert [len(s) for s in subs[:4]] == [9, 8, 7, 6]
    np.testing.assert_array_equal(actual[0, 1], [9.0, 10.0, 11.0])
    np.testing.assert_array_equal(valid, [[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]])
    batch = np.full((3, width), np.nan)
    for i, h in enumerate(histories):
        batch[i, width - len(h) :] = h
    contexts, g_actual, has_values = ab.graph_recent_contexts(batch, horizon, recent)
    contexts = contexts.numpy().reshape(recent, 3, width)
    for i in range(3):
        for j in range(recent):
            if valid[i, j]:
                row = contexts[j, i]
                np.testing.assert_array_equal(row[np.isfinite(row)], subs[i * recent + j])
                np.testing.assert_array_equal(g_actual.numpy()[j, i], actual[i, j])
    np.testing.assert_array_equal(has_values.numpy().T, valid)


@pytest.fixture(scope="module")
def twins():
    keras.utils.set_random_seed(0)
    lower, upper = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    common = dict(SMALL, period=4, adjust_period=4, band_lower=lower, band_upper=upper)
    static = TunedUniversalForecaster(**common)
    adaptive = TunedUniversalForecaster(**common, band_adapt=5)
    adaptive.set_weights(static.get_weights())
    return static, adaptive


def test_adaptive_forecast_widens_the_static_band_by_its_earlier_misses(twins):
    """The adaptive band = the static one with both half-widths times f, f computed here from
    the static model's own forecasts at the 5 earlier origins and their actuals."""
    static, adaptive = twins
    rng = np.random.default_rng(4)
    t = np.arange(80)
    histories = [20 + 3 * np.sin(2 * np.pi * t / 4) + rng.normal(0, s, 80) for s in (0.1, 3.0)]
    got = forecast_histories(adaptive, histories)["quantiles"]
    base = forecast_histories(static, histories)["quantiles"]
    for i, values in enumerate(histories):
        scores = []
        for j in range(5):
            origin = 80 - 6 - j
            band = forecast_histories(static, [values[:origin]])["quantiles"][0]
            y = values[origin : origin + 6]
            scores.extend(np.maximum((band[:, 1] - y) / (band[:, 1] - band[:, 0]),
                                     (y - band[:, 1]) / (band[:, 2] - band[:, 1])))  # fmt: skip
        f = min(max(sorted(scores)[math.ceil(0.8 * 31) - 1], 1.0), ab.MAX_WIDENING)
        mid = base[i, :, 1]
        np.testing.assert_allclose(got[i, :, 1], mid, rtol=1e-12)
        np.testing.assert_allclose(got[i, :, 0], mid - f * (mid - base[i, :, 0]), rtol=1e-9)
        np.testing.assert_allclose(got[i, :, 2], mid + f * (base[i, :, 2] - mid), rtol=1e-9)
    widths = got[:, :, 2] - got[:, :, 0]
    assert np.all(widths >= base[:, :, 2] - base[:, :, 0] - 1e-9)


def test_old_configs_load_static_and_bad_values_are_named(twins):
    static, adaptive = twins
    config = static.get_config()
    assert config["band_adapt"] == 0 and adaptive.get_config()["band_adapt"] == 5
    older = {k: v for k, v in config.items() if k != "band_adapt"}
    assert TunedUniversalForecaster.from_config(older).get_config()["band_adapt"] == 0
    with pytest.raises(ValueError, match="`band_adapt` must be an integer >= 0"):
        TunedUniversalForecaster(**SMALL, band_adapt=-1)

"""The exported universal forecaster answers as `zoo.predict` / `zoo.forecast`.

The graph seasonal adjustment (`graph_seasonality.py`) against the numpy reference
(`seasonality.py`), and a served tuned / zero-shot model run by TensorFlow's C++ loader against the
Python path (`forecast_histories`, `forecast`).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.cli import main
from zoo.models.universal.forecast import forecast
from zoo.models.universal.graph_seasonality import graph_seasonal_index
from zoo.models.universal.model import build_universal_forecaster
from zoo.models.universal.seasonality import fit_seasonal_index
from zoo.models.universal.served import served_forecaster
from zoo.models.universal.tuned import TunedUniversalForecaster, forecast_histories
from zoo.serving import export
from zoo.serving.session_runner import SessionSignatureRunner

SMALL = {"context_length": 24, "horizon": 6, "num_steps": 2}
SMALL.update(lstm_units=8, state_dim=4, code_dim=3, field_hidden=8, head_hidden=8)
# float64 end to end on both sides: only summation order differs.
GRAPH_RTOL = 1e-9


def _series(rng, length: int, period: int, seasonal: bool, positive: bool) -> np.ndarray:
    t = np.arange(length)
    wave = 3.0 * np.cos(2 * np.pi * t / max(period, 1)) if seasonal else 0.0
    level = 20.0 if positive else rng.normal(0.0, 1.0)
    return level + 0.05 * t + wave + rng.normal(0.0, 1.0, length)


def _padded(rows: list[np.ndarray], width: int) -> np.ndarray:
    batch = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        batch[i, width - len(row) :] = row[-width:]
    return batch


@pytest.mark.parametrize("period", [1, 2, 4, 7, 12])
@pytest.mark.parametrize("window", [16, 40, 96])
@pytest.mark.parametrize("allow_multiplicative", [True, False])
def test_graph_seasonal_index_equals_numpy(period, window, allow_multiplicative):
    rng = np.random.default_rng(1000 * period + window)
    rows = []
    for length in (3, 2 * period + 1, 3 * period, 35, 60, 130):
        for seasonal in (True, False):
            for positive in (True, False):
                rows.append(_series(rng, length, period, seasonal, positive))
    gap = _series(rng, 60, period, True, True)
    gap[-10] = np.nan  # a gap in the tail: no adjustment, as `prepare_context`
    rows.append(gap)
    batch = _padded(rows, 130)
    season = graph_seasonal_index(batch, period, window, allow_multiplicative)
    adjusted = season.adjust(tf.constant(batch[:, -window:])).numpy()
    quantiles = rng.normal(5.0, 2.0, (len(rows), 9, 3))
    restored = season.restore(tf.constant(quantiles)).numpy()
    fitted = 0
    for i, row in enumerate(rows):
        tail = row[-window:]
        index = fit_seasonal_index(tail, period, allow_multiplicative) if period > 1 else None
        if np.isnan(tail).any():
            assert index is None
        if index is None:
            expected_adjusted, expected_restored = tail, quantiles[i]
        else:
            fitted += 1
            assert index.multiplicative == (allow_multiplicative and bool(np.all(tail > 0)))
            expected_adjusted = index.adjust(tail)
            expected_restored = index.restore(quantiles[i].T, start=len(tail)).T
        np.testing.assert_allclose(
            adjusted[i, window - len(tail) :], expected_adjusted, rtol=GRAPH_RTOL, atol=1e-9
        )
        np.testing.assert_allclose(restored[i], expected_restored, rtol=GRAPH_RTOL, atol=1e-9)
    if period > 1 and window >= 4 * period:
        assert fitted > 0  # the seasonal branch was exercised


def _tolerance(expected: np.ndarray) -> dict:
    """A few float32 roundings of values of the forecast's scale, with a 10x margin.

    Both sides adjust in float64 and round the context to float32 for the network; sums in a
    different order can move a context value by one float32 ulp, which the network carries to its
    outputs (observed: under 1 eps·scale; budget 8 eps·scale).
    """
    scale = float(np.max(np.abs(expected)))
    eps = float(np.finfo(np.float32).eps)
    return dict(rtol=10 * 8 * eps, atol=10 * 8 * eps * scale)


def _serve(model, tmp_path, inputs):
    path = export(model, tmp_path / "m", version=1, warmup=False)
    with SessionSignatureRunner(path) as runner:
        return runner.run({"context": inputs.astype("float32")})


@pytest.mark.parametrize(
    ("transform", "naive_weight", "band_adapt"),
    [("none", 0.0, 0), ("log", 0.0, 0), ("log", 0.5, 0), ("none", 0.75, 0), ("none", 0.0, 8),
     ("log", 0.5, 3)],
)  # fmt: skip
def test_exported_tuned_model_serves_zoo_predict(tmp_path, transform, naive_weight, band_adapt):
    keras_seed = 3
    keras.utils.set_random_seed(keras_seed)
    rng = np.random.default_rng(7)
    horizon = SMALL["horizon"]
    tuned = TunedUniversalForecaster(
        **SMALL,
        period=4,
        adjust_period=4,
        history=40,
        band_lower=rng.uniform(0.5, 2.0, horizon).tolist(),
        band_upper=rng.uniform(0.5, 2.0, horizon).tolist(),
        transform=transform,
        naive_weight=naive_weight,
        band_adapt=band_adapt,
    )
    # A log model takes positive series only (zoo.predict refuses others); 3 values are
    # shorter than a season (no seasonal naive forecast).
    histories = [
        _series(rng, 90, 4, True, True),
        _series(rng, 33, 4, True, transform == "log"),
        _series(rng, 50, 4, False, True),
        _series(rng, 9, 4, True, True),
        _series(rng, 3, 4, True, True),
    ]
    expected = forecast_histories(tuned, histories)
    if band_adapt:
        # the adaptive band moves: some rows wider than the static band (whole histories fit
        # in the 90 columns served, so both sides see the same earlier origins)
        static = TunedUniversalForecaster(**{**tuned.get_config(), "band_adapt": 0})
        static.set_weights(tuned.get_weights())
        width = np.ptp(forecast_histories(static, histories)["quantiles"][..., ::2], axis=-1)
        assert np.any(np.ptp(expected["quantiles"][..., ::2], axis=-1) > 1.01 * width)
    # `zoo export FILE.keras`, as a user exports a fine-tuned model
    tuned.save(tmp_path / "tuned.keras")
    argv = ["export", str(tmp_path / "tuned.keras"), "--base-path", str(tmp_path / "sm")]
    assert main([*argv, "--version", "1", "--no-warmup"]) == 0
    with SessionSignatureRunner(tmp_path / "sm" / "tuned" / "1") as runner:
        served = runner.run({"context": _padded(histories, 90).astype("float32")})
    tol = _tolerance(expected["quantiles"])
    np.testing.assert_allclose(served["quantiles"], expected["quantiles"], **tol)
    np.testing.assert_allclose(served["forecast"], expected["forecast"], **tol)
    # `zoo.export(model, ...)` from Python serves the same (it exported the bare network)
    by_python = _serve(tuned, tmp_path, _padded(histories, 90))
    np.testing.assert_allclose(by_python["quantiles"], expected["quantiles"], **tol)


def test_exported_zero_shot_model_serves_forecast_with_period(tmp_path):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(11)
    model = build_universal_forecaster(**SMALL)
    series = [_series(rng, 70, 6, True, True), _series(rng, 20, 6, True, False)]
    expected = forecast(model, series, SMALL["horizon"], period=6)
    # zoo predict's road fits the index on the same last max(context_length 32, 8 seasons) = 48
    # values (before, `forecast` fitted it on the last 32 and the SavedModel with it)
    cli = forecast_histories(model, series, 6, SMALL["horizon"])
    np.testing.assert_allclose(cli["quantiles"], expected["quantiles"], rtol=1e-12)
    # `zoo export FILE.keras --period 6`, as a user serves the zero-shot model with a season
    model.save(tmp_path / "zero.keras")
    argv = ["export", str(tmp_path / "zero.keras"), "--base-path", str(tmp_path / "sm")]
    assert main([*argv, "--version", "1", "--no-warmup", "--period", "6"]) == 0
    with SessionSignatureRunner(tmp_path / "sm" / "zero" / "1") as runner:
        served = runner.run({"context": _padded(series, 70).astype("float32")})
    tol = _tolerance(expected["quantiles"])
    np.testing.assert_allclose(served["quantiles"], expected["quantiles"], **tol)
    np.testing.assert_allclose(served["forecast"], expected["forecast"], **tol)


def test_served_forecaster_rejects_a_period_for_a_tuned_model(tmp_path, capsys):
    tuned = TunedUniversalForecaster(**SMALL, period=4, adjust_period=4)
    with pytest.raises(ValueError, match="`period` must be None"):
        served_forecaster(tuned, period=12)
    tuned.save(tmp_path / "tuned.keras")
    argv = ["export", str(tmp_path / "tuned.keras"), "--base-path", str(tmp_path / "sm")]
    assert main([*argv, "--period", "12"]) == 1
    assert "`period` must be None for a fine-tuned model" in capsys.readouterr().err
    assert main(["export", "cnn_digits", "--base-path", str(tmp_path / "sm"), "--period", "12"])
    assert "`--period` applies to the universal forecaster" in capsys.readouterr().err
    assert not (tmp_path / "sm").exists()


def test_served_forecaster_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(2)
    tuned = TunedUniversalForecaster(
        **SMALL, period=4, adjust_period=4, band_lower=[2.0] * 6, band_upper=[0.5] * 6,
        band_adapt=4,
    )  # fmt: skip
    served = served_forecaster(tuned)
    x = np.random.default_rng(4).normal(10.0, 1.0, (2, 50)).astype("float32")
    served.save(tmp_path / "served.keras")
    loaded = keras.saving.load_model(tmp_path / "served.keras")
    out = served(x)
    assert out["quantiles"].shape == (2, SMALL["horizon"], 3)
    np.testing.assert_array_equal(loaded(x)["quantiles"], out["quantiles"])


def test_served_log_model_reads_values_at_or_below_zero_as_missing():
    """A value with no logarithm is a gap in the served graph: the same answer as NaN there."""
    keras.utils.set_random_seed(6)
    tuned = TunedUniversalForecaster(**SMALL, period=4, adjust_period=4, transform="log")
    served = served_forecaster(tuned)
    row = _series(np.random.default_rng(8), 40, 4, True, True)
    rows = np.stack([row, row, row]).astype("float32")
    rows[0, 20], rows[1, 20], rows[2, 20] = 0.0, -3.0, np.nan
    out = served(rows)["quantiles"].numpy()
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[1], out[2])

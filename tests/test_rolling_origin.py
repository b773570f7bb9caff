"""Rolling-origin evaluation and the statistical baselines, against hand computations."""

import json
from statistics import NormalDist

import numpy as np
import pytest

from zoo.models.common import stat_baselines as sb
from zoo.models.common.rolling_origin import rolling_origin

LEVELS = (0.1, 0.5, 0.9)


def _series(n=50, seed=0, period=4):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 0.1 * t + 2.0 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.05, n)


def _oracle(full):
    """A forecaster that knows the future: forecast = truth, band = truth ± 1."""

    def forecast_fn(histories):
        truth = np.stack([full[len(h) : len(h) + 5] for h in histories])
        return {"forecast": truth, "quantiles": truth[..., None] + np.array([-1.0, 0.0, 1.0])}

    return forecast_fn


def test_origins_frame_and_perfect_model_scores():
    y = _series()
    result = rolling_origin(
        y, _oracle(y), horizon=5, stride=2, baselines=("seasonal_naive",), progress=False
    )
    frame = result.frame
    # n_train = 40; origins 40, 42, 44 (the last one whose horizon fits in 50 values).
    assert sorted(frame["origin"].unique()) == [40, 42, 44]
    assert len(frame) == 3 * 5
    np.testing.assert_array_equal(frame["actual"], y[frame["index"]])
    np.testing.assert_array_equal(frame["index"], frame["origin"] + frame["step"] - 1)
    metrics = result.report["metrics"]
    assert metrics["mase"] == 0.0 and metrics["smape"] == 0.0 and metrics["coverage"] == 1.0
    # Pinball by hand: 0.1·1 at q=0.1, 0 at q=0.5, 0.1·1 at q=0.9.
    assert metrics["pinball"] == pytest.approx(0.2 / 3, rel=1e-12)
    actual = frame["actual"].to_numpy()
    expected_wql = (2 * 0.1 * len(actual) / np.abs(actual).sum()) * 2 / 3
    assert metrics["wql"] == pytest.approx(expected_wql, rel=1e-12)
    assert result.report["origins"] == 3
    json.dumps(result.report)


def test_model_that_is_seasonal_naive_scores_like_the_baseline_and_like_hand_mase():
    y, m, h = _series(60), 4, 4

    def naive_fn(histories):
        point = np.stack([np.resize(hist[-m:], h) for hist in histories])
        return {"forecast": point}

    result = rolling_origin(
        y, naive_fn, horizon=h, period=m, stride=1, baselines=("seasonal_naive",), progress=False
    )
    report = result.report
    assert report["metrics"]["mase"] == pytest.approx(
        report["baselines"]["seasonal_naive"]["mase"], rel=1e-12
    )
    train = y[:48]
    scale = np.mean([abs(train[t] - train[t - m]) for t in range(m, 48)])
    errors = [abs(y[o + k] - y[o - m + k % m]) for o in range(48, 57) for k in range(h)]
    assert report["metrics"]["mase"] == pytest.approx(np.mean(errors) / scale, rel=1e-12)
    assert "coverage" not in report["metrics"]


def test_default_stride_bounds_the_origins():
    result = rolling_origin(
        _series(200), None, horizon=4, max_origins=10, baselines=("seasonal_naive",), progress=False
    )
    # 37 possible origins (160..196) -> stride ceil(37 / 10) = 4 -> 10 origins.
    assert result.report["origins"] == 10
    assert result.per_series.loc[0, "stride"] == 4


def test_many_series_average_per_series_scores():
    series = [_series(50, seed=1), _series(70, seed=2)]
    result = rolling_origin(
        series, None, horizon=3, period=4, baselines=("seasonal_naive",), progress=False
    )
    per = result.per_series
    assert list(per["unique_id"]) == [0, 1]
    assert result.report["origins"] == int(per["origins"].sum())
    for key in ("mase", "smape", "coverage", "pinball"):
        assert result.report["baselines"]["seasonal_naive"][key] == pytest.approx(
            per[f"seasonal_naive_{key}"].mean(), rel=1e-12
        )


def test_a_plain_list_of_numbers_is_one_series():
    y = _series(50)
    from_list = rolling_origin(list(y), None, horizon=3, baselines=("seasonal_naive",))
    from_array = rolling_origin(y, None, horizon=3, baselines=("seasonal_naive",))
    assert from_list.report == from_array.report


def test_ets_and_arima_beat_seasonal_naive_on_a_trending_seasonal_series():
    result = rolling_origin(_series(60), None, horizon=4, period=4, stride=4, progress=False)
    baselines = result.report["baselines"]
    assert set(baselines) == {"seasonal_naive", "ets", "arima"}
    for name in ("ets", "arima"):
        assert baselines[name]["fallbacks"] == 0
        # The seasonal naive lags the trend by 0.4 a step; the models follow it.
        assert baselines[name]["mase"] < 0.7 * baselines["seasonal_naive"]["mase"]
    assert {"ets", "ets_q0.1", "arima_q0.9", "seasonal_naive_q0.5"} <= set(result.frame.columns)


def test_seasonal_naive_mean_std_and_gaussian_quantiles_by_hand():
    y = np.array([1.0, 5.0, 2.0, 6.0, 3.0, 7.0])
    out = sb.seasonal_naive(y, 5, 2)
    np.testing.assert_array_equal(out.mean, [3.0, 7.0, 3.0, 7.0, 3.0])
    sigma = np.sqrt(np.mean(np.array([1.0, 1.0, 1.0, 1.0]) ** 2))
    np.testing.assert_allclose(out.std, sigma * np.sqrt([1, 1, 2, 2, 3]), rtol=1e-12)
    z = np.array([NormalDist().inv_cdf(q) for q in LEVELS])
    np.testing.assert_allclose(out.quantiles(LEVELS), out.mean[:, None] + out.std[:, None] * z)
    # Shorter than one season: the last value.
    np.testing.assert_array_equal(sb.seasonal_naive([1.0, 2.0], 3, 12).mean, [2.0, 2.0, 2.0])


def test_failing_baseline_falls_back_to_seasonal_naive(monkeypatch):
    def broken(history, horizon, period):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setitem(sb.BASELINES, "ets", broken)
    y = _series(20)
    out = sb.forecast_baseline("ets", y, 3, 4)
    assert out.fallback
    np.testing.assert_array_equal(out.mean, y[-4:-1])
    with pytest.raises(ValueError, match="Unknown baseline 'theta'"):
        sb.forecast_baseline("theta", y, 3, 4)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"horizon": 20}, "too short"),
        ({"horizon": 0}, "`horizon`"),
        ({"horizon": 3, "test_fraction": 1.0}, "`test_fraction`"),
        ({"horizon": 3, "stride": 0}, "`stride`"),
        ({"horizon": 3, "baselines": ("theta",)}, "Unknown baseline"),
        ({"horizon": 3, "levels": (0.9, 0.1)}, "`levels`"),
    ],
)
def test_bad_arguments_are_named(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        rolling_origin(_series(50), None, progress=False, **kwargs)


def test_bad_forecast_shape_is_named():
    def short(histories):
        return {"forecast": np.zeros((len(histories), 2))}

    with pytest.raises(ValueError, match=r"`forecast_fn`.*'forecast'"):
        rolling_origin(_series(50), short, horizon=3, baselines=(), progress=False)


def test_progress_bar_on_request(capsys):
    rolling_origin(_series(50), None, horizon=3, baselines=("seasonal_naive",), progress=True)
    assert "rolling-origin evaluation" in capsys.readouterr().err


def test_plots_write_png_files(tmp_path):
    from zoo.models.common.plots import plot_forecasts, plot_scores

    y = _series()
    result = rolling_origin(y, _oracle(y), horizon=5, baselines=("seasonal_naive",), progress=False)
    path = plot_forecasts(
        y, result.frame, tmp_path / "f" / "forecast.png", baseline="seasonal_naive"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = np.abs(np.diff(y, prepend=y[0]))
    path = plot_scores(y, scores, 0.5, tmp_path / "scores.png", labels=scores > 1.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

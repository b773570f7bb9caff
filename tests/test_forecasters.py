"""The two pretrained forecasters: card metrics, save/export round trips, fine-tuning, bad input."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo.registry as registry
from zoo.data.statsmodels_series import co2_weekly, sunspots_yearly
from zoo.models.common.backtest import backtest
from zoo.models.forecaster.baselines import PROTOCOLS
from zoo.models.forecaster.layers import PinballLoss
from zoo.models.forecaster.recipe import fine_tune
from zoo.serving.session_runner import SessionSignatureRunner

NAMES = {"forecaster_co2": "co2", "forecaster_sunspots": "sunspots"}
DATA = {"co2": co2_weekly, "sunspots": sunspots_yearly}
# "Near 80 %" on 32 (co2) / 52 (sunspots) origins whose steps are strongly correlated.
COVERAGE_TOLERANCE = 0.075


def _trained(name):
    if not (registry.preset_dir(name) / "card.json").exists():
        pytest.skip(f"{name} has no pretrained weights yet")
    return registry.load(name)


@pytest.fixture(scope="module", params=sorted(NAMES))
def loaded(request):
    return request.param, _trained(request.param)


def test_card_metric_reproduced_with_independent_mase(loaded):
    name, model = loaded
    data = NAMES[name]
    card = registry.info(name)
    values = DATA[data]().to_numpy()
    p = PROTOCOLS[data]
    n_train = int(0.8 * len(values))
    frame = backtest(model, values, n_train, p.stride)
    # MASE from scratch with numpy: in-sample lag-m naive MAE on the training part.
    train = values[:n_train]
    scale = np.mean(np.abs(train[p.scale_lag :] - train[: -p.scale_lag]))
    err = np.mean(np.abs(frame["forecast"] - frame["actual"]))
    assert frame["origin"].nunique() == len(range(n_train, len(values) - p.horizon + 1, p.stride))
    # The card rounds to 4 digits; float32 forecasts of values ~300 (co2) agree to ~1e-6
    # relative between machines, far inside the rounding.
    assert err == pytest.approx(card["metrics"]["mae"], rel=1e-3)
    assert err / scale == pytest.approx(card["metrics"]["mase"], rel=1e-3)
    covered = np.mean((frame["actual"] >= frame["q0.1"]) & (frame["actual"] <= frame["q0.9"]))
    # one of the ~1600 (co2) / ~570 (sunspots) forecast values may cross a band edge by rounding
    assert covered == pytest.approx(card["metrics"]["coverage_10_90"], abs=2.0 / len(frame))
    # The card's baselines were refit on the same origins by the recipe (the slow test below
    # refits them again); issue 4's targets: beat the best one, and a band that covers near 80 %.
    best = min(b["mase"] for b in card["baselines"].values())
    assert err / scale < best
    assert abs(covered - 0.8) <= COVERAGE_TOLERANCE


def test_predict_on_raw_series_uses_last_window(loaded):
    name, model = loaded
    preset = registry.get_preset(name)
    values = DATA[NAMES[name]]().to_numpy()
    window = model.get_config()["window"]
    out = preset.resolve("predict")(model, values[:-50])
    direct = model.predict(values[None, -50 - window : -50, None].astype("float32"), verbose=0)
    np.testing.assert_allclose(out["forecast"], direct["forecast"][0], rtol=1e-5, atol=1e-5)
    q = out["quantiles"]
    assert q.shape == (len(out["forecast"]), 3)
    assert np.all(q[:, 0] <= q[:, 1] + 1e-5) and np.all(q[:, 1] <= q[:, 2] + 1e-5)


def test_bad_input_gives_clear_errors(loaded):
    name, model = loaded
    preset = registry.get_preset(name)
    window = model.get_config()["window"]
    values = DATA[NAMES[name]]().to_numpy()
    with pytest.raises(ValueError, match=rf"`data` must have at least {window} values"):
        preset.resolve("predict")(model, values[: window - 1])
    with pytest.raises(ValueError, match="`data` must be a 1-D series"):
        preset.resolve("predict")(model, np.ones((window, 2)))
    bad = values.copy()
    bad[-3] = np.nan
    with pytest.raises(ValueError, match=r"`data` must hold finite numbers.*position"):
        preset.resolve("predict")(model, bad)
    # A wrong window length fed to the model itself is refused, not reshaped: by Keras' input
    # check, or (when a relaxed trace let it through) by the graph, naming the window either way.
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=rf"\b{window}\b"):
        model.predict(np.ones((1, window + 1, 1), "float32"), verbose=0)
    with pytest.raises(ValueError, match="`series` must have shape"):
        model(np.ones((1, window, 2), "float32"))


def test_csv_without_named_column(tmp_path):
    from zoo.data.csv_input import read_series

    path = tmp_path / "series.csv"
    path.write_text("date,value\n2020-01-01,1\n2020-01-08,2\n")
    with pytest.raises(KeyError, match="`column`"):
        read_series(path, "co2")


def test_keras_round_trip_and_savedmodel_session(loaded, tmp_path):
    name, model = loaded
    window = model.get_config()["window"]
    values = DATA[NAMES[name]]().to_numpy()
    x = np.stack([values[i : i + window] for i in (0, 7, 40)])[..., None].astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert again.get_config() == model.get_config()
    for key in ("forecast", "quantiles"):
        np.testing.assert_allclose(
            again.predict(x, verbose=0)[key], expected[key], rtol=1e-5, atol=1e-5
        )
    model.export(str(tmp_path / "sm"), verbose=False)
    with SessionSignatureRunner(tmp_path / "sm") as runner:
        [input_name] = runner.input_names()
        got = runner.run({input_name: x})
    # another graph: the LSTM's and the ridge map's float32 sums in another order; forecasts
    # of values up to ~400 (co2) or ~200 (sunspots): relative 1e-5 is ~100 ulps, 10x margin
    np.testing.assert_allclose(got["forecast"], expected["forecast"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got["quantiles"], expected["quantiles"], rtol=1e-4, atol=1e-3)


def test_zoo_serving_export_has_named_signatures(loaded, tmp_path):
    from zoo.serving import export

    name, model = loaded
    preset = registry.get_preset(name)
    path = export(model, tmp_path / name, 1, signatures=preset.signatures, warmup=False)
    window = model.get_config()["window"]
    x = np.linspace(1.0, 2.0, window, dtype="float32")[None, :, None] * 100
    with SessionSignatureRunner(path) as runner:
        assert {"forecast", "quantiles", "serving_default"} <= set(runner.signature_names)
        got = runner.run({"series": x}, signature="quantiles")
    np.testing.assert_allclose(
        got["quantiles"], model.predict(x, verbose=0)["quantiles"], rtol=1e-4, atol=1e-3
    )


def test_model_fit_fine_tunes(loaded):
    name, model = loaded
    config = model.get_config()
    model = registry.build(name)
    model.set_weights(registry.load(name).get_weights())
    values = DATA[NAMES[name]]().to_numpy()
    w, h = config["window"], config["horizon"]
    origins = np.arange(len(values) - h - 40, len(values) - h + 1)
    x = np.stack([values[o - w : o] for o in origins])[..., None].astype("float32")
    y = np.stack([values[o : o + h] for o in origins]).astype("float32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss={"forecast": "mae", "quantiles": PinballLoss((0.1, 0.5, 0.9))},
    )
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(x, {"forecast": y, "quantiles": y}, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [v.numpy() for v in model.trainable_variables]
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


def test_fine_tune_new_horizon_keeps_encoder(loaded):
    _name, model = loaded
    config = model.get_config()
    rng = np.random.default_rng(0)
    n = config["window"] + 120
    t = np.arange(n)
    series = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, n)
    tuned = fine_tune(model, series, epochs=1, horizon=5)
    out = tuned.predict(series[None, -config["window"] :, None].astype("float32"), verbose=0)
    assert out["forecast"].shape == (1, 5) and out["quantiles"].shape == (1, 5, 3)
    for i in range(config["members"]):
        old = model.get_layer(f"m{i}_lstm").get_weights()
        new = tuned.get_layer(f"m{i}_lstm").get_weights()
        # one epoch moved them a little, from the pretrained values (not from a fresh init)
        assert all(np.allclose(a, b, atol=0.05) for a, b in zip(old, new, strict=True))
    # The linear path refit on this series alone already forecasts its trend and season.
    assert (
        np.mean(
            np.abs(
                out["forecast"][0]
                - (10 + 0.05 * np.arange(n, n + 5) + np.sin(2 * np.pi * np.arange(n, n + 5) / 12))
            )
        )
        < 0.5
    )


def test_plot_writes_png(loaded, tmp_path):
    name, model = loaded
    path = registry.get_preset(name).resolve("plot")(model, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_card_records_protocol_and_provenance():
    for name, data in NAMES.items():
        path = registry.preset_dir(name) / "card.json"
        if not path.exists():
            continue
        card = json.loads(path.read_text())
        assert card["training"]["command"] == f"zoo train {name}"
        assert "Trainer" in card["training"]["trainer"]
        assert "statsmodels" in card["data"]["version"]
        assert "public domain" in card["data"]["licence"].lower()
        assert "IntegralLayer" in card["calculus_layers"]
        assert str(int(0.8 * len(DATA[data]()))) in card["split"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", sorted(NAMES))
def test_full_evaluate_matches_card(name):
    model = _trained(name)
    result = registry.get_preset(name).resolve("evaluation")(model)
    card = registry.info(name)
    assert result["model"]["mase"] == pytest.approx(card["metrics"]["mase"], rel=1e-4)
    for key, value in card["baselines"].items():
        assert result["baselines"][key]["mae"] == pytest.approx(value["mae"], rel=1e-6)

"""LSTM forecasters with an integral head: `forecaster_co2` and `forecaster_sunspots`.

Architecture (`build_forecaster`), raw units in and out:

    series (batch, window, 1)
      -> WindowScaling: x_n = (x - level) / scale, level = mean of the last `level_steps` values
      -> per ensemble member: LSTM encoder over the last `lstm_steps` of x_n, concatenated with
         the whole scaled window (a linear skip path)
         -> Dense: velocities v_0..v_H of the forecast's departure from the seasonal prior
         -> IntegralLayer (trapezoid): the departure path d(h) = ∫_0^h v dt, d(0) = 0
         -> Dense: the offset c at the origin, and the widths of the 0.1/0.9 quantiles
      -> point(h) = prior(h) + c + d(h), averaged over members; prior = the value one period ago
         (SeasonalPrior; zero for `period=0`)
      -> QuantileOutput: {"forecast": (batch, H), "quantiles": (batch, H, 3) for q = 0.1, 0.5, 0.9}

Why the integral: a forecast path is its start plus the integral of its rate of change. The head
predicts that rate (how fast the series drifts away from last season's shape: the growth rate for
CO2, the rise or decay of the solar cycle for sunspots) and IntegralLayer accumulates it, so a
smooth velocity gives a smooth, coherent path across the whole horizon instead of H independent
outputs.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import keras
import numpy as np

from zoo.data.statsmodels_series import co2_weekly, series_provenance, sunspots_yearly
from zoo.layers.integral import IntegralLayer
from zoo.models.backtest import check_series, model_window
from zoo.models.forecast_baselines import BASELINES, PROTOCOLS, evaluate_baselines
from zoo.models.forecast_layers import PinballLoss, QuantileOutput, SeasonalPrior, WindowScaling
from zoo.models.forecast_plot import plot_backtest
from zoo.models.forecast_training import Recipe, fit_ensemble, ridge_warm_start, score, windows
from zoo.models.preset import Preset

QUANTILES = (0.1, 0.5, 0.9)


def _member(x_n, flat, prior, i: int, horizon: int, lstm_steps: int, units: int, dropout: float):
    """One ensemble member: (point (batch, H) in scaled units, widths (batch, H, 2))."""
    window = x_n.shape[1]
    recent = keras.layers.Cropping1D((window - lstm_steps, 0), name=f"m{i}_recent")(x_n)
    state = keras.layers.LSTM(units, name=f"m{i}_lstm")(recent)
    if dropout:
        state = keras.layers.Dropout(dropout, name=f"m{i}_dropout")(state)
    # Velocity = a linear map of the scaled window (least squares on the training windows) plus a
    # nonlinear correction from the LSTM state (starts at zero).
    # The linear path is fit in closed form (ridge), not by gradient steps: Adam's per-weight
    # steps would shake a (window x horizon) least-squares map far more than they improve it.
    linear = keras.layers.Dense(
        horizon + 1, kernel_initializer="zeros", trainable=False, name=f"m{i}_linear"
    )(flat)
    nonlinear = keras.layers.Dense(horizon + 1, kernel_initializer="zeros", name=f"m{i}_velocity")(
        state
    )
    velocity = keras.layers.Add(name=f"m{i}_velocity_sum")([linear, nonlinear])
    velocity = keras.layers.Reshape((horizon + 1, 1), name=f"m{i}_velocity_seq")(velocity)
    path = IntegralLayer(method="rectangle", name=f"m{i}_integral")(velocity)
    path = keras.layers.Cropping1D((1, 0), name=f"m{i}_path_steps")(path)
    path = keras.layers.Flatten(name=f"m{i}_path")(path)
    offset = keras.layers.Dense(1, kernel_initializer="zeros", name=f"m{i}_offset")(state)
    point = keras.layers.Add(name=f"m{i}_point")([prior, path, offset])
    features = keras.layers.Concatenate(name=f"m{i}_features")([state, flat])
    widths = keras.layers.Dense(
        2 * horizon, activation="softplus", bias_initializer="ones", name=f"m{i}_band"
    )(features)
    widths = keras.layers.Reshape((horizon, 2), name=f"m{i}_widths")(widths)
    return point, widths


def build_forecaster(
    *,
    window: int,
    horizon: int,
    period: int = 0,
    level_steps: int = 1,
    scale: float = 1.0,
    band_scale: float = 1.0,
    lstm_steps: int | None = None,
    units: int = 32,
    members: int = 1,
    dropout: float = 0.0,
    adaptive_scale: bool = False,
) -> keras.Model:
    """An untrained forecaster: input "series" (batch, window, 1) of raw values.

    Args:
        window: past values the model sees (≥ period, ≥ level_steps).
        horizon: steps forecast.
        period: season length of the prior (the value one period earlier); 0 for no prior.
        level_steps: the per-window level is the mean of this many last values.
        scale: the constant the level-free window is divided by (raw units).
        band_scale: multiplies the learned quantile widths (calibrated on held-out windows).
        lstm_steps: the LSTM reads the last `lstm_steps` values (default: the whole window).
        units: LSTM units.
        members: ensemble members averaged in the graph (each trained on its own seed).
        dropout: dropout on each member's features while training.
        adaptive_scale: the quantile band's unit is each window's standard deviation (floored
            at 0.05·scale) instead of the constant `scale`: the band grows with the series'
            current amplitude.

    Returns:
        keras.Model with outputs {"forecast": (batch, horizon), "quantiles": (batch, horizon, 3)}.
    """
    for name, value in (("window", window), ("horizon", horizon), ("units", units)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ValueError(f"`members` must be an int >= 1. Received: members={members!r}")
    lstm_steps = window if lstm_steps is None else lstm_steps
    for name, value in (
        ("period", period),
        ("level_steps", level_steps),
        ("lstm_steps", lstm_steps),
    ):
        if not isinstance(value, int) or value > window:
            raise ValueError(
                f"`{name}` must be an int <= window ({window}). Received: {name}={value!r}"
            )
    series = keras.Input((window, 1), name="series")
    x_n, level, spread = WindowScaling(level_steps, scale, window, adaptive_scale, name="scaling")(
        series
    )
    prior = SeasonalPrior(period, horizon, name="seasonal_prior")(x_n)
    flat = keras.layers.Flatten(name="window_flat")(x_n)
    outputs = [
        _member(x_n, flat, prior, i, horizon, lstm_steps, units, dropout) for i in range(members)
    ]
    if members == 1:
        point, widths = outputs[0]
    else:
        point = keras.layers.Average(name="point")([p for p, _ in outputs])
        widths = keras.layers.Average(name="widths")([w for _, w in outputs])
    forecast, quantiles = QuantileOutput(scale, band_scale, name="output")(
        [point, widths, level, spread]
    )
    forecast = keras.layers.Identity(name="forecast")(forecast)
    quantiles = keras.layers.Identity(name="quantiles")(quantiles)
    return keras.Model(
        series, {"forecast": forecast, "quantiles": quantiles}, name="integral_forecaster"
    )


def compile_forecaster(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam; MAE on the point forecast, pinball loss on the quantiles."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"forecast": keras.losses.MeanAbsoluteError(), "quantiles": PinballLoss(QUANTILES)},
    )
    return model


def forecaster_config(model: keras.Model) -> dict:
    """The `build_forecaster` kwargs of a built forecaster, read from its layers."""
    members = sum(1 for layer in model.layers if layer.name.endswith("_lstm"))
    scaling = model.get_layer("scaling")
    prior = model.get_layer("seasonal_prior")
    window = int(model.inputs[0].shape[1])
    crop = model.get_layer("m0_recent").cropping[0]
    return {
        "window": window,
        "horizon": prior.horizon,
        "period": prior.period,
        "level_steps": scaling.level_steps,
        "scale": scaling.scale,
        "adaptive_scale": scaling.adaptive,
        "band_scale": model.get_layer("output").band_scale,
        "lstm_steps": window - crop,
        "units": model.get_layer("m0_lstm").units,
        "members": members,
        "dropout": float(getattr(_layer_or_none(model, "m0_dropout"), "rate", 0.0)),
    }


def _layer_or_none(model: keras.Model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def window_scale(values: np.ndarray, window: int, level_steps: int) -> float:
    """The spread of level-free training windows: std of x - mean(last `level_steps` of x)."""
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(values, "float64"), window)
    spread = float(np.std(view - view[:, -level_steps:].mean(axis=1, keepdims=True)))
    return spread if spread > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# Presets: data, protocol, recipe and card of each shipped forecaster.

_SPECS = {
    "forecaster_co2": {
        "data": "co2",
        "config": {
            "window": 260,
            "horizon": 52,
            "period": 52,
            "level_steps": 52,
            "scale": 2.6,
            "band_scale": 1.0,
            "lstm_steps": 104,
            "units": 32,
            "members": 3,
            "dropout": 0.0,
        },
        "recipe": Recipe(epochs=60, patience=10, holdout=0.2, learning_rate=1e-3, ridge=3.0),
        "why": (
            "Seasonal prior (the value 52 weeks earlier) + offset + IntegralLayer (rectangle rule) "
            "over a velocity path: the head predicts the weekly rate at which CO2 departs from "
            "last year's seasonal shape (mostly the growth rate) and the integral accumulates it "
            "into the 52-week path. The velocity is a ridge (closed-form) linear map of the "
            "5-year scaled window plus an LSTM(32) correction from the last 2 years."
        ),
    },
    "forecaster_sunspots": {
        "data": "sunspots",
        "config": {
            "window": 22,
            "horizon": 11,
            "period": 0,
            "level_steps": 11,
            "scale": 40.0,
            "band_scale": 1.0,
            "lstm_steps": 22,
            "units": 16,
            "members": 3,
            "dropout": 0.0,
            "adaptive_scale": True,
        },
        "recipe": Recipe(
            epochs=300, patience=30, holdout=0.2, learning_rate=1e-3, ridge=1.0, batch_size=32
        ),
        "why": (
            "No seasonal prior (the solar cycle's length varies, 9-14 years); the path starts "
            "at the level of the last 11 years and the head predicts the yearly rate of change "
            "of activity, integrated by IntegralLayer (rectangle rule) into the 11-year path. "
            "The velocity is a ridge linear map of the 22-year window plus an LSTM(16) "
            "correction that carries the cycle's nonlinearity (fast rise, slow decay). The "
            "quantile band is in units of the window's standard deviation (adaptive_scale), so "
            "it widens with the amplitude of the current cycle."
        ),
    },
}


def _series(data: str) -> np.ndarray:
    loader = {"co2": co2_weekly, "sunspots": sunspots_yearly}[data]
    return loader().to_numpy()


def _evaluate(data: str, model: keras.Model, *, baselines: bool = True, origins=None) -> dict:
    """The model's MAE/MASE/coverage on the protocol; baselines refit on the same origins."""
    values = _series(data)
    protocol = PROTOCOLS[data]
    result = {
        "protocol": _protocol_text(data),
        "model": score(model, values, protocol, origins=origins),
    }
    if baselines:
        result["baselines"] = evaluate_baselines(values, protocol, BASELINES[data], origins=origins)
    return result


def _protocol_text(data: str) -> str:
    p = PROTOCOLS[data]
    n = len(_series(data))
    return (
        f"train on series[:{p.n_train(n)}] (int(0.8 * {n})); origins "
        f"range({p.n_train(n)}, {n - p.horizon + 1}, {p.stride}) ({len(p.origins(n))} origins), "
        f"each forecasting the next {p.horizon} values (never past the end); MAE over all "
        f"origins and steps; MASE = MAE / in-sample lag-{p.scale_lag} naive MAE on the training "
        f"part ({p.scale(_series(data)):.4f})"
    )


def _train(name: str, output_dir: Path | None = None, *, seed: int = 0, verbose: int = 0) -> dict:
    """Reproduce preset `name` from its bundled data; writes the preset folder; returns the card."""
    from zoo.registry import save_pretrained

    spec = _SPECS[name]
    data = spec["data"]
    values = _series(data)
    protocol = PROTOCOLS[data]
    n_train = protocol.n_train(len(values))
    config = dict(spec["config"])
    config["scale"] = window_scale(values[:n_train], config["window"], config["level_steps"])
    model, log = fit_ensemble(
        build_forecaster,
        config,
        compile_forecaster,
        values,
        n_train,
        seed=seed,
        recipe=spec["recipe"],
        verbose=verbose,
    )
    config = forecaster_config(model)
    metrics = _evaluate(data, model)
    card = {
        "task": "forecasting",
        "data": series_provenance(data),
        "preprocessing": (
            "co2: the 59 missing weeks filled by pandas interpolate(method='time')"
            if data == "co2"
            else "none (yearly SUNACTIVITY as shipped)"
        ),
        "split": _protocol_text(data),
        "training": {
            "command": f"zoo train {name}",
            "seed": seed,
            "trainer": (
                "keras Model.fit (Adam, MAE on `forecast` + pinball on `quantiles`), "
                "deterministic via keras.utils.set_random_seed; linear path by ridge in closed form"
            ),
            "recipe": dataclasses.asdict(spec["recipe"]),
            "log": log,
        },
        "architecture": spec["why"],
        "calculus_layers": {
            "IntegralLayer": "method='rectangle': integrates the predicted velocity into the path"
        },
        "inputs": {"series": f"(batch, {config['window']}, 1) raw past values"},
        "outputs": {
            "forecast": f"(batch, {config['horizon']}) raw units",
            "quantiles": f"(batch, {config['horizon']}, 3) for q = 0.1, 0.5, 0.9",
        },
        "metrics": metrics["model"],
        "baselines": metrics["baselines"],
        "protocol": metrics["protocol"],
    }
    save_pretrained(model, name, config, card, directory=output_dir)
    return card


def _predict(model: keras.Model, data) -> dict[str, np.ndarray]:
    """Forecast from the last `window` values of a raw 1-D series."""
    window = model_window(model)
    values = check_series(data, name="data", min_length=window)
    out = model.predict(values[None, -window:, None].astype("float32"), verbose=0)
    return {
        "forecast": np.asarray(out["forecast"])[0],
        "quantiles": np.asarray(out["quantiles"])[0],
    }


def fine_tune(
    model: keras.Model,
    data,
    *,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    horizon: int | None = None,
    ridge: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
    verbose: int = 0,
) -> keras.Model:
    """Fine-tune a forecaster on a user's raw 1-D series (every window of it).

    The LSTM encoders keep their weights. The scale is recomputed from `data`, each member's
    linear velocity path is refit by ridge on `data`, and the trainable head (LSTM correction,
    offset, band) is kept when the horizon is unchanged. A new `horizon` replaces the head
    (fresh heads of the new size). Then `model.fit` runs `epochs` epochs.
    """
    config = forecaster_config(model)
    new_horizon = config["horizon"] if horizon is None else horizon
    window = config["window"]
    values = check_series(data, name="data", min_length=window + new_horizon + 1)
    config.update(
        horizon=new_horizon,
        period=config["period"] if config["period"] <= window else 0,
        scale=window_scale(values, window, config["level_steps"]),
    )
    keras.utils.set_random_seed(seed)
    tuned = build_forecaster(**config)
    keep_head = new_horizon == forecaster_config(model)["horizon"]
    for layer in tuned.layers:
        if not layer.weights or layer.name.endswith("_linear"):
            continue
        if layer.name.endswith("_lstm") or keep_head:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    x, y = windows(values, window, new_horizon, np.arange(window, len(values) - new_horizon + 1))
    for i in range(config["members"]):
        ridge_warm_start(tuned, x, y, ridge, member=i)
    compile_forecaster(tuned, learning_rate)
    if epochs > 0:
        tuned.fit(
            x,
            {"forecast": y, "quantiles": y},
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=verbose,
        )
    return tuned


def _plot(data: str, model: keras.Model, path: Path) -> Path:
    values = _series(data)
    protocol = PROTOCOLS[data]
    return plot_backtest(
        model,
        values,
        path,
        start=protocol.n_train(len(values)),
        stride=protocol.horizon,
        title=f"{data}: rolling-origin forecasts on the test part (0.1–0.9 band)",
    )


def _preset(name: str, summary: str) -> Preset:
    data = _SPECS[name]["data"]
    return Preset(
        name=name,
        task="forecasting",
        summary=summary,
        build=build_forecaster,
        config=dict(_SPECS[name]["config"]),
        train=functools.partial(_train, name),
        evaluate=functools.partial(_evaluate, data),
        predict=_predict,
        fine_tune=fine_tune,
        plot=functools.partial(_plot, data),
        signatures={"forecast": ("forecast",), "quantiles": ("quantiles",)},
    )


PRESETS: list[Preset] = [
    _preset(
        "forecaster_co2",
        "Weekly Mauna Loa CO2 (ppm): 52-week forecast + 0.1/0.5/0.9 quantiles, LSTM + integral",
    ),
    _preset(
        "forecaster_sunspots",
        "Yearly sunspot number, 11-year forecast + 0.1/0.5/0.9 quantiles; LSTM + integral head",
    ),
]

"""Training and fine-tuning of the forecaster family, through `zoo.training.Trainer`.

`train_co2` / `train_sunspots` reproduce the presets from their bundled series (see
`ensemble.fit_ensemble` for the stages); `fine_tune` adapts any `IntegralForecaster` to a user's
series: new scale, ridge-refit linear paths, optionally a new horizon or season length, training
on the earlier windows and the quantile band recalibrated on the later ones (split-conformal).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from zoo.data.statsmodels_series import series_provenance
from zoo.models.common.backtest import check_series
from zoo.models.common.preset_files import write_preset
from zoo.models.common.runs import RunFolder, open_run, trainer_folders
from zoo.models.forecaster.baselines import PROTOCOLS
from zoo.models.forecaster.ensemble import (
    LOSS,
    Recipe,
    _needed_scales,
    fit_band,
    fit_ensemble,
    ridge_warm_start,
    split_origins,
    windows,
)
from zoo.models.forecaster.evaluate import evaluate, protocol_text, series
from zoo.models.forecaster.model import IntegralForecaster, build_forecaster, window_scale
from zoo.models.forecaster.presets import PRESETS
from zoo.training import Trainer

RECIPES = {
    "forecaster_co2": Recipe(epochs=60, patience=10, holdout=0.2, learning_rate=1e-3, ridge=3.0),
    "forecaster_sunspots": Recipe(
        epochs=300, patience=30, holdout=0.2, learning_rate=1e-3, ridge=1.0, batch_size=32
    ),
}
DATA = {"forecaster_co2": "co2", "forecaster_sunspots": "sunspots"}
WHY = {
    "forecaster_co2": (
        "Seasonal prior (the value 52 weeks earlier) + offset + IntegralLayer (rectangle rule) "
        "over a velocity path: the head predicts the weekly rate at which CO2 departs from "
        "last year's seasonal shape (mostly the growth rate) and the integral accumulates it "
        "into the 52-week path. The velocity is a ridge (closed-form) linear map of the "
        "5-year scaled window plus an LSTM(32) correction from the last 2 years."
    ),
    "forecaster_sunspots": (
        "No seasonal prior (the solar cycle's length varies, 9-14 years); the path starts "
        "at the level of the last 11 years and the head predicts the yearly rate of change "
        "of activity, integrated by IntegralLayer (rectangle rule) into the 11-year path. "
        "The velocity is a ridge linear map of the 22-year window plus an LSTM(16) "
        "correction that carries the cycle's nonlinearity (fast rise, slow decay). The "
        "quantile band is in units of the window's standard deviation (adaptive_scale), so "
        "it widens with the amplitude of the current cycle."
    ),
}


def _train(name: str, output_dir: Path, *, seed: int, epochs: int | None, verbose: int) -> dict:
    """Reproduce preset `name` from its bundled data in the run folder `output_dir`; writes the
    preset there; returns the card."""
    recipe = RECIPES[name]
    if epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=int(epochs))
    run = RunFolder(output_dir, {"preset": name, "seed": seed, "epochs": recipe.epochs})
    data = DATA[name]
    values = series(data)
    n_train = PROTOCOLS[data].n_train(len(values))
    preset = next(p for p in PRESETS if p.name == name)
    config = dict(preset.config)
    config["scale"] = window_scale(values[:n_train], config["window"], config["level_steps"])
    model, log = fit_ensemble(
        config, values, n_train, seed=seed, recipe=recipe, run=run, verbose=verbose
    )
    metrics = evaluate(data, model)
    card = {
        "name": name,
        "task": "forecasting",
        "summary": preset.summary,
        "data": series_provenance(data),
        "preprocessing": (
            "co2: the 59 missing weeks filled by pandas interpolate(method='time')"
            if data == "co2"
            else "none (yearly SUNACTIVITY as shipped)"
        ),
        "split": protocol_text(data),
        "training": {
            "command": f"zoo train {name}" + ("" if epochs is None else f" --epochs {epochs}"),
            "seed": seed,
            "trainer": (
                "zoo.training.Trainer (Adam, MAE on `forecast` + pinball on `quantiles`), one "
                "resumable stage per ensemble member; linear path by ridge in closed form"
            ),
            "recipe": dataclasses.asdict(recipe),
            "log": log,
        },
        "architecture": WHY[name],
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
    write_preset(output_dir, model, model.get_config() | {"name": name}, card)
    return card


def train_co2(output_dir: Path, *, seed: int = 0, epochs: int | None = None, verbose: int = 1):
    return _train("forecaster_co2", output_dir, seed=seed, epochs=epochs, verbose=verbose)


def train_sunspots(output_dir: Path, *, seed: int = 0, epochs: int | None = None, verbose: int = 1):
    return _train("forecaster_sunspots", output_dir, seed=seed, epochs=epochs, verbose=verbose)


def _with_band_scale(model: IntegralForecaster, band_scale: float) -> IntegralForecaster:
    calibrated = build_forecaster(**{**model.get_config(), "band_scale": float(band_scale)})
    calibrated.set_weights(model.get_weights())
    return calibrated


def _as_series_list(data, min_length: int) -> list[np.ndarray]:
    """One 1-D series, or a list of them (long format), each checked and long enough."""
    many = isinstance(data, list | tuple) and len(data) and np.ndim(data[0]) > 0
    items = list(data) if many else [data]
    return [
        check_series(getattr(item, "values", item), name="data", min_length=min_length)
        for item in items
    ]


def user_window(window: int, period: int, horizon: int, shortest: int, origins: int = 40) -> int:
    """The window a fine-tuned forecaster reads: the model's, widened to two seasons when it is
    shorter than one season, and halved to ``(shortest - horizon) // 2`` when the shortest series
    would otherwise give fewer than `origins` windows; never below `period` (nor 2)."""
    if window < period:
        window = 2 * period
    if shortest - horizon - window + 1 < origins:
        window = (shortest - horizon) // 2
    return max(window, period, 2)


# Ridge penalties tried on a user's series (the scaled window is the feature vector).
RIDGES = (0.1, 1.0, 10.0, 100.0, 1000.0)


def _held_mae(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(model.predict(x, verbose=0, batch_size=256)["forecast"] - y)))


def _select_ridge(model, fit, held, members: int, ridge: float | None) -> float:
    """Refit every member's linear path with `ridge`, or with the penalty of `RIDGES` that
    gives the lowest MAE on the held-out windows `held`; return the penalty used."""
    best = None
    for alpha in RIDGES if ridge is None else (ridge,):
        for i in range(members):
            ridge_warm_start(model, *fit, alpha, member=i)
        error = _held_mae(model, *held) if ridge is None else 0.0
        if best is None or error < best[0]:
            best = (error, alpha)
    if best[1] != alpha:
        for i in range(members):
            ridge_warm_start(model, *fit, best[1], member=i)
    return best[1]


def _pooled_scale(series: list[np.ndarray], window: int, level_steps: int) -> float:
    """RMS over the series of `window_scale` (one scale for one model over many series)."""
    return float(np.sqrt(np.mean([window_scale(v, window, level_steps) ** 2 for v in series])))


def _copy_matching_weights(source: keras.Model, target: keras.Model) -> set[str]:
    """Copy every layer's weights whose shapes match (not the ridge-fit `_linear` paths);
    return the names of the layers with weights that were not copied."""
    missed = set()
    for layer in target.layers:
        if not layer.weights or layer.name.endswith("_linear"):
            continue
        try:
            weights = source.get_layer(layer.name).get_weights()
        except ValueError:
            missed.add(layer.name)
            continue
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
        else:
            missed.add(layer.name)
    return missed


def _windows_of_all(series, window, horizon, holdout):
    """(x_fit, y_fit, x_held, y_held): the windows of every series, each split in time."""
    fit, held = [], []
    for values in series:
        fit_o, held_o = split_origins(len(values), window, horizon, holdout)
        if len(fit_o) and len(held_o):
            fit.append(windows(values, window, horizon, fit_o))
            held.append(windows(values, window, horizon, held_o))
    if not fit:
        return None
    return tuple(np.concatenate([p[j] for p in pairs]) for pairs in (fit, held) for j in (0, 1))


def fine_tune(
    model: keras.Model,
    data,
    *,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    horizon: int | None = None,
    period: int | None = None,
    window: int | None = None,
    freeze_backbone: bool = False,
    ridge: float | None = None,
    batch_size: int = 32,
    holdout: float = 0.2,
    coverage: float = 0.8,
    seed: int = 0,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> IntegralForecaster:
    """Fine-tune a forecaster on a user's raw series, through the Trainer.

    `data` is one 1-D series or a list of them (long format: one model over all series, trained
    on the windows of every series). The windows of each series are split in time: the earlier
    (1 - `holdout`) are trained on, the later ones (whose targets never overlap a training
    target) calibrate the band. Steps: a new `horizon`, `period` (season length of the prior) or
    `window` rebuilds what depends on it; a new period also sets the level to the mean of the
    last season (`level_steps = period`); without `window` the window is `user_window(...)`;
    the scale is recomputed from `data`; every layer whose shape is unchanged keeps its weights
    (the LSTM encoders always do); each member's linear velocity path is refit by ridge (the
    penalty `ridge`, or by default the one of `RIDGES` with the lowest held-out MAE);
    `epochs` epochs of Adam (head only with `freeze_backbone`), undone if they raised the
    held-out MAE (a short, noisy series is fit better by the ridge path alone); the band heads
    are refit when their shape changed; then the 0.1/0.9 band is scaled so that it covers
    `coverage` of the held-out windows' targets (split-conformal).

    Returns a new `IntegralForecaster` (the input model is left as it was).
    """
    if not isinstance(model, IntegralForecaster):
        raise ValueError(
            "`model` must be a zoo forecaster (IntegralForecaster, e.g. from "
            f"zoo.load('forecaster_co2')). Received: {type(model).__name__}"
        )
    if not 0 < holdout < 1:
        raise ValueError(f"`holdout` must be in (0, 1). Received: holdout={holdout!r}")
    config = model.get_config()
    new_horizon = config["horizon"] if horizon is None else int(horizon)
    new_period = config["period"] if period is None else int(period)
    if new_horizon < 1 or new_period < 0:
        raise ValueError(
            f"`horizon` must be >= 1 and `period` >= 0. Received: horizon={horizon!r}, "
            f"period={period!r}"
        )
    series = _as_series_list(data, min_length=new_horizon + 12)
    shortest = min(len(v) for v in series)
    if window is None:
        window = user_window(config["window"], new_period, new_horizon, shortest)
    if not 2 <= int(window) or new_period > window:
        raise ValueError(
            f"`window` must be an int >= 2 and >= period ({new_period}). Received: "
            f"window={window!r}"
        )
    window = int(window)
    level_steps = config["level_steps"] if new_period == config["period"] else new_period
    config.update(
        window=window,
        horizon=new_horizon,
        period=new_period,
        level_steps=min(max(level_steps, 1), window),
        lstm_steps=min(config["lstm_steps"], window),
        band_scale=1.0,
        scale=_pooled_scale(series, window, min(max(level_steps, 1), window)),
    )
    keras.utils.set_random_seed(seed)
    tuned = build_forecaster(**config)
    missed = _copy_matching_weights(model, tuned)
    stacked = _windows_of_all(series, window, new_horizon, holdout)
    if stacked is None or len(stacked[0]) < 2 or len(stacked[2]) < 2:
        raise ValueError(
            f"`data` is too short to fine-tune a window-{window}, horizon-{new_horizon} "
            f"forecaster with a {holdout:.0%} holdout: the longest series has "
            f"{max(len(v) for v in series)} values; at least 2 training and 2 held-out windows "
            "are needed."
        )
    x, y, x_held, y_held = stacked
    ridge = _select_ridge(tuned, (x, y), (x_held, y_held), config["members"], ridge)
    if freeze_backbone:
        for layer in tuned.layers:
            layer.trainable = not layer.name.endswith("_lstm")
    arguments = {"fine_tune": model.name, "epochs": epochs, "learning_rate": learning_rate}
    arguments.update(horizon=new_horizon, period=new_period, window=window, seed=seed, ridge=ridge)
    arguments.update(values=[len(v) for v in series])
    run = open_run(run_dir, {**arguments, "freeze_backbone": freeze_backbone})
    before = (tuned.get_weights(), _held_mae(tuned, x_held, y_held))
    if epochs > 0:
        trainer = Trainer(
            model=tuned,
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=LOSS,
            seed=seed,
            **trainer_folders(run, "fine_tune"),
        )
        trainer.fit(
            (x, {"forecast": y, "quantiles": y}),
            epochs=epochs,
            batch_size=batch_size,
            resume=run is not None,
            verbose=verbose,
        )
    for layer in tuned.layers:
        layer.trainable = True
    if epochs > 0 and _held_mae(tuned, x_held, y_held) > before[1]:
        # On a short or noisy series the gradient steps can fit noise: keep the ridge model.
        tuned.set_weights(before[0])
    if any(name.endswith("_band") for name in missed):
        fit_band(tuned, x, y, recipe=Recipe(batch_size=batch_size), run=run, seed=seed)
    needed = _needed_scales(tuned, x_held, y_held)
    return _with_band_scale(tuned, float(np.quantile(needed, coverage)))

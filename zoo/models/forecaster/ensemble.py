"""How a forecaster ensemble is trained: windows from the training part, independent members (one
seed each) trained through `zoo.training.Trainer` and assembled into one model, and the quantile
band calibrated on held-out windows (split-conformal).

Every Trainer run is a stage of the run folder (`selector`, `calibration_m0`, `final_m2`,
`..._band`) with its own checkpoints and TensorBoard logs, so a killed `zoo train` resumes each
stage where it stopped."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np

from zoo.models.common.forecast_metrics import mae
from zoo.models.common.predictor import predictor
from zoo.models.common.runs import KeepBestWeights, RunFolder, trainer_folders
from zoo.models.forecaster.layers import PinballLoss
from zoo.models.forecaster.model import QUANTILES, build_forecaster
from zoo.training import EarlyStopping, Trainer

__all__ = ["Recipe", "calibrate_band", "fit_ensemble", "windows"]

LOSS = {"forecast": keras.losses.MeanAbsoluteError(), "quantiles": PinballLoss(QUANTILES)}


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, epochs, the held-out share used for early stopping/the band."""

    epochs: int = 200
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 20
    holdout: float = 0.2
    coverage: float = 0.8
    ridge: float | None = 10.0
    band_epochs: int = 30
    band_learning_rate: float = 3e-3


def ridge_warm_start(
    model: keras.Model, x: np.ndarray, y: np.ndarray, alpha: float, member: int = 0
) -> None:
    """Set the linear velocity path of member `member` to the ridge solution on (x, y).

    The direct least-squares map from the scaled window to the departure from the prior,
    d(h) = y_n(h) - prior(h), h = 1..H, is turned into velocities v_k = d(k+1) - d(k) (d(0) = 0),
    which the rectangle-rule IntegralLayer sums back into exactly that path.
    """
    probe = keras.Model(
        model.inputs,
        [
            model.get_layer("scaling").output[0],
            model.get_layer("scaling").output[1],
            model.get_layer("scaling").output[2],
            model.get_layer("seasonal_prior").output,
        ],
    )
    x_n, level, _, prior = (np.asarray(a, "float64") for a in probe.predict(x, verbose=0))
    scale = model.get_layer("scaling").scale
    features = x_n[:, :, 0]
    target = (y - level) / scale - prior
    f_mean, t_mean = features.mean(0), target.mean(0)
    fc, tc = features - f_mean, target - t_mean
    gram = fc.T @ fc + alpha * np.eye(fc.shape[1])
    w_direct = np.linalg.solve(gram, fc.T @ tc)
    b_direct = t_mean - f_mean @ w_direct

    def to_velocity(direct):
        padded = np.concatenate([np.zeros_like(direct[..., :1]), direct], axis=-1)
        velocity = np.diff(padded, axis=-1)
        return np.concatenate([velocity, np.zeros_like(velocity[..., :1])], axis=-1)

    model.get_layer(f"m{member}_linear").set_weights(
        [to_velocity(w_direct).astype("float32"), to_velocity(b_direct).astype("float32")]
    )


def windows(
    values: np.ndarray, window: int, horizon: int, origins
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs values[o - window:o] (n, window, 1) and targets values[o:o + horizon] (n, horizon)."""
    origins = np.asarray(list(origins), dtype=int)
    x = np.stack([values[o - window : o] for o in origins])[..., None]
    y = np.stack([values[o : o + horizon] for o in origins])
    return x.astype("float32"), y.astype("float32")


def split_origins(n_train: int, window: int, horizon: int, holdout: float):
    """Training-part origins, chronologically split: fit origins end `horizon` before the held-out
    ones start, so no held-out target value is ever a fitting target."""
    origins = np.arange(window, n_train - horizon + 1)
    cut = round(len(origins) * (1.0 - holdout))
    held = origins[cut:]
    fit = origins[origins + horizon <= (held[0] if len(held) else n_train)]
    return fit, held


def _needed_scales(model: keras.Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per target, the smallest factor on the learned 0.1/0.9 widths that puts it in the band."""
    out = predictor(model)(x)
    f = np.asarray(out["forecast"], "float64")
    q = np.asarray(out["quantiles"], "float64")
    below, above = f - q[..., 0], q[..., 2] - f
    tiny = 1e-12
    return np.where(y < f, (f - y) / np.maximum(below, tiny), (y - f) / np.maximum(above, tiny))


def calibrate_band(model: keras.Model, x: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """The factor on the learned 0.1/0.9 widths that makes the band cover `coverage` of (x, y)."""
    return float(np.quantile(_needed_scales(model, x, y), coverage))


def _trainer(model, learning_rate, run: RunFolder | None, stage: str, seed: int, **kwargs):
    return Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=LOSS,
        metrics={"forecast": ["mae"]},
        seed=seed,
        **trainer_folders(run, stage),
        **kwargs,
    )


def fit_band(
    model: keras.Model, x, y, *, recipe: Recipe, run=None, stage="band", seed=0, verbose=0
) -> None:
    """Train only the quantile-width heads (everything else frozen) with the pinball loss."""
    frozen = {layer.name: layer.trainable for layer in model.layers}
    for layer in model.layers:
        layer.trainable = layer.name.endswith("_band")
    if recipe.band_epochs > 0:
        trainer = _trainer(
            model,
            recipe.band_learning_rate,
            run,
            stage,
            seed,
            loss_weights={"forecast": 0.0, "quantiles": 1.0},
        )
        trainer.fit(
            (x, {"forecast": y, "quantiles": y}),
            epochs=recipe.band_epochs,
            batch_size=recipe.batch_size,
            resume=run is not None,
            verbose=verbose,
        )
    for layer in model.layers:
        layer.trainable = frozen[layer.name]


def _fit_member(config, x, y, *, seed, recipe, epochs, validation, run, stage, verbose):
    """One single-member model: seeded init, ridge warm start, Trainer in a seeded order; with
    `validation`, early stopping on its forecast MAE and the best epoch's weights kept."""
    keras.utils.set_random_seed(seed)
    model = build_forecaster(**{**config, "members": 1, "band_scale": 1.0})
    if recipe.ridge is not None:
        ridge_warm_start(model, x, y, recipe.ridge)
    history, keeper = None, None
    if epochs > 0:
        callbacks = []
        if validation is not None:
            x_val, y_val = validation
            validation = (x_val, {"forecast": y_val, "quantiles": y_val})
            best = None if run is None else run.best_weights(stage)
            keeper = KeepBestWeights(model, best or _scratch_path(), monitor="val_forecast_mae")
            callbacks = [
                EarlyStopping(monitor="val_forecast_mae", patience=recipe.patience),
                keeper,
            ]
        trainer = _trainer(model, recipe.learning_rate, run, stage, seed)
        history = trainer.fit(
            (x, {"forecast": y, "quantiles": y}),
            validation=validation,
            epochs=epochs,
            batch_size=recipe.batch_size,
            callbacks=callbacks,
            resume=run is not None,
            verbose=verbose,
        )
        if keeper is not None:
            keeper.restore()
    return model, history


def _scratch_path():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="zoo-best-")) / "best.weights.h5"


def fit_ensemble(
    config: dict,
    values: np.ndarray,
    n_train: int,
    *,
    seed: int,
    recipe: Recipe,
    run: RunFolder | None = None,
    verbose: int = 0,
) -> tuple[keras.Model, dict]:
    """Train a forecaster ensemble from `values[:n_train]` only.

    1. Selection: one member (seed `seed`) is fit on the earlier training windows with early
       stopping on the held-out later ones (`recipe.holdout`); this gives the epoch count.
    2. Calibration: an ensemble built like the final one (`config["members"]` members, seeds
       seed, seed+1, ..., that many epochs each) is fit on the same earlier windows; the factor
       that makes its 0.1–0.9 band cover `recipe.coverage` of the held-out targets is the
       band factor. An average of members errs less than one member, so a factor calibrated on
       one member would make the shipped ensemble's band too wide.
    3. Final: the same ensemble recipe on every training window, with that band factor and the
       calibration ensemble's band heads (fit on the earlier windows only).
    """
    window, horizon = config["window"], config["horizon"]
    fit_o, held_o = split_origins(n_train, window, horizon, recipe.holdout)
    x_fit, y_fit = windows(values, window, horizon, fit_o)
    x_held, y_held = windows(values, window, horizon, held_o)
    log: dict = {"fit_windows": len(fit_o), "held_out_windows": len(held_o)}
    probe, history = _fit_member(
        config,
        x_fit,
        y_fit,
        seed=seed,
        recipe=recipe,
        epochs=0,
        validation=None,
        run=run,
        stage="probe",
        verbose=verbose,
    )
    log["held_out_mae_linear_init"] = _held_mae(probe, x_held, y_held)
    selector, history = _fit_member(
        config,
        x_fit,
        y_fit,
        seed=seed,
        recipe=recipe,
        epochs=recipe.epochs,
        validation=(x_held, y_held),
        run=run,
        stage="selector",
        verbose=verbose,
    )
    epochs = int(np.argmin(history.history["val_forecast_mae"])) + 1
    # The single member's factor is only logged, to compare with the ensemble's.
    fit_band(
        selector,
        x_fit,
        y_fit,
        recipe=recipe,
        run=run,
        stage="selector_band",
        seed=seed,
        verbose=verbose,
    )
    log.update(
        selected_epochs=epochs,
        held_out_mae_selector=_held_mae(selector, x_held, y_held),
        band_scale_selector=calibrate_band(selector, x_held, y_held, recipe.coverage),
    )
    ensemble = functools.partial(
        _ensemble, seed=seed, epochs=epochs, recipe=recipe, run=run, verbose=verbose
    )
    # Built with band_scale 1, so calibrate_band sees the learned widths themselves.
    calibration = ensemble({**config, "band_scale": 1.0}, x_fit, y_fit, stage="calibration")
    needed = _needed_scales(calibration, x_held, y_held)
    band_scale = float(np.quantile(needed, recipe.coverage))
    log.update(
        band_scale=band_scale,
        held_out_mae_calibration_ensemble=_held_mae(calibration, x_held, y_held),
        held_out_coverage_calibration_ensemble=float(np.mean(needed <= band_scale)),
    )
    all_o = np.arange(window, n_train - horizon + 1)
    x_all, y_all = windows(values, window, horizon, all_o)
    log["train_windows"] = len(all_o)
    final = ensemble(
        {**config, "band_scale": band_scale}, x_all, y_all, stage="final", fit_bands=False
    )
    # The band heads that ship are the calibrated ones: heads refit on every training window
    # (targets they then have seen) learn wider widths than the factor was calibrated for.
    for layer in calibration.layers:
        if layer.name.endswith("_band"):
            final.get_layer(layer.name).set_weights(layer.get_weights())
    return final, log


def _ensemble(
    config, x, y, *, stage, seed, epochs, recipe, run, verbose, fit_bands: bool = True
) -> keras.Model:
    """`config["members"]` single members (seeds seed, seed+1, ...), each fit for `epochs` epochs
    on (x, y), then (if `fit_bands`) its band head on the same windows, copied into one model that
    averages them."""
    ensemble = build_forecaster(**config)
    for i in range(config.get("members", 1)):
        single, _ = _fit_member(
            config,
            x,
            y,
            seed=seed + i,
            recipe=recipe,
            epochs=epochs,
            validation=None,
            run=run,
            stage=f"{stage}_m{i}",
            verbose=verbose,
        )
        if fit_bands:
            fit_band(
                single,
                x,
                y,
                recipe=recipe,
                run=run,
                stage=f"{stage}_m{i}_band",
                seed=seed + i,
                verbose=verbose,
            )
        for layer in single.layers:
            if layer.name.startswith("m0_") and layer.weights:
                ensemble.get_layer(f"m{i}_" + layer.name[3:]).set_weights(layer.get_weights())
    return ensemble


def _held_mae(model, x, y) -> float:
    return mae(np.asarray(predictor(model)(x)["forecast"]), y)

"""The protocol of the forecaster presets (rolling origins on the last 20 %) and its baselines.

An origin `o` has seen `series[:o]` and forecasts `series[o:o + horizon]`; MAE over all origins and
steps; MASE divides it by the in-sample MAE of the lag-`scale_lag` naive forecast on the training
part. Every baseline is refit on `series[:o]` at every origin.
"""

from __future__ import annotations

import keras
import numpy as np

from zoo.data.statsmodels_series import co2_weekly, sunspots_yearly
from zoo.models.common.backtest import backtest
from zoo.models.common.forecast_metrics import band_coverage, mae, pinball
from zoo.models.common.progress import progress
from zoo.models.forecaster.baselines import BASELINES, PROTOCOLS, Protocol

LOADERS = {"co2": co2_weekly, "sunspots": sunspots_yearly}


def series(data: str) -> np.ndarray:
    """The raw values of the bundled series `data` ("co2" or "sunspots")."""
    return LOADERS[data]().to_numpy()


def score(model: keras.Model, values: np.ndarray, protocol: Protocol, origins=None) -> dict:
    """MAE, MASE, 0.1–0.9 coverage and pinball loss of `model` on the protocol's test origins."""
    n = len(values)
    frame = backtest(model, values, protocol.n_train(n), protocol.stride, protocol.horizon)
    if origins is not None:
        frame = frame[frame["origin"].isin(list(origins))]
    scale = protocol.scale(values)
    err = mae(frame["forecast"].to_numpy(), frame["actual"].to_numpy())
    quantiles = frame[["q0.1", "q0.5", "q0.9"]].to_numpy()
    return {
        "mae": err,
        "mase": err / scale,
        "coverage_10_90": band_coverage(frame["q0.1"], frame["q0.9"], frame["actual"]),
        "pinball": pinball(quantiles, frame["actual"].to_numpy(), (0.1, 0.5, 0.9)),
        "origins": int(frame["origin"].nunique()),
    }


def evaluate_baselines(
    values: np.ndarray, protocol: Protocol, baselines: dict, origins: list[int] | None = None
) -> dict[str, dict[str, float]]:
    """MAE and MASE of each baseline, refit at every origin of `protocol` (or of `origins`)."""
    values = np.asarray(values, "float64")
    origins = protocol.origins(len(values)) if origins is None else list(origins)
    scale = protocol.scale(values)
    h = protocol.horizon
    results = {}
    for name, forecaster in baselines.items():
        errors = [
            mae(forecaster(values[:o], h), values[o : o + h])
            for o in progress(origins, f"baseline {name}")
        ]
        results[name] = {"mae": float(np.mean(errors)), "mase": float(np.mean(errors) / scale)}
    return results


def protocol_text(data: str) -> str:
    p = PROTOCOLS[data]
    values = series(data)
    n = len(values)
    return (
        f"train on series[:{p.n_train(n)}] (int(0.8 * {n})); origins "
        f"range({p.n_train(n)}, {n - p.horizon + 1}, {p.stride}) ({len(p.origins(n))} origins), "
        f"each forecasting the next {p.horizon} values (never past the end); MAE over all "
        f"origins and steps; MASE = MAE / in-sample lag-{p.scale_lag} naive MAE on the training "
        f"part ({p.scale(values):.4f})"
    )


def evaluate(data: str, model: keras.Model, *, baselines: bool = True, origins=None) -> dict:
    """The model's MAE/MASE/coverage on the protocol of `data`, beside the baselines refit at
    the same origins."""
    values = series(data)
    protocol = PROTOCOLS[data]
    result = {"protocol": protocol_text(data), "model": score(model, values, protocol, origins)}
    if baselines:
        result["baselines"] = evaluate_baselines(values, protocol, BASELINES[data], origins)
    return result


def evaluate_co2(model: keras.Model, **options) -> dict:
    return evaluate("co2", model, **options)


def evaluate_sunspots(model: keras.Model, **options) -> dict:
    return evaluate("sunspots", model, **options)


def warmup(data: str, model: keras.Model, count: int = 3) -> dict[str, np.ndarray]:
    """Windows ending at the first test origins of `data`: realistic warm-up requests."""
    values = series(data).astype("float32")
    window = int(model.inputs[0].shape[1])
    origins = PROTOCOLS[data].origins(len(values))[:count]
    return {"series": np.stack([values[o - window : o] for o in origins])[..., None]}


def warmup_co2(model: keras.Model) -> dict[str, np.ndarray]:
    return warmup("co2", model)


def warmup_sunspots(model: keras.Model) -> dict[str, np.ndarray]:
    return warmup("sunspots", model)

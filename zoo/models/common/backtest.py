"""`backtest`: a trained forecaster's forecasts at rolling origins, without retraining."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from zoo.models.common.predictor import predictor

__all__ = ["backtest", "check_series", "model_window"]


def model_window(model: keras.Model) -> int:
    """The number of past values the model reads: its input shape (batch, window, 1)."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 3 or shape[1] is None or shape[2] != 1:
        raise ValueError(
            "`model` must take input of shape (batch, window, 1) with a fixed window. "
            f"Received a model with input shape {shape}"
        )
    return int(shape[1])


def check_series(series, *, name: str = "series", min_length: int = 1) -> np.ndarray:
    """`series` as a finite 1-D float64 array of at least `min_length` values, or a clear error."""
    values = np.asarray(series.to_numpy() if hasattr(series, "to_numpy") else series)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D series of raw values (or one column). Received: "
            f"{name}.shape={values.shape}"
        )
    try:
        values = values.astype("float64")
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must hold numbers. Received dtype {values.dtype}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"`{name}` must hold finite numbers. Received {int(bad.sum())} NaN/inf value(s), the "
            f"first at position {int(np.flatnonzero(bad)[0])}; fill or drop missing values first."
        )
    if len(values) < min_length:
        raise ValueError(f"`{name}` must have at least {min_length} values. Received {len(values)}")
    return values


def backtest(
    model: keras.Model,
    series,
    start: int,
    stride: int,
    horizon: int | None = None,
    *,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Forecasts of `model` at origins `range(start, len(series) - horizon + 1, stride)`.

    An origin `o` means the model has seen `series[:o]` (its input is the `window` values before
    `o`) and forecasts `series[o:o + horizon]`; origins whose horizon would run past the end of
    the series are left out, so every row has its actual value. The model is never retrained.

    Args:
        model: a forecaster: input (batch, window, 1), output dict with "forecast"
            (batch, H) and optionally "quantiles" (batch, H, 3) for q = 0.1, 0.5, 0.9.
        series: 1-D raw values (numpy array, list or pandas Series).
        start: first origin; at least the model's window.
        stride: steps between origins (≥ 1).
        horizon: steps scored per origin (≤ the model's H); default the model's H.

    Returns:
        DataFrame with one row per (origin, step): origin, step (1..horizon), index (position
        of the forecast value in `series`), actual, forecast and, when the model gives quantiles,
        q0.1, q0.5, q0.9.
    """
    window = model_window(model)
    values = check_series(series, min_length=window + 1)
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"`stride` must be an int >= 1. Received: stride={stride!r}")
    if isinstance(start, bool) or not isinstance(start, int | np.integer) or start < window:
        raise ValueError(
            f"`start` must be an int >= the model's window ({window}). Received: start={start!r}"
        )
    probe = model(values[None, :window, None].astype("float32"), training=False)
    model_horizon = int(probe["forecast"].shape[-1])
    horizon = model_horizon if horizon is None else horizon
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise ValueError(f"`horizon` must be an int. Received: horizon={horizon!r}")
    if not 1 <= horizon <= model_horizon:
        raise ValueError(
            f"`horizon` must be in [1, {model_horizon}] (the model's horizon). "
            f"Received: horizon={horizon}"
        )
    origins = np.arange(start, len(values) - horizon + 1, stride)
    if len(origins) == 0:
        raise ValueError(
            f"`start` leaves no origin with a full horizon: start={start}, horizon={horizon}, "
            f"len(series)={len(values)}"
        )
    inputs = np.stack([values[o - window : o] for o in origins])[..., None].astype("float32")
    outputs = predictor(model, batch_size=batch_size)(inputs)
    steps = np.arange(1, horizon + 1)
    index = origins[:, None] + steps[None, :] - 1
    frame = {
        "origin": np.repeat(origins, horizon),
        "step": np.tile(steps, len(origins)),
        "index": index.ravel(),
        "actual": values[index].ravel(),
        "forecast": np.asarray(outputs["forecast"])[:, :horizon].ravel().astype("float64"),
    }
    if "quantiles" in outputs:
        quantiles = np.asarray(outputs["quantiles"])[:, :horizon, :].astype("float64")
        for k, q in enumerate((0.1, 0.5, 0.9)):
            frame[f"q{q}"] = quantiles[..., k].ravel()
    return pd.DataFrame(frame)

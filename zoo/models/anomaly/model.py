"""`WindowDetector`: an LSTM autoencoder whose window score is an integral.

The model takes raw windows (batch, window, 1), normalises them inside the graph with the train
part's mean and standard deviation, reconstructs them with an LSTM autoencoder, and integrates the
per-step squared reconstruction error over the window with `IntegralLayer` (trapezoid rule, unit
spacing):

    score = ∫₀^{window-1} (x̂(t) - x(t))² dt      (x, x̂ normalised),

so the score is the window's reconstruction error energy. `is_anomaly` compares the score with a
threshold kept in the model as a non-trainable weight (saved with the weights, served with the
graph); `infer_threshold` recalibrates it on a user's normal data.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.data.kdd_tsad import load_ucr135, sliding_windows
from zoo.layers import IntegralLayer
from zoo.models.common.checks import check_finite
from zoo.models.common.predictor import predictor
from zoo.models.common.threshold import (
    THRESHOLD_LAYER,
    Threshold,
    check_percentile,
    get_threshold,
    set_threshold,
)
from zoo.models.common.zoo_model import ZooModel

INPUT_NAME = "series"
# Point score from the scores of the stride-1 windows covering the point.
POINT_RULES = ("max", "min")


@keras.saving.register_keras_serializable(package="zoo")
class SquaredError(keras.layers.Layer):
    """(x̂ - x)² elementwise, for a pair [x, x̂] of equal shapes."""

    def call(self, inputs):
        target, reconstruction = inputs
        return tf.square(reconstruction - target)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0])


@keras.saving.register_keras_serializable(package="zoo")
class FinalValue(keras.layers.Layer):
    """The last time step of channel 0: (batch, time, channels) -> (batch,); the integral's end."""

    def call(self, inputs):
        return inputs[:, -1, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


@keras.saving.register_keras_serializable(package="zoo")
class WindowCentering(keras.layers.Layer):
    """x - mean over time of x, per window and channel: (batch, time, channels) -> same shape.

    A detector that reads centred windows judges a window's shape, not its level, so a slow
    drift or trend between the normal data and later data does not raise every score."""

    def call(self, inputs):
        return inputs - tf.reduce_mean(inputs, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="zoo")
class WindowDetector(ZooModel):
    """An LSTM autoencoder detector for raw windows (batch, `window`, 1).

    Args:
        window: window length (an int >= 2).
        units: width of the encoder and decoder LSTMs.
        latent: size of the bottleneck code of a window.
        mean, std: the normalisation applied inside the model ((x - mean) / std), usually the
            train part's; raw units go in, raw units come out.
        threshold: the starting value of the stored threshold (recalibrate with
            `infer_threshold`).
        center: subtract each normalised window's mean before the autoencoder
            (`WindowCentering`): the score sees the window's shape, not its level.
        point_rule: how `predict` turns window scores into a point's score (`POINT_RULES`):
            "max" (the highest window covering the point: a high window raises all its
            points) or "min" (the lowest: a point scores high only when every window over it
            does, so a flag stays on the anomalous points instead of spreading a window wide).
        name: the model's name.

    Input shape: "series" (batch, window, 1), raw values.
    Output: {"score": (batch,) float32, "is_anomaly": (batch,) bool, "reconstruction":
    (batch, window, 1) float32 in raw units}.
    """

    def __init__(
        self,
        *,
        window: int = 32,
        units: int = 64,
        latent: int = 16,
        mean: float = 0.0,
        std: float = 1.0,
        threshold: float = 1e9,
        center: bool = False,
        point_rule: str = "max",
        name: str = "window_detector",
        **kwargs: Any,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"`window` must be an int >= 2. Received: window={window!r}")
        if not (np.isfinite(std) and std > 0):
            raise ValueError(f"`std` must be a finite number > 0. Received: std={std!r}")
        if point_rule not in POINT_RULES:
            raise ValueError(
                f"Unknown point_rule {point_rule!r}. Choose one of: {', '.join(POINT_RULES)}"
            )
        variance = float(std) ** 2
        inputs = keras.Input(shape=(window, 1), name=INPUT_NAME)
        x = keras.layers.Normalization(mean=float(mean), variance=variance, name="normalize")(
            inputs
        )
        shape = WindowCentering(name="center")(x) if center else x
        code = keras.layers.LSTM(units, name="encoder")(shape)
        code = keras.layers.Dense(latent, activation="tanh", name="code")(code)
        h = keras.layers.RepeatVector(window, name="repeat")(code)
        h = keras.layers.LSTM(units, return_sequences=True, name="decoder")(h)
        reconstructed = keras.layers.Dense(1, name="reconstruct")(h)
        if center:
            # The window's level goes back on unchanged: only its shape is reconstructed.
            level = keras.layers.Subtract(name="window_level")([x, shape])
            reconstructed = keras.layers.Add(name="with_level")([reconstructed, level])
        error = SquaredError(name="squared_error")([x, reconstructed])
        energy = IntegralLayer(method="trapezoid", name="error_integral")(error)
        score = FinalValue(name="score")(energy)
        raw = keras.layers.Normalization(
            mean=float(mean), variance=variance, invert=True, name="reconstruction"
        )(reconstructed)
        outputs = {
            "score": score,
            "is_anomaly": Threshold(threshold, name=THRESHOLD_LAYER)(score),
            "reconstruction": raw,
        }
        config = {
            "window": window,
            "units": int(units),
            "latent": int(latent),
            "mean": float(mean),
            "std": float(std),
            "threshold": float(threshold),
            "center": bool(center),
            "point_rule": point_rule,
        }
        super().__init__(inputs, outputs, config=config, name=name, **kwargs)

    def get_config(self) -> dict[str, Any]:
        # The stored threshold is a weight that `infer_threshold` recalibrates; the config
        # carries its current value, so a model rebuilt from its config flags the same windows.
        return {**super().get_config(), "threshold": get_threshold(self)}


def build_detector(**config: Any) -> WindowDetector:
    """The untrained `WindowDetector` for builder kwargs `config` (see its Args)."""
    return WindowDetector(**config)


def window_length(model: keras.Model) -> int:
    return int(model.inputs[0].shape[1])


def as_series(series: np.ndarray, window: int) -> np.ndarray:
    """A 1-D finite float series of at least `window` points; clear errors otherwise."""
    series = np.asarray(series)
    if series.ndim == 2 and series.shape[1] == 1:
        series = series[:, 0]
    if series.ndim != 1:
        raise ValueError(
            f"`series` must be 1-D (n,) or (n, 1). Received shape {series.shape}; pass one "
            "column of values."
        )
    series = check_finite("series", series)
    if len(series) < window:
        raise ValueError(
            f"`series` must have at least `window`={window} points. Received {len(series)}."
        )
    return series


def as_windows(windows: np.ndarray, window: int) -> np.ndarray:
    """(n, window, 1) float32 from (n, window) or (n, window, 1); clear errors otherwise."""
    windows = check_finite("windows", windows)
    if windows.ndim == 2:
        windows = windows[..., None]
    if windows.ndim != 3 or windows.shape[2] != 1:
        raise ValueError(
            f"`windows` must have shape (n, {window}, 1) or (n, {window}). "
            f"Received shape {windows.shape}."
        )
    if windows.shape[1] != window:
        raise ValueError(
            f"`windows` must have length {window} (the model's window). "
            f"Received windows of length {windows.shape[1]}."
        )
    return windows


def windows_of(series: np.ndarray, window: int) -> np.ndarray:
    """Every stride-1 window of a 1-D series, (n - window + 1, window, 1) float32."""
    series = as_series(series, window)
    return sliding_windows(series, window)[..., None].astype("float32")


def score_windows(model: keras.Model, windows: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The model's score of each window, (n,)."""
    windows = as_windows(windows, window_length(model))
    return np.asarray(predictor(model, batch_size=batch_size)(windows)["score"])


def infer_threshold(model: keras.Model, normal_windows: np.ndarray, percentile: float = 99.5):
    """Set the stored threshold to the `percentile`-th percentile of the scores of
    `normal_windows` (windows (n, window[, 1]), or a 1-D series cut into stride-1 windows), and
    return it. The threshold lives in the model's weights: save, export and serve it as is."""
    check_percentile(percentile)
    window = window_length(model)
    normal_windows = np.asarray(normal_windows)
    if normal_windows.ndim == 1:
        normal_windows = windows_of(normal_windows, window)
    return set_threshold(
        model, float(np.percentile(score_windows(model, normal_windows), percentile))
    )


def predict(model: keras.Model, data: np.ndarray) -> dict[str, np.ndarray]:
    """Scores for a raw 1-D series: per stride-1 window and per point (max, or min with
    `point_rule="min"`, over the windows that cover the point), and `is_anomaly` per point
    against the stored threshold."""
    window = window_length(model)
    window_scores = score_windows(model, windows_of(data, window))
    points = point_scores(window_scores, window, model.get_config().get("point_rule", "max"))
    return {
        "window_score": window_scores,
        "point_score": points,
        "is_anomaly": points > get_threshold(model),
    }


def point_scores(window_scores: np.ndarray, window: int, rule: str = "max") -> np.ndarray:
    """Point scores (n,) = max (or min, `rule`) of the scores of the stride-1 windows covering
    each point."""
    window_scores = np.asarray(window_scores, dtype="float64")
    pad = np.full(window - 1, -np.inf if rule == "max" else np.inf)
    padded = np.concatenate([pad, window_scores, pad])
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    return view.max(axis=1) if rule == "max" else view.min(axis=1)


def warmup_inputs(model: keras.Model, count: int = 3) -> dict[str, np.ndarray]:
    """The first windows of the UCR #135 test part: realistic warm-up requests."""
    split = load_ucr135()
    window = window_length(model)
    return {INPUT_NAME: windows_of(split.test[: window + count - 1], window)}

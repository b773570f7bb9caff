"""`UniversalDetector`: a zero-shot, scale-free anomaly detector for any univariate series.

A window of `window` raw values (NaN where a point is missing or padding) goes in; a probability
of "anomalous" for every point of the window comes out. Inside the graph:

1. `RobustScaling`: z = (x - median)/(1.4826·MAD), its first differences and the observed mask
   (so the model reads any scale and level the same way);
2. `IntegralLayer` (trapezoid rule, unit spacing): the running area ∫₀ᵗ z(s) ds / window of each
   channel, in which a level shift turns into a change of slope and a short burst into a step;
   with `discord_lengths`, the `DiscordProfile` channels too: each point's z-normalised distance
   to the nearest non-overlapping repeat of its neighbourhood within the window, for subsequences
   of those lengths (an odd instance among repeated ones stands out, whatever its size);
3. a stack of residual dilated convolutions (kernel 3, dilations `dilations`: each point sees
   ±Σ dilations of its neighbours);
4. `GlobalLpPooling1D` (p = 2) over the window: a summary of what the whole window looks like,
   broadcast back to every point, so a point is judged against its window's normal behaviour;
5. a per-point logit → sigmoid score in (0, 1) → `is_anomaly = score > threshold`, the threshold
   a weight (calibrated to a point-wise false-alarm rate on normal series; see `recipe.py`).

Shapes: "series" (batch, window) float32 → {"score": (batch, window) float32, "is_anomaly":
(batch, window) bool, "logit": (batch, window) float32}.

A whole series is scored by `detect`: windows every `window // 4` points (and one ending at the
last point), left-padded with NaN when the series is shorter than a window; a point's score is
the mean of its scores over the windows that cover it, and the point is flagged when its own
score passes the threshold (point-wise: a flagged window never marks its other points).
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.layers import GlobalLpPooling1D, IntegralLayer
from zoo.models.common.predictor import predictor
from zoo.models.common.threshold import THRESHOLD_LAYER, Threshold, get_threshold
from zoo.models.common.threshold import set_threshold as store_threshold
from zoo.models.common.unit_scale import unit_scale
from zoo.models.common.zoo_model import ZooModel
from zoo.models.universal_anomaly.discord import DiscordProfile
from zoo.models.universal_anomaly.layers import BroadcastTime, RobustScaling, SquashTime
from zoo.models.universal_anomaly.series_layers import (
    DiscordFusion,
    OverlapMean,
    WindowFrames,
    WindowMagnitude,
)

INPUT_NAME = "series"
NETWORK = "network"
MAX_POINTS = 16384
_SERIES_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
MIN_POINTS = 8


@keras.saving.register_keras_serializable(package="zoo")
class UniversalDetector(ZooModel):
    """The zero-shot detector (see the module docstring).

    Args:
        window: points per window (an int >= 16).
        filters: width of the convolutions.
        dilations: dilation of each residual block (ints >= 1).
        threshold: the starting value of the stored threshold, a probability in (0, 1).
        discord_lengths: subsequence lengths of the discord channels (ints >= 4, at most
            window / 2); empty: none.
        series: False: the window network, (batch, window) → (batch, window). True: the
            whole-series detector, (batch, n) → (batch, n) for any n: the network (a sub-model
            named `NETWORK`) on the series' windows, their mean point scores fused with the
            series' period-matched discord (`series_layers`).
        discord_weight: a of the fusion (`series_layers.DiscordFusion`; series mode only).
        match_weight: b of the fusion: how much of the logit a point shares with its match in
            its nearest repeat is taken off (`series_layers.DiscordFusion`; series mode only).
        neighbours: k, the discord is the distance to the k-th nearest repeat (an int >= 1;
            `series_layers.DiscordFusion`; series mode only).
        magnitude_floor: f, the fused logit is at least E' − f, E' a point's distance from its
            windows' medians in robust standard deviations less what it shares with its match
            (`series_layers`; 0: no floor; series mode only).
        magnitude_local: h > 0: E is the larger of that distance and the point's deviation
            from the median of its h neighbours on each side in the window's noise units
            (`series_layers.local_deviation`; 0: none; with a magnitude floor only).
        name: the model's name.
    """

    def __init__(
        self,
        *,
        window: int = 256,
        filters: int = 32,
        dilations: tuple[int, ...] | list[int] = (1, 2, 4, 8, 16, 32),
        threshold: float = 0.5,
        discord_lengths: tuple[int, ...] | list[int] = (),
        series: bool = False,
        discord_weight: float = 0.0,
        match_weight: float = 0.0,
        neighbours: int = 1,
        magnitude_floor: float = 0.0,
        magnitude_local: int = 0,
        name: str = "universal_detector",
        **kwargs: Any,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 16:
            raise ValueError(f"`window` must be an int >= 16. Received: window={window!r}")
        dilations = [int(d) for d in dilations]
        if not dilations or min(dilations) < 1:
            raise ValueError(f"`dilations` must be ints >= 1. Received: dilations={dilations!r}")
        if not 0 < threshold < 1:
            raise ValueError(f"`threshold` must be in (0, 1). Received: threshold={threshold!r}")
        discord_lengths = [int(m) for m in discord_lengths]
        if discord_lengths and max(discord_lengths) * 2 > window:
            raise ValueError(
                f"`discord_lengths` must be at most window / 2 = {window // 2}. Received: "
                f"discord_lengths={discord_lengths!r}"
            )
        if not discord_weight >= 0:
            raise ValueError(
                "`discord_weight` must be a number >= 0. "
                f"Received: discord_weight={discord_weight!r}"
            )
        layout = (window, int(filters), dilations, discord_lengths)
        if series:
            frames = keras.Input(shape=(window,), name="windows")
            network = keras.Model(frames, _network(frames, *layout), name=NETWORK)
            inputs = keras.Input(shape=(None,), name=INPUT_NAME)
            windows = WindowFrames(window, name="frames")(inputs)
            mean = OverlapMean(window, name="window_mean")([network(windows)["score"], inputs])
            fusion = DiscordFusion(
                discord_weight,
                match_weight,
                neighbours=neighbours,
                magnitude_floor=magnitude_floor,
                name="discord_fusion",
            )
            parts = [mean, inputs]
            if magnitude_floor:
                local = int(magnitude_local)
                magnitude = WindowMagnitude(local, name="window_magnitude")(windows)
                parts.append(OverlapMean(window, name="magnitude_mean")([magnitude, inputs]))
            logit = fusion(parts)
            score = keras.layers.Activation("sigmoid", name="score")(logit)
        else:
            inputs = keras.Input(shape=(window,), name=INPUT_NAME)
            found = _network(inputs, *layout)
            score, logit = found["score"], found["logit"]
        outputs = {
            "score": score,
            "is_anomaly": Threshold(threshold, name=THRESHOLD_LAYER)(score),
            "logit": logit,
        }
        config = {
            "window": window,
            "filters": int(filters),
            "dilations": dilations,
            "threshold": float(threshold),
        }
        if discord_lengths:
            config["discord_lengths"] = discord_lengths
        if series:
            config.update(series=True, discord_weight=float(discord_weight))
            if match_weight:
                config["match_weight"] = float(match_weight)
            if neighbours != 1:
                config["neighbours"] = int(neighbours)
            if magnitude_floor:
                config["magnitude_floor"] = float(magnitude_floor)
            if magnitude_local:
                config["magnitude_local"] = int(magnitude_local)
        super().__init__(inputs, outputs, config=config, name=name, **kwargs)

    def get_config(self) -> dict[str, Any]:
        # The threshold is a weight that calibration changes; the config carries its value.
        return {**super().get_config(), "threshold": get_threshold(self)}


def _network(inputs, window, filters, dilations, discord_lengths) -> dict:
    """The window network's graph on `inputs` (batch, window): {"score", "logit"}."""
    features = RobustScaling(name="robust_scaling")(inputs)
    area = IntegralLayer(method="trapezoid", name="running_area")(features)
    area = keras.layers.Rescaling(1.0 / window, name="area_per_window")(area)
    parts = [features, area]
    if discord_lengths:
        parts.append(DiscordProfile(discord_lengths, name="discords")(inputs))
    h = keras.layers.Concatenate(name="features")(parts)
    h = keras.layers.Conv1D(filters, 1, name="stem")(h)
    for k, rate in enumerate(dilations):
        r = keras.layers.Conv1D(
            filters, 3, dilation_rate=rate, padding="same", activation="gelu", name=f"dil{k}"
        )(h)
        r = keras.layers.Conv1D(filters, 1, name=f"mix{k}")(r)
        h = keras.layers.Add(name=f"res{k}")([h, r])
    summary = GlobalLpPooling1D(p=2.0, name="window_summary")(h)
    summary = keras.layers.Dense(filters, activation="gelu", name="summary")(summary)
    context = BroadcastTime(name="context")([summary, h])
    h = keras.layers.Concatenate(name="with_context")([h, context])
    h = keras.layers.Conv1D(filters, 1, activation="gelu", name="head")(h)
    logit = SquashTime(name="logit")(keras.layers.Conv1D(1, 1, name="point_logit")(h))
    return {"score": keras.layers.Activation("sigmoid", name="score")(logit), "logit": logit}


def build_universal_detector(**config: Any) -> UniversalDetector:
    """The untrained `UniversalDetector` for builder kwargs `config` (see its Args)."""
    return UniversalDetector(**config)


def is_series(model: keras.Model) -> bool:
    """True for the whole-series detector (`series=True`), False for the window network."""
    return bool(model.get_config().get("series", False))


def window_network(model: keras.Model) -> keras.Model:
    """The window network of a detector: its `NETWORK` sub-model in series mode, else itself
    (the part that trains on windows with injected anomalies)."""
    return model.get_layer(NETWORK) if is_series(model) else model


def window_length(model: keras.Model) -> int:
    return int(window_network(model).inputs[0].shape[1])


def set_threshold(model: keras.Model, threshold: float) -> float:
    """Store a probability threshold in (0, 1) in the detector's weights; return it."""
    if not 0 < threshold < 1:
        raise ValueError(f"`threshold` must be in (0, 1). Received: threshold={threshold!r}")
    return store_threshold(model, threshold)


def as_series(series, name: str = "series") -> np.ndarray:
    """A 1-D float64 array of at least MIN_POINTS observed values (NaN allowed: missing)."""
    values = np.asarray(series)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D (n,). Received shape {values.shape}.")
    try:
        values = values.astype("float64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must hold numbers. Received dtype {values.dtype}.") from error
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
        raise ValueError(f"`{name}` must be finite or NaN (missing). Row {row} is {values[row]}.")
    if np.isfinite(values).sum() < MIN_POINTS:
        raise ValueError(
            f"`{name}` must have at least {MIN_POINTS} observed values. "
            f"Received {int(np.isfinite(values).sum())}."
        )
    return values


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Starts of the windows that score a series of `length` (>= window): every `stride`
    points, plus the window that ends at the last point."""
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def point_scores(model: keras.Model, series, *, batch_size: int = 256) -> np.ndarray:
    """The score of every point of a 1-D `series` (n,): the mean of its window scores over the
    windows that cover it (see the module docstring). NaN points get the score of their
    windows too (they are not anomalies of the values: callers may mask them). The series is
    scored at `unit_scale` (exact; the scores of a 1e-15 or 1e30 series are those of its shape)."""
    values = as_series(series)
    values = values / unit_scale(values)
    if is_series(model):
        return _series_scores(model, values)
    window = window_length(model)
    stride = max(window // 4, 1)
    n = len(values)
    if n < window:
        padded = np.concatenate([np.full(window - n, np.nan), values])
        scores = np.asarray(predictor(model, batch_size=1)(padded[None].astype("float32"))["score"])
        return scores[0, window - n :].astype("float64")
    starts = window_starts(n, window, stride)
    windows = np.stack([values[s : s + window] for s in starts]).astype("float32")
    scores = np.asarray(predictor(model, batch_size=batch_size)(windows)["score"], "float64")
    total, cover = np.zeros(n), np.zeros(n)
    for s, row in zip(starts, scores, strict=True):
        total[s : s + window] += row
        cover[s : s + window] += 1
    return total / cover


def many_point_scores(model: keras.Model, many) -> list[np.ndarray]:
    """`point_scores` of each 1-D series of the list `many`, the series-mode graph run once on
    each batch of series of one length (at most MAX_POINTS points in a batch; every row of the
    graph is scored on its own, and series of one length need no padding, which would change
    the windows that cover a short series' first points), so that a long DataFrame of many
    short series is not one graph call per series."""
    values = []
    for item in many:
        x = as_series(item)
        values.append(x / unit_scale(x))
    if not is_series(model):
        return [point_scores(model, x) for x in values]
    out: list[np.ndarray | None] = [None] * len(values)
    lengths = np.array([len(x) for x in values])
    run = _series_function(model)
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        if n > MAX_POINTS:
            for k in rows:
                out[k] = _series_scores(model, values[k])
            continue
        step = max(MAX_POINTS // int(n), 1)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            batch = tf.constant(np.stack([values[k] for k in chunk]), "float32")
            scores = np.asarray(run(batch), "float64")
            for k, row in zip(chunk, scores, strict=True):
                out[k] = row
    return out


def _series_function(model: keras.Model):
    found = _SERIES_FUNCTIONS.get(model)
    if found is None:
        spec = tf.TensorSpec((None, None), "float32")
        found = tf.function(lambda x: model(x, training=False)["score"], input_signature=[spec])
        _SERIES_FUNCTIONS[model] = found
    return found


def _series_scores(model: keras.Model, values: np.ndarray) -> np.ndarray:
    """Series mode: the model on the whole series (the graph frames it and fuses the discord);
    a series longer than `MAX_POINTS` in pieces of that many points every half of it, a point's
    score the mean over the pieces that cover it."""
    run = _series_function(model)
    n = len(values)
    if n <= MAX_POINTS:
        return np.asarray(run(tf.constant(values[None], "float32"))[0], "float64")
    total, cover = np.zeros(n), np.zeros(n)
    for s in window_starts(n, MAX_POINTS, MAX_POINTS // 2):
        piece = tf.constant(values[None, s : s + MAX_POINTS], "float32")
        total[s : s + MAX_POINTS] += np.asarray(run(piece)[0], "float64")
        cover[s : s + MAX_POINTS] += 1
    return total / cover


def detect(model: keras.Model, series, *, threshold: float | None = None) -> dict[str, np.ndarray]:
    """{"score": (n,), "is_anomaly": (n,) bool} for a 1-D series: point scores and flags
    against the stored threshold (or `threshold`)."""
    scores = point_scores(model, series)
    level = get_threshold(model) if threshold is None else float(threshold)
    return {"score": scores, "is_anomaly": scores > level}


def predict(model: keras.Model, data) -> dict[str, np.ndarray]:
    """The preset contract's `predict`: `detect` with the names of the other detector
    ("point_score", "is_anomaly")."""
    found = detect(model, data)
    return {"point_score": found["score"], "is_anomaly": found["is_anomaly"]}


def warmup_inputs(model: keras.Model, count: int = 3) -> dict[str, np.ndarray]:
    """Stretches of UCR anomaly #135, a heart-rate series the detector never trained on:
    realistic warm-up requests (the first windows, every quarter window; in series mode
    `count` stretches of 1024 points, 2048 apart)."""
    from zoo.models.universal_anomaly.benchmark import kdd135

    values = kdd135().values
    length = 1024 if is_series(model) else window_length(model)
    starts = np.arange(count) * (2048 if is_series(model) else length // 4)
    return {INPUT_NAME: np.stack([values[s : s + length] for s in starts]).astype("float32")}

"""The layers that turn the window network into a whole-series detector, in the graph.

- `WindowFrames`: a series (batch, n) → its windows (batch·K, window), every hop = window / 4
  points ending at the last point, the first one left-padded with NaN (K = 1 + ⌈(n − window) /
  hop⌉, at least 1): the windows a user's series is scored by.
- `OverlapMean`: the windows' point scores back on the series: a point's score is the mean of
  its scores over the K windows that cover it (`tf.signal.overlap_and_add` of the scores over
  that of ones).
- `DiscordFusion`: the network's mean point probability p and the series' own discord evidence
  in one logit: the network's, raised to their weighted mean where that is higher,

      ℓ = logit(p),   logit = max(ℓ', (ℓ' + a · s · max(log D, 0)) / (1 + a · s)),
      ℓ' = ℓ − b · s · max(min(ℓ, e) − median(ℓ), 0),

  with D the relative discord of the point at the series' estimated period
  (`series_discord.series_discord`: its distance to the nearest repeat over the median one, 1 for
  a typical point), s the strength of that period (its autocorrelation, 0 when the series has no
  period), a = `weight`, and e the network's logit at the point's match in its nearest repeat
  (`series_discord.matched_values`; b = `match_weight`, 0 gives ℓ' = ℓ). A point unlike the
  other periods of a periodic series (D > log-wise above ℓ') is raised; the network's evidence
  is never lowered below ℓ' (a spike stays where the network puts it), and a series with no
  period keeps the network's score. ℓ' takes off what a point shares with its period-mates: a
  sharp normal beat that the network marks as every other beat is lowered towards the series'
  median, while a spike, whose match scores low, keeps its logit. The mean (not a sum) keeps
  the logit within the range of its parts, so the score does not saturate at 1 and the threshold
  set for a false-alarm rate stays meaningful. The rule, a = 16 and b = 0.5 were chosen on the
  validation set of `validation.py`.

- `WindowMagnitude` and the fusion's magnitude floor: the network's logit falls as a spike grows
  past a few robust standard deviations (its inputs are clipped at ±20 and the window's L2
  summary is then dominated by the spike itself: a 100σ spike in white noise scored 0.04), so
  with `magnitude_floor` f > 0 the fused logit is raised to at least E' − f, where E is the
  mean over the windows covering a point of |z| = |x − median| / (1.4826·MAD) of the window
  (what the network itself reads, at most 20) and E' = E − max(min(E, E_m) − median(E), 0)
  takes off what the point shares with its match in its nearest repeat, as ℓ' does (a normal
  sharp beat is far from its window's median, and so is every other beat). f = 6: a point
  starts to count 6 robust σ from its window's median and passes the stored threshold from
  about 7.4 (a Gaussian point does so with probability ~1e-13); f = 8 and 6 were compared on
  the validation set with a criterion written before (`validation.py`), and both held.

Shapes: (batch, n) series → (batch·K, window) → (batch, n) scores; DiscordFusion [(batch, n) p,
(batch, n) series (, (batch, n) E)] → (batch, n) logit; WindowMagnitude (batch·K, window) →
(batch·K, window).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.models.universal_anomaly.layers import (
    CLIP,
    RobustScaling,
    masked_median,
    robust_centre_and_scale,
)
from zoo.models.universal_anomaly.period import estimate_period
from zoo.models.universal_anomaly.series_discord import series_discord, series_discord_and_match

# The local deviation's noise scale is at least this share of its window's robust scale.
LOCAL_SCALE_FLOOR = 0.1
# E takes the local deviation less this: it starts to count at f + 2 = 8 noise units, as f = 8
# did for |z| (its noise scale is estimated from the window's residuals, so its tail is heavier;
# with an offset of 0 the threshold rose 0.812 -> 0.837 and the injected group's F1 fell to 0.53).
LOCAL_OFFSET = 2.0


def _count(n: tf.Tensor, window: int, hop: int) -> tf.Tensor:
    """K windows of `window` points every `hop` cover n points, the last ending at the end."""
    return 1 + tf.maximum((n - window + hop - 1) // hop, 0)


@keras.saving.register_keras_serializable(package="zoo")
class WindowFrames(keras.layers.Layer):
    """(batch, n) series → (batch·K, window) windows (see the module docstring).

    Args:
        window: points per window (an int >= 4); the hop is window // 4.
    """

    def __init__(self, window: int, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.window = int(window)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        hop = self.window // 4
        n = tf.shape(x)[1]
        k = _count(n, self.window, hop)
        pad = self.window + (k - 1) * hop - n
        padded = tf.concat([tf.fill(tf.stack([tf.shape(x)[0], pad]), float("nan")), x], axis=1)
        frames = tf.signal.frame(padded, self.window, hop, axis=1)
        return tf.reshape(frames, [-1, self.window])

    def compute_output_shape(self, input_shape):
        return (None, self.window)

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package="zoo")
class OverlapMean(keras.layers.Layer):
    """[(batch·K, window) window scores, (batch, n) series] → (batch, n) mean scores."""

    def __init__(self, window: int, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.window = int(window)

    def call(self, inputs):
        scores, series = inputs
        hop = self.window // 4
        batch, n = tf.shape(series)[0], tf.shape(series)[1]
        k = _count(n, self.window, hop)
        scores = tf.reshape(tf.cast(scores, "float32"), tf.stack([batch, k, self.window]))
        total = tf.signal.overlap_and_add(scores, hop)
        cover = tf.signal.overlap_and_add(tf.ones_like(scores), hop)
        return (total / cover)[:, -n:]

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[1])

    def get_config(self):
        return {**super().get_config(), "window": self.window}


def _shared_with_match(values, matched, observed, count):
    """max(min(v, v_m) − median(v), 0): how far above the series' median (over its observed
    points) a point's value v (batch, n) is and its match's v_m is too."""
    median = masked_median(values, observed, count)
    return tf.maximum(tf.minimum(values, matched) - median, 0.0)


@keras.saving.register_keras_serializable(package="zoo")
class DiscordFusion(keras.layers.Layer):
    """[(batch, n) network probability, (batch, n) series] → (batch, n) fused logit (module
    docstring).

    Args:
        weight: a, the weight of the log relative discord (a number >= 0).
        match_weight: b, the share of the logit shared with the match taken off (a number >= 0).
        neighbours: k, D is read from the distance to the k-th nearest repeat (an int >= 1;
            `series_discord`: k > 1 sees odd instances that are alike one another).
        magnitude_floor: f of the magnitude floor (a number >= 0; 0: none, and the layer takes
            no third input E).
    """

    def __init__(
        self,
        weight: float,
        match_weight: float = 0.0,
        neighbours: int = 1,
        magnitude_floor: float = 0.0,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if not weight >= 0:
            raise ValueError(f"`weight` must be a number >= 0. Received: weight={weight!r}")
        if not match_weight >= 0:
            raise ValueError(
                f"`match_weight` must be a number >= 0. Received: match_weight={match_weight!r}"
            )
        if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
            raise ValueError(
                f"`neighbours` must be an int >= 1. Received: neighbours={neighbours!r}"
            )
        if not magnitude_floor >= 0:
            raise ValueError(
                "`magnitude_floor` must be a number >= 0. "
                f"Received: magnitude_floor={magnitude_floor!r}"
            )
        self.weight = float(weight)
        self.match_weight = float(match_weight)
        self.neighbours = neighbours
        self.magnitude_floor = float(magnitude_floor)

    def call(self, inputs):
        probability, series = inputs[0], inputs[1]
        p = tf.clip_by_value(tf.cast(probability, "float32"), 1e-6, 1.0 - 1e-6)
        x = tf.stop_gradient(tf.cast(series, "float32"))
        period, strength = estimate_period(x)
        logit = tf.math.log(p) - tf.math.log1p(-p)
        observed = tf.math.is_finite(x)
        count = tf.reduce_sum(tf.cast(observed, "int32"), axis=1)
        floor = self.magnitude_floor
        if self.match_weight or floor:
            # One nearest-repeat search reads both the logit and E at each point's match.
            values = logit if not floor else tf.stack([logit, tf.cast(inputs[2], "float32")], -1)
            discord, matched = series_discord_and_match(x, period, values, self.neighbours)
            if floor:
                magnitude, matched_magnitude = values[..., 1], matched[..., 1]
                matched = matched[..., 0]
            if self.match_weight:
                shared = _shared_with_match(logit, matched, observed, count)
                logit = logit - self.match_weight * strength[:, None] * shared
        else:
            discord = series_discord(x, period, self.neighbours)
        gate = self.weight * strength[:, None]
        evidence = tf.maximum(tf.math.log(tf.maximum(discord, 1e-3)), 0.0)
        fused = tf.maximum(logit, (logit + gate * evidence) / (1.0 + gate))
        if not floor:
            return fused
        shared = _shared_with_match(magnitude, matched_magnitude, observed, count)
        return tf.maximum(fused, magnitude - shared - floor)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[1])

    def get_config(self):
        config = {**super().get_config(), "weight": self.weight, "match_weight": self.match_weight}
        config["neighbours"] = self.neighbours
        if self.magnitude_floor:
            config["magnitude_floor"] = self.magnitude_floor
        return config


@keras.saving.register_keras_serializable(package="zoo")
class WindowMagnitude(keras.layers.Layer):
    """(batch, window) raw windows, NaN = missing → (batch, window) E: each point's distance
    from its window's median in robust standard deviations (`RobustScaling`'s |z|, at most its
    clip; 0 where missing), the E of the magnitude floor (module docstring); with `local` h > 0,
    the larger of that and the point's local deviation (`local_deviation`) less
    `LOCAL_OFFSET`, which sees a spike on a series whose own swing (a season, a trend) hides it
    from the window's |z|.

    Args:
        local: h, the local deviation compares a point with the median of its h neighbours on
            each side (an int >= 0; 0: none).
    """

    def __init__(self, local: int = 0, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if isinstance(local, bool) or not isinstance(local, int) or local < 0:
            raise ValueError(f"`local` must be an int >= 0. Received: local={local!r}")
        self.local = local
        self.scaling = RobustScaling()

    def call(self, inputs):
        magnitude = tf.abs(self.scaling(inputs)[..., 0])
        if not self.local:
            return magnitude
        return tf.maximum(magnitude, local_deviation(inputs, self.local) - LOCAL_OFFSET)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        if self.local:
            config["local"] = self.local
        return config


def local_deviation(windows: tf.Tensor, half_width: int) -> tf.Tensor:
    """(batch, window) raw windows, NaN = missing → (batch, window) local deviations:

        r_t = x_t − median(x_{t−h} … x_{t−1}, x_{t+1} … x_{t+h})    (h = `half_width`)
        |r_t − med(r)| / max(σ_r, LOCAL_SCALE_FLOOR · s),   at most CLIP

    (the median over the observed neighbours) with med(r) and σ_r = 1.4826·MAD(r) (the
    standard deviation of r when the MAD is 0) over the window's points, s the window's own
    robust scale (`robust_centre_and_scale`), and 0 where x_t
    is missing or fewer than h of its 2h neighbours are observed. r is the point's jump off its
    neighbours: a straight stretch leaves it 0 and a smooth season or trend near the noise, a
    spike stands out by its height in noise units. The point itself is left out of the median,
    so that noise gives r a spread (a median over x_t too equals x_t wherever the neighbours
    rise monotonically, and a MAD of those zeros would make noise look like spikes). The floor
    keeps a near-noiseless window (a clean sine, whose r is its curvature) from counting its
    round-off as deviations."""
    x = tf.cast(windows, "float32")
    batch, width = tf.shape(x)[0], tf.shape(x)[1]
    observed = tf.math.is_finite(x)
    filled = tf.where(observed, x, tf.zeros_like(x))
    span = 2 * half_width + 1
    pad = tf.fill(tf.stack([batch, half_width]), float("nan"))
    frames = tf.signal.frame(tf.concat([pad, x, pad], axis=1), span, 1, axis=1)
    # the 2h neighbours, the point itself left out
    around = tf.reshape(
        tf.concat([frames[..., :half_width], frames[..., half_width + 1 :]], axis=-1),
        [-1, 2 * half_width],
    )
    seen = tf.math.is_finite(around)
    count = tf.reduce_sum(tf.cast(seen, "int32"), axis=1)
    near = tf.reshape(masked_median(tf.where(seen, around, 0.0), seen, count), [batch, width])
    usable = observed & tf.reshape(count >= half_width, [batch, width])
    residual = tf.where(usable, filled - near, tf.zeros_like(filled))
    centre, spread = robust_centre_and_scale(residual, usable)
    _, scale = robust_centre_and_scale(filled, observed)
    floor = tf.maximum(LOCAL_SCALE_FLOOR * scale, 1e-6 * (1.0 + tf.abs(near)))
    deviation = tf.abs(residual - centre) / tf.maximum(spread, floor)
    return tf.clip_by_value(deviation, 0.0, CLIP) * tf.cast(usable, "float32")

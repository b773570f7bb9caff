"""`Threshold`: a detector's `score > threshold` flag, the threshold a non-trainable weight.

The weight is saved with the model's weights and exported with its graph, so a threshold set by
calibration (`infer_threshold`, a false-alarm rate on normal data) travels with the model to TF
Serving. Every zoo detector names the layer `THRESHOLD_LAYER`; `get_threshold`/`set_threshold`
read and write its weight, and `normal_threshold` is the one rule that turns scores of normal
data into a threshold.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from zoo.models.common.detection_scores import threshold_for_false_alarm_rate

THRESHOLD_LAYER = "threshold"


@keras.saving.register_keras_serializable(package="zoo")
class Threshold(keras.layers.Layer):
    """`score > threshold` as bool, the threshold a non-trainable weight (saved and served).

    Args:
        initial_threshold: the threshold's value before calibration (a finite number).
    """

    def __init__(self, initial_threshold: float = 1e9, **kwargs):
        super().__init__(**kwargs)
        if not np.isfinite(initial_threshold):
            raise ValueError(
                "`initial_threshold` must be a finite number. "
                f"Received: initial_threshold={initial_threshold!r}"
            )
        self.initial_threshold = float(initial_threshold)

    def build(self, input_shape):
        self.threshold = self.add_weight(
            name="threshold",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_threshold),
            trainable=False,
        )

    def call(self, score):
        return tf.greater(score, tf.cast(self.threshold, score.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, score):
        return keras.KerasTensor(score.shape, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "initial_threshold": self.initial_threshold}


def get_threshold(model: keras.Model) -> float:
    """The stored threshold of a zoo detector."""
    return float(keras.ops.convert_to_numpy(model.get_layer(THRESHOLD_LAYER).threshold))


def set_threshold(model: keras.Model, threshold: float) -> float:
    """Store `threshold` in a zoo detector's weights; return it."""
    model.get_layer(THRESHOLD_LAYER).threshold.assign(float(threshold))
    return float(threshold)


def check_percentile(percentile: float) -> None:
    if not 0 < percentile <= 100:
        raise ValueError(
            f"`percentile` must be a number in (0, 100]. Received: percentile={percentile!r}"
        )


def normal_threshold(
    scores: np.ndarray, *, false_alarm_rate: float | None = None, percentile: float | None = None
) -> float:
    """The threshold that scores of normal data `scores` set: the `percentile`-th percentile of
    them, or the value passed by at most a share `false_alarm_rate` of them (the ⌊rate·n⌋+1-th
    largest; `threshold_for_false_alarm_rate`). Exactly one of the two must be given."""
    if (false_alarm_rate is None) == (percentile is None):
        raise ValueError(
            "Give one of `false_alarm_rate` and `percentile`. Received: "
            f"false_alarm_rate={false_alarm_rate!r}, percentile={percentile!r}"
        )
    if percentile is not None:
        check_percentile(percentile)
        return float(np.percentile(scores, percentile))
    count = np.size(scores)
    if 0 < false_alarm_rate and false_alarm_rate * count < 1:
        warnings.warn(
            f"`false_alarm_rate` {false_alarm_rate:g} needs at least "
            f"{int(np.ceil(1 / false_alarm_rate))} normal points to be set; received {count}, so "
            f"the threshold is their largest score (a rate of about 1/{count + 1} on new data at "
            "best; more where neighbouring scores move together). Give more normal data, or a "
            "higher rate.",
            stacklevel=2,
        )
    return threshold_for_false_alarm_rate(scores, false_alarm_rate)

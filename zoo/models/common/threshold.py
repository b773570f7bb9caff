"""`Threshold`: a detector's `score > threshold` flag, the threshold a non-trainable weight.

The weight is saved with the model's weights and exported with its graph, so a threshold set by
calibration (`infer_threshold`, a false-alarm rate on normal data) travels with the model to TF
Serving.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


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

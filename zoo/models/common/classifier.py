"""What the image classifier families share: the softmax head with its class-id output, and
predictions on raw images."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.models.common.images import as_images
from zoo.models.common.predictor import predictor
from zoo.models.common.zoo_model import ZooModel

HEAD_NAME = "head"
FEATURES_NAME = "features"


@keras.saving.register_keras_serializable(package="zoo")
class ClassId(keras.layers.Layer):
    """The index of the largest probability, as int32: (batch, classes) -> (batch,)."""

    def call(self, probabilities):
        return tf.argmax(probabilities, axis=-1, output_type=tf.int32)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


def classification_head(features, num_classes: int) -> dict[str, Any]:
    """Dense "head" -> softmax "probabilities" (batch, K) and argmax "class_id" (batch,)."""
    logits = keras.layers.Dense(num_classes, name=HEAD_NAME)(features)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return {"probabilities": probabilities, "class_id": ClassId(name="class_id")(probabilities)}


def check_num_classes(num_classes) -> int:
    """`num_classes` as an int >= 2, or an error naming it."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"`num_classes` must be an int >= 2. Received: num_classes={num_classes}")
    return int(num_classes)


class ImageClassifier(ZooModel):
    """A `ZooModel` ending in `classification_head`: a family builds its backbone up to the
    `features` tensor and hands it here with its own builder kwargs."""

    def __init__(self, inputs, features, *, num_classes: int, config: dict, **kwargs: Any):
        num_classes = check_num_classes(num_classes)
        super().__init__(
            inputs,
            classification_head(features, num_classes),
            config={"num_classes": num_classes, **config},
            **kwargs,
        )


def image_side(model: keras.Model) -> int:
    return int(model.inputs[0].shape[1])


def predict(model: keras.Model, data: np.ndarray) -> dict[str, np.ndarray]:
    """Class probabilities and ids for raw images."""
    outputs = predictor(model)(as_images(data, image_side(model)))
    return {k: np.asarray(v) for k, v in outputs.items()}


def with_classes(model: keras.Model, num_classes: int) -> keras.Model:
    """A model of `model`'s class built like it but with a fresh `num_classes` head; every other
    layer's weights are copied."""
    new = type(model).from_config({**model.get_config(), "num_classes": int(num_classes)})
    for layer in new.layers:
        if layer.weights and layer.name != HEAD_NAME:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return new

"""`CnnClassifier`: a small CNN for raw images whose every pooling step is Lp pooling, p learned.

Each pooling is an `LpPooling2D` / `GlobalLpPooling2D` whose exponent p is learned (kept >= 1,
starting at 2): the network chooses, per pooling layer, where between average (p = 1) and max
(p -> inf) pooling it wants to be, instead of us fixing that choice.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.layers import GlobalLpPooling2D, LpPooling2D
from zoo.models.common.classifier import FEATURES_NAME, ImageClassifier, check_num_classes

INPUT_NAME = "image"


@keras.saving.register_keras_serializable(package="zoo")
class CnnClassifier(ImageClassifier):
    """A CNN for (batch, image_size, image_size, 1) images in raw pixel units 0..`pixel_max`.

    Each stage is two 3x3 convolutions (batch-normalised, ReLU) and an `LpPooling2D` of size 2;
    a `GlobalLpPooling2D` gives the features, then dropout and a dense softmax head.

    Args:
        num_classes: number of classes of the head (an int >= 2).
        image_size: side of the square input images.
        filters: convolution width of each stage (one 2x2 Lp pooling per stage).
        p: the starting exponent of every Lp pooling (a number >= 1).
        trainable_p: learn p (kept >= 1) instead of fixing it.
        dropout: dropout rate before the head.
        pixel_max: the largest raw pixel value; inputs are divided by it inside the model.
        name: the model's name.

    Input shape: "image" (batch, image_size, image_size, 1), raw pixel values.
    Output: {"probabilities": (batch, num_classes) float32, "class_id": (batch,) int32}.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        image_size: int = 8,
        filters: tuple[int, ...] | list[int] = (32, 64),
        p: float = 2.0,
        trainable_p: bool = True,
        dropout: float = 0.25,
        pixel_max: float = 16.0,
        name: str = "cnn_digits",
        **kwargs: Any,
    ) -> None:
        check_num_classes(num_classes)
        if image_size < 2 ** len(filters):
            raise ValueError(
                f"`image_size` must be at least 2**len(filters)={2 ** len(filters)} so every stage "
                f"can pool. Received: image_size={image_size}"
            )
        inputs = keras.Input(shape=(image_size, image_size, 1), name=INPUT_NAME)
        x = keras.layers.Rescaling(1.0 / pixel_max, name="pixel_scale")(inputs)
        for stage, width in enumerate(filters):
            for conv in range(2):
                x = keras.layers.Conv2D(
                    width, 3, padding="same", use_bias=False, name=f"conv{stage}_{conv}"
                )(x)
                x = keras.layers.BatchNormalization(name=f"bn{stage}_{conv}")(x)
                x = keras.layers.ReLU(name=f"relu{stage}_{conv}")(x)
            x = LpPooling2D(pool_size=2, p=p, trainable_p=trainable_p, name=f"lp_pool{stage}")(x)
        x = GlobalLpPooling2D(p=p, trainable_p=trainable_p, name="global_lp_pool")(x)
        features = keras.layers.Dropout(dropout, name=FEATURES_NAME)(x)
        config = {
            "image_size": int(image_size),
            "filters": [int(f) for f in filters],
            "p": float(p),
            "trainable_p": bool(trainable_p),
            "dropout": float(dropout),
            "pixel_max": float(pixel_max),
        }
        super().__init__(
            inputs, features, num_classes=num_classes, config=config, name=name, **kwargs
        )


def build_cnn(**config: Any) -> CnnClassifier:
    """The untrained `CnnClassifier` for builder kwargs `config` (see its Args)."""
    return CnnClassifier(**config)


def learned_p(model: keras.Model) -> dict[str, float]:
    """The exponent each Lp pooling layer has learned."""
    return {
        layer.name: float(layer.current_p)
        for layer in model.layers
        if isinstance(layer, LpPooling2D | GlobalLpPooling2D)
    }

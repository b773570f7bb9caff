"""`OdeNetClassifier`: an ODE-Net for raw images — a convolution stem, an `ODEBlock` whose vector
field is a small convolutional network, Lp pooling and a softmax head.

    image (batch, s, s, 1), raw pixels
      -> Rescaling(1/pixel_max) -> Conv 3x3 (width) -> BatchNorm -> ReLU       stem
      -> LpPooling2D(2, p learned)                                               (s/2, s/2, width)
      -> ODEBlock: h(1) = h(0) + ∫₀¹ f_θ(h(t)) dt,  f_θ = Conv3x3 ∘ tanh ∘ Conv3x3
         (dopri5 with rtol = atol = `tolerance`, gradients through the solver by the adjoint)
      -> GlobalLpPooling2D(p learned) -> Dropout -> Dense -> softmax, argmax

The ODE block replaces a stack of residual blocks: its depth is the solver's number of steps,
chosen per input by the error control, and its parameters are one field's (Chen et al., 2018).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.layers import GlobalLpPooling2D, LpPooling2D, ODEBlock
from zoo.models.common.classifier import FEATURES_NAME, ImageClassifier, check_num_classes

INPUT_NAME = "image"
ODE_NAME = "ode"


@keras.saving.register_keras_serializable(package="zoo")
class ConvField(keras.layers.Layer):
    """The vector field f(h) = Conv3x3(tanh(Conv3x3(h))) of feature maps (batch, H, W, width).

    Args:
        width: channels of the state (the field maps (.., width) to (.., width)).
    """

    def __init__(self, width: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"`width` must be an int >= 1. Received: width={width!r}")
        self.width = width
        self.inner = keras.layers.Conv2D(width, 3, padding="same", name="inner")
        # Starts at zero: the block begins as the identity map h(1) = h(0).
        self.outer = keras.layers.Conv2D(
            width, 3, padding="same", kernel_initializer="zeros", name="outer"
        )

    def build(self, input_shape):
        self.inner.build(input_shape)
        self.outer.build((*input_shape[:-1], self.width))

    def call(self, h):
        return self.outer(tf.tanh(self.inner(h)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(package="zoo")
class OdeNetClassifier(ImageClassifier):
    """An ODE-Net image classifier (see the module docstring).

    Args:
        num_classes: classes of the head (an int >= 2).
        image_size: side of the square input images (even).
        width: channels of the stem and of the ODE state.
        tolerance: rtol = atol of the dopri5 solve.
        p: the starting exponent of the Lp poolings (learned, kept >= 1).
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
        width: int = 32,
        tolerance: float = 1e-3,
        p: float = 2.0,
        dropout: float = 0.2,
        pixel_max: float = 16.0,
        name: str = "odenet_digits",
        **kwargs: Any,
    ) -> None:
        check_num_classes(num_classes)
        if image_size < 2 or image_size % 2:
            raise ValueError(f"`image_size` must be an even int >= 2. Received: {image_size}")
        inputs = keras.Input(shape=(image_size, image_size, 1), name=INPUT_NAME)
        x = keras.layers.Rescaling(1.0 / pixel_max, name="pixel_scale")(inputs)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem")(x)
        x = keras.layers.BatchNormalization(name="stem_bn")(x)
        x = keras.layers.ReLU(name="stem_relu")(x)
        x = LpPooling2D(pool_size=2, p=p, trainable_p=True, name="lp_pool")(x)
        x = ODEBlock(
            ConvField(width, name="field"),
            solver="dopri5",
            rtol=tolerance,
            atol=tolerance,
            name=ODE_NAME,
        )(x)
        x = GlobalLpPooling2D(p=p, trainable_p=True, name="global_lp_pool")(x)
        features = keras.layers.Dropout(dropout, name=FEATURES_NAME)(x)
        config = {
            "image_size": int(image_size),
            "width": int(width),
            "tolerance": float(tolerance),
            "p": float(p),
            "dropout": float(dropout),
            "pixel_max": float(pixel_max),
        }
        super().__init__(
            inputs, features, num_classes=num_classes, config=config, name=name, **kwargs
        )


def build_odenet(**config: Any) -> OdeNetClassifier:
    """The untrained `OdeNetClassifier` for builder kwargs `config` (see its Args)."""
    return OdeNetClassifier(**config)

"""The protocol of `cnn_digits`: the digits protocol shared by the image classifier families."""

from zoo.models.common.digits_protocol import accuracy, baselines, evaluate

__all__ = ["accuracy", "baselines", "evaluate"]

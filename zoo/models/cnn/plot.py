"""The picture of `cnn_digits`: its confusion matrix on the digits test split."""

from zoo.models.common.digits_protocol import plot

__all__ = ["plot"]

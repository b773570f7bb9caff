"""The picture of `odenet_digits`: its confusion matrix on the digits test split."""

from zoo.models.common.digits_protocol import plot

__all__ = ["plot"]

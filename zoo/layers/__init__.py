"""Keras layers that integrate: over time, over a pooling region, along an ODE trajectory."""

from zoo.layers.integral import IntegralLayer

__all__: list[str] = ["IntegralLayer"]

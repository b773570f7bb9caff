"""Keras layers that integrate: over time, over a pooling region, along an ODE trajectory."""

__all__: list[str] = []

"""Pieces every model family shares: the typed `Preset`, the preset folder on disk, the `ZooModel`
base class, input checks, run folders, backtests and forecast metrics.

Like each family package, this `__init__` imports nothing: `zoo list` reads presets and cards
without loading Keras.
"""

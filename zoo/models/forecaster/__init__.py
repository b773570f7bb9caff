"""LSTM forecasters with an integral head: `forecaster_co2` and `forecaster_sunspots`.

Files, as in every family: `model.py` (the Keras model, `IntegralForecaster`), `layers.py` (its
helper layers and the pinball loss), `recipe.py` (training and fine-tuning through the Trainer),
`ensemble.py` (the training stages), `evaluate.py` (the protocol), `baselines.py`, `plot.py`,
`presets.py` (the registry entries, as data). This `__init__` imports nothing.
"""

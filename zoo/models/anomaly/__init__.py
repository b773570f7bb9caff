"""Time-series anomaly detection: an LSTM autoencoder whose window score is an integral
(`anomaly_ucr135`).

Files, as in every family: `model.py` (the Keras model, `WindowDetector`, and its helper layers),
`recipe.py` (training and fine-tuning through the Trainer), `evaluate.py` (the protocol),
`metrics.py`, `baselines.py`, `plot.py`, `presets.py` (the registry entries, as data). This
`__init__` imports nothing.
"""

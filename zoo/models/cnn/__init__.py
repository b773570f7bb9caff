"""Image classification: a small CNN whose pooling is Lp pooling with a learned p (`cnn_digits`).

Files, as in every family: `model.py` (the Keras model and its inputs), `recipe.py` (training and
fine-tuning through `zoo.training.Trainer`), `evaluate.py` (the protocol and its baselines),
`plot.py`, `presets.py` (the registry entries, as data). This `__init__` imports nothing.
"""

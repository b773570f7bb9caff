"""Image classification with an ODE-Net: a convolutional vector field integrated by `ODEBlock`
(`odenet_digits`).

Files, as in every family: `model.py` (the Keras model, `OdeNetClassifier`, and its field),
`recipe.py` (training through the Trainer), `evaluate.py` (the digits protocol and the solver's
cost), `plot.py`, `presets.py` (the registry entries, as data). This `__init__` imports nothing.
"""

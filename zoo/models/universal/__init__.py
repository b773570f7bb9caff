"""The universal zero-shot forecaster family (`forecaster_universal`).

Importing this package stays keras-free: the model lives in `model.py`, its preset as data in
`presets.py`.
"""

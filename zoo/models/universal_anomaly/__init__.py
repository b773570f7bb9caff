"""The zero-shot anomaly detector family: `anomaly_universal` (see `model.py`)."""

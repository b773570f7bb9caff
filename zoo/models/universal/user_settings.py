"""What a fine-tuned universal forecaster adds to the network's config (keras-free).

`TunedUniversalForecaster` (`tuned.py`) stores them; `served.py` puts them in the graph.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SEASONS", "USER_KEYS", "user_settings"]

# Seasons of history the seasonal index is fitted on (when the history has them).
SEASONS = 8
USER_KEYS = (
    "period",
    "adjust_period",
    "history",
    "band_lower",
    "band_upper",
    "transform",
    "naive_weight",
    "band_adapt",
)


def user_settings(model: Any) -> dict:
    """The config keys a `TunedUniversalForecaster` adds to the network's (empty for others)."""
    config = getattr(model, "builder_config", {})
    return {key: config[key] for key in USER_KEYS if key in config}
